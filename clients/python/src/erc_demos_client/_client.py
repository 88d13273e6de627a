"""The erc-demos HTTP API (README.md, "HTTP API") as Python calls; standard library only."""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.parse
from typing import Any, Collection, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ._stream import StreamedObject, TruncatedStream
from ._types import Answer, FormatInfo, IndexInfo, PromptAnswer

__all__ = ["ApiError", "BatchStream", "Client", "StreamError"]

VERSION = "0.1.0"

#: Query options that are lists: comma-joined on GET, JSON arrays on POST.
LIST_OPTIONS = ("labels", "exclude_dialogue", "split", "corpus")

#: A retried failure: the connection refused, reset or broken (a replica restarting or draining).
_RETRIED_ERRORS = (ConnectionError,)

class ApiError(Exception):
    """An error answer of the service: `status` (HTTP), `param` (the input at fault, e.g. "k" or "queries.2.labels",
    or None) and `message`, from its `{error: {param, message}}` body. A body that is not that JSON (a proxy's page)
    gives param None and a message made of the status line and the start of the body; `body` keeps the text."""

    def __init__(self, status: int, param: Optional[str], message: str, body: str = "") -> None:
        super().__init__(f"HTTP {status}" + (f" ({param})" if param else "") + f": {message}")
        self.status = status
        self.param = param
        self.message = message
        self.body = body

    @classmethod
    def from_body(cls, status: int, reason: str, body: bytes) -> ApiError:
        text = body.decode("utf-8", "replace")
        try:
            error = json.loads(text)["error"]
            message = error["message"]
            param = error.get("param")
            if isinstance(message, str) and (param is None or isinstance(param, str)):
                return cls(status, param, message, text)
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
        snippet = " ".join(text.split())[:200]
        return cls(status, None, f"{reason or 'error'}" + (f": {snippet}" if snippet else ""), text)


class StreamError(ApiError):
    """A streamed batch answer that broke off after its 200 status line (the server failed or went away mid-answer);
    `received` results had arrived. Not retried: they were already handed out."""

    def __init__(self, message: str, received: int) -> None:
        super().__init__(200, None, message)
        self.received = received


class BatchStream(Iterator[Answer]):
    """The results of a batch, in the order of its queries, each one as it arrives. Iterate once; `took_ms` is set
    when the last result has been read. Closing it (or leaving a `with` block) before the end drops the connection,
    which stops the server's remaining work for it."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        self._connection = connection
        self._response = response
        self._object = StreamedObject(lambda: response.read1(65536), "results")
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
        except (TruncatedStream, OSError, http.client.HTTPException) as error:
            self.close()
            raise StreamError(f"the streamed answer broke off after {self._object.count} results: {error}", self._object.count) from error

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> BatchStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Scalar = Union[str, int, float, bool]
Query = Union[str, Mapping[str, Any]]


class Client:
    """A client of one erc-demos service.

    `timeout` bounds connecting and each read, in seconds. A 503 (a replica draining, or a proxy without a ready
    one) and a connection refused, reset or broken are retried up to `retries` times, after `backoff`, twice that,
    and so on (a numeric Retry-After is followed, up to 10 s); a 4xx never is. Other failures raise `ApiError` (an
    answer) or `OSError` (no answer: the last connection error, a timeout)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8080", timeout: float = 30.0, retries: int = 3, backoff: float = 0.2) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http:// or https:// URL, not {base_url!r}")
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.base_url = base_url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, timeout={self.timeout!r}, retries={self.retries!r})"

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

    def batch(self, queries: Iterable[Query]) -> BatchStream:
        """POST /demonstrations: one result per query, in order, read as the server streams them. Each query is an
        utterance or a dict of GET's options (lists as lists; a comma-separated string is split). The request is
        sent now: a bad query raises ApiError here, naming it by position (`queries.2.k`)."""
        body = {"queries": [_batch_query(query) for query in queries]}
        connection, response = self._send("POST", "/demonstrations", body)
        return BatchStream(connection, response)

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
        connection, response = self._send("GET", "/healthz", retry=False, keep=(503,))
        try:
            data = response.read()
        finally:
            connection.close()
        if response.status in (200, 503):
            try:
                result: Dict[str, Any] = json.loads(data)
                return result
            except ValueError:
                pass
        raise ApiError.from_body(response.status, response.reason, data)

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        connection, response = self._send(method, path, body)
        try:
            data = response.read()
        finally:
            connection.close()
        try:
            return json.loads(data)
        except ValueError:
            raise ApiError(response.status, None, f"the answer is not JSON: {data[:200]!r}", data.decode("utf-8", "replace")) from None

    def _send(self, method: str, path: str, body: Any = None, *, retry: bool = True, keep: Collection[int] = ()) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Sends until an answer other than 503 (or the retries are spent). A 2xx, or a status in `keep`, comes back
        with its connection open for reading; any other status raises ApiError."""
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json", "User-Agent": f"erc-demos-client-python/{VERSION}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            connection = self._connection()
            try:
                connection.request(method, self._prefix + path, body=payload, headers=headers)
                response = connection.getresponse()
            except _RETRIED_ERRORS:
                connection.close()
                if last:
                    raise
                self._sleep(attempt, None)
                continue
            except BaseException:
                connection.close()
                raise
            if 200 <= response.status < 300 or response.status in keep:
                return connection, response
            try:
                data = response.read()
            except (OSError, http.client.HTTPException):
                data = b""
            finally:
                connection.close()
            if response.status == 503 and not last:
                self._sleep(attempt, response.getheader("Retry-After"))
                continue
            raise ApiError.from_body(response.status, response.reason, data)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _sleep(self, attempt: int, retry_after: Optional[str]) -> None:
        delay = self.backoff * (2 ** attempt) * (1 + 0.25 * random.random())
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), 10.0))
        time.sleep(delay)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    return str(value)


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
