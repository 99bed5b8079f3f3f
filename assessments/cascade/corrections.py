"""Corrections after lock (锁定后更正): what a locked settlement would have paid had a fact been
known, as difference lines at every level, and how they are carried into a later sheet.

A locked sheet never changes. When a fact it was computed from turns out wrong — a service record
counted in a member's workload is found false, or an appeal (or a correction) gives a score it
used a new revision — the cascade is run again on the sheet's own inputs with the fact changed,
and the difference against the sheet is kept, line by line:

* ``apply_changes(inputs, changes)`` — the inputs with the facts changed (nothing else);
* ``differences(before, after)`` — per line key, the amount after minus the amount before;
  only lines whose amount moved are kept; ``check_sums`` proves that at every line the children's
  differences add up exactly to the parent's (members + reserve = team, …, counties = pool);
* ``correct(inputs, earlier, change, locked)`` — one correction: the cascade on the inputs with
  the earlier corrections of the same sheet applied, then with this one too, and the difference.
  Corrections of one sheet compound in the order they were found, so the sum of all of them is
  exactly ``cascade(all facts changed) − locked sheet`` (the cascade is not linear: two
  corrections computed each against the locked sheet alone would not add up to that);
* ``carry(corrections)`` — the adjustment per line key carried into the next sheet.

The fund of a pool is fixed money: a correction never creates or removes money, it moves it.
A pool's difference is always 0; a county whose L4 score rises gains exactly what the other
counties of its pool lose (largest remainder may move a fen anywhere in the pool). A record found
false lowers its doctor's k: the team's amount (P × S̄) does not move, so the doctor's loss is the
gain of the team's other members (the reserve is a rate of the team's amount and does not move).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from assessments.cascade.inputs import (
    CountyInput,
    InstitutionInput,
    MemberInput,
    PoolInput,
    PublishedScore,
    SettlementInputs,
    TeamInput,
)
from assessments.cascade.lines import Line
from assessments.cascade.settlement import settle
from assessments.money import SettlementInputError, yuan
from assessments.values import value

__all__ = [
    "Amount",
    "Correction",
    "CorrectionError",
    "Difference",
    "FactChange",
    "ScoreChange",
    "ServicesChange",
    "amounts_of",
    "baseline_of",
    "apply_changes",
    "applies",
    "carry",
    "check_sums",
    "correct",
    "differences",
    "payable",
    "pool_of",
    "used_score",
]


class CorrectionError(ValueError):
    """A correction that cannot be computed (Chinese message)."""


@value
class ServicesChange:
    """A member's counted services in a team change by ``delta`` (a record found false: −1) and
    their workload points by ``points_delta`` (minus that record's points): k's numerator, by
    records or by points, whichever the member's input uses."""

    team_id: int
    user_id: int
    delta: int
    points_delta: Decimal = Decimal(0)


@value
class ScoreChange:
    """A published score of ``unit_id`` replaced by a later revision (same level and period)."""

    unit_id: int
    score: PublishedScore


FactChange = ServicesChange | ScoreChange


@value
class Amount:
    """A line of a sheet as a correction sees it: where it sits and what it pays (fen)."""

    key: str
    parent: str | None
    level: str
    name: str
    entitled_fen: int
    unit_id: int | None = None
    user_id: int | None = None
    county_id: int | None = None
    institution_id: int | None = None
    team_id: int | None = None


@value
class Difference:
    """One line's amount before and after a correction; ``difference_fen`` = after − before."""

    line: Amount
    before_fen: int
    after_fen: int

    @property
    def difference_fen(self) -> int:
        return self.after_fen - self.before_fen

    @property
    def text(self) -> str:
        d = self.difference_fen
        sign = "+" if d > 0 else ""
        return (
            f"更正前 {yuan(self.before_fen)} 元，更正后 {yuan(self.after_fen)} 元，"
            f"差额 {sign}{yuan(d)} 元（{'应补发' if d > 0 else '应扣回' if d < 0 else '无变化'}）"
        )


@value
class Correction:
    """The difference lines of one correction (depth-first, only lines whose amount moved)."""

    pool_id: int
    lines: tuple[Difference, ...]

    @property
    def total_fen(self) -> int:
        """The pool's difference: always 0 (a pool's fund is fixed)."""
        return sum(d.difference_fen for d in self.lines if d.line.level == "pool")


# --------------------------------------------------------------------------- facts


def _member_changed(member: MemberInput, change: ServicesChange) -> MemberInput:
    points = member.points
    if points is not None:
        points = max(Decimal(0), points + change.points_delta)
    return replace(member, services=max(0, member.services + change.delta), points=points)


def _team_changed(team: TeamInput, change: FactChange) -> TeamInput:
    if isinstance(change, ServicesChange):
        if team.unit_id != change.team_id:
            return team
        members = tuple(
            _member_changed(m, change) if m.user_id == change.user_id else m for m in team.members
        )
        return replace(team, members=members)
    if team.unit_id != change.unit_id or change.score.level != "L2":
        return team
    l2 = tuple(change.score if s.period == change.score.period else s for s in team.l2)
    return replace(team, l2=l2)


def _same_score(old: PublishedScore | None, change: ScoreChange, level: str) -> bool:
    return (
        old is not None
        and change.score.level == level == old.level
        and change.score.period == old.period
    )


def _institution_changed(inst: InstitutionInput, change: FactChange) -> InstitutionInput:
    if (
        isinstance(change, ScoreChange)
        and inst.unit_id == change.unit_id
        and _same_score(inst.score, change, "L3")
    ):
        return replace(inst, score=change.score)
    return replace(inst, teams=tuple(_team_changed(t, change) for t in inst.teams))


def _county_changed(county: CountyInput, change: FactChange) -> CountyInput:
    if (
        isinstance(change, ScoreChange)
        and county.unit_id == change.unit_id
        and _same_score(county.score, change, "L4")
    ):
        return replace(county, score=change.score)
    return replace(
        county, institutions=tuple(_institution_changed(i, change) for i in county.institutions)
    )


def apply_changes(inputs: SettlementInputs, changes: Iterable[FactChange]) -> SettlementInputs:
    """The inputs with each change made, in order; everything else as it was."""
    pools = inputs.pools
    for change in changes:
        pools = tuple(
            replace(p, counties=tuple(_county_changed(c, change) for c in p.counties))
            for p in pools
        )
    return replace(inputs, pools=pools)


def _touches(pool: PoolInput, change: FactChange) -> bool:
    for county in pool.counties:
        if isinstance(change, ScoreChange) and county.unit_id == change.unit_id:
            return _same_score(county.score, change, "L4")
        for inst in county.institutions:
            if isinstance(change, ScoreChange) and inst.unit_id == change.unit_id:
                return _same_score(inst.score, change, "L3")
            for team in inst.teams:
                if isinstance(change, ServicesChange) and team.unit_id == change.team_id:
                    return any(m.user_id == change.user_id for m in team.members)
                if isinstance(change, ScoreChange) and team.unit_id == change.unit_id:
                    return change.score.level == "L2" and any(
                        s.period == change.score.period for s in team.l2
                    )
    return False


def pool_of(inputs: SettlementInputs, change: FactChange) -> int | None:
    """The pool whose sheet the change touches, or None when the sheet did not use the fact
    (a record of a doctor who was not a member of the team, a score the sheet did not count)."""
    for pool in inputs.pools:
        if _touches(pool, change):
            return pool.unit_id
    return None


def applies(inputs: SettlementInputs, change: FactChange) -> bool:
    return pool_of(inputs, change) is not None


def used_score(inputs: SettlementInputs, change: ScoreChange) -> PublishedScore | None:
    """The score the inputs hold where ``change`` would go (same unit, level and period)."""
    for pool in inputs.pools:
        for county in pool.counties:
            if county.unit_id == change.unit_id:
                return county.score if _same_score(county.score, change, "L4") else None
            for inst in county.institutions:
                if inst.unit_id == change.unit_id:
                    return inst.score if _same_score(inst.score, change, "L3") else None
                for team in inst.teams:
                    if team.unit_id == change.unit_id and change.score.level == "L2":
                        return next((s for s in team.l2 if s.period == change.score.period), None)
    return None


# --------------------------------------------------------------------------- differences


def amounts_of(lines: Iterable[Line]) -> list[Amount]:
    """The cascade's lines as amounts (depth-first, as computed)."""
    return [
        Amount(
            key=line.key,
            parent=line.parent,
            level=line.level,
            name=line.name,
            entitled_fen=line.entitled_fen or 0,
            unit_id=line.unit_id,
            user_id=line.user_id,
            county_id=line.county_id,
            institution_id=line.institution_id,
            team_id=line.team_id,
        )
        for line in lines
    ]


def differences(before: Sequence[Amount], after: Sequence[Amount]) -> tuple[Difference, ...]:
    """Per line key, after − before; only lines whose amount moved, in ``after``'s order (a key
    only in ``before`` follows, with 0 after). Raises if the result does not add up exactly."""
    old = {a.key: a for a in before}
    new_keys = {a.key for a in after}
    out = [
        Difference(a, old[a.key].entitled_fen if a.key in old else 0, a.entitled_fen) for a in after
    ]
    out += [Difference(a, a.entitled_fen, 0) for a in before if a.key not in new_keys]
    moved = tuple(d for d in out if d.difference_fen != 0)
    check_sums(moved)
    return moved


def check_sums(lines: Sequence[Difference]) -> None:
    """Every parent's difference is exactly the sum of its children's (a missing line moved by
    0), and the pools' differences are 0. Raises ``CorrectionError`` otherwise."""
    by_key = {d.line.key: d.difference_fen for d in lines}
    children: dict[str, int] = defaultdict(int)
    for d in lines:
        if d.line.parent is not None:
            children[d.line.parent] += d.difference_fen
    for parent, total in children.items():
        if by_key.get(parent, 0) != total:
            raise CorrectionError(
                f"更正差额不平衡：「{parent}」差额 {by_key.get(parent, 0)} 分，下级合计 {total} 分"
            )
    for d in lines:
        if d.line.level == "pool" and d.difference_fen != 0:
            raise CorrectionError(f"结算池「{d.line.name}」资金固定，差额应为 0")


def _subtree(amounts: Sequence[Amount], top: str) -> list[Amount]:
    """The line ``top`` and every line below it (depth-first, as given)."""
    keys = {top}
    out = []
    for a in amounts:  # depth-first: a parent always comes before its children
        if a.key in keys or (a.parent is not None and a.parent in keys):
            keys.add(a.key)
            out.append(a)
    return out


def baseline_of(locked: Sequence[Amount], earlier: Iterable[Sequence[Difference]]) -> list[Amount]:
    """The locked lines as the sheet's earlier corrections left them (locked + their differences)."""
    moved = carry(earlier)
    return [replace(a, entitled_fen=a.entitled_fen + moved.get(a.key, 0)) for a in locked]


def _stand_in(score: PublishedScore | None, level: str, period: str) -> PublishedScore:
    """A unit alone in its group gets the group's whole amount whatever its P and S: a stand-in
    score lets a unit with P = 0 (no score) stand alone too. Its own line is not compared."""
    return score or PublishedScore(level, period, 0, 0, Decimal(1))


def _reduced(
    inputs: SettlementInputs, change: FactChange, amounts: Mapping[str, int]
) -> tuple[SettlementInputs, str]:
    """The smallest inputs whose cascade gives the lines the change can move, and the key of the
    top line of those lines.

    Every step of the cascade depends only on its parent's amount and its siblings, so a unit
    given alone, with its amount as the pool's fund, gets exactly the lines below it it gets in
    the whole sheet: a member's services or a team's L2 move only their institution's lines; an
    institution's L3 only its county's; a county's L4 its whole pool.
    """
    year = str(inputs.year)
    for pool in inputs.pools:
        if not _touches(pool, change):
            continue
        if isinstance(change, ScoreChange) and change.score.level == "L4":
            return replace(inputs, pools=(pool,)), f"pool:{pool.unit_id}"
        for county in pool.counties:
            alone = replace(county, signed_population=1, score=_stand_in(county.score, "L4", year))
            if isinstance(change, ScoreChange) and change.score.level == "L3":
                if any(i.unit_id == change.unit_id for i in county.institutions):
                    top = f"county:{county.unit_id}"
                    single = replace(pool, fund_fen=amounts[top], counties=(alone,))
                    return replace(inputs, pools=(single,)), top
                continue
            team_id = change.team_id if isinstance(change, ServicesChange) else change.unit_id
            for inst in county.institutions:
                if any(t.unit_id == team_id for t in inst.teams):
                    top = f"institution:{inst.unit_id}"
                    lone = replace(
                        inst, signed_population=1,
                        score=_stand_in(inst.score, "L3", f"{year}-H2"),
                    )  # fmt: skip
                    single = replace(
                        pool,
                        fund_fen=amounts[top],
                        counties=(replace(alone, institutions=(lone,)),),
                    )
                    return replace(inputs, pools=(single,)), top
    raise CorrectionError("锁定的结算表未使用这项数据，无需更正")


def correct(
    inputs: SettlementInputs,
    earlier: Sequence[FactChange],
    change: FactChange,
    baseline: Sequence[Amount],
) -> Correction:
    """The difference one more correction makes to a locked sheet.

    ``inputs`` are the locked sheet's own inputs, ``earlier`` the facts of the sheet's earlier
    corrections (in order), ``baseline`` the sheet's lines as those corrections left them
    (``baseline_of``; the locked lines when there are none). Only the lines the change can move
    are computed (``_reduced``). The cascade on the inputs with the earlier facts must give back
    the baseline of those lines exactly: otherwise the rules changed since the lock and no
    difference can be trusted (``CorrectionError``).
    """
    corrected = apply_changes(inputs, earlier)
    pool_id = pool_of(corrected, change)
    if pool_id is None:
        raise CorrectionError("锁定的结算表未使用这项数据，无需更正")
    amounts = {a.key: a.entitled_fen for a in baseline}
    reduced, top = _reduced(corrected, change, amounts)
    try:
        before = _subtree(amounts_of(settle(reduced)), top)
        after = _subtree(amounts_of(settle(apply_changes(reduced, [change]))), top)
    except SettlementInputError as exc:
        raise CorrectionError(f"更正后的数据无法重新计算：{exc}") from None
    if [(a.key, a.entitled_fen) for a in _subtree(baseline, top)] != [
        (a.key, a.entitled_fen) for a in before
    ]:
        raise CorrectionError(
            "按锁定时的输入数据重新计算，结果与锁定的结算表不一致（计算规则已变化），"
            "无法计算更正差额，请联系系统管理员"
        )
    return Correction(pool_id=pool_id, lines=differences(before, after))


# --------------------------------------------------------------------------- carrying


def carry(corrections: Iterable[Sequence[Difference]]) -> dict[str, int]:
    """The adjustment (fen) per line key of the corrections carried into a sheet, summed."""
    total: dict[str, int] = defaultdict(int)
    for lines in corrections:
        for d in lines:
            total[d.line.key] += d.difference_fen
    return dict(total)


def payable(entitled: Mapping[str, int], adjustments: Mapping[str, int]) -> dict[str, int]:
    """What a sheet pays per line key: its own amount plus the adjustments carried into it (a
    key only among the adjustments — a unit or member no longer on the sheet — is paid its
    adjustment alone)."""
    keys = list(entitled) + [k for k in adjustments if k not in entitled]
    return {k: entitled.get(k, 0) + adjustments.get(k, 0) for k in keys}
