"""A rogue computation party, for ``mpcstats bench rogue`` and the tests — never for a deployment.

It is the real party program (``mpc_programs.runtime.party_main``) with a valid certificate of the
deployment's MPC CA, except that one chosen message it sends goes out corrupted: the way a
dishonest operator, or an intruder on its host, would attack the two honest parties. No
configuration of a party server can start it: it is a separate entry point
(``python -m mpcstats.rogue_party``), configured only through its environment:

``MPCSTATS_ROGUE_ATTACK``
    ``count`` (corrupt nothing; write how many messages went to each peer), or one of
    :data:`ATTACKS`.
``MPCSTATS_ROGUE_AT``
    the index of the message to corrupt, counted per peer (every peer gets its k-th one
    corrupted).
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
import signal
import struct
import sys
import time
from typing import Any

from mpc_programs.runtime import peer_codec
from mpc_programs.shares.field import PRIME
from mpc_programs.runtime.hardened_runtime import HardenedExchanger

#: What the rogue can do to one message.
ATTACKS = ("pickle_gadget", "wrong_length", "wrong_type", "out_of_field", "truncated_frame",
           "oversized_frame", "killed")

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


def install(kind: str, at: int, report: str, marker: str) -> None:
    """Hook the exchanger's send so the ``at``-th message to each peer is corrupted."""
    counts: dict[int, int] = {}
    fired: dict[str, Any] = {}
    original_send = HardenedExchanger.send

    def write_report() -> None:
        with open(report, "w", encoding="utf-8") as out:
            json.dump({"counts": {str(k): v for k, v in counts.items()}, **fired}, out)

    def send(self: HardenedExchanger, pc: int, payload: bytes) -> None:
        index = counts.get(self.peer_pid, 0)
        counts[self.peer_pid] = index + 1
        if kind == "count" or index != at:
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
        else:
            bad = corrupt(kind, payload, marker)
            if bad is None:
                fired["not_applicable"] = True
            original_send(self, pc, payload if bad is None else bad)
        write_report()  # now: the honest parties' abort will end this process without atexit

    HardenedExchanger.send = send  # type: ignore[method-assign]
    atexit.register(write_report)


def main() -> int:
    kind = os.environ.get("MPCSTATS_ROGUE_ATTACK", "count")
    if kind != "count" and kind not in ATTACKS:
        print(f"unknown attack {kind!r}; one of count, {', '.join(ATTACKS)}", file=sys.stderr)
        return 2
    install(kind, int(os.environ.get("MPCSTATS_ROGUE_AT", "-1")),
            os.environ["MPCSTATS_ROGUE_REPORT"], os.environ.get("MPCSTATS_ROGUE_MARKER", os.devnull))
    from mpc_programs.runtime import party_main
    return party_main.main()


if __name__ == "__main__":
    sys.exit(main())
