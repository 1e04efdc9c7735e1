; Inno Setup 6 script: the PyInstaller one-folder bundle -> one setup.exe.
; Run by `python packaging\build_installer.py --config deploy.toml` on Windows, which passes
; /DAppVersion, /DDistDir, /DOutputDir, /DPackageName and /DTouchDate; the defaults below let it be
; compiled by hand too: ISCC.exe packaging\windows\mpcstats-app.iss
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef DistDir
  #define DistDir "..\..\build\installer\dist\mpcstats-app"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\build\installer"
#endif
#ifndef PackageName
  #define PackageName "mpcstats-app"
#endif
#ifndef TouchDate
  #define TouchDate "1980-01-01"
#endif

[Setup]
; One AppId per product: an operator shipping a second deployment's app side by side changes it.
AppId={{6C1F3A52-8E0B-4C47-9B2D-4D6A1E0F7C31}
AppName=MPCStats
AppVersion={#AppVersion}
AppPublisher=MPCStats
DefaultDirName={autopf}\MPCStats
DefaultGroupName=MPCStats
DisableProgramGroupPage=yes
; per-user install without admin rights unless the user picks "all users"
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename={#PackageName}-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\MPCStats.exe
; same file times in every build (the build passes the day of SOURCE_DATE_EPOCH)
TouchDate={#TouchDate}
TouchTime=00:00:00
TimeStampsInUTC=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; MPCStats.exe (windowed: the app) and mpcstats-app.exe (console: `provide`, `--self-test`) share _internal\
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs touch

[Icons]
Name: "{group}\MPCStats"; Filename: "{app}\MPCStats.exe"
Name: "{autodesktop}\MPCStats"; Filename: "{app}\MPCStats.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\MPCStats.exe"; Description: "{cm:LaunchProgram,MPCStats}"; Flags: nowait postinstall skipifsilent
