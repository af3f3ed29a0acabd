"""A lean HTTP/1.1 client for the proxy hop: pooled keep-alive connections, httptools parsing.

httpx (with httpcore and anyio under it) cost the gateway more CPU per proxied request than
everything else on the path together: request and response models, a header normalisation
pass, and a pool that polls every idle connection's socket on each request (so the cost grew
with the number of connections). The proxy needs none of that: it sends the caller's request
line and fields as received and streams the answer back. This client does only that, on
asyncio protocols, with the C parser uvicorn itself uses (httptools).

What it keeps of httpx's behaviour, as the gateway relies on it:
- a connect timeout (UpstreamUnavailable: 503), a pool wait bounded the same way (503), a read
  timeout between bytes of the answer (UpstreamTimeout: 504), any other failure of the
  connection or the protocol (UpstreamFailed: 502);
- request bodies streamed as they arrive: with the caller's Content-Length as is, without one
  re-chunked; an answer's body streamed to the caller chunk by chunk, with back-pressure;
- a connection goes back to the pool only when its answer was read to the end and both sides
  keep it alive; one the service closed while idle is never reused, and a request without a
  body that meets such a connection (closed as it was taken) is sent once more on a new one.

What it does beyond httpx: the request's head goes out in one write with the body's first
piece (a bulk body that has arrived whole: one system call and one wake-up of the service,
not two), each later piece is written once the previous ones have drained below the socket
buffer's high-water mark (so the write after the last piece is not waited for: the answer
is), and a connection idle longer than `IDLE_LIMIT_S` is closed instead of reused, before
the service's own keep-alive timeout closes it under a request that cannot be sent again.

Requests through an injected httpx transport (tests' in-process upstreams) keep using httpx.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from gateway.upstream_connection import (
    BODYLESS_STATUS,
    Connection,
    Stale,
    UpstreamError,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
)

#: Idle connections older than this are not reused: uvicorn closes its side after 5 s
#: (timeout_keep_alive); a request sent just as that close happens would fail (502 with a body).
IDLE_LIMIT_S = 4.0

__all__ = [
    "Answer",
    "UpstreamError",
    "UpstreamFailed",
    "UpstreamPool",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class Answer:
    """An answer's status and fields; its body from `body()`, then `release()` (always)."""

    def __init__(self, pool: UpstreamPool, connection: Connection) -> None:
        self.pool = pool
        self.connection = connection
        self.status_code = connection.parser.get_status_code()
        self.headers = connection.headers

    def body(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, as the service sends it."""
        return self.connection.body(self.pool.read_timeout)

    def release(self) -> None:
        """Give the connection back to the pool, or close it when it cannot be reused."""
        self.pool.release(self.connection)


class UpstreamPool:
    """Keep-alive connections to one service (at most max_connections at once)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int = 100,
        idle_limit_s: float = IDLE_LIMIT_S,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the lean upstream client speaks plain http only: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.host_field = parts.netloc.encode("latin-1")
        self.base_path = parts.path.rstrip("/").encode("latin-1")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_limit_s = idle_limit_s
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[Connection] = []

    async def _connection(self) -> tuple[Connection, bool]:
        """An idle connection (reused: True) or a new one; a slot must be free first."""
        if self._slots.locked():
            try:
                async with asyncio.timeout(self.connect_timeout * 2):
                    await self._slots.acquire()
            except TimeoutError as exc:
                raise UpstreamUnavailable("PoolTimeout") from exc
        else:
            await self._slots.acquire()
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()
            if now - connection.idle_since > self.idle_limit_s:
                connection.close()  # about to be closed by the service, if not already
            elif not connection.closed:
                connection._reset()
                return connection, True
        try:
            return await self._connect(), False
        except BaseException:
            self._slots.release()
            raise

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _transport, connection = await loop.create_connection(
                    Connection, self.host, self.port
                )
        except TimeoutError as exc:
            raise UpstreamUnavailable("ConnectTimeout") from exc
        except OSError as exc:
            raise UpstreamUnavailable("ConnectError") from exc
        connection.write_timeout = self.read_timeout
        return connection

    def release(self, connection: Connection) -> None:
        """After an answer: back to the idle list when reusable, else closed; the slot freed."""
        if connection.reusable:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.append(connection)
        else:
            connection.close()
        self._slots.release()

    async def send(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: AsyncIterator[bytes] | None,
    ) -> Answer:
        """Send a request (target: path and query as received) and wait for the answer's head.

        Without a body, a request that met a connection the service had just closed is sent
        once more on a new one; with a body it cannot be (the body is gone), so that is 502.
        """
        chunked = body is not None and not _has_length(headers)
        head = self._head(method, target, headers, chunked=body is not None)
        for attempt in (1, 2):
            connection, reused = await self._connection()
            connection.skip_body = method == "HEAD"
            try:
                if body is None:
                    connection.write(head)
                else:
                    await _send_with_body(connection, head, body, chunked=chunked)
                async with asyncio.timeout(self.read_timeout):
                    await connection.head
            except Stale:
                self.release(connection)
                if reused and body is None and attempt == 1:
                    continue
                raise UpstreamFailed("the service closed the connection") from None
            except TimeoutError as exc:
                connection.close()
                self.release(connection)
                raise UpstreamTimeout("the service did not answer in time") from exc
            except BaseException:
                connection.close()
                self.release(connection)
                raise
            if connection.parser.get_status_code() in BODYLESS_STATUS:
                connection.complete = True
            return Answer(self, connection)
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], *, chunked: bool
    ) -> bytes:
        lines = [
            method.encode("latin-1") + b" " + self.base_path + target + b" HTTP/1.1",
            b"host: " + self.host_field,
        ]
        lines += [name + b": " + value for name, value in headers]
        has_length = _has_length(headers)
        if chunked and not has_length:
            lines.append(b"transfer-encoding: chunked")
        elif not chunked and not has_length and method in ("POST", "PUT", "PATCH"):
            lines.append(b"content-length: 0")
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()


def _has_length(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"content-length" for name, _ in headers)


async def _send_with_body(
    connection: Connection, head: bytes, body: AsyncIterator[bytes], *, chunked: bool
) -> None:
    """The head with the body's first piece in one write, then each piece once there is room
    (chunked: framed as such, and the last chunk written with the last piece)."""
    waiting = [head]
    async for piece in body:
        if not piece:
            continue
        if chunked:
            waiting += (b"%x\r\n" % len(piece), piece, b"\r\n")
        else:
            waiting.append(piece)
        await connection.room()
        connection.write(*waiting)
        waiting = []
    if chunked:
        waiting.append(b"0\r\n\r\n")
    if waiting:
        await connection.room()
        connection.write(*waiting)
