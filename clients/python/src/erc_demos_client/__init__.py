"""Python client of the erc-demos HTTP service: demonstrations for emotion recognition in conversation.

    from erc_demos_client import Client, ApiError

    client = Client("http://127.0.0.1:8080")  # a service with API keys: api_key="...", or ERC_DEMOS_API_KEY
    answer = client.demonstrations("I can't believe you did that!", k=4, labels=["anger", "surprise"])
    for result in client.batch(["Oh my God!", {"utterance": "Fine.", "k": 2}]):
        print(len(result["demonstrations"]))
    # live writes, with a key of scope write:
    client.add_dialogues("meld", [{"id": "reviewed/1", "turns": [{"speaker": "Ann", "text": "We won!", "label": "joy"}]}])
    client.relabel("meld", "reviewed/1", 0, "surprise"); client.remove_dialogue("meld", "reviewed/1")

Standard library only. Errors: ApiError (status, param, message, code) for an error answer, ResponseTooLarge for one past
max_response_bytes; StreamError when a streamed batch breaks off (StreamTimeout, StreamTooLarge when the client gave
up on it); OSError when no usable answer came: TimeoutError past the call's `timeout` deadline, ProtocolError for
bytes that are not HTTP, a connection error once the retries are spent.
"""

from ._client import MAX_RESPONSE_BYTES
from ._client import VERSION as __version__
from ._client import ApiError, BatchStream, Client, ProtocolError, ResponseTooLarge, StreamError, StreamTimeout, StreamTooLarge
from ._types import AddDialoguesAnswer, AddedDialogue, Answer, Demonstration, FormatInfo, IndexInfo, PromptAnswer, RelabelAnswer, RemoveAnswer

__all__ = [
    "AddDialoguesAnswer", "AddedDialogue", "Answer", "ApiError", "BatchStream", "Client", "Demonstration", "FormatInfo", "IndexInfo",
    "MAX_RESPONSE_BYTES", "PromptAnswer", "ProtocolError", "RelabelAnswer", "RemoveAnswer", "ResponseTooLarge", "StreamError",
    "StreamTimeout", "StreamTooLarge", "__version__",
]
