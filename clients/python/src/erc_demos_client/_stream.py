"""Reads a streamed JSON object `{"<key>": [item, item, ...], ...tail}` item by item as its bytes arrive.

The server (src/server/stream-json.ts) writes `{"results":[` then each result (comma-separated) as it is ready, then
`],"took_ms":...}`. Each item is handed out as soon as its closing brace has arrived (not when the next one starts),
and only the bytes not yet decoded are kept; multi-byte characters split between reads are joined first.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, Callable, Dict, Iterator

_WHITESPACE = " \t\n\r"


class TruncatedStream(Exception):
    """The bytes ended, or stopped being the expected JSON, before the object closed."""


class StreamedObject:
    """Iterate for the items of `key`; once iteration has ended, `tail` holds the object's other fields."""

    def __init__(self, read: Callable[[], bytes], key: str) -> None:
        self._read = read
        self._key = key
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.tail: Dict[str, Any] = {}
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        self._expect("{")
        if self._peek() == "}":
            raise TruncatedStream(f'the answer has no "{self._key}" list')
        seen = False
        while True:
            name = self._value()
            if not isinstance(name, str):
                raise TruncatedStream("expected a field name")
            self._expect(":")
            if name == self._key and not seen:
                seen = True
                yield from self._items()
            else:
                self.tail[name] = self._value()
            if self._expect(",}") == "}":
                break
        if not seen:
            raise TruncatedStream(f'the answer has no "{self._key}" list')
        if self._peek() != "":
            raise TruncatedStream("text after the end of the answer")

    def _items(self) -> Iterator[Any]:
        self._expect("[")
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            item = self._value()
            self.count += 1
            yield item
            if self._expect(",]") == "]":
                return

    def _fill(self) -> bool:
        """Reads more; False at the end of the bytes."""
        if self._eof:
            return False
        chunk = self._read()
        if self._pos:
            self._buf, self._pos = self._buf[self._pos:], 0
        if not chunk:
            self._eof = True
            self._buf += self._decoder.decode(b"", final=True)
            return False
        self._buf += self._decoder.decode(chunk)
        return True

    def _peek(self) -> str:
        """The next character that is not whitespace, without taking it; "" at the end."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _expect(self, allowed: str) -> str:
        found = self._peek()
        if found == "" or found not in allowed:
            where = "the end of the answer" if found == "" else repr(found)
            raise TruncatedStream(f"expected one of {' '.join(allowed)} but found {where}")
        self._pos += 1
        return found

    def _value(self) -> Any:
        """One JSON value, taken as soon as it is complete."""
        if self._peek() == "":
            raise TruncatedStream("the answer ends where a value was expected")
        while True:
            try:
                value, end = self._json.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as error:
                if not self._fill():
                    raise TruncatedStream(f"the answer ends inside a value ({error.msg})") from None
                continue
            # An object, array, string or literal is whole at its last character; a number only once one follows.
            if end < len(self._buf) or self._buf[end - 1] in '}]"el':
                self._pos = end
                return value
            if not self._fill():
                raise TruncatedStream("the answer ends after a value, before the object closes")
