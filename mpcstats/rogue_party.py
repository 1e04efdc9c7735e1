"""A rogue computation party, for ``mpcstats bench rogue`` and the tests — never for a deployment.

It is the real party program (``mpc_programs.runtime.party_main``) with a valid certificate of the
deployment's MPC CA, except that one chosen message it sends goes out corrupted: the way a
dishonest operator, or an intruder on its host, would attack the two honest parties. No
configuration of a party server can start it: it is a separate entry point
(``python -m mpcstats.rogue_party``), configured only through its environment:

``MPCSTATS_ROGUE_ATTACK``
    ``count`` (corrupt nothing; write how many messages went to each peer and how many PRSS
    shares this party computed), or one of :data:`ATTACKS`.
``MPCSTATS_ROGUE_AT``
    the index of the message to corrupt, counted per peer (every peer gets its k-th one
    corrupted); for ``wrong_prss`` the index of the PRSS computation (counted over the run).
``MPCSTATS_ROGUE_SEED``
    seeds the choice of the element ``shift`` and ``wrong_prss`` change (default 0).

The *well-formed* deviations of an actively malicious party (issue 15):

``shift``
    add δ = 1 to one field element of the message, chosen at random, keeping the message
    well-formed: a raw vector of 24-byte little-endian elements of the prime field (``fast_mpc``,
    MPyC's field arrays) gets (v + 1) mod p; a ``peer_codec`` message gets (v + 1) mod p on one of
    its integers (ints, object-int arrays); a GF(2^8) message (``gf256_mpc``'s engine, or MPyC's
    GF(2^8) arrays: raw bytes whose length is no multiple of 24) gets bit 0 of one byte flipped
    (adding 1 in GF(2^8)).
``consistent_shift``
    the additive attack proper: the same element of the message to every peer j gets
    δ·(x_j − x_self) (x = party number + 1; in GF(2^8) δ·(α_j + α_self)), δ = 1. In a
    resharing these are the points of f(X) + δ·(X − x_self), so the honest parties hold a
    *valid* degree-1 sharing of a wrong value (the secret minus δ·x_self): no opening check
    can see it, only the product check. In an opening it is a lie like ``shift``'s.
``wrong_prss``
    the k-th pseudorandom secret share this party computes (MPyC's ``thresha.pseudorandom_share``,
    ``np_pseudorandom_share``, ``np_pseudorandom_share_0`` — the randoms and the degree-2t zero
    sharings —, ``fast_mpc.pseudorandom_share_limbs`` — the randoms in limbs — and
    ``fast_mpc.prss_low_high``) is off by δ = 1 in one element, chosen at random.
``wrong_permutation``
    the k-th shuffle permutation this party holds with a pair partner (``secure_sort``, the
    oblivious sort of Gini) has two entries swapped: the party permutes its pieces otherwise
    than its partner does.
``MPCSTATS_ROGUE_REPORT``
    a file that receives one JSON line: the per-peer counts, or the time the attack fired.
``MPCSTATS_ROGUE_MARKER``
    the path a pickle gadget would create if an honest party ever unpickled it.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import random
import signal
import struct
import sys
import time
from typing import Any

import numpy as np

from mpc_programs.runtime import peer_codec
from mpc_programs.shares.field import PRIME
from mpc_programs.runtime.hardened_runtime import HardenedExchanger

#: What the rogue can do to one message.
#: Malformed messages, a vanished party (``bench rogue``: the strict codec and the links).
MALFORMED = ("pickle_gadget", "wrong_length", "wrong_type", "out_of_field", "truncated_frame",
             "oversized_frame", "killed")
#: The deviations that keep every message well-formed (``bench malicious``: what active
#: security with abort must catch).
WELL_FORMED = ("shift", "consistent_shift", "wrong_prss", "wrong_permutation")
ATTACKS = MALFORMED + WELL_FORMED

_WIDTH = (PRIME.bit_length() + 7) // 8


class _Gadget:
    """Unpickling this creates the marker file: proof that a peer's bytes ran as code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def _out_of_field(payload: bytes) -> bytes | None:
    """The same message with one element ≥ p, or None when its format has no such value."""
    try:
        value = peer_codec.decode(payload)
    except peer_codec.PeerMessageError:
        value = None
    if value is not None and hasattr(value, "dtype") and value.dtype == object and value.size:
        flat = value.reshape(-1).copy()
        flat[0] = PRIME
        return peer_codec.encode(flat.reshape(value.shape))
    if value is None and payload and len(payload) % _WIDTH == 0:
        return PRIME.to_bytes(_WIDTH, "little") + payload[_WIDTH:]
    return None


class Gf256Message(bytes):
    """The bytes of one GF(2^8) engine message (``gf256_mpc``): each byte a field element."""


def _add_one(value: int, delta: int = 1) -> int:
    return (value + delta) % PRIME if 0 <= value < PRIME else value + 1


def _codec_slots(value: Any) -> int:
    """How many integers (field elements) a decoded codec message holds."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        return 0
    if isinstance(value, int):
        return 1
    if isinstance(value, (list, tuple)):
        return sum(_codec_slots(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype != np.bool_:
        return int(value.size)
    return 0


def _codec_shift(value: Any, index: int, delta: int = 1, gf_delta: int = 1) -> tuple[Any, int]:
    """``value`` with its ``index``-th integer plus ``delta`` (bytes of GF(2^8): XOR
    ``gf_delta``); returns (new value, index left)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, bytes)):
        return value, index
    if isinstance(value, int):
        return (_add_one(value, delta), -1) if index == 0 else (value, index - 1)
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if index >= 0:
                item, index = _codec_shift(item, index, delta, gf_delta)
            out.append(item)
        return (tuple(out) if isinstance(value, tuple) else out), index
    if isinstance(value, np.ndarray) and value.dtype != np.bool_:
        if index >= value.size:
            return value, index - value.size
        flat = value.reshape(-1).copy()
        if flat.dtype == object:
            flat[index] = _add_one(int(flat[index]), delta)
        elif flat.dtype == np.uint8:  # bytes of GF(2^8): add there
            flat[index] ^= gf_delta
        else:
            flat[index] = flat[index] + 1  # wraps within the dtype: still well-formed
        return flat.reshape(value.shape), -1
    return value, index


def shift(payload: bytes, rng: random.Random, delta: int = 1,
          gf_delta: int = 1) -> tuple[bytes, dict[str, Any]] | None:
    """``payload`` with ``delta`` added to one element chosen with ``rng`` (a GF(2^8) byte:
    XOR ``gf_delta``), still well-formed, and where (format, element, of how many); None
    when the message holds no field element."""
    if isinstance(payload, Gf256Message) or (payload and len(payload) % _WIDTH
                                              and _decodes(payload) is None):
        if not payload:
            return None
        index = rng.randrange(len(payload))
        out = bytearray(payload)
        out[index] ^= gf_delta  # + δ in GF(2^8)
        return bytes(out), {"format": "gf256", "element": index, "of": len(payload)}
    value = _decodes(payload)
    if value is not None:
        slots = _codec_slots(value[0])
        if not slots:
            return None
        index = rng.randrange(slots)
        shifted, _ = _codec_shift(value[0], index, delta, gf_delta)
        return peer_codec.encode(shifted), {"format": "codec", "element": index, "of": slots}
    count = len(payload) // _WIDTH
    if not count:
        return None
    index = rng.randrange(count)
    element = int.from_bytes(payload[index * _WIDTH:(index + 1) * _WIDTH], "little")
    new = _add_one(element, delta).to_bytes(_WIDTH, "little")
    return (payload[:index * _WIDTH] + new + payload[(index + 1) * _WIDTH:],
            {"format": "field", "element": index, "of": count})


def _decodes(payload: bytes) -> tuple[Any] | None:
    """(the decoded codec message,) or None when ``payload`` is no codec message (raw bytes)."""
    try:
        return (peer_codec.decode(payload),)
    except (peer_codec.PeerMessageError, ValueError, TypeError, OverflowError):
        return None


def corrupt(kind: str, payload: bytes, marker: str) -> bytes | None:
    """The corrupted payload for ``kind`` (None: this message has no such corruption)."""
    if kind == "pickle_gadget":
        return pickle.dumps(_Gadget(marker))
    if kind == "wrong_length":
        return payload[:-1] if len(payload) > 1 else payload + b"\x00"
    if kind == "wrong_type":
        return peer_codec.encode("not what you expected")
    if kind == "out_of_field":
        return _out_of_field(payload)
    raise ValueError(kind)


def install(kind: str, at: int, report: str, marker: str, seed: int = 0) -> None:
    """Hook the exchanger's send so the ``at``-th message to each peer is corrupted (for
    ``wrong_prss``: the ``at``-th PRSS computation)."""
    counts: dict[int, int] = {}
    prss = {"calls": 0}
    permutations = {"calls": 0}
    fired: dict[str, Any] = {}
    rng = random.Random(f"{seed}:{kind}:{at}")
    original_send = HardenedExchanger.send

    def write_report() -> None:
        with open(report, "w", encoding="utf-8") as out:
            json.dump({"counts": {str(k): v for k, v in counts.items()},
                       "prss_calls": prss["calls"],
                       "permutation_calls": permutations["calls"], **fired}, out)

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        index = counts.get(self.peer_pid, 0)
        counts[self.peer_pid] = index + 1
        if kind in ("count", "wrong_prss", "wrong_permutation") or index != at:
            original_send(self, pc, payload)
            return
        fired.setdefault("at", time.time())
        if kind == "killed":  # kill -9 in the middle of the run, instead of this message
            write_report()
            os.kill(os.getpid(), signal.SIGKILL)
        if kind in ("truncated_frame", "oversized_frame"):
            claimed = len(payload) + 64 if kind == "truncated_frame" else (1 << 31) + 12
            self.transport.write(struct.pack('<qI', pc, claimed) + payload)
            if kind == "truncated_frame":  # the rest never comes: the rogue goes away
                self.runtime._loop.call_later(0.3, os._exit, 0)
        elif kind in ("shift", "consistent_shift"):
            if kind == "shift":
                done = shift(payload, rng)
            else:  # the same element to every peer (a generator seeded by the label)
                me, peer = self.runtime.pid + 1, self.peer_pid + 1
                done = shift(payload, random.Random(f"{seed}:{at}:{pc}"),
                             delta=(peer - me) % PRIME, gf_delta=peer ^ me)
            if done is None:
                if "shifted" not in fired:
                    fired["not_applicable"] = True
                original_send(self, pc, payload)
            else:
                fired.pop("not_applicable", None)
                fired.setdefault("shifted", {})[str(self.peer_pid)] = {"label": pc, **done[1]}
                original_send(self, pc, done[0])
        else:
            bad = corrupt(kind, payload, marker)
            if bad is None:
                fired["not_applicable"] = True
            original_send(self, pc, payload if bad is None else bad)
        write_report()  # now: the honest parties' abort will end this process without atexit

    HardenedExchanger.send = send  # type: ignore[method-assign]
    if kind in ("shift", "consistent_shift", "count"):
        _mark_gf256_messages()
    if kind in ("wrong_prss", "count"):
        _hook_prss(at if kind == "wrong_prss" else -1, rng, prss, fired, write_report)
    if kind in ("wrong_permutation", "count"):
        _hook_permutations(at if kind == "wrong_permutation" else -1, rng, permutations, fired,
                           write_report)
    atexit.register(write_report)


def _hook_permutations(at: int, rng: random.Random, permutations: dict[str, int],
                       fired: dict[str, Any], write_report: Any) -> None:
    """Count the shuffle permutations this party holds; the ``at``-th gets two entries
    swapped."""
    from mpc_programs.statistics import secure_sort

    original = secure_sort._pair_permutations

    def pair_permutations(n: int) -> list[np.ndarray | None]:
        out = original(n)
        for step, perm in enumerate(out):
            if perm is None:
                continue
            k = permutations["calls"]
            permutations["calls"] = k + 1
            if k == at and n >= 2:
                i, j = rng.sample(range(n), 2)
                perm = perm.copy()
                perm[i], perm[j] = perm[j], perm[i]
                out[step] = perm
                fired.setdefault("at", time.time())
                fired["permutation"] = {"call": k, "swapped": [i, j], "of": n}
                write_report()
        return out

    secure_sort._pair_permutations = pair_permutations


def _mark_gf256_messages() -> None:
    """Tag what the GF(2^8) engine sends (raw bytes, one field element each)."""
    from mpc_programs.verification import gf256_mpc

    original = gf256_mpc.Gf256Engine._exchange

    async def _exchange(self: Any, outgoing: dict[int, bytes], incoming: Any) -> dict[int, bytes]:
        return await original(self, {j: Gf256Message(data) for j, data in outgoing.items()},
                              incoming)

    gf256_mpc.Gf256Engine._exchange = _exchange  # type: ignore[method-assign]


def _shift_field_array(field: Any, shares: Any, index: int) -> Any:
    """A copy of MPyC field array ``shares`` with δ = 1 added to element ``index``."""
    values = np.array(shares.value, dtype=object).reshape(-1)
    values[index] = (int(values[index]) ^ 1 if field.characteristic == 2
                     else (int(values[index]) + 1) % field.order)
    return field.array(values.reshape(np.shape(shares.value)))


def _hook_prss(at: int, rng: random.Random, prss: dict[str, int], fired: dict[str, Any],
               write_report: Any) -> None:
    """Count this party's PRSS computations; the ``at``-th one is off by one in one element."""
    from mpyc import thresha

    from mpc_programs.runtime import fast_mpc

    def due(name: str, size: int) -> int | None:
        k = prss["calls"]
        prss["calls"] = k + 1
        if k != at or size <= 0:
            if k == at:
                fired["not_applicable"] = True
            return None
        index = rng.randrange(size)
        fired.setdefault("at", time.time())
        fired["prss"] = {"call": k, "function": name, "element": index, "of": size}
        write_report()
        return index

    def wrap_np(name: str, original: Any) -> Any:
        def wrapped(field: Any, m: int, i: int, prfs: Any, uci: Any, n: int) -> Any:
            shares = original(field, m, i, prfs, uci, n)
            index = due(name, int(np.size(shares.value)))
            return shares if index is None else _shift_field_array(field, shares, index)
        wrapped.__wrapped__ = original  # type: ignore[attr-defined]
        return wrapped

    original_list = thresha.pseudorandom_share

    def pseudorandom_share(field: Any, m: int, i: int, prfs: Any, uci: Any, n: int) -> Any:
        shares = original_list(field, m, i, prfs, uci, n)
        index = due("pseudorandom_share", len(shares))
        if index is not None:
            shares = list(shares)
            shares[index] = shares[index] + field(1)
        return shares

    original_low_high = fast_mpc.prss_low_high

    def prss_low_high(field: Any, n: int, f: int, bits: int) -> Any:
        low, high = original_low_high(field, n, f, bits)
        index = due("prss_low_high", 2 * n)
        if index is not None:  # one element of r_low or of r_high
            target = (low if index < n else high).copy()
            target[index % n] = (int(target[index % n]) + 1) % PRIME
            low, high = (target, high) if index < n else (low, target)
        return low, high

    original_limbs = fast_mpc.pseudorandom_share_limbs

    def pseudorandom_share_limbs(field: Any, m: int, i: int, prfs: Any, uci: Any,
                                 n: int) -> Any:
        shares = original_limbs(field, m, i, prfs, uci, n)
        index = due("pseudorandom_share_limbs", n)
        if index is not None:
            shares = shares.copy()
            value = int(fast_mpc.from_limbs(shares[index:index + 1])[0])
            shares[index] = fast_mpc.constant_limbs(value + 1)
        return shares

    fast_mpc.pseudorandom_share_limbs = pseudorandom_share_limbs
    thresha.np_pseudorandom_share = wrap_np("np_pseudorandom_share",
                                            thresha.np_pseudorandom_share)
    thresha.np_pseudorandom_share_0 = wrap_np("np_pseudorandom_share_0",
                                              thresha.np_pseudorandom_share_0)
    thresha.pseudorandom_share = pseudorandom_share
    fast_mpc.prss_low_high = prss_low_high


def main() -> int:
    kind = os.environ.get("MPCSTATS_ROGUE_ATTACK", "count")
    if kind != "count" and kind not in ATTACKS:
        print(f"unknown attack {kind!r}; one of count, {', '.join(ATTACKS)}", file=sys.stderr)
        return 2
    install(kind, int(os.environ.get("MPCSTATS_ROGUE_AT", "-1")),
            os.environ["MPCSTATS_ROGUE_REPORT"], os.environ.get("MPCSTATS_ROGUE_MARKER", os.devnull),
            seed=int(os.environ.get("MPCSTATS_ROGUE_SEED", "0")))
    from mpc_programs.runtime import party_main
    return party_main.main()


if __name__ == "__main__":
    sys.exit(main())
