"""The shapes of the service's answers (README.md, "HTTP API"), for type checkers; at run time they are plain dicts.
Not total: a server newer or older than this client may add or lack a field."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict


class Demonstration(TypedDict, total=False):
    id: int
    text: str
    label: str
    labels: List[str]
    source_label: str
    source_labels: List[str]
    speaker: str
    corpus: str
    split: str
    dialogue: str
    turn: int
    score: float


class Answer(TypedDict, total=False):
    """One query's demonstrations, best first."""

    index: str
    embedder: str
    took_ms: float
    demonstrations: List[Demonstration]


class PromptAnswer(TypedDict, total=False):
    prompt: str
    target: Optional[str]
    demonstrations: List[Demonstration]
    took_ms: float


class IndexInfo(TypedDict, total=False):
    name: str
    manifest: Dict[str, Any]


class AddedDialogue(TypedDict, total=False):
    id: str
    rows: List[int]


class AddDialoguesAnswer(TypedDict, total=False):
    """POST /indexes/{name}/dialogues: each dialogue as the index names it, with its rows' ids (demonstrations' `id`)."""

    index: str
    seq: int
    took_ms: float
    dialogues: List[AddedDialogue]


class RelabelAnswer(TypedDict, total=False):
    index: str
    seq: int
    took_ms: float
    dialogue: str
    turn: int
    id: int
    labels: List[str]
    source_labels: List[str]


class RemoveAnswer(TypedDict, total=False):
    index: str
    seq: int
    took_ms: float
    dialogue: str
    removed: int


#: A prompt format object (GET /formats): name, template, answer, turn, demo, ... (docs/PROMPTS.md).
FormatInfo = Dict[str, Any]
