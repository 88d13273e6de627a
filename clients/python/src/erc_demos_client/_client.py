"""The erc-demos HTTP API (README.md, "HTTP API") as Python calls; standard library only."""

from __future__ import annotations

import http.client
import io
import json
import math
import os
import random
import re
import socket
import time
import urllib.parse
from typing import Any, Collection, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ._stream import StreamedObject, TruncatedStream
from ._types import AddDialoguesAnswer, Answer, FormatInfo, IndexInfo, PromptAnswer, RelabelAnswer, RemoveAnswer

__all__ = ["ApiError", "BatchStream", "Client", "ProtocolError", "ResponseTooLarge", "StreamError", "StreamTimeout", "StreamTooLarge"]

VERSION = "0.1.0"

#: Query options that are lists: comma-joined on GET, JSON arrays on POST.
LIST_OPTIONS = ("labels", "exclude_dialogue", "split", "corpus")

#: Client(max_response_bytes=...)'s default, 64 MiB. At the server's default limits the largest answer is a batch of
#: 10,000 demonstrations (ERC_DEMOS_MAX_DEMONSTRATIONS), about 3 MB with utterances of ordinary length: this leaves
#: room for 20 times that (long texts, raised limits), while an answer read whole costs about 5 times its size in
#: memory (60 MB of JSON: 303 MB peak; 250 MB: 1.2 GB), so a client never holds much more than 300 MB for one.
#: None: no limit.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

#: Bytes asked of the socket at once; a read returns as soon as any have arrived.
_READ_SIZE = 64 * 1024

#: What the batch() timeout defaults to: the client's.
_CLIENT_TIMEOUT: Any = object()


#: The error codes (the service's ERROR_CODES) that one status alone stands for, in the service's own JSON error
#: answers: what `ApiError.code` says when the body names no code. A 400 is one of several (INPUT_INVALID,
#: LIMIT_EXCEEDED, PROMPT_TOO_LONG, ...) and a 503 a write lock (WRITE_BUSY) or a draining server: no code is guessed.
_CODE_OF_STATUS = {401: "AUTH_REQUIRED", 403: "AUTH_FORBIDDEN", 404: "NOT_FOUND", 409: "DIALOGUE_EXISTS"}


class ApiError(Exception):
    """An error answer of the service: `status` (HTTP), `param` (the input at fault, e.g. "k" or "queries.2.labels",
    or None), `message`, and `code`, the service's error code (README, "As a library": NOT_FOUND, DIALOGUE_EXISTS,
    AUTH_REQUIRED, ...), from its `{error: {param, message, code?}}` body: the body's `code` where it gives one, else
    the one its status stands for (401 AUTH_REQUIRED, 403 AUTH_FORBIDDEN, 404 naming a `param` NOT_FOUND, 409
    DIALOGUE_EXISTS), else None (a 400: test `param`). A body that is not that JSON (a proxy's page) gives param
    and code None and a message made of the status line and the start of the body; `body` keeps the text."""

    def __init__(self, status: int, param: Optional[str], message: str, body: str = "", code: Optional[str] = None) -> None:
        super().__init__(f"HTTP {status}" + (f" ({param})" if param else "") + f": {message}")
        self.status = status
        self.param = param
        self.message = message
        self.body = body
        self.code = code

    @classmethod
    def from_body(cls, status: int, reason: str, body: bytes) -> ApiError:
        text = bytes(body).decode("utf-8", "replace")
        try:
            error = json.loads(text)["error"]
            message = error["message"]
            param = error.get("param")
            if isinstance(message, str) and (param is None or isinstance(param, str)):
                code = error.get("code")
                if not isinstance(code, str):
                    # A 404 naming no param is a route the service does not have, not a thing a write named.
                    code = _CODE_OF_STATUS.get(status) if status != 404 or param is not None else None
                return cls(status, param, message, text, code)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            pass
        snippet = " ".join(text.split())[:200]
        return cls(status, None, f"{reason or 'error'}" + (f": {snippet}" if snippet else ""), text)


class StreamError(ApiError):
    """A streamed batch answer that broke off after its 200 status line (the server failed or went away mid-answer,
    or sent what is not the expected JSON); `received` results had arrived. Not retried: they were already handed
    out. Its subclasses StreamTimeout and StreamTooLarge say when the client itself gave up."""

    def __init__(self, message: str, received: int) -> None:
        super().__init__(200, None, message)
        self.received = received


class ProtocolError(OSError):
    """What came back is not an HTTP answer, or not a well-formed one (a status line or header that is not HTTP's):
    the wrong port or scheme, or something in between that misbehaves. Not retried."""


class ResponseTooLarge(ApiError):
    """An answer longer than the client's `max_response_bytes` (`limit`): given up, its connection closed, as soon
    as its Content-Length said so or that many bytes of it had arrived; never read whole. Not retried."""

    limit: Optional[int] = None


class StreamTimeout(StreamError, TimeoutError):
    """A streamed batch answer that had not ended by the call's deadline (`timeout`); `received` results had
    arrived. Both a StreamError and a TimeoutError."""


class StreamTooLarge(StreamError, ResponseTooLarge):
    """A streamed batch answer that passed `max_response_bytes` (`limit`); `received` results had arrived."""


class _Deadline:
    """The end of one call, `seconds` after it began (None: no end), which every step of it must meet."""

    def __init__(self, seconds: Optional[float], what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.at = math.inf if seconds is None else time.monotonic() + seconds

    def left(self) -> Optional[float]:
        """The seconds left (None: no deadline); raises TimeoutError once there are none."""
        if self.seconds is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> TimeoutError:
        return TimeoutError(f"{self.what}: timed out: the call did not end within timeout={self.seconds:g} s")


class _TimedSocket:
    """A connected socket (plain or TLS) on which every send and receive ends by the call's deadline. A socket
    timeout alone bounds each read, so a server sending a byte now and then could hold a call for ever."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline
        self._readers = 0  # as socket.makefile: the socket closes once it and every reader made of it have
        self._closed = False

    def sendall(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view:
            self._sock.settimeout(self._deadline.left())
            try:
                sent = self._sock.send(view)
            except socket.timeout:
                raise self._deadline.expired() from None
            view = view[sent:]

    def recv_into(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.left())
        try:
            return self._sock.recv_into(buffer)
        except socket.timeout:
            raise self._deadline.expired() from None

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"only makefile('rb'), not {mode!r}")
        self._readers += 1
        return io.BufferedReader(_SocketReader(self))

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closed and self._readers <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._readers <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _SocketReader(io.RawIOBase):
    """What http.client reads an answer from: the socket's bytes, each read within the call's deadline."""

    def __init__(self, sock: _TimedSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.reader_closed()
        super().close()


class _TimedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose connecting, sending and reading all end by one deadline."""

    def __init__(self, host: str, port: Optional[int], deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.left())
        self._deadline = deadline
        self._create_connection = self._connect_by_deadline

    def _connect_by_deadline(self, address: Tuple[str, int], timeout: Any = None, source_address: Any = None) -> socket.socket:
        sock = socket.create_connection(address, self._deadline.left(), source_address)
        try:
            sock.settimeout(self._deadline.left())  # a TLS handshake, if one follows, gets what is left
        except BaseException:
            sock.close()
            raise
        return sock

    def connect(self) -> None:
        try:
            super().connect()
        except socket.timeout:
            raise self._deadline.expired() from None
        self.sock = _TimedSocket(self.sock, self._deadline)  # type: ignore[assignment]


class _TimedHTTPSConnection(_TimedHTTPConnection, http.client.HTTPSConnection):
    pass


class _Body:
    """One answer's body, read as it arrives: each read returns once any bytes have (by the call's deadline, which
    the socket keeps), and no more than `limit` bytes are read in all; a body that breaks off raises."""

    def __init__(self, response: http.client.HTTPResponse, limit: Optional[int], what: str) -> None:
        self._response = response
        self._limit = limit
        self._what = what
        self.size = 0
        if limit is not None and response.length is not None and response.length > limit:
            raise self._too_large(f"its Content-Length is {response.length}")

    def read(self) -> bytes:
        """The next bytes; b"" at the end."""
        response = self._response
        try:
            piece = response.read1(_READ_SIZE)
        except http.client.IncompleteRead:
            raise ConnectionResetError(f"{self._what}: the answer broke off after {self.size} bytes (the connection closed mid-answer, or its chunked framing is broken)") from None
        except http.client.HTTPException as error:
            raise ProtocolError(f"{self._what}: the answer is not well-formed HTTP ({_describe(error)})") from None
        if not piece and response.length:
            raise ConnectionResetError(f"{self._what}: the answer broke off after {self.size} of its {self.size + response.length} bytes")
        self.size += len(piece)
        if self._limit is not None and self.size > self._limit:
            raise self._too_large(f"{self.size} bytes had arrived")
        return piece

    def read_all(self) -> bytearray:
        data = bytearray()
        while True:
            piece = self.read()
            if not piece:
                return data
            data += piece

    def _too_large(self, detail: str) -> ResponseTooLarge:
        error = ResponseTooLarge(self._response.status, None, f"{self._what}: the answer is larger than max_response_bytes={self._limit} ({detail}); given up")
        error.limit = self._limit
        return error


class BatchStream(Iterator[Answer]):
    """The results of a batch, in the order of its queries, each one as it arrives. Iterate once; `took_ms` is set
    when the last result has been read. Closing it (or leaving a `with` block) before the end drops the connection,
    which stops the server's remaining work for it. Reading it is bound by the batch call's deadline (`timeout`) and
    the client's `max_response_bytes`: past either it raises StreamTimeout or StreamTooLarge (both StreamErrors)."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse, body: _Body) -> None:
        self._connection = connection
        self._response = response
        self._object = StreamedObject(body.read, "results")
        self._items = iter(self._object)
        self.took_ms: Optional[float] = None

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Answer:
        try:
            item: Answer = next(self._items)
            return item
        except StopIteration:
            took = self._object.tail.get("took_ms")
            self.took_ms = float(took) if isinstance(took, (int, float)) else None
            self.close()
            raise
        except BaseException as error:
            self.close()
            count = self._object.count
            after = f"after {count} result{'' if count == 1 else 's'}"
            if isinstance(error, TimeoutError):
                raise StreamTimeout(f"{error} ({after})", count) from None
            if isinstance(error, ResponseTooLarge):
                too_large = StreamTooLarge(f"{error.message} ({after})", count)
                too_large.limit = error.limit
                raise too_large from None
            if isinstance(error, (TruncatedStream, OSError, http.client.HTTPException)):
                raise StreamError(f"the streamed answer broke off {after}: {error}", count) from error
            raise

    def close(self) -> None:
        _close(self._connection, self._response)

    def __enter__(self) -> BatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Scalar = Union[str, int, float, bool]
Query = Union[str, Mapping[str, Any]]


class Client:
    """A client of one erc-demos service.

    `timeout` (seconds; None: none) is a deadline for each whole call: connecting, sending, any retries and the
    waits between them, and reading the whole answer (for batch(), until its last result has been read; batch()
    takes its own `timeout=`). Past it the call raises TimeoutError (StreamTimeout from a batch's results),
    however slowly or steadily the bytes were arriving (only resolving the host name, the system's, is not bound
    by it). A 503 (a replica draining, or a proxy without a ready one)
    and a connection refused, reset or broken before the whole answer has arrived are retried up to `retries`
    times, after `backoff`, twice that, and so on (a numeric Retry-After is followed, up to 10 s), while the
    deadline leaves time for the wait; a 4xx never is. An answer longer than `max_response_bytes` (default
    MAX_RESPONSE_BYTES, 64 MiB; None: no limit) is given up as soon as it is known to be: ResponseTooLarge.
    Other failures raise `ApiError` (an answer) or `OSError` (no usable answer: the last connection error,
    ProtocolError for bytes that are not HTTP); never an http.client exception.

    `api_key` (else the environment variable ERC_DEMOS_API_KEY, when set and not empty) is sent with every request
    as `Authorization: Bearer <key>`, for a service with API keys (`erc-demos keys new` makes one); a 401 (no key,
    or not one of the service's) or 403 (the key may not use that index) raises ApiError with `param`
    "authorization" or the index parameter. The key is never shown (repr, errors)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        timeout: Optional[float] = 30.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_response_bytes: Optional[int] = MAX_RESPONSE_BYTES,
        api_key: Optional[str] = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\x00-\x20\x7f]", base_url):
            raise ValueError(f"base_url must be an http:// or https:// URL (without spaces or control characters), not {base_url!r}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        _check_timeout(timeout)
        if max_response_bytes is not None and (isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1):
            raise ValueError(f"max_response_bytes must be a whole number of bytes, 1 or more, or None, not {max_response_bytes!r}")
        self.base_url = base_url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_response_bytes = max_response_bytes
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        if api_key is None:
            api_key = os.environ.get("ERC_DEMOS_API_KEY") or None
        if api_key is not None and (not isinstance(api_key, str) or not re.fullmatch(r"[A-Za-z0-9._~+/-]+=*", api_key)):
            # Never quote it: an error message may end up in a log.
            raise ValueError("api_key (or ERC_DEMOS_API_KEY) must be a key as `erc-demos keys new` prints it: letters, digits and - . _ ~ + /")
        self._authorization = None if api_key is None else f"Bearer {api_key}"

    def __repr__(self) -> str:
        key = ", api_key=<set>" if self._authorization else ""
        return f"Client({self.base_url!r}, timeout={self.timeout!r}, retries={self.retries!r}, max_response_bytes={self.max_response_bytes!r}{key})"

    # --- the routes ---------------------------------------------------------------------------------------------

    def demonstrations(
        self,
        utterance: str,
        *,
        k: Optional[int] = None,
        index: Optional[str] = None,
        labels: Optional[Sequence[str]] = None,
        strategy: Optional[str] = None,
        lambda_: Optional[float] = None,
        exclude_dialogue: Optional[Sequence[str]] = None,
        dialogue: Optional[str] = None,
        cross_fit: Optional[bool] = None,
        split: Optional[Sequence[str]] = None,
        corpus: Optional[Sequence[str]] = None,
        dedup: Optional[bool] = None,
        **options: Scalar,
    ) -> Answer:
        """GET /demonstrations: `{index, embedder, took_ms, demonstrations: [...]}`, best first. List options are
        joined by commas; `lambda_` is sent as `lambda` (a Python keyword); other keyword options pass through."""
        given: Dict[str, Any] = dict(
            utterance=utterance, k=k, index=index, labels=labels, strategy=strategy, exclude_dialogue=exclude_dialogue,
            dialogue=dialogue, cross_fit=cross_fit, split=split, corpus=corpus, dedup=dedup, **options,
        )
        if lambda_ is not None:
            given["lambda"] = lambda_
        query = urllib.parse.urlencode([(name, _query_value(value)) for name, value in given.items() if value is not None])
        result: Answer = self._json("GET", f"/demonstrations?{query}")
        return result

    def batch(self, queries: Iterable[Query], *, timeout: Optional[float] = _CLIENT_TIMEOUT) -> BatchStream:
        """POST /demonstrations: one result per query, in order, read as the server streams them. Each query is an
        utterance or a dict of GET's options (lists as lists; a comma-separated string is split). The request is
        sent now: a bad query raises ApiError here, naming it by position (`queries.2.k`). `timeout` (default: the
        client's; None: none) is this call's deadline, from now until the last result has been read, the time your
        code spends between results included: give a long batch more."""
        if timeout is not _CLIENT_TIMEOUT:
            _check_timeout(timeout)
        body = {"queries": [_batch_query(query) for query in queries]}
        deadline = _Deadline(self.timeout if timeout is _CLIENT_TIMEOUT else timeout, "POST /demonstrations")
        connection, response, _ = self._exchange("POST", "/demonstrations", body, deadline, stream=True)
        try:
            reader = _Body(response, self.max_response_bytes, deadline.what)
        except BaseException:
            _close(connection, response)
            raise
        return BatchStream(connection, response, reader)

    def prompt(
        self,
        format: Union[str, Mapping[str, Any]],
        dialogue: Union[Mapping[str, Any], Sequence[Mapping[str, Any]]],
        target: int,
        options: Optional[Mapping[str, Any]] = None,
        index: Optional[str] = None,
    ) -> PromptAnswer:
        """POST /prompts: one whole prompt for turn `target` of `dialogue` (`{turns: [{speaker, text, label?}], id?,
        corpus?}`, or the list of turns), in a built-in format (GET /formats) or a format object. Answers `{prompt,
        target, demonstrations, took_ms}`."""
        body: Dict[str, Any] = {
            "format": format,
            "dialogue": dict(dialogue) if isinstance(dialogue, Mapping) else {"turns": list(dialogue)},
            "target": target,
        }
        if options is not None:
            body["options"] = {name: _list_option(name, value) for name, value in options.items()}
        if index is not None:
            body["index"] = index
        result: PromptAnswer = self._json("POST", "/prompts", body)
        return result

    # --- live writes (a service with API keys: a key of scope write) -------------------------------------------

    def add_dialogues(self, index: str, dialogues: Sequence[Mapping[str, Any]]) -> AddDialoguesAnswer:
        """POST /indexes/{index}/dialogues: adds dialogues to a served index, durably, each `{id, corpus?, split?,
        turns: [{speaker, text, label (or labels: [...]), scores?, source_id?}]}`. Answers `{index, seq, took_ms,
        dialogues: [{id, rows}]}` (201), each dialogue's id as the index names it (the id to relabel or remove it
        by). The whole batch is written or nothing: a bad field is a 400 naming it (`dialogues.0.turns.2.label`), an id
        the index holds a 409 (code DIALOGUE_EXISTS). Like every write, not retried once sent (see relabel)."""
        if isinstance(dialogues, (str, bytes, Mapping)) or not isinstance(dialogues, Iterable):
            raise TypeError(f"dialogues must be a list of dialogues (dicts), not {type(dialogues).__name__}")
        result: AddDialoguesAnswer = self._json("POST", f"/indexes/{_segment('index', index)}/dialogues", {"dialogues": [_plain(d) for d in dialogues]}, idempotent=False)
        return result

    def relabel(self, index: str, dialogue: str, turn: int, label: Union[str, Sequence[str]]) -> RelabelAnswer:
        """PATCH /indexes/{index}/dialogues/{dialogue}/turns/{turn}: gives turn `turn` (from 0) of a dialogue new
        gold labels: `label` a label (sent as `{label}`) or a list of them (`{labels}`, a multi-label index), in the
        index's label space or its corpus' own names. Answers `{index, seq, took_ms, dialogue, turn, id, labels,
        source_labels}`; an unknown dialogue or turn is a 404 (code NOT_FOUND) naming `dialogue` or `turn`.

        Writes are retried only when they cannot have been done: a 503 (WRITE_BUSY: nothing was written; a server
        draining) or a connection that failed before the request was sent. A connection that breaks after it was
        sent raises (ConnectionError): the write may have been done; check, or send it again (an add then answers
        409 if it was)."""
        if isinstance(turn, bool) or not isinstance(turn, int) or turn < 0:
            raise ValueError(f"turn must be a whole number, 0 or more, not {turn!r}")
        if isinstance(label, str):
            body: Dict[str, Any] = {"label": label}
        elif isinstance(label, Iterable) and not isinstance(label, (bytes, Mapping)):
            body = {"labels": list(label)}
        else:
            raise TypeError(f"label must be a label (str) or a list of labels, not {type(label).__name__}")
        path = f"/indexes/{_segment('index', index)}/dialogues/{_segment('dialogue', dialogue)}/turns/{turn}"
        result: RelabelAnswer = self._json("PATCH", path, body, idempotent=False)
        return result

    def remove_dialogue(self, index: str, dialogue: str) -> RemoveAnswer:
        """DELETE /indexes/{index}/dialogues/{dialogue}: removes a dialogue (its id as the index names it, e.g.
        "train/s01", sent URL-encoded); its utterances are never returned again. Answers `{index, seq, took_ms,
        dialogue, removed}`; a dialogue the index does not hold is a 404 (code NOT_FOUND) naming `dialogue`."""
        result: RemoveAnswer = self._json("DELETE", f"/indexes/{_segment('index', index)}/dialogues/{_segment('dialogue', dialogue)}", idempotent=False)
        return result

    def indexes(self) -> List[IndexInfo]:
        """GET /indexes: the served indexes, `[{name, manifest}]`."""
        result: List[IndexInfo] = self._json("GET", "/indexes")["indexes"]
        return result

    def formats(self) -> List[FormatInfo]:
        """GET /formats: the built-in prompt formats, as objects (each with its `name`)."""
        result: List[FormatInfo] = self._json("GET", "/formats")["formats"]
        return result

    def health(self) -> Dict[str, Any]:
        """GET /healthz, tried once: `{status: "ok", indexes}`, or `{status: "draining"}` (a 503, not raised) once the
        server has begun to shut down. A connection error is raised as it is."""
        response, data = self._call("GET", "/healthz", retry=False, keep=(503,))
        if response.status in (200, 503):
            try:
                result: Dict[str, Any] = json.loads(data)
                return result
            except (ValueError, RecursionError):
                pass
        raise ApiError.from_body(response.status, response.reason, data)

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: Any = None, *, idempotent: bool = True) -> Any:
        response, data = self._call(method, path, body, idempotent=idempotent)
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise ApiError(response.status, None, f"the answer is not JSON: {bytes(data[:200])!r}", bytes(data).decode("utf-8", "replace")) from None

    def _call(
        self, method: str, path: str, body: Any = None, *, retry: bool = True, keep: Collection[int] = (), idempotent: bool = True,
    ) -> Tuple[http.client.HTTPResponse, bytearray]:
        """One whole call within the client's timeout: the answer and its body."""
        deadline = _Deadline(self.timeout, f"{method} {path.split('?', 1)[0]}")
        connection, response, data = self._exchange(method, path, body, deadline, retry=retry, keep=keep, idempotent=idempotent)
        assert data is not None
        return response, data

    def _exchange(
        self, method: str, path: str, body: Any, deadline: _Deadline, *, stream: bool = False, retry: bool = True, keep: Collection[int] = (),
        idempotent: bool = True,
    ) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse, Optional[bytearray]]:
        """Sends until an answer other than 503, or until the retries or the deadline are spent. A 2xx, or a status
        in `keep`, comes back with its body read and its connection closed, or (`stream`) with its connection open
        for reading; any other status raises ApiError. A refused or reset connection, or a body cut off, is tried
        again while retries and time are left; not `idempotent` (a write), only while the request was not yet sent
        whole: once it was, the server may have done it."""
        what = deadline.what
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json", "User-Agent": f"erc-demos-client-python/{VERSION}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            connection = self._connection(deadline)
            response: Optional[http.client.HTTPResponse] = None
            sent = False
            try:
                connection.request(method, self._prefix + path, body=payload, headers=headers)
                sent = True
                try:
                    response = connection.getresponse()
                except http.client.RemoteDisconnected:
                    raise ConnectionResetError(f"{what}: the server closed the connection without answering") from None
                except http.client.HTTPException as error:
                    raise ProtocolError(f"{what}: the answer is not HTTP ({_describe(error)})") from None
                if 200 <= response.status < 300 or response.status in keep:
                    if stream:
                        return connection, response, None
                    data = _Body(response, self.max_response_bytes, what).read_all()
                    _close(connection, response)
                    return connection, response, data
            except ConnectionError as error:
                _close(connection, response)
                if sent and not idempotent:
                    raise type(error)(f"{what}: {error}; not retried: the request was sent, so the write may have been done") from error
                if last or not self._wait(attempt, None, deadline):
                    raise
                continue
            except BaseException:
                _close(connection, response)
                raise
            data = self._error_body(response, what)
            _close(connection, response)
            if response.status == 503 and not last and self._wait(attempt, response.getheader("Retry-After"), deadline):
                continue
            raise ApiError.from_body(response.status, response.reason, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error_body(self, response: http.client.HTTPResponse, what: str) -> bytes:
        """As much of an error answer's body as arrives whole, within the deadline and max_response_bytes: the error
        is its status either way."""
        data = bytearray()
        try:
            reader = _Body(response, self.max_response_bytes, what)
            while True:
                piece = reader.read()
                if not piece:
                    break
                data += piece
        except (OSError, ApiError):
            pass
        return bytes(data)

    def _connection(self, deadline: _Deadline) -> http.client.HTTPConnection:
        if self._https:
            return _TimedHTTPSConnection(self._host, self._port, deadline)
        return _TimedHTTPConnection(self._host, self._port, deadline)

    def _wait(self, attempt: int, retry_after: Optional[str], deadline: _Deadline) -> bool:
        """Waits before the next try; False (no next try: the caller raises the last failure) when the deadline
        would pass first, or did while waiting."""
        delay = self.backoff * (2 ** attempt) * (1 + 0.25 * random.random())
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), 10.0))
        if time.monotonic() + delay >= deadline.at:
            return False
        time.sleep(delay)
        return time.monotonic() < deadline.at


def _close(connection: http.client.HTTPConnection, response: Optional[http.client.HTTPResponse]) -> None:
    """Closes a connection and its answer: an answer marked Connection: close holds the socket once the connection
    has let go of it, so closing the connection alone would leave it open."""
    try:
        connection.close()
    finally:
        if response is not None:
            response.close()


def _check_timeout(timeout: Optional[float]) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0 or timeout == math.inf):
        raise ValueError(f"timeout must be a number of seconds above 0, or None, not {timeout!r}")


def _describe(error: http.client.HTTPException) -> str:
    """An http.client exception in words: its class and what it holds (a bad status line's first bytes)."""
    text = str(error) or repr(error)
    return f"{type(error).__name__}: {text[:200]}"


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    if isinstance(value, float):
        return _plain_decimal(value)
    return str(value)


def _plain_decimal(value: float) -> str:
    """A float as plain digits: the server reads numbers in a query strictly (no exponent: 1e-05 is refused), so
    0.00001 goes as "0.00001". repr gives the shortest digits that read back as the same float; they are shifted by
    the exponent rather than printed with a fixed number of places, which would round or pad them."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {value!r}")
    text = repr(value)
    if "e" not in text and "E" not in text:
        return text
    sign = "-" if text.startswith("-") else ""
    mantissa, exponent = text.lstrip("-").lower().split("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}".rstrip("0").rstrip(".")
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"



def _segment(name: str, value: str) -> str:
    """An index name or dialogue id as one path segment: URL-encoded whole ("train/s01" is "train%2Fs01")."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return urllib.parse.quote(value, safe="")


def _plain(value: Any) -> Any:
    """A dialogue as JSON takes it: mappings as dicts, tuples and other sequences as lists, all the way down."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _list_option(name: str, value: Any) -> Any:
    """A list option given as "a,b" becomes ["a", "b"] (the form GET takes); anything else goes as it is."""
    if name in LIST_OPTIONS and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return value


def _batch_query(query: Query) -> Dict[str, Any]:
    if isinstance(query, str):
        return {"utterance": query}
    out = {("lambda" if name == "lambda_" else name): _list_option(name, value) for name, value in query.items() if value is not None}
    return out
