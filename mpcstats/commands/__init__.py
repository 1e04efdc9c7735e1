"""Subcommands of ``mpcstats`` that span several packages (demo, bench)."""
