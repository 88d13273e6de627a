"""Live writes (add_dialogues, relabel, remove_dialogue) against a real `erc-demos serve` with a keys file holding a
write key and a read key: what is written is answered at once by queries, and every refusal is an ApiError with the
service's status, code and param.

Node is `node` on the PATH, or ERC_DEMOS_NODE (the vitest wrapper passes its own). Without it these tests are
skipped, saying why.
"""

from __future__ import annotations

import json
import os
import unittest
from typing import Any, Dict, List, Optional
from unittest import mock

from _live import LiveServe, erc_demos
from erc_demos_client import ApiError, Client

_live: Optional[LiveServe] = None
BASE_URL = ""
WRITER = ""  # scope write (which includes read)
READER = ""  # scope read


def _new_key(name: str, scope: str) -> "tuple[str, dict]":
    key, entry = erc_demos("keys", "new", "--name", name, "--scope", scope, timeout=60).stdout.splitlines()
    return key, json.loads(entry)


def setUpModule() -> None:
    global _live, BASE_URL, WRITER, READER
    _live = LiveServe("erc-demos-py-writes-")
    WRITER, writer_entry = _new_key("writer", "write")
    READER, reader_entry = _new_key("reader", "read")
    assert writer_entry["scope"] == "write" and reader_entry["scope"] == "read"
    keys = os.path.join(_live.tmp, "keys.json")
    with open(keys, "w", encoding="utf-8") as f:
        json.dump({"keys": [writer_entry, reader_entry]}, f)
    BASE_URL = _live.start(["--index", f"sample={_live.index}", "--keys", keys])


def tearDownModule() -> None:
    if _live is not None:
        _live.stop()


def dialogue(id: str, *turns: "tuple[str, str, Any]") -> Dict[str, Any]:
    """A dialogue to add: turns as (speaker, text, label or list of labels)."""
    return {"id": id, "turns": [{"speaker": s, "text": t, **({"labels": list(l)} if isinstance(l, (list, tuple)) else {"label": l})} for s, t, l in turns]}


class LiveWritesTest(unittest.TestCase):
    writer: Client
    reader: Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.writer = Client(BASE_URL, timeout=60, api_key=WRITER)
        cls.reader = Client(BASE_URL, timeout=60, api_key=READER)

    def top(self, utterance: str, **options: Any) -> Dict[str, Any]:
        demos: List[Dict[str, Any]] = self.reader.demonstrations(utterance, k=1, **options)["demonstrations"]  # type: ignore[assignment]
        self.assertEqual(len(demos), 1)
        return demos[0]

    def refused(self, call: Any, *args: Any) -> ApiError:
        with self.assertRaises(ApiError) as caught:
            call(*args)
        return caught.exception

    def test_added_dialogue_is_found_by_the_next_query(self) -> None:
        text = "My parrot just learned to whistle my favourite song!"
        self.assertNotEqual(self.top(text)["text"], text)
        answer = self.writer.add_dialogues("sample", [dialogue("reviewed/parrot", ("Zed", text, "joy"), ("Yan", "Show me, right now.", "surprise"))])
        self.assertEqual((answer["index"], [d["id"] for d in answer["dialogues"]]), ("sample", ["reviewed/parrot"]))
        self.assertIsInstance(answer["seq"], int)
        self.assertGreater(answer["seq"], 0)
        self.assertGreaterEqual(answer["took_ms"], 0)
        rows = answer["dialogues"][0]["rows"]
        self.assertEqual(len(rows), 2)
        found = self.top(text)
        self.assertEqual((found["text"], found["label"], found["speaker"], found["dialogue"], found["turn"], found["id"]), (text, "joy", "Zed", "reviewed/parrot", 0, rows[0]))
        self.assertAlmostEqual(found["score"], 1.0, places=4)
        # A paraphrase finds it too, and the read key sees it as every reader does.
        self.assertEqual(self.top("my parrot learned to whistle my favorite song")["dialogue"], "reviewed/parrot")
        # GET /indexes counts it.
        written = [i for i in self.writer.indexes() if i["name"] == "sample"][0]
        self.assertGreaterEqual(written.get("written", {}).get("added", 0), 2, written)

    def test_relabel_a_written_turn_and_a_built_one(self) -> None:
        text = "The spider is back in the bath and it is enormous."
        rows = self.writer.add_dialogues("sample", [dialogue("reviewed/spider", ("Ann", "Come and look at this.", "neutral"), ("Ann", text, "fear"))])["dialogues"][0]["rows"]
        answer = self.writer.relabel("sample", "reviewed/spider", 1, "surprise")
        self.assertEqual((answer["dialogue"], answer["turn"], answer["id"], answer["labels"], answer["source_labels"]), ("reviewed/spider", 1, rows[1], ["surprise"], ["surprise"]))
        self.assertEqual(self.top(text)["label"], "surprise")
        self.assertEqual(self.top(text, strategy="per-label", labels=["surprise"])["text"], text)
        # A built dialogue, its id holding a slash (sent as train%2Fs01), and the label as a list of one.
        built = "You always have an excuse."
        self.assertEqual(self.top(built)["label"], "anger")
        answer = self.writer.relabel("sample", "train/s01", 2, ["sadness"])
        self.assertEqual((answer["dialogue"], answer["turn"], answer["labels"]), ("train/s01", 2, ["sadness"]))
        found = self.top(built)
        self.assertEqual((found["text"], found["label"], found["dialogue"]), (built, "sadness", "train/s01"))
        # A bad label names the field and changes nothing.
        error = self.refused(self.writer.relabel, "sample", "train/s01", 2, "bliss")
        self.assertEqual((error.status, error.param, error.code), (400, "label", None))
        self.assertIn('unknown label "bliss"', error.message)
        self.assertEqual(self.top(built)["label"], "sadness")

    def test_remove_a_written_and_a_built_dialogue(self) -> None:
        text = "I finally finished the marathon, all forty-two kilometres!"
        self.writer.add_dialogues("sample", [dialogue("reviewed/marathon", ("Bo", text, "joy"))])
        self.assertEqual(self.top(text)["dialogue"], "reviewed/marathon")
        answer = self.writer.remove_dialogue("sample", "reviewed/marathon")
        self.assertEqual((answer["index"], answer["dialogue"], answer["removed"]), ("sample", "reviewed/marathon", 1))
        self.assertNotEqual(self.top(text)["text"], text)
        # A built one (train/s02, four turns): gone from every strategy at once.
        noise = "Did you hear a noise downstairs?"
        self.assertEqual(self.top(noise)["dialogue"], "train/s02")
        self.assertEqual(self.writer.remove_dialogue("sample", "train/s02")["removed"], 4)
        for options in ({}, {"strategy": "per-label", "labels": ["fear"]}, {"strategy": "mmr"}):
            demos = self.reader.demonstrations(noise, k=5, **options)["demonstrations"]
            self.assertTrue(demos)
            self.assertNotIn("train/s02", {d["dialogue"] for d in demos}, options)
        # Removed: not there to remove or relabel again; the id may be added anew.
        error = self.refused(self.writer.remove_dialogue, "sample", "train/s02")
        self.assertEqual((error.status, error.code, error.param), (404, "NOT_FOUND", "dialogue"))
        self.assertIn("train/s02", error.message)

    def test_a_dialogue_id_the_index_holds_is_409(self) -> None:
        error = self.refused(self.writer.add_dialogues, "sample", [dialogue("train/s00", ("Anna", "Hello again.", "neutral"))])
        self.assertEqual((error.status, error.code, error.param), (409, "DIALOGUE_EXISTS", "dialogues.0.id"))
        self.assertIn("train/s00", error.message)
        self.writer.add_dialogues("sample", [dialogue("reviewed/twice", ("Cy", "Once is enough.", "neutral"))])
        error = self.refused(self.writer.add_dialogues, "sample", [dialogue("reviewed/twice", ("Cy", "Twice is too many.", "anger"))])
        self.assertEqual((error.status, error.code), (409, "DIALOGUE_EXISTS"))
        # Given twice in one batch: refused whole, the first of them not written either.
        error = self.refused(self.writer.add_dialogues, "sample", [dialogue("reviewed/dup", ("Di", "Alpha bravo charlie delta echo.", "neutral")), dialogue("reviewed/dup", ("Di", "Foxtrot.", "neutral"))])
        self.assertEqual((error.status, error.code, error.param), (409, "DIALOGUE_EXISTS", "dialogues.1.id"))
        self.assertNotEqual(self.top("Alpha bravo charlie delta echo.")["dialogue"], "reviewed/dup")

    def test_unknown_index_dialogue_or_turn_is_404_naming_it(self) -> None:
        cases = [
            (self.writer.relabel, ("sample", "reviewed/nobody", 0, "joy"), "dialogue"),
            (self.writer.remove_dialogue, ("sample", "reviewed/nobody"), "dialogue"),
            (self.writer.relabel, ("sample", "train/s03", 99, "joy"), "turn"),
            (self.writer.add_dialogues, ("nope", [dialogue("reviewed/x", ("E", "Hi.", "joy"))]), "index"),
            (self.writer.remove_dialogue, ("nope", "train/s03"), "index"),
        ]
        for call, args, param in cases:
            error = self.refused(call, *args)
            self.assertEqual((error.status, error.code, error.param), (404, "NOT_FOUND", param), (call.__name__, args))

    def test_bad_input_is_400_naming_the_field_and_nothing_is_written(self) -> None:
        text = "I am absolutely over the moon about the news."
        cases = [
            ([dialogue("reviewed/bad", ("Fa", text, "bliss"))], "dialogues.0.turns.0.label", "unknown label"),
            ([{"id": "reviewed/bad", "turns": [{"speaker": "Fa", "text": text}]}], "dialogues.0.turns.0.label", "is required"),
            ([dialogue("reviewed/bad", ("Fa", "   ", "joy"))], "dialogues.0.turns.0.text", "must not be empty"),
            ([dialogue("reviewed/bad", ("Fa", "x" * 2001, "joy"))], "dialogues.0.turns.0.text", "at most 2000 characters"),
            ([{"id": "reviewed/bad", "turns": []}], "dialogues.0.turns", "at least one turn"),
            ([dialogue("reviewed/bad", ("Fa", text, "joy")), dialogue("reviewed/bad2", ("Fa", text, ["joy", "anger"]))], "dialogues.1.turns.0.labels", "single-label"),
        ]
        for dialogues, param, words in cases:
            error = self.refused(self.writer.add_dialogues, "sample", dialogues)
            self.assertEqual((error.status, error.param), (400, param), error)
            self.assertIn(words, error.message)
        self.assertNotEqual(self.top(text)["text"], text)
        error = self.refused(self.writer.relabel, "sample", "reviewed/bad", 0, "joy")
        self.assertEqual(error.status, 404)

    def test_no_key_is_401_and_a_read_key_403_and_nothing_is_written(self) -> None:
        text = "Nobody without a write key may add this sentence."
        with mock.patch.dict(os.environ, {"ERC_DEMOS_API_KEY": ""}):
            anonymous = Client(BASE_URL, timeout=60, retries=0)
        for client, status, code, words in ((anonymous, 401, "AUTH_REQUIRED", "Authorization: Bearer"), (self.reader, 403, "AUTH_FORBIDDEN", 'scope "write"')):
            for call, args in (
                (client.add_dialogues, ("sample", [dialogue("reviewed/keys", ("Gu", text, "neutral"))])),
                (client.relabel, ("sample", "train/s03", 0, "joy")),
                (client.remove_dialogue, ("sample", "train/s03")),
            ):
                error = self.refused(call, *args)
                self.assertEqual((error.status, error.code, error.param), (status, code, "authorization"), (status, call.__name__))
                self.assertIn(words, error.message)
        self.assertNotEqual(self.top(text)["text"], text)
        # train/s03 is as built, and the id was not taken: the write key adds it.
        found = self.top("You're getting married?!")
        self.assertEqual((found["dialogue"], found["turn"], found["label"]), ("train/s03", 0, "surprise"))
        self.assertEqual(self.writer.add_dialogues("sample", [dialogue("reviewed/keys", ("Gu", text, "neutral"))])["dialogues"][0]["id"], "reviewed/keys")
        self.assertEqual(self.top(text)["dialogue"], "reviewed/keys")


if __name__ == "__main__":
    unittest.main()
