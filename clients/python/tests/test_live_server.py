"""The client against a real `erc-demos serve` on loopback, over an index of the sample corpus built for the run.

Node is `node` on the PATH, or ERC_DEMOS_NODE (the vitest wrapper passes its own). Without it these tests are
skipped, saying why.
"""

from __future__ import annotations

import unittest
from typing import Any, Dict, List, Optional, Union

from _live import LiveServe
from erc_demos_client import ApiError, Client

_live: Optional[LiveServe] = None
BASE_URL = ""


def setUpModule() -> None:
    global _live, BASE_URL
    _live = LiveServe("erc-demos-py-")
    BASE_URL = _live.start(["--index", f"sample={_live.index}"])


def tearDownModule() -> None:
    if _live is not None:
        _live.stop()


class LiveServerTest(unittest.TestCase):
    client: Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.client = Client(BASE_URL, timeout=60)

    def test_get_with_k_and_labels(self) -> None:
        answer = self.client.demonstrations("I can't believe you did that!", k=3, labels=["anger", "joy"])
        self.assertEqual(answer["index"], "sample")
        demos = answer["demonstrations"]
        self.assertEqual(len(demos), 3)
        self.assertTrue({d["label"] for d in demos} <= {"anger", "joy"})
        scores = [d["score"] for d in demos]
        self.assertEqual(scores, sorted(scores, reverse=True))
        for key in ("id", "text", "speaker", "dialogue", "turn", "corpus", "split"):
            self.assertIn(key, demos[0])

    def test_options_are_sent_as_the_server_reads_them(self) -> None:
        # a list (split), a boolean (dedup), lambda_ as lambda, and a comma-joined exclude_dialogue
        answer = self.client.demonstrations("Guess what? I got the job!", k=4, strategy="mmr", lambda_=0.7, split=["train"], dedup=True, exclude_dialogue=["train/s00", "train/s01"])
        self.assertEqual(len(answer["demonstrations"]), 4)
        self.assertFalse({d["dialogue"] for d in answer["demonstrations"]} & {"train/s00", "train/s01"})

    def test_small_floats_go_as_plain_digits(self) -> None:
        # The server reads query numbers strictly (no exponent); Python's str(0.00001) is "1e-05".
        answer = self.client.demonstrations("Guess what? I got the job!", k=3, strategy="mmr", lambda_=0.00001)
        self.assertEqual(len(answer["demonstrations"]), 3)

    def test_k_zero_names_k(self) -> None:
        with self.assertRaises(ApiError) as caught:
            self.client.demonstrations("Hello there.", k=0)
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.param, "k")
        self.assertIn("between 1 and 100", caught.exception.message)

    def test_unknown_label_names_labels(self) -> None:
        with self.assertRaises(ApiError) as caught:
            self.client.demonstrations("Hello there.", labels=["joy", "bewildered"])
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.param, "labels")
        self.assertIn("bewildered", caught.exception.message)

    def test_batch_of_three_in_order(self) -> None:
        queries: List[Union[str, Dict[str, Any]]] = [
            {"utterance": "Guess what? I got the job!", "k": 1},
            {"utterance": "Where were you last night? I waited for two hours.", "k": 2, "labels": ["anger", "sadness"]},
            "I'm so scared of the dark.",
        ]
        with self.client.batch(queries) as stream:
            results = list(stream)
        self.assertEqual([len(r["demonstrations"]) for r in results], [1, 2, 5])
        self.assertTrue({d["label"] for d in results[1]["demonstrations"]} <= {"anger", "sadness"})
        # Each result is the one GET gives for the same query.
        for query, result in zip(queries, results):
            options: Dict[str, Any] = {"utterance": query} if isinstance(query, str) else dict(query)
            single = self.client.demonstrations(**options)
            self.assertEqual([d["id"] for d in result["demonstrations"]], [d["id"] for d in single["demonstrations"]])
        self.assertIsInstance(stream.took_ms, float)

    def test_batch_bad_query_named_by_position(self) -> None:
        with self.assertRaises(ApiError) as caught:
            self.client.batch(["fine", {"utterance": "also fine", "k": 0}])
        self.assertEqual((caught.exception.status, caught.exception.param), (400, "queries.1.k"))

    def test_prompt_instructerc_with_target_label(self) -> None:
        dialogue = {
            "id": "test/x1",
            "turns": [
                {"speaker": "Ross", "text": "You ate my sandwich?", "label": "surprise"},
                {"speaker": "Joey", "text": "It was just sitting there!", "label": "neutral"},
                {"speaker": "Ross", "text": "That was MY sandwich!", "label": "anger"},
            ],
        }
        answer = self.client.prompt(format="instructerc", dialogue=dialogue, target=2, options={"k": 2})
        self.assertEqual(answer["target"], "angry")  # InstructERC's spelling of MELD's anger
        prompt = answer["prompt"]
        self.assertTrue(prompt.startswith("Now you are expert of sentiment and emotional analysis."))
        self.assertIn("Here are some examples:", prompt)
        self.assertIn('Speaker_0:"That was MY sandwich!"', prompt)
        self.assertRegex(prompt, r'Please select the emotional label of <\s*Speaker_0:"That was MY sandwich!"> from <[^>]*\bangry\b')
        self.assertEqual(len(answer["demonstrations"]), 2)

    def test_prompt_bad_target_names_target(self) -> None:
        with self.assertRaises(ApiError) as caught:
            self.client.prompt(format="instructerc", dialogue=[{"speaker": "A", "text": "Hi."}], target=5)
        self.assertEqual((caught.exception.status, caught.exception.param), (400, "target"))

    def test_indexes_and_formats(self) -> None:
        indexes = self.client.indexes()
        self.assertEqual([i["name"] for i in indexes], ["sample"])
        self.assertEqual(indexes[0]["manifest"]["count"], 100)
        names = [f["name"] for f in self.client.formats()]
        self.assertIn("instructerc", names)
        self.assertIn("zh-erc", names)

    def test_health(self) -> None:
        self.assertEqual(self.client.health()["status"], "ok")

    def test_unknown_route_is_a_json_404(self) -> None:
        with self.assertRaises(ApiError) as caught:
            self.client._json("GET", "/nowhere")
        self.assertEqual((caught.exception.status, caught.exception.param), (404, None))
        self.assertIn("no route", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
