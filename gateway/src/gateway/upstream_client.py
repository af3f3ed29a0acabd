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

Requests through an injected httpx transport (tests' in-process upstreams) keep using httpx.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

#: An answer's body waiting to be sent is capped: past it, the service's socket is not read.
HIGH_WATER_BYTES = 1 << 20

_BODYLESS_STATUS = frozenset({204, 304})


class UpstreamError(Exception):
    """The service could not be reached or did not answer properly."""


class UpstreamUnavailable(UpstreamError):
    """No connection could be had (refused, connect timeout, pool exhausted): 503."""


class UpstreamTimeout(UpstreamError):
    """The service stopped answering for longer than the read timeout: 504."""


class UpstreamFailed(UpstreamError):
    """The connection broke or the answer was not HTTP/1.1: 502."""


class _Stale(UpstreamFailed):
    """A reused connection was found closed before any byte of the answer came."""


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        #: How long a write may wait for the service to read (the pool's read timeout).
        self.write_timeout = 60.0
        self._loop = asyncio.get_running_loop()
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._reset()

    # -- per answer -------------------------------------------------------------------------

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.head: asyncio.Future[None] = self._loop.create_future()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.got_bytes = False
        self.error: Exception | None = None
        self._wake: asyncio.Future[None] | None = None
        self._paused = False
        self.skip_body = False
        self._informational = False
        self._close_delimited = False
        self.keep_alive = False

    def on_header(self, name: bytes, value: bytes | None) -> None:
        """httptools: one complete field."""
        self.headers.append((name.lower(), value or b""))

    def on_headers_complete(self) -> None:
        """httptools: the head is read (an interim 1xx answer is skipped, as httpx does)."""
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers = []
            self._informational = True
            return
        # Asked here: llhttp forgets the message's Connection flags once it is complete.
        self.keep_alive = self.parser.should_keep_alive()
        names = {name for name, _ in self.headers}
        self._close_delimited = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and status not in _BODYLESS_STATUS
        )
        if not self.head.done():
            self.head.set_result(None)
        if self.skip_body:
            self.complete = True  # a HEAD answer: no body whatever its fields say

    def on_body(self, body: bytes) -> None:
        """httptools: a piece of the body."""
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER_BYTES and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._notify()

    def on_message_complete(self) -> None:
        """httptools: the answer is read to its end."""
        if self._informational:
            self._informational = False
            return
        self.complete = True
        self._notify()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Connected."""
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Feed the parser (a message left complete means the rest is not ours to read)."""
        self.got_bytes = True
        if self.complete and not self.skip_body:
            self._fail(UpstreamFailed("more data after the answer's end"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamFailed("the service switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamFailed(f"the answer is not valid HTTP/1.1 ({exc})"))

    def connection_lost(self, exc: Exception | None) -> None:
        """Closed: whoever waits learns it."""
        self.closed = True
        self._can_write.set()
        if not self.complete and self._close_delimited and self.head.done():
            self.complete = True  # a body without a length ends with the connection
            self._notify()
        elif not self.complete:
            if self.got_bytes:
                self._fail(UpstreamFailed("the service closed the connection mid-answer"))
            else:
                self._fail(_Stale("the service closed the connection"))

    def pause_writing(self) -> None:
        """The socket's send buffer is full."""
        self._can_write.clear()

    def resume_writing(self) -> None:
        """Room again."""
        self._can_write.set()

    # -- used by the pool -------------------------------------------------------------------

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        if not self.head.done():
            self.head.set_exception(error)
            self.head.exception()  # retrieved: no "never retrieved" warning if nobody waits
        self._notify()
        self.close()

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def write(self, data: bytes) -> None:
        """Send bytes, waiting while the socket's buffer is full."""
        if self.closed or self.transport is None:
            raise self.error or _Stale("the connection is closed")
        self.transport.write(data)
        if not self._can_write.is_set():
            try:
                async with asyncio.timeout(self.write_timeout):
                    await self._can_write.wait()
            except TimeoutError as exc:
                self.close()
                raise UpstreamTimeout("the service stopped reading the request") from exc
            if self.closed:
                raise self.error or UpstreamFailed("the connection closed while sending")

    async def body(self, read_timeout: float) -> AsyncIterator[bytes]:
        """The answer's body as it arrives."""
        while True:
            if self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self._paused and self.buffered <= HIGH_WATER_BYTES // 2:
                    self._paused = False
                    if self.transport is not None:
                        self.transport.resume_reading()
                yield chunk
                continue
            if self.complete:
                return
            if self.error is not None:
                raise self.error
            self._wake = self._loop.create_future()
            try:
                async with asyncio.timeout(read_timeout):
                    await self._wake
            except TimeoutError as exc:
                self.close()
                raise UpstreamTimeout("the service stopped answering") from exc
            finally:
                self._wake = None

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry the next request."""
        return (
            self.complete
            and not self.closed
            and self.error is None
            and not self._paused
            and self.keep_alive
        )

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()


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
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
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
        head = self._head(method, target, headers, chunked=body is not None)
        for attempt in (1, 2):
            connection, reused = await self._connection()
            connection.skip_body = method == "HEAD"
            try:
                await connection.write(head)
                if body is not None:
                    await self._send_body(connection, body, headers)
                async with asyncio.timeout(self.read_timeout):
                    await connection.head
            except _Stale:
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
            if connection.parser.get_status_code() in _BODYLESS_STATUS:
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
        has_length = any(name == b"content-length" for name, _ in headers)
        if chunked and not has_length:
            lines.append(b"transfer-encoding: chunked")
        elif not chunked and not has_length and method in ("POST", "PUT", "PATCH"):
            lines.append(b"content-length: 0")
        return b"\r\n".join(lines) + b"\r\n\r\n"

    @staticmethod
    async def _send_body(
        connection: Connection, body: AsyncIterator[bytes], headers: list[tuple[bytes, bytes]]
    ) -> None:
        chunked = not any(name == b"content-length" for name, _ in headers)
        async for chunk in body:
            if not chunk:
                continue
            if chunked:
                await connection.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            else:
                await connection.write(chunk)
        if chunked:
            await connection.write(b"0\r\n\r\n")

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()
