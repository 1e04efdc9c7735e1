"""The WebSocket relay: raw TLS bytes between the client and a TCP connection the notary opens itself.

Each binary WebSocket message is a chunk of the client's TLS stream; each chunk the server sends goes
back as one binary message. Both directions are appended to the session transcript as they pass.
Close codes tell the client why the relay ended (1000 normal, 1008 policy, 1009 size limit, 1011
upstream failure) and the close reason is the machine-readable error code (e.g. ``session_timeout``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from servers.notary.config import NotaryConfig
from servers.notary.sessions import CLOSED, FAILED, OPEN, RELAYING, Session, SessionTooLarge
from tlsn import C2S, S2C

log = logging.getLogger("servers.notary.relay")

CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_UPSTREAM = 1000, 1008, 1009, 1011


async def _client_to_server(ws: WebSocket, session: Session, writer: asyncio.StreamWriter) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            session.fail(400, "bad_relay_frame", "relay frames must be binary")
            return
        session.add(C2S, data)
        writer.write(data)
        await writer.drain()


async def _server_to_client(ws: WebSocket, session: Session, reader: asyncio.StreamReader) -> None:
    while True:
        data = await reader.read(65536)
        if not data:
            return
        session.add(S2C, data)
        await ws.send_bytes(data)


async def relay(ws: WebSocket, session: Session, config: NotaryConfig) -> None:
    """Run one relayed connection for ``session`` until either side closes or a limit is hit."""
    try:
        await _relay(ws, session, config)
    finally:
        session.relay_done.set()


async def _relay(ws: WebSocket, session: Session, config: NotaryConfig) -> None:
    await ws.accept()
    if session.state != OPEN:
        await ws.close(CLOSE_POLICY, "session_already_used")
        return
    if session.expired:
        session.fail(410, "session_expired", "session time limit passed")
        await ws.close(CLOSE_POLICY, "session_expired")
        return
    session.state = RELAYING
    target = session.target
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(target.connect_host, target.port),
                                                timeout=config.connect_timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        session.fail(502, "upstream_unreachable", f"cannot connect to {session.host}")
        log.info("upstream unreachable", extra={"session_id": session.id, "host": session.host,
                                                "error": type(exc).__name__})
        await ws.close(CLOSE_UPSTREAM, "upstream_unreachable")
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:  # TLS flights are small: don't let Nagle hold them for a delayed ACK
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peer = writer.get_extra_info("peername")
    session.peer_address = f"{peer[0]}:{peer[1]}" if peer else ""
    up = asyncio.create_task(_client_to_server(ws, session, writer))
    down = asyncio.create_task(_server_to_client(ws, session, reader))
    code, reason = CLOSE_NORMAL, "done"
    try:
        done, pending = await asyncio.wait({up, down}, timeout=max(session.deadline - time.monotonic(), 0),
                                           return_when=asyncio.FIRST_COMPLETED)
        if not done:
            session.fail(408, "session_timeout", "session time limit reached")
            code, reason = CLOSE_POLICY, "session_timeout"
        for task in done:
            error = task.exception()
            if isinstance(error, SessionTooLarge):
                code, reason = CLOSE_TOO_BIG, "session_too_large"
            elif isinstance(error, ConnectionError | WebSocketDisconnect):
                pass
            elif error is not None:
                session.fail(502, "relay_failed", "relay failed")
                code, reason = CLOSE_UPSTREAM, "relay_failed"
        if session.failure and code == CLOSE_NORMAL:
            code, reason = CLOSE_POLICY, session.failure.code
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    if session.state != FAILED:
        session.state = CLOSED
    log.info("relay ended", extra={"session_id": session.id, "reason": reason,
                                   "c2s_bytes": len(session.transcript.c2s),
                                   "s2c_bytes": len(session.transcript.s2c)})
    try:
        await ws.close(code, reason)
    except (RuntimeError, WebSocketDisconnect):
        pass  # the client already went away
