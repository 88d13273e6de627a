"""Python client of the erc-demos HTTP service: demonstrations for emotion recognition in conversation.

    from erc_demos_client import Client, ApiError

    client = Client("http://127.0.0.1:8080")
    answer = client.demonstrations("I can't believe you did that!", k=4, labels=["anger", "surprise"])
    for result in client.batch(["Oh my God!", {"utterance": "Fine.", "k": 2}]):
        print(len(result["demonstrations"]))

Standard library only. Errors: ApiError (status, param, message); StreamError when a streamed batch breaks off.
"""

from ._client import VERSION as __version__
from ._client import ApiError, BatchStream, Client, StreamError
from ._types import Answer, Demonstration, FormatInfo, IndexInfo, PromptAnswer

__all__ = ["Answer", "ApiError", "BatchStream", "Client", "Demonstration", "FormatInfo", "IndexInfo", "PromptAnswer", "StreamError", "__version__"]
