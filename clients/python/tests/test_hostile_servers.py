"""The client against servers that misbehave on purpose, raw TCP servers on loopback: they trickle bytes, answer
with what is not HTTP, close mid-answer, send huge bodies or one huge streamed result (issue 23, item 10). Each case
must end quickly with a clear error of this package or of OSError's family, never an http.client exception, never
reading a huge answer whole, never taking time quadratic in a result's size."""

from __future__ import annotations

import functools
import http.client
import json
import socket
import sys
import threading
import time
import unittest
from pathlib import Path
from typing import Callable, Iterator, List, Optional

try:
    import erc_demos_client  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from erc_demos_client import (
    MAX_RESPONSE_BYTES, ApiError, Client, ProtocolError, ResponseTooLarge, StreamError, StreamTimeout, StreamTooLarge,
)
from erc_demos_client._stream import StreamedObject, TruncatedStream

Behaviour = Callable[[socket.socket, int], None]


class RawServer:
    """A TCP server on loopback: reads each request (its headers and Content-Length body), then hands the socket
    to `behaviour(sock, n)` for the n-th connection (from 0), which writes what it likes; the socket is closed
    after. `sent` counts the bytes behaviours report through `send`."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.sent = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            n = self.connections
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock, n), daemon=True).start()

    def _serve(self, sock: socket.socket, n: int) -> None:
        try:
            reader = sock.makefile("rb")
            length = 0
            while True:
                line = reader.readline(65536)
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            reader.read(length)
            self.behaviour(sock, n)
        except OSError:  # the client went away: what these servers expect of it
            pass
        finally:
            sock.close()

    def send(self, sock: socket.socket, data: bytes) -> None:
        sock.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self.listener.close()


def head(status: str = "200 OK", length: Optional[int] = None) -> bytes:
    """A status line and headers: Content-Length `length`, or chunked when None."""
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n".encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def json_loads_seconds(body: bytes) -> float:
    """How long json.loads takes on `body` now: the yardstick of the linear-time tests (the median of three)."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        json.loads(body)
        times.append(time.perf_counter() - started)
    return sorted(times)[1]


@functools.lru_cache(maxsize=None)
def big_result(size: int) -> bytes:
    """One batch result of about `size` bytes: demonstrations with texts holding escapes and non-ASCII letters."""
    demos = []
    for i in range(max(1, size // 300)):
        demos.append({"id": i, "text": 'She said \\"no\\" {[' + "x" * 150 + f"]}} Ça va? 😊 {i}", "label": "joy", "labels": ["joy"],
                      "speaker": "A", "corpus": "meld", "split": "train", "dialogue": f"d{i}", "turn": 3, "score": 0.5})
    return json.dumps({"index": "x", "embedder": "use-lite", "took_ms": 1.5, "demonstrations": demos}, ensure_ascii=False).encode()


class HostileTest(unittest.TestCase):
    def serve(self, behaviour: Behaviour) -> RawServer:
        server = RawServer(behaviour)
        self.addCleanup(server.close)
        return server

    def assertNotHttpClient(self, error: BaseException) -> None:
        self.assertNotIsInstance(error, http.client.HTTPException, f"a bare http.client exception: {error!r}")

    # --- 1. a streamed result's parse is linear in its size ------------------------------------------------------

    def test_one_huge_streamed_result_in_small_pieces_is_read_in_linear_time(self) -> None:
        # 2.2 MB in 2 KiB HTTP chunks. Re-decoding the result from its start on every read was quadratic (about 300
        # times json.loads of the answer, 15.7 s at 4 KiB on a 2-core machine); scanning each byte once costs a few
        # json.loads. Timed against json.loads of the same bytes, here and now, so a busy machine slows both.
        item = big_result(2_200_000)
        body = b'{"results":[' + item + b'],"took_ms":7}'
        framed = head() + b"".join(chunk(body[i:i + 2048]) for i in range(0, len(body), 2048)) + b"0\r\n\r\n"
        server = self.serve(lambda sock, n: server.send(sock, framed))
        budget = 1.0 + 30 * json_loads_seconds(body)
        started = time.monotonic()
        stream = Client(server.url, timeout=budget + 30).batch(["a"])
        results = list(stream)
        took = time.monotonic() - started
        self.assertEqual(results, [json.loads(item)])
        self.assertEqual(stream.took_ms, 7.0)
        self.assertLess(took, budget, f"{len(item)} bytes took {took:.1f} s")

    def test_parse_work_does_not_grow_with_the_number_of_reads(self) -> None:
        # The same 2.2 MB result, 2 KiB a read (1250 reads), straight into the stream reader: it gives up past 30
        # times json.loads of the answer, which quadratic work (hundreds of times) passes early and linear never.
        item = big_result(2_200_000)
        body = b'{"results":[' + item + b',{"b":1}],"took_ms":7}'
        pieces = iter([body[i:i + 2048] for i in range(0, len(body), 2048)])
        budget = 30 * json_loads_seconds(body)
        started = time.monotonic()

        def read() -> bytes:
            if time.monotonic() - started > budget:
                raise AssertionError(f"reading a 2.2 MB result 2 KiB at a time took over {budget:.2f} s, 30 times json.loads: not linear")
            return next(pieces, b"")

        streamed = StreamedObject(read, "results")
        self.assertEqual(list(streamed), [json.loads(item), {"b": 1}])
        self.assertEqual(streamed.tail, {"took_ms": 7})

    def test_values_split_at_every_character(self) -> None:
        # Escaped quotes and runs of backslashes cut between reads, brackets inside strings, numbers at a read's end.
        items = [{"t": 'a\\"b\\\\"c', "u": "\\\\\\\\", "v": "}]{[", "w": [1, -2.5e3, [], {}], "x": None}, "\\", 12345, [[["z"]]], True]
        body = json.dumps({"results": items, "took_ms": 0.25, "z": "\\\""}, ensure_ascii=False).encode()
        for size in (1, 2, 3):
            pieces = iter([body[i:i + size] for i in range(0, len(body), size)])
            streamed = StreamedObject(lambda: next(pieces, b""), "results")
            self.assertEqual(list(streamed), items, size)
            self.assertEqual(streamed.tail, {"took_ms": 0.25, "z": '\\"'})

    def test_deeply_nested_result_is_a_stream_error(self) -> None:
        body = b'{"results":[' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
        pieces = iter([body])
        with self.assertRaises(TruncatedStream):
            list(StreamedObject(lambda: next(pieces, b""), "results"))

    # --- 2. timeout is a deadline for the whole call ------------------------------------------------------------

    def test_a_trickled_body_times_out_at_the_deadline(self) -> None:
        body = json.dumps({"indexes": [{"name": "x" * 40, "manifest": {}}]}).encode()

        def behaviour(sock: socket.socket, n: int) -> None:
            server.send(sock, head(length=len(body)))
            for byte in body:  # one byte every 0.1 s: each read is quick, the whole takes 6 s
                server.send(sock, bytes([byte]))
                time.sleep(0.1)

        server = self.serve(behaviour)
        started = time.monotonic()
        with self.assertRaises(TimeoutError) as caught:
            Client(server.url, timeout=1.0, retries=2, backoff=0.01).indexes()
        took = time.monotonic() - started
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 2.0)
        self.assertIn("timeout=1 s", str(caught.exception))
        self.assertIn("GET /indexes", str(caught.exception))
        self.assertEqual(server.connections, 1)  # a timeout is not retried: the deadline is spent

    def test_a_trickled_status_line_times_out_at_the_deadline(self) -> None:
        def behaviour(sock: socket.socket, n: int) -> None:
            for byte in head(length=2) + b"{}":
                server.send(sock, bytes([byte]))
                time.sleep(0.05)  # 100 bytes of head: 5 s

        server = self.serve(behaviour)
        started = time.monotonic()
        with self.assertRaises(TimeoutError):
            Client(server.url, timeout=0.8).formats()
        self.assertLess(time.monotonic() - started, 1.8)

    def test_a_trickled_stream_times_out_with_stream_timeout(self) -> None:
        def behaviour(sock: socket.socket, n: int) -> None:
            server.send(sock, head() + chunk(b'{"results":[{"a":1}'))
            for byte in b',{"b":"' + b"x" * 100:
                server.send(sock, chunk(bytes([byte])))
                time.sleep(0.1)

        server = self.serve(behaviour)
        started = time.monotonic()
        stream = Client(server.url, timeout=1.0).batch(["a", "b"])
        self.assertEqual(next(stream), {"a": 1})
        with self.assertRaises(StreamTimeout) as caught:
            next(stream)
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertIsInstance(caught.exception, TimeoutError)
        self.assertIsInstance(caught.exception, StreamError)
        self.assertEqual(caught.exception.received, 1)
        self.assertIn("after 1 result", str(caught.exception))

    def test_batch_takes_its_own_timeout(self) -> None:
        # Five results 0.3 s apart: 1.5 s in all, within a 5 s deadline given to batch(), past the client's 0.8 s.
        def behaviour(sock: socket.socket, n: int) -> None:
            server.send(sock, head() + chunk(b'{"results":['))
            for i in range(5):
                time.sleep(0.3)
                server.send(sock, chunk((b"," if i else b"") + b'{"i":%d}' % i))
            server.send(sock, chunk(b'],"took_ms":1500}') + b"0\r\n\r\n")

        server = self.serve(behaviour)
        client = Client(server.url, timeout=0.8)
        self.assertEqual([r["i"] for r in client.batch(["q"] * 5, timeout=5)], [0, 1, 2, 3, 4])  # type: ignore[typeddict-item]
        with self.assertRaises(StreamTimeout) as caught:
            list(client.batch(["q"] * 5))
        self.assertIn(caught.exception.received, (1, 2))

    def test_retries_stop_at_the_deadline(self) -> None:
        # Always 503, retries=5, backoff 0.4 s: the waits alone would be 12.4 s. Within a 1 s deadline there is a try
        # at 0 and one after the first wait (0.4 to 0.5 s); the second wait (0.8 to 1 s more) would end past it, so
        # the call ends there, with the last answer.
        def behaviour(sock: socket.socket, n: int) -> None:
            body = b'{"error":{"param":null,"message":"draining"}}'
            server.send(sock, head("503 Service Unavailable", len(body)) + body)

        server = self.serve(behaviour)
        started = time.monotonic()
        with self.assertRaises(ApiError) as caught:
            Client(server.url, timeout=1.0, retries=5, backoff=0.4).indexes()
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual((caught.exception.status, caught.exception.message), (503, "draining"))
        self.assertEqual(server.connections, 2)

    def test_timeout_must_be_positive_or_none(self) -> None:
        for bad in (0, -1, float("nan"), "5", True):
            with self.assertRaises(ValueError, msg=repr(bad)):
                Client("http://127.0.0.1:1", timeout=bad)  # type: ignore[arg-type]
        self.assertIsNone(Client("http://127.0.0.1:1", timeout=None).timeout)

    # --- 3. answers that are not HTTP, or cut short -------------------------------------------------------------

    def test_an_answer_that_is_not_http_is_a_protocol_error(self) -> None:
        server = self.serve(lambda sock, n: server.send(sock, b"SSH-2.0-OpenSSH_9.6\r\n"))
        with self.assertRaises(ProtocolError) as caught:
            Client(server.url, retries=3, backoff=0.01).indexes()
        self.assertNotHttpClient(caught.exception)
        self.assertIsInstance(caught.exception, OSError)
        self.assertIn("not HTTP", str(caught.exception))
        self.assertIn("SSH-2.0", str(caught.exception))
        self.assertEqual(server.connections, 1)  # not retried

    def test_a_status_line_too_long_is_a_protocol_error(self) -> None:
        server = self.serve(lambda sock, n: server.send(sock, b"HTTP/1.1 200 " + b"O" * 70_000 + b"\r\n\r\n"))
        with self.assertRaises(ProtocolError) as caught:
            Client(server.url).indexes()
        self.assertNotHttpClient(caught.exception)

    def test_a_body_cut_short_is_retried_then_raises_connection_reset(self) -> None:
        server = self.serve(lambda sock, n: server.send(sock, head(length=100) + b'{"indexes":'))
        with self.assertRaises(ConnectionResetError) as caught:
            Client(server.url, retries=2, backoff=0.01).indexes()
        self.assertNotHttpClient(caught.exception)
        self.assertIn("broke off after 11 of its 100 bytes", str(caught.exception))
        self.assertEqual(server.connections, 3)

    def test_a_body_cut_short_then_whole_succeeds(self) -> None:
        whole = b'{"indexes":[]}'
        server = self.serve(lambda sock, n: server.send(sock, head(length=len(whole)) + (whole[:5] if n == 0 else whole)))
        self.assertEqual(Client(server.url, backoff=0.01).indexes(), [])
        self.assertEqual(server.connections, 2)

    def test_closed_without_an_answer_raises_a_plain_connection_reset(self) -> None:
        server = self.serve(lambda sock, n: None)
        with self.assertRaises(ConnectionResetError) as caught:
            Client(server.url, retries=1, backoff=0.01).formats()
        self.assertNotHttpClient(caught.exception)
        self.assertIn("closed the connection without answering", str(caught.exception))
        self.assertEqual(server.connections, 2)

    def test_broken_chunked_framing(self) -> None:
        server = self.serve(lambda sock, n: server.send(sock, head() + chunk(b'{"indexes":') + b"zz\r\n[]}\r\n0\r\n\r\n"))
        with self.assertRaises(OSError) as caught:
            Client(server.url, retries=0).indexes()
        self.assertNotHttpClient(caught.exception)
        self.assertIn("broke off after 11 bytes", str(caught.exception))

    def test_a_stream_cut_inside_its_chunked_framing_is_a_stream_error(self) -> None:
        server = self.serve(lambda sock, n: server.send(sock, head() + chunk(b'{"results":[{"a":1},') + b"zz\r\n"))
        stream = Client(server.url).batch(["a", "b"])
        self.assertEqual(next(stream), {"a": 1})
        with self.assertRaises(StreamError) as caught:
            next(stream)
        self.assertEqual(caught.exception.received, 1)
        self.assertNotHttpClient(caught.exception)

    def test_a_stream_that_is_not_utf8_is_a_stream_error(self) -> None:
        body = b'{"results":[{"a":"\xff\xfe"}],"took_ms":1}'
        server = self.serve(lambda sock, n: server.send(sock, head(length=len(body)) + body))
        with self.assertRaises(StreamError) as caught:
            list(Client(server.url).batch(["a"]))
        self.assertIn("not UTF-8", str(caught.exception))

    def test_a_batch_answered_with_what_is_not_http(self) -> None:
        server = self.serve(lambda sock, n: server.send(sock, b"hello\r\n\r\n"))
        with self.assertRaises(ProtocolError):
            Client(server.url).batch(["a"])

    # --- 4. max_response_bytes ----------------------------------------------------------------------------------

    def test_default_limit_refuses_an_announced_320_mb_answer_without_reading_it(self) -> None:
        def behaviour(sock: socket.socket, n: int) -> None:
            server.send(sock, head(length=320_000_000) + b'{"indexes":[' + b" " * 65536)
            time.sleep(3)  # the rest never comes: a client that read on would time out instead

        server = self.serve(behaviour)
        client = Client(server.url, timeout=2.5)
        self.assertEqual(client.max_response_bytes, MAX_RESPONSE_BYTES)
        self.assertEqual(MAX_RESPONSE_BYTES, 64 * 1024 * 1024)
        started = time.monotonic()
        with self.assertRaises(ResponseTooLarge) as caught:
            client.indexes()
        self.assertLess(time.monotonic() - started, 1.0)
        error = caught.exception
        self.assertEqual((error.status, error.limit), (200, MAX_RESPONSE_BYTES))
        self.assertIn("max_response_bytes=67108864", str(error))
        self.assertIn("Content-Length is 320000000", str(error))
        self.assertEqual(server.connections, 1)

    def test_a_chunked_answer_past_the_limit_is_given_up_while_it_arrives(self) -> None:
        piece = chunk(b" " * 65536)

        def behaviour(sock: socket.socket, n: int) -> None:
            server.send(sock, head() + chunk(b'{"indexes":['))
            for _ in range(800):  # 50 MB, unless the client gives up first
                server.send(sock, piece)

        server = self.serve(behaviour)
        started = time.monotonic()
        with self.assertRaises(ResponseTooLarge) as caught:
            Client(server.url, max_response_bytes=1 << 20).indexes()
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertEqual(caught.exception.limit, 1 << 20)
        arrived = int(str(caught.exception).split("(")[1].split(" bytes had arrived")[0])
        self.assertGreater(arrived, 1 << 20)
        self.assertLessEqual(arrived, (1 << 20) + 65536)  # one read past the limit at most
        time.sleep(0.2)
        self.assertLess(server.sent, 20_000_000)  # the client closed the connection: the server's writes failed

    def test_an_error_answer_past_the_limit_is_still_its_status(self) -> None:
        def behaviour(sock: socket.socket, n: int) -> None:
            server.send(sock, head("502 Bad Gateway", 320_000_000) + b"<html>" + b" " * 1000)
            time.sleep(3)

        server = self.serve(behaviour)
        started = time.monotonic()
        with self.assertRaises(ApiError) as caught:
            Client(server.url, timeout=2.5, retries=0).indexes()
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual(caught.exception.status, 502)

    def test_one_huge_streamed_result_past_the_limit(self) -> None:
        def behaviour(sock: socket.socket, n: int) -> None:
            server.send(sock, head() + chunk(b'{"results":[{"a":1},{"text":"'))
            for _ in range(800):
                server.send(sock, chunk(b"x" * 65536))

        server = self.serve(behaviour)
        stream = Client(server.url, max_response_bytes=2 << 20).batch(["a", "b"])
        self.assertEqual(next(stream), {"a": 1})
        started = time.monotonic()
        with self.assertRaises(StreamTooLarge) as caught:
            next(stream)
        self.assertLess(time.monotonic() - started, 2.0)
        error = caught.exception
        self.assertIsInstance(error, StreamError)
        self.assertIsInstance(error, ResponseTooLarge)
        self.assertEqual((error.received, error.limit), (1, 2 << 20))
        self.assertIn("max_response_bytes=2097152", str(error))

    def test_a_base_url_http_client_would_refuse_is_refused_at_once(self) -> None:
        for bad in ("http://127.0.0.1:1/a b", "http://127.0.0.1:1/a\r\nX-Injected: 1", "http://127.0.0.1:1/\x7f"):
            with self.assertRaises(ValueError, msg=repr(bad)):
                Client(bad)

    def test_max_response_bytes_is_checked(self) -> None:
        for bad in (0, -5, 1.5, "10", True):
            with self.assertRaises(ValueError, msg=repr(bad)):
                Client("http://127.0.0.1:1", max_response_bytes=bad)  # type: ignore[arg-type]
        self.assertIsNone(Client("http://127.0.0.1:1", max_response_bytes=None).max_response_bytes)


if __name__ == "__main__":
    unittest.main()
