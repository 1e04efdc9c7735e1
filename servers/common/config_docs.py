"""Write ``docs/configuration.md`` from the servers' config classes:
``python -m servers.common.config_docs > docs/configuration.md``.

Every key of every server's TOML table is listed with its type, its default (or that it is required), its
environment variable and the comment above its field in the config class, so the reference cannot drift
from what the loader accepts; ``tests/test_config_docs.py`` fails when the committed file is out of date
or a key has no description. To add a server, add it to :data:`SERVERS`.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import sys
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.common.config import ENV_PREFIX

#: Descriptions of fields that carry no comment in their class (shared, self-explanatory names).
COMMON: dict[str, str] = {
    "host": "Listen address of the HTTP server (`0.0.0.0`: every interface; `--host` overrides).",
    "port": "Listen port of the HTTP server (0: any free port; `--port` overrides).",
    "sources": "The data sources this deployment counts (names of specs in `tlsn/specs/`); "
               "coordinator and parties must list the same.",
    "server_names": "TLS server name an attestation must carry, per source (default: the spec's host); "
                    "the exchange simulator's is `api.binance.test`.",
    "attestation_max_age_seconds": "How old a notary attestation may be when it is registered.",
    "session_ttl_seconds": "A registration whose shares have not all arrived and been verified by then expires.",
    "data_dir": "Directory of this server's state, created at start (the systemd units in `packaging/systemd/` "
                "allow writing only there).",
    "max_body_bytes": "Largest accepted request body (bytes); larger requests get 413.",
    "max_pending_sessions": "Most sessions waiting for shares or verification at once.",
    "global_rate": "Requests per second over all clients (token bucket), 429 above it.",
    "global_burst": "Burst of `global_rate`.",
    "max_batch": "Most providers verified in one MPC run.",
    "poll_seconds": "How often the parties' signed results are fetched.",
    "request_timeout": "HTTP timeout (seconds) of one fetch from a party.",
    "history_limit": "How many past releases are kept and listed.",
    "max_result_bytes": "Largest accepted result document from a party.",
    "results_path": "Path of a party's signed latest result.",
}


@dataclass(frozen=True)
class Server:
    section: str
    title: str
    command: str
    cls: type
    intro: str = ""
    #: (heading, dataclass, TOML form) of tables outside or inside the section
    tables: tuple[tuple[str, type, str], ...] = ()


def servers() -> list[Server]:
    from servers.coordinator.config import CoordinatorConfig
    from servers.exchange_sim.config import ExchangeSimConfig
    from servers.notary.config import NotarySection, _HostTable
    from servers.party.config import PartyConfig
    from servers.results.config import PartyEndpoint, ResultsConfig
    return [
        Server("notary", "Notary", "mpcstats notary", NotarySection,
               "The allow-list is the top-level `[hosts.\"<server name>\"]` tables (at least one).",
               (("`[hosts.\"<server name>\"]`: one per exchange host the notary may relay to",
                 _HostTable, 'hosts."api.binance.com"'),)),
        Server("party", "Computation party", "mpcstats party", PartyConfig,
               "Each of the three operators runs one, with its own `index`, `control_token`, `data_dir` "
               "and `mpc_ssl_dir`."),
        Server("coordinator", "Coordinator", "mpcstats coordinator", CoordinatorConfig),
        Server("results", "Results API", "mpcstats results", ResultsConfig,
               "Besides the keys below it lists the three parties as `[[results.parties]]` tables.",
               (("`[[results.parties]]`: three tables, one per party", PartyEndpoint, "[results.parties]"),)),
        Server("exchange_sim", "Exchange simulator (tests and demos only)", "mpcstats exchange-sim",
               ExchangeSimConfig, "Its flags (`--accounts`, `--ca-out`, ...) override the keys of the same name."),
    ]


_GROUPS: dict[type, dict[str, str]] = {}


def field_comments(cls: type) -> dict[str, str]:
    """The comment block right above each field (``#:`` or ``#``) and a trailing comment, per class in the MRO."""
    out: dict[str, str] = {}
    group = _GROUPS.setdefault(cls, {})
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        lines, start = inspect.getsourcelines(klass)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        previous: int | None = None
        last = ""
        for node in body:
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            i = node.lineno - 2  # the line above, 0-based in ``lines``
            block: list[str] = []
            while i >= 0 and lines[i].strip().startswith("#"):
                block.insert(0, lines[i].strip().lstrip("#").lstrip(":").strip())
                i -= 1
            trailing = lines[node.lineno - 1].split("#", 1)
            if len(trailing) == 2 and not block:
                block = [trailing[1].strip()]
            if block:
                out[node.target.id] = " ".join(b for b in block if b)
            elif previous is not None and previous == node.lineno - 1:
                group[node.target.id] = group.get(last, last)  # a run of fields under one comment
            previous, last = (node.end_lineno or node.lineno), node.target.id
    return out


def field_groups(cls: type) -> dict[str, str]:
    """Fields without a comment of their own that follow a commented one directly: field -> that one."""
    field_comments(cls)
    return dict(_GROUPS.get(cls, {}))


def type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return type_name(inner[0]) + " (optional)" if len(inner) == 1 else str(hint)
    if origin is list:
        return f"list of {_plural(args[0])}" if args else "list"
    if origin is dict:
        return f"table of {_plural(args[1])}" if len(args) == 2 else "table"
    if dataclasses.is_dataclass(hint):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path",
            Any: "any"}.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(hint: Any) -> str:
    name = type_name(hint)
    return {"string": "strings", "integer": "integers", "number": "numbers", "path": "paths",
            "any": "values", "table of values": "tables"}.get(name, name + "s")


def default_text(f: dataclasses.Field) -> str:  # type: ignore[type-arg]
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "**required**"
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    if value is None:
        return "—"
    if isinstance(value, Path):
        value = str(value)
    return "`" + json.dumps(value) .replace("|", "\\|") + "`"


def describe(cls: type) -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) of every field of ``cls``."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    groups = field_groups(cls)
    rows = []
    for f in dataclasses.fields(cls):
        text = comments.get(f.name) or COMMON.get(f.name, "")
        if not text and f.name in groups and groups[f.name] in comments:
            text = f"See `{groups[f.name]}`."
        rows.append((f.name, type_name(hints[f.name]), default_text(f), text.replace("|", "\\|")))
    return rows


def render_markdown() -> str:
    out = ["# Server configuration reference", "",
           "<!-- Generated by `python -m servers.common.config_docs > docs/configuration.md`; "
           "do not edit by hand. -->", "",
           "Every server is started the same way: `mpcstats <server> --config FILE` (a TOML file with the "
           "server's table), `--host`/`--port` to override the listen address, `--log-level`, and "
           "`--check-config FILE` to validate a file without starting anything (exit 0, or 2 naming the "
           "key to fix). Each key can also be set by the environment variable "
           f"`{ENV_PREFIX}_<SECTION>_<KEY>` (lists and tables as JSON), which overrides the file; "
           "`--host`/`--port` override both. Unknown keys are errors. Relative paths are relative to the "
           "config file's directory. How the pieces fit together: [deployment.md](deployment.md).", ""]
    all_servers = servers()
    out += ["| server | command | table |", "|---|---|---|"]
    out += [f"| [{s.title}](#{_anchor(s.title)}) | `{s.command} --config FILE` | `[{s.section}]` |"
            for s in all_servers]
    out.append("")
    for s in all_servers:
        out += [f"## {s.title}", "", f"`{s.command} --config FILE`, table `[{s.section}]`, environment "
                f"`{ENV_PREFIX}_{s.section.upper()}_<KEY>`.", ""]
        if s.intro:
            out += [s.intro, ""]
        out += _table(s.cls, s.section)
        for heading, cls, _form in s.tables:
            out += [f"### {heading}", ""] + _table(cls, None)
        retired: dict[str, str] = getattr(s.cls, "RETIRED", {})
        if retired:
            out += ["Retired keys (refused, with what to write instead):", ""]
            out += [f"- `{name}`: {text}" for name, text in sorted(retired.items())] + [""]
    return "\n".join(out).rstrip() + "\n"


def _table(cls: type, section: str | None) -> list[str]:
    env = f"{ENV_PREFIX}_{section.upper()}_" if section else None
    head = "| key | type | default | " + ("environment | " if env else "") + "meaning |"
    lines = [head, "|---|---|---|" + ("---|" if env else "") + "---|"]
    for key, kind, default, text in describe(cls):
        env_cell = f" `{env}{key.upper()}` |" if env else ""
        lines.append(f"| `{key}` | {kind} | {default} |{env_cell} {text} |")
    return lines + [""]


def _anchor(title: str) -> str:
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c == "-")


def main() -> int:
    sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
