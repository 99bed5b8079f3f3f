"""The core's bounded memo: results kept by their deciding values, forgotten all at once when
full."""

from __future__ import annotations

from assessments.memo import Memo


def test_a_kept_result_is_returned_and_found() -> None:
    memo: Memo[str, int] = Memo()
    assert memo.keep("a", 1) == 1
    assert memo.get("a") == 1
    assert memo.get("b") is None


def test_a_full_memo_forgets_everything_before_keeping_the_next() -> None:
    memo: Memo[int, int] = Memo(limit=3)
    for n in range(3):
        memo.keep(n, n * n)
    assert dict(memo) == {0: 0, 1: 1, 2: 4}
    memo.keep(3, 9)
    assert dict(memo) == {3: 9}
