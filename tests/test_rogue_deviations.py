"""The rogue party's well-formed deviations really deviate (issue 15's fault injection).

``shift`` adds δ = 1 to exactly one element of the message it hits and leaves it well-formed in
every wire format the parties use (raw 24-byte prime-field vectors, peer_codec messages, GF(2^8)
engine bytes); ``wrong_prss`` makes exactly the k-th PRSS computation off by one in one element
and leaves every other one alone. A mutation of either (no change, or a malformed message, or
the wrong call) fails here.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpyc import thresha
from mpyc.finfields import GF

from mpc_programs.runtime import fast_mpc, peer_codec
from mpc_programs.runtime.hardened_runtime import HardenedExchanger
from mpc_programs.shares.field import PRIME
from mpc_programs.verification import gf256_mpc
from mpcstats import rogue_party
from mpcstats.rogue_party import Gf256Message, shift

WIDTH = 24
FIELD = GF(PRIME)


def _elements(raw: bytes) -> list[int]:
    return [int.from_bytes(raw[i:i + WIDTH], "little") for i in range(0, len(raw), WIDTH)]


def test_shift_raw_field_vector_adds_one_mod_p() -> None:
    values = [5, PRIME - 1, 0, 123456789]
    payload = b"".join(v.to_bytes(WIDTH, "little") for v in values)
    for seed in range(20):
        out, where = shift(payload, random.Random(seed))  # type: ignore[misc]
        assert where["format"] == "field" and where["of"] == 4 and len(out) == len(payload)
        got = _elements(out)
        changed = [k for k in range(4) if got[k] != values[k]]
        assert changed == [where["element"]]
        assert got[where["element"]] == (values[where["element"]] + 1) % PRIME
        assert all(v < PRIME for v in got)  # still field elements: decodes at the peer
        peer_codec.decode_uints(out, 4, WIDTH, PRIME)


@pytest.mark.parametrize("message", [
    [11, 22, 33],
    ("digest", [1, 2], PRIME - 1),
    np.array([7, 8, 9, PRIME - 1], dtype=object),
])
def test_shift_codec_message_adds_one_to_one_integer(message: Any) -> None:
    payload = peer_codec.encode(message)
    out, where = shift(payload, random.Random(3))  # type: ignore[misc]
    assert where["format"] == "codec"
    before = _flat(peer_codec.decode(payload))
    after = _flat(peer_codec.decode(out, bound=PRIME))  # well-formed, every value in the field
    assert len(before) == len(after) == where["of"]
    diff = [k for k in range(len(before)) if before[k] != after[k]]
    assert diff == [where["element"]]
    assert after[diff[0]] == (before[diff[0]] + 1) % PRIME


def _flat(value: Any) -> list[int]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    if isinstance(value, np.ndarray):
        return [int(v) for v in value.reshape(-1)]
    return [value] if isinstance(value, int) and not isinstance(value, bool) else []


def test_shift_of_a_message_without_field_elements_is_not_applicable() -> None:
    assert shift(peer_codec.encode("a digest"), random.Random(0)) is None


def test_shift_gf256_flips_bit_zero_of_one_byte() -> None:
    raw = bytes(range(40))
    for payload in (Gf256Message(raw), raw[:25]):  # engine bytes; MPyC's GF(2^8) array bytes
        out, where = shift(payload, random.Random(1))  # type: ignore[misc]
        assert where["format"] == "gf256" and len(out) == len(payload)
        diff = [k for k in range(len(payload)) if out[k] != payload[k]]
        assert diff == [where["element"]] and out[diff[0]] == payload[diff[0]] ^ 1


def test_gf256_engine_messages_are_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[bytes] = []

    async def fake_exchange(self: Any, outgoing: dict[int, bytes], incoming: Any) -> Any:
        sent.extend(outgoing.values())
        return {}

    monkeypatch.setattr(gf256_mpc.Gf256Engine, "_exchange", fake_exchange)
    rogue_party._mark_gf256_messages()
    import asyncio
    asyncio.run(gf256_mpc.Gf256Engine._exchange(object(), {1: b"\x01\x02"}, []))
    assert sent == [b"\x01\x02"] and isinstance(sent[0], Gf256Message)


def _prfs() -> dict[Any, Any]:
    return {(0, 1): thresha.PRF(b"a" * 16, PRIME), (0, 2): thresha.PRF(b"b" * 16, PRIME)}


def _install_prss(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, at: int) -> Path:
    for name in ("np_pseudorandom_share", "np_pseudorandom_share_0", "pseudorandom_share"):
        monkeypatch.setattr(thresha, name, getattr(thresha, name))
    monkeypatch.setattr(fast_mpc, "prss_low_high", fast_mpc.prss_low_high)
    monkeypatch.setattr(fast_mpc, "pseudorandom_share_limbs", fast_mpc.pseudorandom_share_limbs)
    monkeypatch.setattr(HardenedExchanger, "send", HardenedExchanger.send)
    monkeypatch.setattr(rogue_party.atexit, "register", lambda f: None)
    report = tmp_path / "rogue.json"
    rogue_party.install("wrong_prss", at, str(report), str(tmp_path / "marker"), seed=7)
    return report


def test_wrong_prss_changes_exactly_the_kth_share(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    honest = [thresha.np_pseudorandom_share(FIELD, 3, 0, _prfs(), b"uci%05d" % k, 6).value
              for k in range(4)]
    honest_zero = thresha.np_pseudorandom_share_0(FIELD, 3, 0, _prfs(), b"z", 5).value
    report = _install_prss(monkeypatch, tmp_path, at=2)
    got = [thresha.np_pseudorandom_share(FIELD, 3, 0, _prfs(), b"uci%05d" % k, 6).value
           for k in range(4)]
    for k in (0, 1, 3):
        assert list(got[k]) == list(honest[k])
    diff = [j for j in range(6) if got[2][j] != honest[2][j]]
    assert len(diff) == 1 and got[2][diff[0]] == (honest[2][diff[0]] + 1) % PRIME
    # the 5th computation (index 4): nothing more changes
    assert list(thresha.np_pseudorandom_share_0(FIELD, 3, 0, _prfs(), b"z", 5).value) \
        == list(honest_zero)
    import json
    written = json.loads(report.read_text())
    assert written["prss"] == {"call": 2, "function": "np_pseudorandom_share",
                               "element": diff[0], "of": 6}


def test_wrong_prss_hits_the_limbs_path_of_the_statistics_randoms(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``fast_mpc.prss_random_limbs`` computes MPyC's PRSS values in limbs, bypassing
    ``thresha.np_pseudorandom_share``: the rogue must hit that path too."""
    honest = fast_mpc.from_limbs(fast_mpc.pseudorandom_share_limbs(FIELD, 3, 0, _prfs(), b"l", 7))
    report = _install_prss(monkeypatch, tmp_path, at=0)
    got = fast_mpc.from_limbs(fast_mpc.pseudorandom_share_limbs(FIELD, 3, 0, _prfs(), b"l", 7))
    diff = [j for j in range(7) if got[j] != honest[j]]
    assert len(diff) == 1 and got[diff[0]] == (honest[diff[0]] + 1) % PRIME
    import json
    assert json.loads(report.read_text())["prss"]["function"] == "pseudorandom_share_limbs"


@pytest.mark.parametrize("at", [0, 1])
def test_wrong_prss_hits_zero_sharings_and_scalar_shares(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path, at: int) -> None:
    zero = thresha.np_pseudorandom_share_0(FIELD, 3, 0, _prfs(), b"z", 5).value
    scalars = [int(v) % PRIME for v in thresha.pseudorandom_share(FIELD, 3, 0, _prfs(), b"s", 3)]
    _install_prss(monkeypatch, tmp_path, at=at)
    got_zero = thresha.np_pseudorandom_share_0(FIELD, 3, 0, _prfs(), b"z", 5).value
    got_scalars = [int(v) % PRIME
                   for v in thresha.pseudorandom_share(FIELD, 3, 0, _prfs(), b"s", 3)]
    changed_zero = [j for j in range(5) if got_zero[j] != zero[j]]
    changed_scalars = [j for j in range(3) if got_scalars[j] != scalars[j]]
    if at == 0:
        assert len(changed_zero) == 1 and not changed_scalars
        assert got_zero[changed_zero[0]] == (zero[changed_zero[0]] + 1) % PRIME
    else:
        assert not changed_zero and len(changed_scalars) == 1
        j = changed_scalars[0]
        assert got_scalars[j] == (scalars[j] + 1) % PRIME
