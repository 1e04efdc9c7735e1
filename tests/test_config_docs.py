"""``docs/configuration.md`` is generated from the servers' config classes (servers/common/config_docs.py):
it must be up to date, and every key must say what it means."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from servers.common.config_docs import describe, servers

REPO = Path(__file__).resolve().parents[1]


def test_docs_configuration_md_is_up_to_date() -> None:
    done = subprocess.run([sys.executable, "-m", "servers.common.config_docs"], capture_output=True,
                          text=True, cwd=REPO, timeout=60, check=True)
    assert "MPCSTATS_PARTY_CONTROL_TOKEN" in done.stdout
    assert (REPO / "docs" / "configuration.md").read_text() == done.stdout, \
        "docs/configuration.md is stale: run `python -m servers.common.config_docs > docs/configuration.md`"


def test_every_key_of_every_server_is_described() -> None:
    for server in servers():
        for cls in [server.cls] + [t[1] for t in server.tables]:
            rows = describe(cls)
            assert [r[0] for r in rows] == [f.name for f in dataclasses.fields(cls)]
            missing = [key for key, _, _, text in rows if not text]
            assert not missing, f"{cls.__name__}: describe {missing} (a #: comment above the field)"


def test_retired_keys_are_listed_with_their_replacement() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    assert "`rate_per_second`: every server names its rate limits alike: write client_rate instead" in text
    assert "`party_token`:" in text and "`coordinator_token`:" in text
