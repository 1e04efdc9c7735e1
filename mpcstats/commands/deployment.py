"""The files a deployment hands out (schemas: docs/deployment.md, "Files you hand out")."""

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "export": ("mpcstats.commands.deployment_export",
               "write the providers' file and the consumers' verify file from the servers' configs"),
}
