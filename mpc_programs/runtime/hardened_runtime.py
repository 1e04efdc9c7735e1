"""MPyC's runtime, hardened against one dishonest peer. Every MPC program takes ``mpc`` from here.

MPyC (0.11) assumes peers that follow the protocol: it unpickles what they send, accepts any
certificate of the CA for whatever party number a connecting peer claims, listens on every
interface, and waits forever for a peer that is gone. One dishonest operator of the three
could run code at the other two. Importing this module (the only one in the project that
imports ``mpyc.runtime``) changes that, for every path our programs use:

* **No code-bearing format.** ``mpyc.runtime``'s ``pickle`` (used by ``mpc.transfer`` and by
  every secure-array path of ``mpc.input``/``mpc.output``/resharing) is replaced by
  :mod:`mpc_programs.runtime.peer_codec`, a closed grammar of plain values; field elements that MPyC
  sends as raw bytes are decoded by a strict ``from_bytes`` (whole elements, each below the
  field's order); every recombination checks that each peer sent as many values as this party
  holds, each inside the field. Our own message paths (``fast_mpc``, ``gf256_mpc``) decode
  with the same codec.
* **A message that does not decode aborts the run** (:func:`fail`): the error names the peer
  and the message label, the party's error hook records it, and the process exits at once —
  before anything is stored (programs write their store only at their end) — which the other
  parties see as a lost connection.
* **Links bound to party numbers.** Runs refuse to start without TLS (``--ssl`` and the
  deployment's private CA) unless the loudly named development switch
  (:func:`allow_insecure_local`) was set. Both ends check that the peer's certificate names
  exactly ``MPyC party <n>`` for the party number ``n`` it claims or is expected to be; only
  lower-numbered parties may connect in (MPyC's topology), and only once. MPyC's listener
  binds to this party's configured address (``-P host:port``), not to every interface.
* **Bounded frames.** A frame above :data:`MAX_FRAME_BYTES`, unconsumed messages above
  :data:`MAX_BUFFERED_BYTES` or a label sent twice aborts the run.
* **Liveness.** A lost connection before the end-of-run barrier aborts the run at
  once (seconds, not the supervisor's deadline); peers that have not all connected within
  the connect deadline abort the run naming the missing ones; a peer whose certificate fails
  verification aborts it at once instead of MPyC's endless reconnect loop.
* **Statistical security.** MPyC's ``sec_param`` (the extra random bits that mask a value
  before it is opened, in its comparisons and in our truncations and bit decompositions) is
  raised from 30 to :data:`STATISTICAL_SECURITY_BITS`.

* **Checked openings.** Every degree-t opening to all parties (``mpc.output``; MPyC's own
  internal openings of degree t too) uses all n shares: each party sends its share to every
  other party and the run aborts unless the points lie on one polynomial of degree t
  (:func:`_checked_output`; ``fast_mpc.open_limbs`` does the same in limbs). A party that lies
  in its share of such an opening stops the run before anything is output.

What this does *not* give: a party that sends other well-formed but wrong values (a shifted
resharing message — an additive attack on a product —, a lie in a degree-2t opening, wrong
PRSS values that are never opened) is not detected here — the rest of active security with
abort (issue 15).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import struct
import sys
import time
from asyncio import Future
from collections.abc import Callable
from typing import Any

import numpy as np
import mpyc.runtime as _mpyc_runtime
from mpyc import asyncoro, finfields, thresha
from mpyc.runtime import mpc

from mpc_programs.runtime import peer_codec
from mpc_programs.shares.field import PRIME
from mpc_programs.shares.sharing import lagrange_at

log = logging.getLogger("mpcstats.mpc")

#: Bits of statistical security of every opening of a masked value (MPyC's default: 30).
STATISTICAL_SECURITY_BITS = 40
#: The largest single message a peer may send (a resharing of 1,000,000 inputs × 16 one-hot
#: digits of 24-byte elements is 384 MB).
MAX_FRAME_BYTES = 1 << 30
#: Received but not yet consumed messages, per peer.
MAX_BUFFERED_BYTES = 2 << 30
#: How long all peers may take to connect before the run is aborted (a party that never
#: started, a wrong address or port).
CONNECT_TIMEOUT_SECONDS = float(os.environ.get("MPCSTATS_MPC_CONNECT_TIMEOUT", "30"))
#: How long a party that failed waits for the others to reach the orderly shutdown too.
FAILURE_GRACE_SECONDS = 5.0
#: Exit status of a party process that aborted a run because of a peer.
ABORT_EXIT_CODE = 4


def party_name(pid: int) -> str:
    """The name a party's certificate must carry (MPyC's ``server_hostname``)."""
    return f"MPyC party {pid}"


class PeerBytes(bytes):
    """A received payload that remembers who sent it and under which label (for errors)."""

    peer: int
    label: int


# -- aborting a run -----------------------------------------------------------------------------

_abort_hooks: list[Callable[[str], None]] = []


def on_abort(hook: Callable[[str], None]) -> None:
    """Call ``hook(message)`` before the process exits on an abort (e.g. write the error file)."""
    _abort_hooks.append(hook)


def abort_run(message: str) -> None:
    """Abort this party's run now: record why, drop every link, exit non-zero.

    Exiting (rather than raising) is deliberate: an exception inside one of MPyC's coroutines
    only stops its event loop and loses the cause, and a half-failed party could otherwise go
    on exchanging messages. Stores are written only at a program's end, so nothing stored
    changes; the peers see the connection drop and abort too.
    """
    text = f"party {mpc.pid}: MPC run aborted: {message}"
    try:
        print(text, file=sys.stderr, flush=True)
        for hook in _abort_hooks:
            hook(message)
        for peer in mpc.parties:
            protocol = peer.protocol
            if peer.pid != mpc.pid and isinstance(protocol, asyncoro.MessageExchanger) \
                    and protocol.transport is not None:
                protocol.transport.abort()
    finally:
        os._exit(ABORT_EXIT_CODE)


def fail(data: Any, reason: object) -> None:
    """Abort the run for a message that did not decode; names its sender and label."""
    peer = getattr(data, "peer", None)
    label = getattr(data, "label", None)
    who = f"party {peer}" if peer is not None else "a peer"
    abort_run(f"{who} sent a malformed message (label {label}): {reason}")


def decode_payload(data: bytes, *, bound: int | None = PRIME) -> Any:
    """Decode a peer's codec message; abort the run if it is malformed."""
    try:
        return peer_codec.decode(data, bound=bound)
    except peer_codec.PeerMessageError as exc:
        fail(data, exc)
        raise  # not reached


def decode_field_vector(data: bytes, count: int, width: int, bound: int) -> np.ndarray:
    """Decode ``count`` field elements a peer sent raw; abort the run if malformed."""
    try:
        return peer_codec.decode_uints(data, count, width, bound)
    except peer_codec.PeerMessageError as exc:
        fail(data, exc)
        raise  # not reached


def expect_from_peers(values: list[Any], valid: Callable[[Any], bool], what: str) -> list[Any]:
    """Check what ``mpc.transfer`` returned: every peer's value must be ``what``.

    The codec guarantees plain values only; whether a plain value is the one the protocol
    step expects (a digest string, n field elements) is checked here, so a wrong type aborts
    the run naming the peer instead of failing somewhere later without a culprit.
    """
    for pid, value in enumerate(values):
        if pid != mpc.pid and not valid(value):
            abort_run(f"party {pid} sent something other than {what} (label "
                      f"{mpc._program_counter[0]})")
    return values


def field_elements(count: int) -> Callable[[Any], bool]:
    """A validator for a list of ``count`` elements of the statistics field."""
    return lambda v: (isinstance(v, list) and len(v) == count
                      and all(type(x) is int and 0 <= x < PRIME for x in v))


# -- MPyC's marshalling, replaced --------------------------------------------------------------

class _StrictPickle:
    """Stands in for the ``pickle`` module inside ``mpyc.runtime``: same two calls, no code."""

    @staticmethod
    def dumps(obj: Any, protocol: int | None = None) -> bytes:
        return peer_codec.encode(obj)

    @staticmethod
    def loads(data: bytes) -> Any:
        return decode_payload(data, bound=PRIME)


def _strict_from_bytes(cls: type, data: bytes) -> list[int]:
    """``FiniteFieldElement.from_bytes`` with checks: whole elements only, each in the field."""
    r = cls.byte_length
    if len(data) % r:
        fail(data, f"{len(data)} bytes is not a whole number of {r}-byte field elements")
    from_bytes = int.from_bytes
    values = [from_bytes(data[i:i + r], 'little') for i in range(0, len(data), r)]
    if values and max(values) >= cls.order:
        fail(data, "a value is outside the field")
    return values


def _checked_recombine(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a thresha recombination: every party's point has this party's length, in the field."""
    def recombine(field: Any, points: list[tuple[int, Any]], *args: Any, **kwargs: Any) -> Any:
        sizes = {x: (np.shape(s) if isinstance(s, np.ndarray) else (len(s),)) for x, s in points}
        mine = sizes.get(mpc.pid + 1)
        for x, s in points:
            if mine is not None and sizes[x] != mine:
                abort_run(f"party {x - 1} sent {sizes[x]} values where {mine} were expected")
            if x != mpc.pid + 1:
                flat = s.reshape(-1).tolist() if isinstance(s, np.ndarray) else s
                if len(flat) and (max(flat) >= field.order or min(flat) < 0):
                    abort_run(f"party {x - 1} sent a value outside the field")
        return original(field, points, *args, **kwargs)
    recombine.__wrapped__ = original  # type: ignore[attr-defined]
    return recombine


# -- checked openings ---------------------------------------------------------------------------

def opening_check_failed(label: int, m: int, t: int) -> None:
    """Abort the run: the shares of an opening are not on one polynomial of degree t."""
    count = "three" if m == 3 else str(m)
    abort_run(f"opening check failed at label {label}: the {count} shares are not on one "
              f"degree-{t} polynomial (a party deviated)")


def _on_one_polynomial(field: Any, points: list[tuple[int, Any]], degree: int) -> bool:
    """Whether all ``points`` (x, equal-length share vectors) lie on polynomials of degree
    ``degree``, elementwise: the first ``degree + 1`` points are interpolated (Lagrange) and
    evaluated at every further point's x, which must give that point's shares.
    In a prime field, for t = 1 and the points 1, 2, 3: s1 − 2·s2 + s3 ≡ 0 (mod p). In an
    extension field (GF(2^8): the AES openings) the interpolation is the field's own, through
    MPyC's recombination at the further point's x."""
    base, rest = points[:degree + 1], points[degree + 1:]
    if getattr(field, "ext_deg", 1) != 1:
        def elements(values: Any) -> list[Any]:
            flat = np.asarray(values, dtype=object).reshape(-1).tolist()
            return [v if isinstance(v, field) else field(v) for v in flat]

        for x, s in rest:
            recombine = thresha.np_recombine if isinstance(s, np.ndarray) else thresha.recombine
            if elements(recombine(field, base, x_rs=x)) != elements(s):
                return False
        return True
    order = field.order
    xs = [x for x, _ in base]
    values = [np.asarray(s, dtype=object).reshape(-1) for _, s in base]
    for x, s in rest:
        diff = -np.asarray(s, dtype=object).reshape(-1)
        for c, v in zip(lagrange_at(xs, x, order, signed=True), values):
            diff = diff + c * v
        if np.count_nonzero(diff % order):
            return False
    return True


def _received_share(field: Any, data: Any, mine: Any, sender: int) -> Any:
    """A peer's share in an opening, checked: as many values as ours, each in the field."""
    if isinstance(mine, np.ndarray):
        ok = isinstance(data, np.ndarray) and data.shape == mine.shape
        flat = data.reshape(-1).tolist() if ok else []
    else:
        ok = isinstance(data, list) and len(data) == len(mine)
        flat = data if ok else []
    if not ok:
        got = np.shape(data) if isinstance(data, np.ndarray) else (
            len(data) if isinstance(data, list) else type(data).__name__)
        abort_run(f"party {sender} sent {got} values where {np.shape(mine)} were expected "
                  f"(label {mpc._program_counter[0]})")
    if flat and (max(flat) >= field.order or min(flat) < 0):
        abort_run(f"party {sender} sent a value outside the field (label "
                  f"{mpc._program_counter[0]})")
    return data


@asyncoro.mpc_coro
async def _checked_output(self, x, receivers=None, threshold=None,  # type: ignore[no-untyped-def]
                          raw=False):
    """MPyC's ``Runtime.output`` for a degree-t opening to every party, checked.

    MPyC sends each share only to the party's t successors and recombines t + 1 points: a
    party that lies in its share makes one honest party open a wrong value, and the honest
    parties disagree. Here every party sends its share to every other party (one label, the
    same marshalling as MPyC: ``field.to_bytes`` for lists of field elements, the strict
    codec for field arrays), receives all the others' shares and checks that the n points
    lie on one polynomial of degree t (t = 1, n = 3: s1 − 2·s2 + s3 ≡ 0 mod p, elementwise);
    otherwise the run aborts (:func:`abort_run`) at every honest party before anything is
    output. Then it recombines the same t + 1 points as MPyC. With n = 3 and t = 1 a
    mismatch shows that *some* party deviated, not which one: any one of the three points
    could be the wrong one (correcting one wrong point would need n ≥ 3t + 1: four parties).
    Cost: n − 1 − t more messages per opening per party (one for n = 3), the same round.

    Degree-2t openings (``threshold=2t``: the zero tests, truncations, the ingestion check)
    have no redundancy with n = 2t + 1 points and go through MPyC's output unchanged, as do
    outputs to some parties only and MPyC's ``mix32_64bit`` mode (which we never set).
    """
    x_is_list = isinstance(x, list)
    x = x[:] if x_is_list else [x]
    await self.returnType(Future)

    n = len(x)
    if not n:
        return []

    t = self.threshold
    m = len(self.parties)
    sftype = type(x[0])  # all elements of the same type, as in MPyC
    if issubclass(sftype, self.SecureObject):
        if hasattr(sftype, '_output'):
            y = await sftype._output(x, list(range(m)), threshold)
            return y if x_is_list else y[0]
        x = await self.gather(x)

    if isinstance(x[0], finfields.FiniteFieldElement):
        field = type(x[0])
        x = [a.value for a in x]
        shape = None
    else:  # finfields.FiniteFieldArray
        field = x[0].field
        x = x[0].value
        shape = x.shape
        x = x.reshape(-1)

    if shape is None or self.options.mix32_64bit:
        recombine, marshal, unmarshal = thresha.recombine, field.to_bytes, field.from_bytes
    else:
        recombine, marshal = thresha.np_recombine, _mpyc_runtime.pickle.dumps
        unmarshal = _mpyc_runtime.pickle.loads
    share = marshal(x)
    others = [(self.pid + j) % m for j in range(1, m)]
    for peer_pid in others:
        self._send_message(peer_pid, share)
    received = await self.gather([self._receive_message(peer_pid) for peer_pid in others])
    points = {self.pid + 1: x}
    for peer_pid, data in zip(others, received):
        points[peer_pid + 1] = _received_share(field, unmarshal(data), x, peer_pid)
    # MPyC's recombination set (the t predecessors and this party) first, then the rest
    order = [(self.pid - t + j) % m + 1 for j in range(t)] + [self.pid + 1]
    order += [k for k in sorted(points) if k not in order]
    if not _on_one_polynomial(field, [(k, points[k]) for k in order], t):
        opening_check_failed(self._program_counter[0], m, t)
    y = recombine(field, [(k, points[k]) for k in order[:t + 1]])
    if shape is None:
        y = [field(a) for a in y]
    elif self.options.mix32_64bit:
        y = [field.array(y).reshape(shape)]
    else:
        y = [y.reshape(shape)]
    if issubclass(sftype, self.SecureObject):
        f = sftype._output_conversion
        if not raw and f is not None:
            y = [f(a) for a in y]
    return y if x_is_list else y[0]


def _dispatching_output(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Runtime.output``: degree-t openings to every party are checked
    (:func:`_checked_output`); other receivers or thresholds (a 2t opening, an output to
    some parties only) keep MPyC's protocol."""
    def output(self: Any, x: Any, receivers: Any = None, threshold: Any = None,
               raw: bool = False) -> Any:
        m = len(self.parties)
        everyone = receivers is None or (
            not isinstance(receivers, int) and sorted(receivers) == list(range(m)))
        if m > self.threshold + 1 and everyone and threshold in (None, self.threshold) \
                and self.threshold and not self.options.mix32_64bit:
            return _checked_output(self, x, receivers, threshold, raw)
        return original(self, x, receivers, threshold, raw)
    output.__wrapped__ = original  # type: ignore[attr-defined]
    output.__doc__ = original.__doc__
    return output


# -- the links -----------------------------------------------------------------------------------

def _certificate_names(transport: Any) -> set[str] | None:
    """The DNS names (else the CN) of the peer's verified certificate; None without TLS."""
    if transport.get_extra_info("sslcontext") is None:
        return None
    cert = transport.get_extra_info("peercert") or {}
    names = {value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"}
    if not names:
        names = {value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"}
    return names


class HardenedExchanger(asyncoro.MessageExchanger):
    """MPyC's peer connection with identity checks, bounded frames and abort on loss."""

    __slots__ = ('buffered',)

    def __init__(self, rt: Any, peer_pid: int | None = None) -> None:
        super().__init__(rt, peer_pid)
        self.buffered = 0

    def _require_certificate_for(self, pid: int) -> None:
        names = _certificate_names(self.transport)
        if names is not None and names != {party_name(pid)}:
            address = self.transport.get_extra_info("peername")
            abort_run(f"the peer at {address} is expected to be party {pid} but its certificate "
                      f"names {sorted(names)}")

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if self.peer_pid is not None:  # we connected out to a higher-numbered party
            self._require_certificate_for(self.peer_pid)
        super().connection_made(transport)

    def _admit(self, claimed: int) -> None:
        """A connecting peer claims party number ``claimed``: check it before using anything."""
        rt = self.runtime
        address = self.transport.get_extra_info("peername")
        if not 0 <= claimed < rt.pid:
            abort_run(f"the peer at {address} claims to be party {claimed}, which does not connect "
                      f"to party {rt.pid}")
        self._require_certificate_for(claimed)
        if rt.parties[claimed].protocol is not None:
            abort_run(f"a second connection claims to be party {claimed}")

    def data_received(self, data: bytes) -> None:
        buf = self.bytes
        buf.extend(data)
        rt = self.runtime
        if self.peer_pid is None:  # the peer connected to us: first its number, then PRSS keys
            if len(buf) < 2:
                return
            claimed = int.from_bytes(buf[:2], 'little')
            self._admit(claimed)
            keys = 0 if rt.options.no_prss else rt._prss_keys_from_peer(claimed)
            if len(buf) < 2 + keys:
                return
            self.peer_pid = claimed
            if keys:
                rt._prss_keys_from_peer(claimed, bytes(buf[2:2 + keys]))
            del buf[:2 + keys]
            rt.set_protocol(claimed, self)
        while len(buf) >= 12:
            label, size = struct.unpack_from('<qI', buf)
            if size > MAX_FRAME_BYTES:
                abort_run(f"party {self.peer_pid} sent a {size}-byte frame (label {label}); "
                          f"the limit is {MAX_FRAME_BYTES}")
            if len(buf) < 12 + size:
                break
            with memoryview(buf) as view:  # one copy of the payload, not two
                payload = PeerBytes(view[12:12 + size])
            payload.peer, payload.label = self.peer_pid, label
            del buf[:12 + size]
            waiting = self.buffers.get(label)
            if isinstance(waiting, Future):
                del self.buffers[label]
                if not waiting.done():
                    waiting.set_result(payload)
            elif waiting is not None:
                abort_run(f"party {self.peer_pid} sent two messages under label {label}")
            else:
                self.buffers[label] = payload
                self.buffered += size
                if self.buffered > MAX_BUFFERED_BYTES:
                    abort_run(f"party {self.peer_pid} sent more than {MAX_BUFFERED_BYTES} bytes "
                              "that nobody asked for")

    def receive(self, pc: int) -> Any:
        payload = self.buffers.pop(pc, None)
        if payload is None:
            payload = self.buffers[pc] = Future(loop=self.runtime._loop)
        elif not isinstance(payload, Future):
            self.buffered -= len(payload)
        return payload

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer_pid is None:
            return  # a connection that never said who it is: nothing depends on it
        peer = self.peer_pid
        cause = f"{type(exc).__name__}: {exc}" if exc else "the peer closed it"

        def judge() -> None:
            # Every link lost by now is named: when a peer dies, the other survivor aborts too
            # and closes its link, and a party whose loop was busy can see both losses at once,
            # in either order; naming only one could blame the survivor.
            if not _state["closing"]:
                abort_run("lost the MPC connection to " + "; ".join(
                    f"party {pid} ({why})" for pid, why in sorted(_lost.items())))
        if not _state["closing"]:
            _lost.setdefault(peer, cause)
        if _state["closing"]:
            log.info("connection to party %s closed after the run (%s)", peer, cause)
            if self.runtime.parties[peer].protocol is self:
                self.runtime.parties[peer].protocol = None
        else:
            # The exchanger stays registered until the verdict: a send to the closed link is
            # dropped, where an unregistered peer would make MPyC's next send raise and stop
            # the event loop with a cause that no longer names the peer.
            self.runtime._loop.call_later(LOSS_GRACE_SECONDS, judge)


# -- start and shutdown ---------------------------------------------------------------------------

_state: dict[str, Any] = {"installed": False, "insecure_local": False, "closing": False}
#: the peers whose links dropped during the run, with the cause (named by the abort)
_lost: dict[int, str] = {}
_DONE = "run complete"
#: A lost link is judged this long after it drops: a peer that completed the end-of-run
#: barrier closes its links at once, possibly before this party has seen the barrier done.
LOSS_GRACE_SECONDS = 0.3


def allow_insecure_local() -> None:
    """Development only: let MPC links run without TLS (``--insecure-local``). Never a default."""
    _state["insecure_local"] = True
    print("WARNING: --insecure-local: MPC links run WITHOUT TLS; peers are not authenticated and "
          "keys cross the wire in the clear. Never use this outside a development machine.",
          file=sys.stderr, flush=True)


def _wrap_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Bind the listener to our own address; fail fast on a peer certificate that fails."""
    create_server = loop.create_server
    create_connection = loop.create_connection

    async def bound_create_server(factory: Any, host: Any = None, port: Any = None,
                                  **kwargs: Any) -> Any:
        if host is None:
            host = mpc.parties[mpc.pid].host
        return await create_server(factory, host, port, **kwargs)

    async def checked_create_connection(factory: Any, host: Any = None, port: Any = None,
                                        **kwargs: Any) -> Any:
        try:
            return await create_connection(factory, host, port, **kwargs)
        except ssl.SSLCertVerificationError as exc:
            abort_run(f"the peer at {host}:{port} did not present a valid certificate for "
                      f"{kwargs.get('server_hostname')!r}: {exc.verify_message or exc}")
            raise  # not reached
    loop.create_server = bound_create_server  # type: ignore[method-assign]
    loop.create_connection = checked_create_connection  # type: ignore[method-assign]


async def _hardened_start(original: Callable[[], Any]) -> None:
    if len(mpc.parties) > 1 and not mpc.options.ssl and not _state["insecure_local"]:
        raise RuntimeError("refusing to run MPC without TLS: start the party with --ssl and the "
                           "deployment's MPC certificates (development only: --insecure-local)")
    _state["closing"] = False
    _lost.clear()
    started = time.monotonic()
    try:
        await asyncio.wait_for(original(), CONNECT_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        missing = [f"party {p.pid} ({p.host}:{p.port})" for p in mpc.parties
                   if p.pid != mpc.pid and not isinstance(p.protocol, asyncoro.MessageExchanger)]
        abort_run(f"{', '.join(missing) or 'a peer'} did not connect within "
                  f"{CONNECT_TIMEOUT_SECONDS:.0f} s")
    log.info("party %s: all peers connected in %.2f s", mpc.pid, time.monotonic() - started)


async def _hardened_shutdown() -> None:
    """Replaces MPyC's shutdown: a barrier every party must pass with its program complete,
    then the links are closed; no message is read from a peer after the barrier.

    Until all parties have passed the barrier a lost link aborts the run: a party that
    finished early must not mistake a peer's abort (say, over a bad message only that peer
    received) for the orderly end. After it every party's program is complete, so nothing a
    peer does then can change a result. (MPyC's own shutdown exchanged one more message.)
    """
    while mpc._pc_level > mpc._program_counter[1]:  # MPyC's pending coroutines, as it does
        await asyncio.sleep(0)
    if len(mpc.parties) > 1:
        expect_from_peers(await mpc.transfer(_DONE), lambda v: v == _DONE, "the end-of-run barrier")
    _state["closing"] = True
    for peer in mpc.parties:
        if peer.pid != mpc.pid and isinstance(peer.protocol, asyncoro.MessageExchanger):
            peer.protocol.close_connection()
    log.info("party %s: run complete, links closed", mpc.pid)


async def shutdown_after_failure(reason: str) -> None:
    """Shut down after this party's program failed: in order if the peers failed at the same
    point (they reach the shutdown too), else abort after :data:`FAILURE_GRACE_SECONDS`.

    Without the grace period a failure that only this party saw (say, a peer lied to it
    alone) would leave it waiting in MPyC's shutdown barrier for peers that are waiting for
    its next protocol message: both sides until the supervisor's deadline.
    """
    try:
        await asyncio.wait_for(mpc.shutdown(), FAILURE_GRACE_SECONDS)
    except asyncio.TimeoutError:
        abort_run(f"{reason} (the other parties went on with the run)")


def _record_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Keep the first exception raised in an MPyC callback: MPyC stops the event loop on it,
    and ``mpc.run`` then only says "Event loop stopped before Future completed"."""
    exc = context.get("exception")
    if exc is not None and _state.get("loop_error") is None:
        _state["loop_error"] = f"{type(exc).__name__}: {exc}"
    loop.default_exception_handler(context)


def loop_error() -> str | None:
    """The first exception that stopped MPyC's event loop in this process, if any."""
    return _state.get("loop_error")


def install() -> None:
    """Put every check above in place (idempotent; done on import)."""
    if _state["installed"]:
        return
    mpc._loop.set_exception_handler(_record_loop_error)
    _mpyc_runtime.pickle = _StrictPickle  # type: ignore[attr-defined]
    finfields.FiniteFieldElement.from_bytes = classmethod(_strict_from_bytes)  # type: ignore[assignment]
    thresha.recombine = _checked_recombine(thresha.recombine)
    thresha.np_recombine = _checked_recombine(thresha.np_recombine)
    _mpyc_runtime.Runtime.output = _dispatching_output(_mpyc_runtime.Runtime.output)
    asyncoro.MessageExchanger = HardenedExchanger  # type: ignore[misc]
    mpc.options.sec_param = max(mpc.options.sec_param, STATISTICAL_SECURITY_BITS)
    _wrap_loop(mpc._loop)
    start = mpc.start
    mpc.start = lambda: _hardened_start(start)  # type: ignore[method-assign]
    mpc.shutdown = _hardened_shutdown  # type: ignore[method-assign]
    _state["installed"] = True


def is_installed() -> bool:
    return bool(_state["installed"]) and _mpyc_runtime.pickle is _StrictPickle


install()

__all__ = ["mpc", "install", "is_installed", "abort_run", "fail", "on_abort", "decode_payload",
           "expect_from_peers", "field_elements", "loop_error", "opening_check_failed",
           "decode_field_vector", "allow_insecure_local", "shutdown_after_failure", "PeerBytes",
           "STATISTICAL_SECURITY_BITS"]
