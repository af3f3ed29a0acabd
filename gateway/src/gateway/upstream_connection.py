"""One keep-alive HTTP/1.1 connection to a service: the answer parsed with httptools as it
arrives, the request's bytes written with back-pressure both ways.

The connection half of the proxy's lean client (upstream_client.py holds the pool that lends
these out); the errors the proxy maps to 503/504/502 are defined here, where they arise.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import cast

import httptools

#: An answer's body waiting to be sent is capped: past it, the service's socket is not read.
HIGH_WATER_BYTES = 1 << 20

BODYLESS_STATUS = frozenset({204, 304})


class UpstreamError(Exception):
    """The service could not be reached or did not answer properly."""


class UpstreamUnavailable(UpstreamError):
    """No connection could be had (refused, connect timeout, pool exhausted): 503."""


class UpstreamTimeout(UpstreamError):
    """The service stopped answering for longer than the read timeout: 504."""


class UpstreamFailed(UpstreamError):
    """The connection broke or the answer was not HTTP/1.1: 502."""


class Stale(UpstreamFailed):
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
        #: When the connection last went back to the pool (loop time).
        self.idle_since = 0.0
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
            and status not in BODYLESS_STATUS
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
                self._fail(Stale("the service closed the connection"))

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

    def write(self, *parts: bytes) -> None:
        """Hand bytes to the socket (several parts in one system call when it takes them all).

        Does not wait: call `room()` first, so that no more than one write's worth waits in
        the buffer beyond its high-water mark.
        """
        if self.closed or self.transport is None:
            raise self.error or Stale("the connection is closed")
        self.transport.writelines(parts)

    async def room(self) -> None:
        """Wait while the socket's buffer is full (the service is not reading), at most
        write_timeout: UpstreamTimeout then; a connection that closes meanwhile fails."""
        if self._can_write.is_set():
            return
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
