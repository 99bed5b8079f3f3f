"""The settlement cascade (结算): from the city's pools down to each team member, and the
pre-allocation (预拨). Pure: typed inputs in (``inputs``), typed lines out (``lines``).

``settle(inputs)`` calls ``assessments.settlement`` for every split:

* city → counties per pool: ``settle_pools`` with P and the L4 score S;
* county → institutions: ``settle_pools`` with P and the L3 year-end (H2) score;
* institution → centre part / stations part: ``split_by_ratio`` with the configured split;
* each part → its teams: P × S̄, S̄ the exact mean of the year's published L2 scores;
* institution → management share (行政统筹) for team leaders outside the team split, when the
  institution keeps them out (``management``: ``assessments.distribution.management_share``);
* team → members: ``distribute_members`` (reserve, then k × y × c × a with k from workload
  points and a from attendance days, deductions into the team fund, the leader rule).

Exact means (one rule): each published assessment's total (two decimals, as published) is an
input; the mean of a team's published L2 scores and every weight are kept exact (``Fraction``)
through the cascade; only what is shown (S̄ on the team's line, shares, approximations in the
explanations) is rounded.

``preallocation(inputs)`` is ``preallocate`` per pool. The same inputs always give the same
lines, in the same (depth-first) order; bad input raises ``SettlementInputError`` (Chinese).
"""

from __future__ import annotations

from assessments.cascade.inputs import (
    AttendanceInput,
    CountyInput,
    InstitutionInput,
    MemberInput,
    PoolInput,
    PreallocationCounty,
    PreallocationInputs,
    PreallocationPool,
    PublishedScore,
    SettlementInputs,
    SettlementParameters,
    SplitInput,
    TeamInput,
)
from assessments.cascade.lines import Explanation, Figure, Line, MemberFactors
from assessments.cascade.preallocation import preallocation
from assessments.cascade.settlement import settle

__all__ = [
    "AttendanceInput",
    "CountyInput",
    "Explanation",
    "Figure",
    "InstitutionInput",
    "Line",
    "MemberFactors",
    "MemberInput",
    "PoolInput",
    "PreallocationCounty",
    "PreallocationInputs",
    "PreallocationPool",
    "PublishedScore",
    "SettlementInputs",
    "SettlementParameters",
    "SplitInput",
    "TeamInput",
    "preallocation",
    "settle",
]
