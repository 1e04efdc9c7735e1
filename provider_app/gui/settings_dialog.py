"""Settings: which deployment to use, and the saved API key (forget it)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from provider_app.settings import AppSettings, SettingsError


class SettingsDialog(QDialog):
    FIELDS = (("coordinator_url", "Coordinator URL"), ("notary_url", "Notary URL"),
              ("source", "Data source"), ("exchange_host", "Exchange host (optional)"),
              ("exchange_ca_file", "Extra CA file (optional)"))

    def __init__(self, settings: AppSettings, key_hint: str | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("MPCStats settings")
        self._original = settings
        self.result_settings: AppSettings | None = None
        self.reset_requested = False
        self.forget_requested = False
        #: (api key, secret) typed here; the window puts it in the keyring, never in a file
        self.new_key: tuple[str, str] | None = None
        layout = QVBoxLayout(self)
        box = QGroupBox("Deployment")
        form = QFormLayout(box)
        self.edits: dict[str, QLineEdit] = {}
        for name, label in self.FIELDS:
            edit = QLineEdit(str(settings.provider.get(name, "") or ""))
            edit.setObjectName(name)
            self.edits[name] = edit
            form.addRow(label, edit)
        self.results_url = QLineEdit(settings.results_url)
        self.results_url.setObjectName("results_url")
        form.addRow("Results URL", self.results_url)
        form.addRow("Loaded from", QLabel(settings.origin))
        self.reset_button = QPushButton("Use the built-in deployment")
        self.reset_button.clicked.connect(self._reset)
        form.addRow("", self.reset_button)
        layout.addWidget(box)
        key_box = QGroupBox("Exchange API key")
        key_layout = QVBoxLayout(key_box)
        row = QHBoxLayout()
        key_layout.addLayout(row)
        row.addWidget(QLabel(f"Key {key_hint} is saved in your system keyring." if key_hint
                             else "No key saved."), 1)
        self.forget_button = QPushButton("Forget my key")
        self.forget_button.setObjectName("forget_button")
        self.forget_button.setEnabled(bool(key_hint))
        self.forget_button.clicked.connect(self._forget)
        row.addWidget(self.forget_button)
        key_form = QFormLayout()
        self.api_key = QLineEdit()
        self.api_key.setObjectName("api_key")
        self.api_key.setPlaceholderText("leave empty to keep the saved key")
        self.secret = QLineEdit()
        self.secret.setObjectName("secret")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        key_form.addRow("New API key", self.api_key)
        key_form.addRow("Secret", self.secret)
        key_layout.addLayout(key_form)
        layout.addWidget(key_box)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        self.button_box = buttons
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def _save(self) -> None:
        provider = dict(self._original.provider)  # keeps settings the dialog does not show
        provider.update({name: e.text().strip() for name, e in self.edits.items()})
        try:
            self.result_settings = AppSettings.from_dict(
                {"provider": {k: v for k, v in provider.items() if v}, "results_url":
                 self.results_url.text().strip()}, origin="settings")
        except SettingsError as exc:
            self.error.setText(str(exc))
            return
        api_key, secret = self.api_key.text().strip(), self.secret.text().strip()
        if bool(api_key) != bool(secret):
            self.error.setText("Enter both the new API key and its secret, or neither.")
            return
        self.new_key = (api_key, secret) if api_key else None
        self.api_key.clear()
        self.secret.clear()
        self.accept()

    def _reset(self) -> None:
        self.reset_requested = True
        self.accept()

    def _forget(self) -> None:
        self.forget_requested = True
        self.forget_button.setEnabled(False)
