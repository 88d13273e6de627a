"""Reads a streamed JSON object `{"<key>": [item, item, ...], ...tail}` item by item as its bytes arrive.

The server (src/server/stream-json.ts) writes `{"results":[` then each result (comma-separated) as it is ready, then
`],"took_ms":...}`. Each item is handed out as soon as its closing brace has arrived (not when the next one starts),
and only the bytes not yet decoded are kept; multi-byte characters split between reads are joined first.

Linear in the answer's size, however its bytes are split: a value's end is found by scanning each character once as
it arrives (`_ValueEnd`: brackets counted outside strings, a string's end found with str.find), and the value is
decoded once, when whole. (Decoding again from the value's start on every read was quadratic: a 2.2 MB result read
in 4 KiB pieces took 20 s.)
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, Callable, Dict, Iterator, List, Optional

_SPACE = re.compile(r"[ \t\n\r]*")
#: Outside strings, what changes the depth or opens a string.
_STRUCTURE = re.compile(r'["\[\]{}]')
#: The rest of a string without escapes, its closing quote included.
_PLAIN_STRING_REST = re.compile(r'[^"\\]*"')
#: The end of a number or literal (true, false, null): the first character that cannot be part of one.
_SCALAR_END = re.compile(r'[\s,:\[\]{}"]')


class TruncatedStream(Exception):
    """The bytes ended, or stopped being the expected JSON, before the object closed."""


class _ValueEnd:
    """Where one JSON value ends, fed its text piece by piece from its first character; each character is looked at
    once, so finding the end of a value of n characters costs O(n) however it was split. It checks only the nesting,
    not the grammar: the value is then decoded whole (json), which does."""

    __slots__ = ("depth", "in_string", "backslashes", "scalar", "started")

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.backslashes = 0  # inside a string: the run of backslashes that ended the text fed so far
        self.scalar = False
        self.started = False

    def feed(self, text: str, pos: int = 0) -> int:
        """The index in `text` just past the value's last character, or -1 when the value goes on after `text`."""
        end = len(text)
        while pos < end:
            if self.in_string:
                quote = text.find('"', pos)
                if quote < 0:
                    self.backslashes = _run_of_backslashes(text, pos, end, self.backslashes)
                    return -1
                escaped = (text[quote - 1] == "\\" if quote > pos else self.backslashes > 0) and _run_of_backslashes(text, pos, quote, self.backslashes) % 2 == 1
                self.backslashes = 0
                pos = quote + 1
                if escaped:
                    continue
                self.in_string = False
                if self.depth == 0:
                    return pos
                continue
            if not self.started:
                self.started = True
                self.scalar = text[pos] not in '"[{'
            if self.scalar:
                found = _SCALAR_END.search(text, pos)
                return -1 if found is None else found.start()
            found = _STRUCTURE.search(text, pos)
            if found is None:
                return -1
            pos = found.end()
            char = text[pos - 1]
            if char == '"':
                plain = _PLAIN_STRING_REST.match(text, pos)  # the usual string: no escapes, its end in this piece
                if plain is None:
                    self.in_string = True
                    continue
                pos = plain.end()
                if self.depth == 0:
                    return pos
            elif char in "[{":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth <= 0:
                    return pos
        return -1


def _run_of_backslashes(text: str, start: int, stop: int, carried: int) -> int:
    """The backslashes just before `stop` (not before `start`); if they reach back to `start`, plus `carried` (the
    run that ended the previous piece)."""
    at = stop
    while at > start and text[at - 1] == "\\":
        at -= 1
    return stop - at + (carried if at == start else 0)


class StreamedObject:
    """Iterate for the items of `key`; once iteration has ended, `tail` holds the object's other fields. `read`
    returns the next bytes (b"" at the end)."""

    def __init__(self, read: Callable[[], bytes], key: str) -> None:
        self._read = read
        self._key = key
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buf = ""  # the text read and not yet taken is self._buf[self._pos:]
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

    def _more(self) -> Optional[str]:
        """The text of the next bytes ("" when they end inside a character); None at the end of the bytes."""
        if self._eof:
            return None
        chunk = self._read()
        try:
            if not chunk:
                self._eof = True
                rest = self._decoder.decode(b"", final=True)
                return rest or None
            return self._decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise TruncatedStream(f"the answer is not UTF-8 ({error.reason})") from None

    def _fill(self) -> bool:
        """Reads more into the buffer; False at the end of the bytes."""
        text = self._more()
        if text is None:
            return False
        self._buf, self._pos = self._buf[self._pos:] + text, 0
        return True

    def _peek(self) -> str:
        """The next character that is not whitespace, without taking it; "" at the end."""
        while True:
            self._pos = _SPACE.match(self._buf, self._pos).end()
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
        """One JSON value, taken as soon as it is complete (its last character read; a number once one follows)."""
        if self._peek() == "":
            raise TruncatedStream("the answer ends where a value was expected")
        start = self._pos
        finder = _ValueEnd()
        end = finder.feed(self._buf, start)
        if end < 0:
            pieces: List[str] = [self._buf[start:]]
            length = len(pieces[0])
            while end < 0:
                text = self._more()
                if text is None:
                    raise TruncatedStream("the answer ends inside a value" if finder.depth or finder.in_string or not finder.scalar
                                          else "the answer ends after a value, before the object closes")
                end = finder.feed(text)
                pieces.append(text)
                if end < 0:
                    length += len(text)
            end += length
            self._buf, start = "".join(pieces), 0
        try:
            value, stop = self._json.raw_decode(self._buf, start)
        except json.JSONDecodeError as error:
            raise TruncatedStream(f"the answer is not the expected JSON ({error.msg} at character {error.pos - start} of a value)") from None
        except RecursionError:
            raise TruncatedStream("the answer is not the expected JSON (a value nested too deeply to decode)") from None
        if stop != end:
            raise TruncatedStream(f"the answer is not the expected JSON (a value of {end - start} characters ends after {stop - start})")
        self._pos = end
        return value
