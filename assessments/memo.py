"""A bounded memo for the core's hot paths.

The settlement arithmetic converts and checks the same few thousand values over and over (a
city's factors, scores, days): each result is remembered by the value that alone decides it. A
memo forgets everything once it holds ``limit`` entries, so a long-lived process never grows it
without bound. Only results are kept, never a refusal: what is refused is checked every time.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["MEMO_LIMIT", "Memo"]

K = TypeVar("K")
V = TypeVar("V")

MEMO_LIMIT = 65_536


class Memo(dict[K, V]):
    """A dict of results by the values that decide them; ``keep`` stores one and returns it."""

    __slots__ = ("limit",)

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
