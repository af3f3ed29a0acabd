"""The proxy's lean HTTP/1.1 client against raw servers that misbehave on purpose.

Each server is an asyncio server on a free loopback port whose handler the test writes, so
what reaches the client is exactly what the test says: answers without a length, answers cut
short, interim 100 answers, a server that stops answering or closes idle connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import pytest

from gateway.upstream_client import (
    UpstreamFailed,
    UpstreamPool,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.upstream_connection import Connection
from pilnveide_kit.testing import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The head of a request and its body (by Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    fields = {
        line.split(b":", 1)[0].strip().lower(): line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
        if b":" in line
    }
    if b"content-length" in fields:
        return head, await reader.readexactly(int(fields[b"content-length"]))
    body = b""
    if fields.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            body += (await reader.readexactly(size + 2))[:size]
            if size == 0:
                return head, body
    return head, body


def run(
    test: Callable[[UpstreamPool, list[bytes]], Coroutine[Any, Any, None]],
    handler: Handler,
    *,
    read_timeout: float = 5.0,
) -> list[bytes]:
    """Serve handler on a free port, run test(pool, heads) against it; the request heads seen."""
    heads: list[bytes] = []

    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        port = free_port()
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        pool = UpstreamPool(
            f"http://127.0.0.1:{port}/base", connect_timeout=1.0, read_timeout=read_timeout
        )
        try:
            await test(pool, heads)
        finally:
            pool.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    return heads


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def keep_alive_server(answer: bytes, seen: list[bytes]) -> Handler:
    """Answers every request on a connection with the same bytes; records each request head."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            seen.append(head + body)
            writer.write(answer)
            await writer.drain()

    return handler


OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello"


def test_requests_reuse_one_connection_and_carry_the_fields_as_given() -> None:
    seen: list[bytes] = []
    connections: list[int] = []

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        for _ in range(3):
            answer = await pool.send("GET", b"/x?q=1", [(b"x-one", b"\xc4\x81")], None)
            assert (answer.status_code, await collect(answer.body())) == (200, b"hello")
            assert (b"content-type", b"text/plain") in answer.headers
            connections.append(id(answer.connection))
            answer.release()

    run(test, keep_alive_server(OK, seen))
    assert len(set(connections)) == 1
    assert seen[0].startswith(b"GET /base/x?q=1 HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"\r\nx-one: \xc4\x81\r\n" in seen[0]


def test_a_body_without_length_is_sent_chunked_and_one_with_length_as_is() -> None:
    seen: list[bytes] = []

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"ab", b"", b"cde"):
            yield part

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        answer = await pool.send("POST", b"/p", [], parts())
        await collect(answer.body())
        answer.release()
        answer = await pool.send("PUT", b"/p", [(b"content-length", b"5")], parts())
        await collect(answer.body())
        answer.release()
        answer = await pool.send("POST", b"/p", [], None)
        await collect(answer.body())
        answer.release()

    run(test, keep_alive_server(OK, seen))
    assert b"transfer-encoding: chunked" in seen[0] and seen[0].endswith(b"abcde")
    assert b"transfer-encoding" not in seen[1] and seen[1].endswith(b"\r\n\r\nabcde")
    assert b"content-length: 0" in seen[2]


def test_an_answer_delimited_by_the_close_is_read_whole_and_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + b"x" * 100_000)
        await writer.drain()

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        answer = await pool.send("GET", b"/", [], None)
        assert await collect(answer.body()) == b"x" * 100_000
        assert not answer.connection.reusable
        answer.release()

    run(test, handler)


def test_a_large_chunked_answer_streams_whole_with_back_pressure() -> None:
    piece = b"y" * 65_536

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(64):  # 4 MiB: past the client's buffer, so it pauses reading
            writer.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()  # keep the connection open

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        answer = await pool.send("GET", b"/", [], None)
        size = 0
        async for chunk in answer.body():
            size += len(chunk)
            await asyncio.sleep(0)  # a slow reader
        assert size == 64 * len(piece)
        assert answer.connection.reusable
        answer.release()

    run(test, handler)


def test_interim_100_answers_are_skipped_and_head_answers_have_no_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")  # HEAD: no body
        await read_request(reader)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await reader.read()

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        for method, status, body in (
            ("GET", 200, b"hello"),
            ("HEAD", 200, b""),
            ("GET", 204, b""),
            ("GET", 200, b"hello"),
        ):
            answer = await pool.send(method, b"/", [], None)
            assert (answer.status_code, await collect(answer.body())) == (status, body)
            answer.release()

    run(test, handler)


def test_a_connection_the_service_closed_while_idle_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        # then closes, as uvicorn does after its keep-alive timeout

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        for _ in range(3):
            answer = await pool.send("GET", b"/", [], None)
            assert await collect(answer.body()) == b"hello"
            answer.release()
            await asyncio.sleep(0.05)  # the close reaches the client

    run(test, handler)


def test_a_request_meeting_a_connection_closed_as_it_was_taken_is_sent_again() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request: closed without an answer

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        first = await pool.send("GET", b"/", [], None)
        await collect(first.body())
        first.release()
        second = await pool.send("GET", b"/", [], None)  # stale, then a new connection
        assert await collect(second.body()) == b"hello"
        assert second.connection is not first.connection
        second.release()

    run(test, handler)


def test_an_answer_cut_short_is_a_failure_and_the_connection_is_dropped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        await writer.drain()

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        answer = await pool.send("GET", b"/", [], None)
        with pytest.raises(UpstreamFailed):
            await collect(answer.body())
        assert not answer.connection.reusable
        answer.release()

    run(test, handler)


def test_garbage_is_a_failure() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SPDY/9 what\r\n\r\n")
        await writer.drain()
        await reader.read()

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        with pytest.raises(UpstreamFailed):
            await pool.send("GET", b"/", [], None)

    run(test, handler)


def test_a_silent_service_times_out_before_and_during_the_answer() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        if b"/half" in head:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
            await writer.drain()
        await reader.read()  # and says nothing more

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        with pytest.raises(UpstreamTimeout):
            await pool.send("GET", b"/silent", [], None)
        answer = await pool.send("GET", b"/half", [], None)
        with pytest.raises(UpstreamTimeout):
            await collect(answer.body())
        answer.release()

    run(test, handler, read_timeout=0.2)


def test_nobody_listening_is_unavailable() -> None:
    async def main() -> None:
        pool = UpstreamPool(
            f"http://127.0.0.1:{free_port()}", connect_timeout=1.0, read_timeout=1.0
        )
        with pytest.raises(UpstreamUnavailable, match="ConnectError"):
            await pool.send("GET", b"/", [], None)

    asyncio.run(main())


def test_a_full_pool_makes_the_next_request_wait_then_give_up() -> None:
    async def main() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await read_request(reader)
                writer.write(OK)
                await writer.drain()

        port = free_port()
        server = await asyncio.start_server(handler, "127.0.0.1", port)
        pool = UpstreamPool(
            f"http://127.0.0.1:{port}", connect_timeout=0.05, read_timeout=1.0, max_connections=1
        )
        held = await pool.send("GET", b"/", [], None)  # its connection not yet released
        with pytest.raises(UpstreamUnavailable, match="PoolTimeout"):
            await pool.send("GET", b"/", [], None)
        await collect(held.body())
        held.release()
        answer = await pool.send("GET", b"/", [], None)  # the slot is free again
        assert await collect(answer.body()) == b"hello"
        answer.release()
        pool.close()
        server.close()

    asyncio.run(main())


def test_only_plain_http_services() -> None:
    with pytest.raises(ValueError, match="plain http"):
        UpstreamPool("https://records.example", connect_timeout=1, read_timeout=1)


def test_a_service_that_stops_reading_the_body_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)  # reads nothing more: the client's writes back up

    async def body() -> AsyncIterator[bytes]:
        chunk = b"z" * (1 << 20)
        for _ in range(256):
            yield chunk

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        with pytest.raises(UpstreamTimeout, match="stopped reading"):
            await pool.send("POST", b"/", [], body())

    run(test, handler, read_timeout=0.3)


def test_a_body_in_many_pieces_arrives_whole_the_head_going_out_with_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []
    writes: list[tuple[bytes, ...]] = []
    original = Connection.write

    def recording_write(self: Connection, *parts: bytes) -> None:
        writes.append(parts)
        original(self, *parts)

    monkeypatch.setattr(Connection, "write", recording_write)
    pieces = [b"", b"first"] + [b"%03d" % n for n in range(200)] + [b""]

    async def parts() -> AsyncIterator[bytes]:
        for piece in pieces:
            await asyncio.sleep(0)
            yield piece

    whole = b"".join(pieces)

    async def test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        for headers in ([], [(b"content-length", str(len(whole)).encode())]):
            writes.clear()
            answer = await pool.send("POST", b"/p", headers, parts())
            assert await collect(answer.body()) == b"hello"
            answer.release()
            head, first = writes[0][0], writes[0][1:]
            assert head.startswith(b"POST /base/p HTTP/1.1\r\n") and head.endswith(b"\r\n\r\n")
            assert b"first" in first  # one write: the head and the first piece of the body

    run(test, keep_alive_server(OK, seen))
    assert b"transfer-encoding: chunked" in seen[0] and seen[0].endswith(b"\r\n\r\n" + whole)
    assert b"transfer-encoding" not in seen[1] and seen[1].endswith(b"\r\n\r\n" + whole)


def test_a_service_closing_mid_body_is_a_failure_and_frees_the_slot() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b"/cut" in head:
            await reader.readexactly(1000)  # part of the body, then the connection is closed
            return
        await read_request_after(head, reader)
        writer.write(OK)
        await writer.drain()

    async def slow_body() -> AsyncIterator[bytes]:
        for _ in range(400):
            await asyncio.sleep(0.001)
            yield b"b" * 4096

    async def main_test(pool: UpstreamPool, _heads: list[bytes]) -> None:
        with pytest.raises(UpstreamFailed):
            answer = await pool.send("POST", b"/cut", [], slow_body())
            await collect(answer.body())
        answer = await pool.send("GET", b"/next", [], None)  # the one slot is free again
        assert await collect(answer.body()) == b"hello"
        answer.release()

    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(reader, writer)
            finally:
                writer.close()

        port = free_port()
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        pool = UpstreamPool(
            f"http://127.0.0.1:{port}", connect_timeout=1.0, read_timeout=2.0, max_connections=1
        )
        try:
            await main_test(pool, [])
        finally:
            pool.close()
            server.close()

    asyncio.run(main())


async def read_request_after(head: bytes, reader: asyncio.StreamReader) -> bytes:
    """The body of a request whose head was read already (no body, or a Content-Length)."""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return await reader.readexactly(int(line.split(b":", 1)[1]))
    return b""


def test_a_connection_idle_past_the_limit_is_closed_not_reused() -> None:
    async def main() -> None:
        connections: list[int] = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(id(writer))
            try:
                while True:
                    await read_request(reader)
                    writer.write(OK)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        port = free_port()
        server = await asyncio.start_server(handler, "127.0.0.1", port)
        pool = UpstreamPool(
            f"http://127.0.0.1:{port}", connect_timeout=1.0, read_timeout=1.0, idle_limit_s=0.2
        )
        used = []
        for pause in (0, 0, 0.4, 0):
            await asyncio.sleep(pause)
            answer = await pool.send("GET", b"/", [], None)
            await collect(answer.body())
            used.append(answer.connection)
            answer.release()
        assert used[0] is used[1]  # reused within the limit
        assert used[2] is not used[1] and used[1].closed  # past it: closed, a new one taken
        assert used[3] is used[2]
        assert len(connections) == 2
        pool.close()
        server.close()

    asyncio.run(main())
