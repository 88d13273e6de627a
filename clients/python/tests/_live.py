"""A real `erc-demos serve` on loopback for the live tests (test_live_server.py, test_live_keys.py): an index of the
sample corpus built for the run, the server started on a free port, its output drained and kept.

Node is `node` on the PATH, or ERC_DEMOS_NODE (the vitest wrapper passes its own). Without it the tests that need it
are skipped, saying why.
"""

from __future__ import annotations

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
from typing import List, Optional, Sequence

try:
    import erc_demos_client  # noqa: F401
except ImportError:  # run from a checkout without installing: the package's source folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

REPO = Path(__file__).resolve().parents[3]
BIN = REPO / "bin" / "erc-demos.mjs"
SAMPLE = REPO / "data" / "sample" / "sample.jsonl"
NODE = os.environ.get("ERC_DEMOS_NODE") or shutil.which("node")
START_TIMEOUT_S = 240


def node_env() -> dict:
    """The environment erc-demos runs in: one embedder thread (a test run shares its cores), no client key."""
    env = {k: v for k, v in os.environ.items() if k != "ERC_DEMOS_API_KEY"}
    env.setdefault("ERC_DEMOS_EMBED_THREADS", "1")
    return env


def erc_demos(*args: str, timeout: float = START_TIMEOUT_S) -> "subprocess.CompletedProcess[str]":
    """Runs an erc-demos command to its end; raises with its stderr if it fails."""
    done = subprocess.run([NODE or "node", str(BIN), *args], cwd=REPO, env=node_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"erc-demos {args[0]} failed ({done.returncode}):\n{done.stderr}")
    return done


class LiveServe:
    """A temporary folder with the sample index in it, and `serve` over it once started."""

    def __init__(self, prefix: str) -> None:
        if not NODE or not BIN.exists():
            raise unittest.SkipTest(f"needs node and {BIN} (set ERC_DEMOS_NODE): the live-server tests are skipped")
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.index = os.path.join(self.tmp, "sample")
        self.output: List[str] = []
        self.url = ""
        self._server: Optional[subprocess.Popen] = None
        erc_demos("build", "--corpus", "jsonl", "--data", str(SAMPLE), "--corpus-name", "sample", "--projection", "none", "--out", self.index)

    def start(self, serve_args: Sequence[str]) -> str:
        """Starts `serve --port 0 <serve_args>`; returns its URL once it says where it listens."""
        self._server = subprocess.Popen(
            [NODE or "node", str(BIN), "serve", *serve_args, "--port", "0"],
            cwd=REPO, env=node_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        found = threading.Event()

        def read_output() -> None:  # the request log and the messages; keeps draining so the pipe never fills
            assert self._server is not None and self._server.stdout is not None
            for line in self._server.stdout:
                self.output.append(line)
                match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if match and not found.is_set():
                    self.url = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read_output, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not found.wait(0.2) and time.monotonic() < deadline:
            pass
        if not self.url:
            self.stop()
            raise RuntimeError("erc-demos serve did not say where it listens:\n" + "".join(self.output))
        return self.url

    def stop(self) -> None:
        """SIGTERM (the server drains and exits), then the folder is removed."""
        if self._server is not None and self._server.poll() is None:
            self._server.terminate()
            try:
                self._server.wait(20)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)
