"""Headless subcommands of the provider app (``mpcstats notarize`` ...)."""
