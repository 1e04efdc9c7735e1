"""A dishonest computation party gets nothing: no code from peers, links bound to party numbers.

The decoder is attacked directly (pickle gadgets, truncations, out-of-field values, fuzzing);
then real party processes (the deployment's entry point, TLS on) face a rogue party process
holding a valid certificate of the same CA (``mpcstats bench rogue``, short form).
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc_programs.runtime import peer_codec
from mpc_programs.shares.field import PRIME
from mpc_programs.runtime.peer_codec import PeerMessageError
from mpc_programs.runtime.runner import free_ports, local_pki, party_command
from mpcstats.commands.bench_rogue import ATTACKS, run_harness

ROOT = Path(__file__).resolve().parent.parent


class _Gadget:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


def test_codec_round_trips_every_value_the_parties_exchange() -> None:
    values = [None, True, False, 0, -1, PRIME - 1, 2**400, "digest|αβ", b"\x00\xff", [1, "x", None],
              (1, 2), np.array([0, 5, PRIME - 1], dtype=object),
              np.arange(12, dtype=np.int64).reshape(3, 4), np.array([1, 0, 1], dtype=np.uint8),
              np.array([True, False])]
    for value in values:
        decoded = peer_codec.decode(peer_codec.encode(value), bound=PRIME if not isinstance(
            value, int) else None)
        if isinstance(value, np.ndarray):
            assert decoded.dtype == value.dtype and decoded.shape == value.shape
            assert (decoded == value).all()
        else:
            assert decoded == value and type(decoded) is type(value)


def test_a_pickle_gadget_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    gadget = pickle.dumps(_Gadget(marker))
    with pytest.raises(PeerMessageError, match="unknown type tag"):
        peer_codec.decode(gadget)
    with pytest.raises(PeerMessageError):
        peer_codec.decode_uints(gadget, 3, 24, PRIME)
    assert not marker.exists()


@pytest.mark.parametrize("data, reason", [
    (b"", "truncated"),
    (b"S\x05\x00\x00\x00abc", "truncated"),
    (b"N" + b"N", "after the message"),
    (b"I\x00\x02\x00\x01\x00", "minimal"),
    (b"I\x02\x01\x00\x01", "malformed integer"),
    (b"S\x02\x00\x00\x00\xff\xfe", "UTF-8"),
    (b"L\xff\xff\xff\x7f", "longer than the message"),
    (b"L\x01\x00\x00\x00" * 20 + b"N", "nested too deeply"),
    (b"A\x00\x05" + b"\x01\x00\x00\x00\x00\x00\x00\x00" * 5 + b"\x01\x00", "dimensions"),
    (b"A\x00\x01" + struct.pack("<Q", 2**40) + b"\x18", "longer than the message"),
    (b"A\x63\x01" + struct.pack("<Q", 1) + b"\x00", "unknown array kind"),
    (b"A\x09\x01" + struct.pack("<Q", 2) + b"\x01\x02", "boolean"),
])
def test_malformed_messages_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(PeerMessageError, match=reason):
        peer_codec.decode(data)


def test_values_outside_the_field_are_refused() -> None:
    message = peer_codec.encode(np.array([1, PRIME], dtype=object))
    assert peer_codec.decode(message)[1] == PRIME  # without a bound: just an integer
    with pytest.raises(PeerMessageError, match="outside the field"):
        peer_codec.decode(message, bound=PRIME)
    raw = peer_codec.encode_uints([1, PRIME], 24)
    with pytest.raises(PeerMessageError, match="outside the field"):
        peer_codec.decode_uints(raw, 2, 24, PRIME)
    with pytest.raises(PeerMessageError, match="expected 3 values"):
        peer_codec.decode_uints(raw, 3, 24, PRIME)
    with pytest.raises(PeerMessageError, match="outside the field"):
        peer_codec.decode(peer_codec.encode(np.array([-1], dtype=np.int64)), bound=PRIME)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_no_byte_string_does_anything_but_decode_or_refuse(data: bytes) -> None:
    try:
        peer_codec.decode(data, bound=PRIME)
    except PeerMessageError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text() | st.binary(),
                    lambda inner: st.lists(inner, max_size=4), max_leaves=20))
def test_any_plain_value_round_trips(value: object) -> None:
    assert peer_codec.decode(peer_codec.encode(value)) == value


def test_no_unpickling_is_reachable_from_peer_data() -> None:
    """No code-bearing decoder in the product, and MPyC's own pickle path is replaced."""
    modules = {"pickle", "cPickle", "_pickle", "dill", "marshal", "shelve", "jsonpickle", "yaml"}
    calls = {"load", "loads", "Unpickler", "unsafe_load", "full_load", "open"}
    offenders = []
    for package in ("mpc_programs", "servers", "mpcstats", "provider_app", "tlsn"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Attribute) and node.attr in calls \
                        and isinstance(node.value, ast.Name) and node.value.id in modules:
                    offenders.append(f"{where}: {node.value.id}.{node.attr}")
                elif isinstance(node, ast.ImportFrom) and node.module in modules \
                        and any(alias.name in calls for alias in node.names):
                    offenders.append(f"{where}: from {node.module} import ...")
    # the rogue party *builds* a gadget (pickle.dumps) to attack with; nothing unpickles
    assert offenders == []
    direct = [str(p.relative_to(ROOT)) for p in (ROOT / "mpc_programs").rglob("*.py")
              if re.search(r"^\s*(from mpyc\.runtime import|import mpyc\.runtime)", p.read_text(), re.M)]
    assert direct == ["mpc_programs/runtime/hardened_runtime.py"]
    probe = ("import mpc_programs.runtime.party_main, mpyc.runtime as r, mpyc.asyncoro as a,"
             " mpyc.thresha as t;"
             "from mpc_programs.runtime import hardened_runtime as h;"
             "print(r.pickle is h._StrictPickle, a.MessageExchanger is h.HardenedExchanger,"
             " t.np_recombine.__wrapped__ is not None, r.mpc.options.sec_param)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.split()
    assert out == ["True", "True", "True", "40"]


def _start(pid: int, ports: list[int], cwd: Path, *extra: str, host: str = "127.0.0.1",
           ssl: bool = True) -> subprocess.Popen[str]:
    cmd = party_command(pid, [(host, p) for p in ports], "-", ssl=ssl)
    cmd = [c for c in cmd if c not in ("--ssl", "--insecure-local")] + list(extra)
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"task": "stats", "store": str(cwd / "none.json"),
                                 "result": str(cwd / "result.json"),
                                 "query": {"statistics": ["count"]}}))
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it again
    return proc


def test_a_party_refuses_to_run_mpc_without_tls(tmp_path: Path) -> None:
    proc = _start(1, free_ports(3), tmp_path)  # neither --ssl nor --insecure-local
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "refusing to run MPC without TLS" in out


def test_the_development_switch_says_so_loudly(tmp_path: Path) -> None:
    proc = _start(1, free_ports(3), tmp_path, "--insecure-local")
    time.sleep(1.5)
    proc.kill()
    out, _ = proc.communicate(timeout=10)
    assert "WARNING: --insecure-local" in out and "WITHOUT TLS" in out


def test_mpc_listens_on_the_configured_address_only(tmp_path: Path) -> None:
    dirs = local_pki(tmp_path / "pki", 3)
    ports = free_ports(3, "127.0.0.2")
    proc = _start(1, ports, dirs[1], "--ssl", host="127.0.0.2")
    try:
        listening: list[str] = []
        deadline = time.monotonic() + 20
        while not listening and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0]
            listening = [c.laddr.ip for c in psutil.Process(proc.pid).net_connections("tcp")
                         if c.status == psutil.CONN_LISTEN]
            time.sleep(0.05)
        assert listening == ["127.0.0.2"]
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_a_certificate_for_another_party_number_is_refused_on_both_sides(tmp_path: Path) -> None:
    summary = run_harness(tmp_path, labels=0, kinds=(), programs=(), certificates=True)
    assert summary["attacks"] == 2
    assert summary["aborted_cleanly"] == 2, summary["failures"]
    assert set(summary["by_kind"]) == {"wrong_certificate_connecting",
                                       "wrong_certificate_listening"}


@pytest.mark.slow
def test_rogue_party_short_form(tmp_path: Path) -> None:
    """``mpcstats bench rogue`` with two labels per program and kind: every attack aborts the
    run at both honest parties within seconds, nothing runs, nothing stored changes."""
    summary = run_harness(tmp_path, labels=2, kinds=ATTACKS, certificates=False)
    print(json.dumps(summary))
    assert summary["code_ran"] == 0
    assert summary["stores_unchanged"] is True
    assert summary["attacks"] >= 2 * (len(ATTACKS) - 1) * 2 - 2
    assert summary["aborted_cleanly"] == summary["attacks"], summary["failures"]
    assert summary["max_abort_seconds"] < 15
    assert not (tmp_path / "CODE-RAN").exists()
    assert os.listdir(tmp_path / "runs") == []
