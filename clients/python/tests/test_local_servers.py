"""Retries and stream reading, against tiny real HTTP servers on loopback (http.server) that misbehave on purpose:
503s before a 200, connections closed without an answer, a port nobody listens on yet, a batch answer sent a few
bytes at a time or cut off, an error page that is not JSON."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, List, Tuple

try:
    import erc_demos_client  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from erc_demos_client import ApiError, Client, StreamError

Behaviour = Callable[[BaseHTTPRequestHandler, int], None]


class LocalServer:
    """Serves `behaviour(handler, n)` for the n-th request (from 0); records each request's method, path and body."""

    def __init__(self, behaviour: Behaviour, port: int = 0) -> None:
        self.requests: List[Tuple[str, str, bytes]] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                n = len(server_self.requests)
                server_self.requests.append((self.command, self.path, body))
                behaviour(self, n)

            do_GET = handle_one
            do_POST = handle_one
            do_PATCH = handle_one
            do_DELETE = handle_one

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def chunked(handler: BaseHTTPRequestHandler, pieces: List[bytes], end: bool = True, pause: float = 0.0) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for piece in pieces:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.flush()
        if pause:
            time.sleep(pause)
    if end:
        handler.wfile.write(b"0\r\n\r\n")
    else:
        handler.close_connection = True
    handler.wfile.flush()


INDEXES = json.dumps({"indexes": [{"name": "x", "manifest": {}}]}).encode()


def result(i: int) -> dict:
    return {"index": "x", "embedder": "use-lite", "took_ms": 1.5, "demonstrations": [{"id": i, "text": f"Ça va, {i}? 😊 «{i}»", "label": "joy", "score": 0.5}]}


def streamed_answer(n: int) -> bytes:
    # The server's exact shape (src/server/stream-json.ts): {"results":[a,b,...],"took_ms":x}
    return ('{"results":[' + ",".join(json.dumps(result(i), ensure_ascii=False) for i in range(n)) + '],"took_ms":12.25}').encode("utf-8")


class RetryTest(unittest.TestCase):
    def serve(self, behaviour: Behaviour, port: int = 0) -> LocalServer:
        server = LocalServer(behaviour, port)
        self.addCleanup(server.close)
        return server

    def test_503_twice_then_200_is_retried(self) -> None:
        server = self.serve(lambda h, n: answer(h, 503, b'{"status":"draining"}') if n < 2 else answer(h, 200, INDEXES))
        self.assertEqual(Client(server.url, retries=3, backoff=0.01).indexes(), [{"name": "x", "manifest": {}}])
        self.assertEqual(len(server.requests), 3)

    def test_post_is_resent_whole_after_a_503(self) -> None:
        server = self.serve(lambda h, n: answer(h, 503, b"") if n == 0 else answer(h, 200, streamed_answer(2)))
        results = list(Client(server.url, backoff=0.01).batch(["a", "b"]))
        self.assertEqual([r["demonstrations"][0]["id"] for r in results], [0, 1])
        self.assertEqual([json.loads(body) for _, _, body in server.requests], [{"queries": [{"utterance": "a"}, {"utterance": "b"}]}] * 2)

    def test_retries_are_bounded(self) -> None:
        server = self.serve(lambda h, n: answer(h, 503, b'{"error":{"param":null,"message":"draining"}}'))
        with self.assertRaises(ApiError) as caught:
            Client(server.url, retries=2, backoff=0.01).formats()
        self.assertEqual((caught.exception.status, caught.exception.param, caught.exception.message), (503, None, "draining"))
        self.assertEqual(len(server.requests), 3)

    def test_4xx_is_never_retried(self) -> None:
        server = self.serve(lambda h, n: answer(h, 400, b'{"error":{"param":"k","message":"k: must be between 1 and 100"}}'))
        with self.assertRaises(ApiError) as caught:
            Client(server.url, retries=5, backoff=0.01).demonstrations("hi", k=0)
        self.assertEqual((caught.exception.status, caught.exception.param), (400, "k"))
        self.assertEqual(len(server.requests), 1)
        self.assertEqual(server.requests[0][1], "/demonstrations?utterance=hi&k=0")

    def test_connection_closed_without_an_answer_is_retried(self) -> None:
        def behaviour(h: BaseHTTPRequestHandler, n: int) -> None:
            if n == 0:
                h.close_connection = True  # no status line: the client sees the connection reset
            else:
                answer(h, 200, INDEXES)

        server = self.serve(behaviour)
        self.assertEqual(len(Client(server.url, backoff=0.01).indexes()), 1)
        self.assertEqual(len(server.requests), 2)

    def test_connection_refused_is_retried_until_the_server_is_up(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        started: List[LocalServer] = []
        timer = threading.Timer(0.3, lambda: started.append(self.serve(lambda h, n: answer(h, 200, INDEXES), port)))
        timer.start()
        self.addCleanup(timer.cancel)
        self.assertEqual(len(Client(f"http://127.0.0.1:{port}", retries=6, backoff=0.1).indexes()), 1)
        self.assertEqual(len(started), 1)

    def test_connection_refused_with_no_retries_left_raises(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with self.assertRaises(ConnectionRefusedError):
            Client(f"http://127.0.0.1:{port}", retries=1, backoff=0.01).indexes()

    def test_health_is_not_retried_and_reports_draining(self) -> None:
        server = self.serve(lambda h, n: answer(h, 503, b'{"status":"draining"}'))
        self.assertEqual(Client(server.url, backoff=0.01).health(), {"status": "draining"})
        self.assertEqual(len(server.requests), 1)

    def test_error_body_that_is_not_json(self) -> None:
        server = self.serve(lambda h, n: answer(h, 502, b"<html><body>Bad gateway</body></html>", "text/html"))
        with self.assertRaises(ApiError) as caught:
            Client(server.url, backoff=0.01).indexes()
        error = caught.exception
        self.assertEqual((error.status, error.param), (502, None))
        self.assertIn("Bad Gateway", error.message)
        self.assertIn("Bad gateway", error.message)
        self.assertEqual(error.body, "<html><body>Bad gateway</body></html>")

    def test_base_url_path_prefix(self) -> None:
        server = self.serve(lambda h, n: answer(h, 200, INDEXES))
        Client(server.url + "/erc/").indexes()
        self.assertEqual(server.requests[0][1], "/erc/indexes")


class StreamTest(unittest.TestCase):
    def serve(self, behaviour: Behaviour) -> LocalServer:
        server = LocalServer(behaviour)
        self.addCleanup(server.close)
        return server

    def test_read_a_few_bytes_at_a_time(self) -> None:
        # 3-byte pieces split the UTF-8 of é, 😊 and « and every token, the took_ms number included.
        body = streamed_answer(4)
        server = self.serve(lambda h, n: chunked(h, [body[i:i + 3] for i in range(0, len(body), 3)]))
        stream = Client(server.url).batch(["a", "b", "c", "d"])
        results = list(stream)
        self.assertEqual(results, [result(i) for i in range(4)])
        self.assertEqual(stream.took_ms, 12.25)

    def test_results_arrive_before_the_answer_ends(self) -> None:
        release = threading.Event()

        def behaviour(h: BaseHTTPRequestHandler, n: int) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for piece in [b'{"results":[' + json.dumps(result(0)).encode()]:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            h.wfile.flush()
            if not release.wait(5):  # the client did not hand out the first result alone: cut the answer
                h.close_connection = True
                return
            rest = b"," + json.dumps(result(1)).encode() + b'],"took_ms":3}'
            h.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(rest), rest))
            h.wfile.flush()

        server = self.serve(behaviour)
        stream = Client(server.url, timeout=10).batch(["a", "b"])
        first = next(stream)  # the server holds the second result back until this one was read
        self.assertEqual(first["demonstrations"][0]["id"], 0)
        release.set()
        self.assertEqual([r["demonstrations"][0]["id"] for r in stream], [1])
        self.assertEqual(stream.took_ms, 3.0)

    def test_an_answer_cut_off_raises_stream_error(self) -> None:
        body = streamed_answer(3)
        cut = body.index(b',{"index"', body.index(b',{"index"') + 1) + 20  # inside the third result
        server = self.serve(lambda h, n: chunked(h, [body[:cut]], end=False))
        stream = Client(server.url, retries=3, backoff=0.01).batch(["a", "b", "c"])
        received = []
        with self.assertRaises(StreamError) as caught:
            for r in stream:
                received.append(r)
        self.assertEqual(len(received), 2)
        self.assertEqual(caught.exception.received, 2)
        self.assertEqual(len(server.requests), 1)  # results were handed out: not retried

    def test_empty_results(self) -> None:
        server = self.serve(lambda h, n: answer(h, 200, b'{"results":[],"took_ms":0}'))
        stream = Client(server.url).batch(["a"])
        self.assertEqual(list(stream), [])
        self.assertEqual(stream.took_ms, 0.0)

    def test_whitespace_and_fields_first(self) -> None:
        server = self.serve(lambda h, n: answer(h, 200, b' { "took_ms" : 1 , "results" : [ {"a": 1} , {"b": [2]} ] } \n'))
        stream = Client(server.url).batch(["a", "b"])
        self.assertEqual(list(stream), [{"a": 1}, {"b": [2]}])
        self.assertEqual(stream.took_ms, 1.0)

    def test_trailing_garbage_is_an_error(self) -> None:
        server = self.serve(lambda h, n: answer(h, 200, b'{"results":[{"a":1}],"took_ms":1}xx'))
        stream = Client(server.url).batch(["a"])
        self.assertEqual(next(stream), {"a": 1})
        with self.assertRaises(StreamError):
            next(stream)


ADDED = json.dumps({"index": "x", "seq": 7, "took_ms": 3.5, "dialogues": [{"id": "d/1", "rows": [10, 11]}]}).encode()


class WritesTest(unittest.TestCase):
    """The write calls' requests as sent, their errors, and when they are retried: only when nothing can have been
    written (a 503, or a connection that failed before the request was sent whole)."""

    def serve(self, behaviour: Behaviour) -> LocalServer:
        server = LocalServer(behaviour)
        self.addCleanup(server.close)
        return server

    def test_each_write_is_its_method_path_and_body(self) -> None:
        bodies = [ADDED, b'{"index":"x","seq":8,"took_ms":1,"dialogue":"train/s01","turn":2,"id":5,"labels":["a","b"],"source_labels":["a","b"]}',
                  b'{"index":"x","seq":9,"took_ms":1,"dialogue":"train/s01","turn":0,"id":3,"labels":["joy"],"source_labels":["joy"]}',
                  b'{"index":"x","seq":10,"took_ms":1,"dialogue":"train/s01","removed":4}']
        server = self.serve(lambda h, n: answer(h, 201 if n == 0 else 200, bodies[n]))
        client = Client(server.url + "/erc", api_key="k" * 32)
        turns = ({"speaker": "A", "text": "Hi.", "label": "joy"}, {"speaker": "B", "text": "Ho.", "labels": ("x", "y"), "scores": {"v": 0.5}})
        self.assertEqual(client.add_dialogues("my index", ({"id": "d/1", "corpus": "meld", "turns": turns},))["dialogues"], [{"id": "d/1", "rows": [10, 11]}])
        self.assertEqual(client.relabel("my index", "train/s01", 2, ("a", "b"))["labels"], ["a", "b"])
        self.assertEqual(client.relabel("x", "train/s01", 0, "joy")["id"], 3)
        self.assertEqual(client.remove_dialogue("x", "train/s01")["removed"], 4)
        sent = [(method, path, json.loads(body) if body else None) for method, path, body in server.requests]
        self.assertEqual(sent, [
            ("POST", "/erc/indexes/my%20index/dialogues", {"dialogues": [{"id": "d/1", "corpus": "meld", "turns": [
                {"speaker": "A", "text": "Hi.", "label": "joy"}, {"speaker": "B", "text": "Ho.", "labels": ["x", "y"], "scores": {"v": 0.5}}]}]}),
            ("PATCH", "/erc/indexes/my%20index/dialogues/train%2Fs01/turns/2", {"labels": ["a", "b"]}),
            ("PATCH", "/erc/indexes/x/dialogues/train%2Fs01/turns/0", {"label": "joy"}),
            ("DELETE", "/erc/indexes/x/dialogues/train%2Fs01", None),
        ])

    def test_ids_are_one_path_segment_whatever_they_hold(self) -> None:
        server = self.serve(lambda h, n: answer(h, 200, b'{"removed":1}'))
        Client(server.url).remove_dialogue("x", "a/../b?c=1#d%2F é")
        self.assertEqual(server.requests[0][1], "/indexes/x/dialogues/a%2F..%2Fb%3Fc%3D1%23d%252F%20%C3%A9")

    def test_arguments_are_checked_before_anything_is_sent(self) -> None:
        server = self.serve(lambda h, n: answer(h, 200, b"{}"))
        client = Client(server.url)
        for call, error in (
            (lambda: client.add_dialogues("x", {"id": "d", "turns": []}), TypeError),  # one dialogue, not a list
            (lambda: client.add_dialogues("x", "d"), TypeError),
            (lambda: client.add_dialogues("", []), ValueError),
            (lambda: client.relabel("x", "d", -1, "joy"), ValueError),
            (lambda: client.relabel("x", "d", True, "joy"), ValueError),
            (lambda: client.relabel("x", "d", 0, 3), TypeError),  # type: ignore[arg-type]
            (lambda: client.relabel("x", "", 0, "joy"), ValueError),
            (lambda: client.remove_dialogue("x", None), ValueError),  # type: ignore[arg-type]
        ):
            with self.assertRaises(error):
                call()
        self.assertEqual(server.requests, [])

    def test_a_write_busy_503_is_retried_after_its_retry_after(self) -> None:
        def behaviour(h: BaseHTTPRequestHandler, n: int) -> None:
            if n == 0:
                h.send_response(503)
                h.send_header("Retry-After", "1")
                h.send_header("Content-Type", "application/json")
                body = b'{"error":{"param":null,"message":"another process kept this index\'s write lock; nothing was written, retry"}}'
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)
            else:
                answer(h, 201, ADDED)

        server = self.serve(behaviour)
        started = time.monotonic()
        added = Client(server.url, backoff=0.01).add_dialogues("x", [{"id": "d/1", "turns": [{"speaker": "A", "text": "Hi.", "label": "joy"}]}])
        self.assertEqual(added["seq"], 7)
        self.assertGreaterEqual(time.monotonic() - started, 1.0)
        self.assertEqual(len(server.requests), 2)
        self.assertEqual(server.requests[0][2], server.requests[1][2])

    def test_a_write_whose_connection_breaks_after_it_was_sent_is_not_retried(self) -> None:
        def behaviour(h: BaseHTTPRequestHandler, n: int) -> None:
            h.close_connection = True  # the request was read (it may have been written); no answer comes

        server = self.serve(behaviour)
        client = Client(server.url, retries=3, backoff=0.01)
        for call in (lambda: client.add_dialogues("x", [{"id": "d"}]), lambda: client.relabel("x", "d", 0, "joy"), lambda: client.remove_dialogue("x", "d")):
            before = len(server.requests)
            with self.assertRaises(ConnectionError) as caught:
                call()
            self.assertIn("not retried", str(caught.exception))
            self.assertEqual(len(server.requests), before + 1)
        # A read is retried as before.
        with self.assertRaises(ConnectionError):
            client.indexes()
        self.assertEqual(len(server.requests), 3 + 4)

    def test_a_write_is_retried_while_the_server_is_not_up(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        started: List[LocalServer] = []

        def start() -> None:
            server = LocalServer(lambda h, n: answer(h, 200, b'{"removed":2}'), port)
            self.addCleanup(server.close)
            started.append(server)

        timer = threading.Timer(0.3, start)
        timer.start()
        self.addCleanup(timer.cancel)
        self.assertEqual(Client(f"http://127.0.0.1:{port}", retries=6, backoff=0.1).remove_dialogue("x", "d")["removed"], 2)
        self.assertEqual(len(started[0].requests), 1)

    def test_error_codes_from_the_body_else_from_a_status_that_names_one(self) -> None:
        bodies = {
            0: (400, b'{"error":{"param":"dialogues","message":"too many","code":"LIMIT_EXCEEDED"}}', "LIMIT_EXCEEDED"),
            1: (400, b'{"error":{"param":"dialogues.0.turns.0.label","message":"unknown label"}}', None),
            2: (409, b'{"error":{"param":"dialogues.0.id","message":"held"}}', "DIALOGUE_EXISTS"),
            3: (404, b'{"error":{"param":"dialogue","message":"none"}}', "NOT_FOUND"),
            4: (404, b'{"error":{"param":null,"message":"no route DELETE /x"}}', None),
            5: (401, b'{"error":{"param":"authorization","message":"needs a key"}}', "AUTH_REQUIRED"),
            6: (403, b'{"error":{"param":"authorization","message":"scope read"}}', "AUTH_FORBIDDEN"),
            7: (409, b"<html>Conflict</html>", None),  # not the service's JSON: nothing guessed
        }
        server = self.serve(lambda h, n: answer(h, bodies[n][0], bodies[n][1]))
        client = Client(server.url, retries=0)
        for n in range(len(bodies)):
            with self.assertRaises(ApiError) as caught:
                client.remove_dialogue("x", "d")
            self.assertEqual((caught.exception.status, caught.exception.code), (bodies[n][0], bodies[n][2]), n)
        self.assertEqual(len(server.requests), len(bodies))


if __name__ == "__main__":
    unittest.main()
