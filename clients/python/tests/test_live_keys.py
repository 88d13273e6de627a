"""The client's API key (`api_key=`, else ERC_DEMOS_API_KEY) against a real `erc-demos serve` with a keys file.

Node is `node` on the PATH, or ERC_DEMOS_NODE (the vitest wrapper passes its own). Without it these tests are
skipped, saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import List, Optional
from unittest import mock

try:
    import erc_demos_client  # noqa: F401
except ImportError:  # run from a checkout without installing: the package's source folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from erc_demos_client import ApiError, Client

REPO = Path(__file__).resolve().parents[3]
BIN = REPO / "bin" / "erc-demos.mjs"
SAMPLE = REPO / "data" / "sample" / "sample.jsonl"
NODE = os.environ.get("ERC_DEMOS_NODE") or shutil.which("node")
START_TIMEOUT_S = 240

_tmp: Optional[str] = None
_server: Optional[subprocess.Popen] = None
_output: List[str] = []
BASE_URL = ""
READER = ""  # a read key for every index, given in the file by its hash
LIMITED = ""  # a read key for index "a" only


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ERC_DEMOS_API_KEY"}
    env.setdefault("ERC_DEMOS_EMBED_THREADS", "1")  # a test run shares its cores
    return env


def _new_key(name: str, *extra: str) -> "tuple[str, dict]":
    made = subprocess.run([NODE, str(BIN), "keys", "new", "--name", name, "--scope", "read", *extra], cwd=REPO, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60, check=True)
    key, entry = made.stdout.splitlines()
    return key, json.loads(entry)


def setUpModule() -> None:
    global _tmp, _server, BASE_URL, READER, LIMITED
    if not NODE or not BIN.exists():
        raise unittest.SkipTest(f"needs node and {BIN} (set ERC_DEMOS_NODE): the live-server tests are skipped")
    _tmp = tempfile.mkdtemp(prefix="erc-demos-py-keys-")
    index = os.path.join(_tmp, "sample")
    build = subprocess.run(
        [NODE, str(BIN), "build", "--corpus", "jsonl", "--data", str(SAMPLE), "--corpus-name", "sample", "--projection", "none", "--out", index],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=START_TIMEOUT_S,
    )
    if build.returncode != 0:
        raise RuntimeError(f"erc-demos build failed ({build.returncode}):\n{build.stderr}")
    READER, reader_entry = _new_key("reader")
    LIMITED, limited_entry = _new_key("limited", "--index", "a")
    assert reader_entry["sha256"] == hashlib.sha256(READER.encode()).hexdigest()
    keys = os.path.join(_tmp, "keys.json")
    with open(keys, "w", encoding="utf-8") as f:
        json.dump({"keys": [reader_entry, limited_entry]}, f)
    _server = subprocess.Popen(
        [NODE, str(BIN), "serve", "--index", f"a={index}", "--index", f"b={index}", "--port", "0", "--keys", keys],
        cwd=REPO, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    found = threading.Event()

    def read_output() -> None:  # the request log and the messages; keeps draining so the pipe never fills
        global BASE_URL
        assert _server is not None and _server.stdout is not None
        for line in _server.stdout:
            _output.append(line)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match and not found.is_set():
                BASE_URL = match.group(1)
                found.set()
        found.set()

    threading.Thread(target=read_output, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not found.wait(0.2) and time.monotonic() < deadline:
        pass
    if not BASE_URL:
        tearDownModule()
        raise RuntimeError("erc-demos serve did not say where it listens:\n" + "".join(_output))


def tearDownModule() -> None:
    if _server is not None and _server.poll() is None:
        _server.terminate()
        try:
            _server.wait(20)
        except subprocess.TimeoutExpired:
            _server.kill()
            _server.wait()
    if _tmp:
        shutil.rmtree(_tmp, ignore_errors=True)


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
        output = "".join(_output)
        self.assertIn('"key":"limited"', output)
        for key in (READER, LIMITED):
            self.assertNotIn(key, output)


if __name__ == "__main__":
    unittest.main()
