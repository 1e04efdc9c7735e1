"""Put on PYTHONPATH by tests/test_demo.py: every process of the run behaves as a plain
``pip install mpcstats`` (no extras): importing a dev-only or GUI package fails."""

import importlib.abc
import sys

BLOCKED = {"trustme", "pytest", "hypothesis", "schemathesis", "keyrings", "PySide6", "pytestqt", "_pytest"}


class _NoDevDeps(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"{fullname} is not installed by `pip install mpcstats` (a dev extra)")
        return None


sys.meta_path.insert(0, _NoDevDeps())
