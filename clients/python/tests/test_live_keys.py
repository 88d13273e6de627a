"""The client's API key (`api_key=`, else ERC_DEMOS_API_KEY) against a real `erc-demos serve` with a keys file.

Node is `node` on the PATH, or ERC_DEMOS_NODE (the vitest wrapper passes its own). Without it these tests are
skipped, saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import unittest
from typing import Optional
from unittest import mock

from _live import LiveServe, erc_demos
from erc_demos_client import ApiError, Client

_live: Optional[LiveServe] = None
BASE_URL = ""
READER = ""  # a read key for every index, given in the file by its hash
LIMITED = ""  # a read key for index "a" only


def _new_key(name: str, *extra: str) -> "tuple[str, dict]":
    key, entry = erc_demos("keys", "new", "--name", name, "--scope", "read", *extra, timeout=60).stdout.splitlines()
    return key, json.loads(entry)


def setUpModule() -> None:
    global _live, BASE_URL, READER, LIMITED
    _live = LiveServe("erc-demos-py-keys-")
    READER, reader_entry = _new_key("reader")
    LIMITED, limited_entry = _new_key("limited", "--index", "a")
    assert reader_entry["sha256"] == hashlib.sha256(READER.encode()).hexdigest()
    keys = os.path.join(_live.tmp, "keys.json")
    with open(keys, "w", encoding="utf-8") as f:
        json.dump({"keys": [reader_entry, limited_entry]}, f)
    BASE_URL = _live.start(["--index", f"a={_live.index}", "--index", f"b={_live.index}", "--keys", keys])


def tearDownModule() -> None:
    if _live is not None:
        _live.stop()


class LiveKeysTest(unittest.TestCase):
    def test_api_key_argument_is_sent_as_bearer(self) -> None:
        client = Client(BASE_URL, timeout=60, api_key=READER)
        self.assertEqual(len(client.demonstrations("Hello there.", k=2, index="b")["demonstrations"]), 2)
        self.assertEqual([i["name"] for i in client.indexes()], ["a", "b"])
        self.assertNotIn(READER, repr(client))
        self.assertIn("api_key=<set>", repr(client))

    def test_environment_variable_is_the_fallback(self) -> None:
        with mock.patch.dict(os.environ, {"ERC_DEMOS_API_KEY": LIMITED}):
            client = Client(BASE_URL, timeout=60)
        self.assertEqual(client.demonstrations("Hello there.", k=1, index="a")["index"], "a")
        self.assertEqual([i["name"] for i in client.indexes()], ["a"])
        # The argument wins over the variable.
        with mock.patch.dict(os.environ, {"ERC_DEMOS_API_KEY": LIMITED}):
            self.assertEqual(len(Client(BASE_URL, timeout=60, api_key=READER).indexes()), 2)

    def test_no_key_or_a_wrong_one_is_401_naming_authorization(self) -> None:
        with mock.patch.dict(os.environ, {"ERC_DEMOS_API_KEY": ""}):
            for client in (Client(BASE_URL, timeout=60, retries=0), Client(BASE_URL, timeout=60, api_key=READER[:-1] + ("A" if READER[-1] != "A" else "B"))):
                with self.assertRaises(ApiError) as caught:
                    client.demonstrations("Hello there.", index="a")
                self.assertEqual(caught.exception.status, 401)
                self.assertEqual(caught.exception.param, "authorization")
                self.assertNotIn(READER[:-1], str(caught.exception) + caught.exception.body)

    def test_a_key_for_another_index_is_403_naming_the_parameter(self) -> None:
        client = Client(BASE_URL, timeout=60, api_key=LIMITED)
        with self.assertRaises(ApiError) as caught:
            client.demonstrations("Hello there.", index="b")
        self.assertEqual((caught.exception.status, caught.exception.param), (403, "index"))
        with self.assertRaises(ApiError) as caught:
            list(client.batch([{"utterance": "Hi.", "index": "a"}, {"utterance": "Ho.", "index": "b"}]))
        self.assertEqual((caught.exception.status, caught.exception.param), (403, "queries.1.index"))

    def test_a_malformed_key_is_refused_without_quoting_it(self) -> None:
        with self.assertRaises(ValueError) as caught:
            Client(BASE_URL, api_key="secret with spaces\r\nX-Injected: 1")
        self.assertNotIn("secret", str(caught.exception))

    def test_zz_the_key_is_in_no_line_the_server_wrote(self) -> None:
        # Named to run last in this class: by then every request above has been logged.
        Client(BASE_URL, timeout=60, api_key=LIMITED).health()
        time.sleep(0.3)
        output = "".join(_live.output if _live else [])
        self.assertIn('"key":"limited"', output)
        for key in (READER, LIMITED):
            self.assertNotIn(key, output)


if __name__ == "__main__":
    unittest.main()
