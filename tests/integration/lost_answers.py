"""DynamoDB answers lost after the write committed, as a dropped connection or a read timeout loses them.

botocore then sends the very same request again (its retries reuse the parameters, idempotency tokens
included), so a conditional write meets the state its own first attempt left. ``answers_lost(client,
"PutItem")`` makes that happen to the next ``times`` successful calls of that operation on ``client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def answers_lost(client: Any, operation: str, times: int = 1) -> Iterator[list[int]]:
    """Yields the list of the HTTP statuses each lost answer had (to check the first attempt committed)."""
    lost: list[int] = []
    event = f"needs-retry.dynamodb.{operation}"

    def lose_the_answer(response: Any, attempts: int, **_: Any) -> float | None:
        if len(lost) < times and response is not None and response[0].status_code == 200:
            lost.append(response[0].status_code)
            return 0.0  # retry at once: botocore resends the same request
        return None  # let botocore's own retry policy decide

    client.meta.events.register_first(event, lose_the_answer, unique_id="lose-the-answer")
    try:
        yield lost
    finally:
        client.meta.events.unregister(event, unique_id="lose-the-answer")
