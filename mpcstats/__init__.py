"""MPCStats command-line entry point (``mpcstats``).

The CLI is a thin dispatcher: every subcommand lives in the package that owns
its logic and is only imported when it is used, so ``mpcstats --help`` stays
fast and a server host never imports Qt.
"""

__version__ = "0.1.0"
