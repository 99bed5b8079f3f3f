"""Simulation (模拟测算): what a draft settlement would pay with other funds, scores, splits or
reserve rate, computed beside the draft without writing a single line.

The draft's inputs are the typed inputs stored with it (``inputs_json``), read once per draft
version and kept in this process (``_bases``); a step applies the overrides to those inputs
(``apply``), runs the pure cascade (``assessments.cascade.settle``) again and compares every
county's and institution's amount with the draft's. Teams and members are computed too: the step
tells how many of them change. Nothing is written; a simulation is saved (its name and overrides,
who and when) only on request, in the audited ``settlement_simulation`` table.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from assessments.cascade import (
    CountyInput,
    InstitutionInput,
    PoolInput,
    PublishedScore,
    SettlementInputs,
    SplitInput,
    TeamInput,
    settle,
)
from assessments.cascade.groups import Sheet
from assessments.cascade.members import member_factors, team_members
from assessments.distribution import DistributionMember, distribute_members
from assessments.money import SettlementInputError
from fdoctor.core import clock
from fdoctor.core.gc_pause import paused_gc
from fdoctor.extensions import db
from fdoctor.settlement.cascade import settlement_inputs
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import dtext, parse_number
from fdoctor.settlement.models import Settlement, SettlementLine, SettlementSimulation

# Fen of the largest fund a simulation accepts (10 billion yuan): a typo, not a budget.
MAX_FUND_FEN = 10**12


# --------------------------------------------------------------------------- overrides


@dataclass(frozen=True)
class Overrides:
    """What a simulation changes: pool funds (fen), county L4 scores, institution splits
    (centre, stations) and the reserve rate (a fraction of 1). Empty means "as the draft"."""

    funds: dict[int, int] = field(default_factory=dict)
    county_scores: dict[int, Decimal] = field(default_factory=dict)
    splits: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)
    reserve_rate: Decimal | None = None

    @property
    def empty(self) -> bool:
        return not (self.funds or self.county_scores or self.splits) and self.reserve_rate is None

    def as_json(self) -> dict[str, Any]:
        return {
            "funds": {str(k): v for k, v in sorted(self.funds.items())},
            "county_scores": {str(k): dtext(v) for k, v in sorted(self.county_scores.items())},
            "splits": {str(k): [dtext(c), dtext(s)] for k, (c, s) in sorted(self.splits.items())},
            "reserve_rate": None if self.reserve_rate is None else dtext(self.reserve_rate),
        }

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Overrides:
        """From ``as_json`` (a saved simulation); values as stored, checked by ``validate``."""
        rate = data.get("reserve_rate")
        return cls(
            funds={int(k): int(v) for k, v in (data.get("funds") or {}).items()},
            county_scores={
                int(k): Decimal(v) for k, v in (data.get("county_scores") or {}).items()
            },
            splits={
                int(k): (Decimal(v[0]), Decimal(v[1]))
                for k, v in (data.get("splits") or {}).items()
            },
            reserve_rate=None if rate is None else Decimal(rate),
        )


# --------------------------------------------------------------------------- the draft's base


@dataclass(frozen=True)
class Unit:
    unit_id: int
    code: str
    name: str


@dataclass(frozen=True)
class Base:
    """A draft's typed inputs and amounts, read once per draft version."""

    settlement_id: int
    sha256: str
    inputs: SettlementInputs
    amounts: dict[str, int]  # line key -> the draft's entitled fen
    pools: dict[int, Unit]
    counties: dict[int, Unit]
    institutions: dict[int, Unit]
    both_parts: frozenset[int]  # institutions with teams in both parts (a split applies)
    members: int  # member lines of the draft
    # Each team's members checked and weighed (k × y × c × a) when first needed: nothing a
    # simulation changes moves them.
    weights: dict[int, list[DistributionMember]] = field(default_factory=dict, compare=False)


_bases: OrderedDict[tuple[int, str], Base] = OrderedDict()
_KEEP = 2  # drafts kept per process (a city-scale draft's base holds about 11 MB)


def forget_bases() -> None:
    """Drop the drafts kept in this process (the next step reads them again)."""
    _bases.clear()


def base_of(settlement: Settlement) -> Base:
    """The draft's base, kept per (sheet, SHA-256): a recomputed draft is read afresh."""
    key = (settlement.id, settlement.sha256)
    found = _bases.get(key)
    if found is not None:
        _bases.move_to_end(key)
        return found
    inputs = settlement_inputs(json.loads(settlement.inputs_json))
    amounts = {
        key: fen or 0
        for key, fen in db.session.execute(
            select(SettlementLine.key, SettlementLine.entitled_fen).where(
                SettlementLine.settlement_id == settlement.id
            )
        )
    }
    pools, counties, institutions, both = {}, {}, {}, set()
    for pool in inputs.pools:
        pools[pool.unit_id] = Unit(pool.unit_id, pool.code, pool.name)
        for county in pool.counties:
            counties[county.unit_id] = Unit(county.unit_id, county.code, county.name)
            for inst in county.institutions:
                institutions[inst.unit_id] = Unit(inst.unit_id, inst.code, inst.name)
                if len({t.part for t in inst.teams}) == 2:
                    both.add(inst.unit_id)
    members = sum(1 for key in amounts if key.startswith("member:"))
    base = Base(settlement.id, settlement.sha256, inputs, amounts, pools, counties, institutions,
                frozenset(both), members)  # fmt: skip
    _bases[key] = base
    while len(_bases) > _KEEP:
        _bases.popitem(last=False)
    return base


def ensure_simulable(settlement: Settlement) -> None:
    if settlement.kind != "settlement":
        raise SettlementError("模拟测算只适用于结算表（预拨表不能模拟）")
    if settlement.status != "draft":
        raise SettlementError(
            f"模拟测算只能在草稿上进行（{settlement.title}当前：{settlement.status_label}）"
        )


# --------------------------------------------------------------------------- checking and applying


def validate(base: Base, overrides: Overrides) -> list[str]:
    """Every reason, in Chinese, the overrides cannot be simulated on this draft."""
    errors = []
    for pool_id, fund in overrides.funds.items():
        if pool_id not in base.pools:
            errors.append(f"未知的结算池（编号 {pool_id}）")
        elif fund < 0:
            errors.append(f"结算池「{base.pools[pool_id].name}」的资金不能为负数")
        elif fund > MAX_FUND_FEN:
            errors.append(f"结算池「{base.pools[pool_id].name}」的资金超出范围")
    for county_id, value in overrides.county_scores.items():
        if county_id not in base.counties:
            errors.append(f"未知的县（市、区）（编号 {county_id}）")
        elif not Decimal(0) <= value <= Decimal(100):
            errors.append(f"县（市、区）「{base.counties[county_id].name}」的得分须在 0–100 之间")
        elif value != value.quantize(Decimal("0.01")):
            errors.append(f"县（市、区）「{base.counties[county_id].name}」的得分最多两位小数")
    for inst_id, (centre, stations) in overrides.splits.items():
        if inst_id not in base.institutions:
            errors.append(f"未知的医疗机构（编号 {inst_id}）")
            continue
        name = base.institutions[inst_id].name
        if centre < 0 or stations < 0:
            errors.append(f"医疗机构「{name}」的拆分比例不能为负数")
        elif centre + stations != 100:
            errors.append(f"医疗机构「{name}」的中心与站点比例之和须为 100%")
        elif inst_id not in base.both_parts:
            errors.append(f"医疗机构「{name}」的团队只在一个部分，拆分比例不影响分配")
    rate = overrides.reserve_rate
    if rate is not None and not Decimal(0) <= rate <= Decimal(1):
        errors.append("部门基金提取比例须在 0%–100% 之间")
    return errors


def _county(county: CountyInput, year: int, overrides: Overrides) -> CountyInput:
    changed = county
    value = overrides.county_scores.get(county.unit_id)
    if value is not None:
        score = county.score or PublishedScore("L4", str(year), 0, 0, value, "simulated")
        changed = replace(changed, score=replace(score, value=value, status="simulated"))
    if any(i.unit_id in overrides.splits for i in county.institutions):
        changed = replace(
            changed, institutions=tuple(_institution(i, overrides) for i in county.institutions)
        )
    return changed


def _institution(inst: InstitutionInput, overrides: Overrides) -> InstitutionInput:
    split = overrides.splits.get(inst.unit_id)
    if split is None:
        return inst
    return replace(inst, split=SplitInput(split[0], split[1], "institution"))


def _pool(pool: PoolInput, year: int, overrides: Overrides) -> PoolInput:
    fund = overrides.funds.get(pool.unit_id, pool.fund_fen)
    return replace(
        pool, fund_fen=fund, counties=tuple(_county(c, year, overrides) for c in pool.counties)
    )


def apply(inputs: SettlementInputs, overrides: Overrides) -> SettlementInputs:
    """The draft's inputs with the overrides in place (untouched parts are shared, not copied)."""
    params = inputs.parameters
    if overrides.reserve_rate is not None:
        params = replace(params, reserve_rate=overrides.reserve_rate)
    return replace(
        inputs,
        parameters=params,
        pools=tuple(_pool(p, inputs.year, overrides) for p in inputs.pools),
    )


# --------------------------------------------------------------------------- a step


@dataclass(frozen=True)
class Row:
    """One county or institution: the draft's amount, the simulated one and the difference."""

    level: str
    unit_id: int
    name: str
    draft_fen: int
    simulated_fen: int

    @property
    def diff_fen(self) -> int:
        return self.simulated_fen - self.draft_fen

    @property
    def diff_pct(self) -> Decimal | None:
        """The difference as a percentage of the draft's amount, two decimals (None from 0)."""
        if not self.draft_fen:
            return None
        return (Decimal(self.diff_fen) * 100 / Decimal(self.draft_fen)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Result:
    overrides: Overrides
    pools: list[Row]
    counties: list[Row]
    institutions: list[Row]
    rows: list[Row]  # pools, counties and institutions in the sheet's order
    teams_changed: int
    teams: int
    members_changed: int
    members: int


def _team_places(
    inputs: SettlementInputs,
) -> dict[str, tuple[CountyInput, InstitutionInput, TeamInput]]:
    return {
        f"team:{team.unit_id}": (county, inst, team)
        for pool in inputs.pools
        for county in pool.counties
        for inst in county.institutions
        for team in inst.teams
    }


def _members_moved(
    base: Base,
    place: tuple[CountyInput, InstitutionInput, TeamInput],
    sheet: Sheet,
    amount: int,
) -> int:
    """How many of the team's members the simulated ``amount`` (and reserve rate) pays other
    than the draft. The members' factors do not change in a simulation: they are prepared once
    per draft (``base.weights``) and only the split of the amount runs again
    (``distribute_members``: the reserve, the split, the deductions into the fund)."""
    county, inst, team = place
    if not team.members:
        team_members(sheet, county, inst, team, amount, f"team:{team.unit_id}")  # refuses > 0
        return 0
    factors = base.weights.get(team.unit_id)
    if factors is None:
        factors = base.weights[team.unit_id] = member_factors(sheet, inst, team)
    pay = distribute_members(
        amount, factors, reserve_rate=sheet.reserve_rate, leaders_in_split=inst.leaders_in_split
    )
    amounts = [m.amount_fen for m in pay.members]
    draft = base.amounts
    return sum(
        draft.get(f"member:{team.unit_id}:{member.user_id}") != paid
        for member, paid in zip(team.members, amounts, strict=True)
    )


def simulate(settlement: Settlement, overrides: Overrides) -> Result:
    """The draft's cascade with the overrides, beside the draft. Writes nothing.

    The cascade runs down to the teams; the members of a team are distributed again only when
    the team's amount or the reserve rate changed (the other teams' members are the draft's, the
    same inputs giving the same lines). Raises ``SettlementError`` (Chinese) for a sheet that is
    not a settlement draft, overrides that do not fit it (``validate``), or a cascade the
    overrides make impossible. The cyclic garbage collector is paused meanwhile, as for a build.
    """
    with paused_gc():
        return _simulate(settlement, overrides)


def _simulate(settlement: Settlement, overrides: Overrides) -> Result:
    ensure_simulable(settlement)
    base = base_of(settlement)
    errors = validate(base, overrides)
    if errors:
        raise SettlementError("；".join(errors))
    applied = apply(base.inputs, overrides)
    params = applied.parameters
    reserve_changed = params.reserve_rate != base.inputs.parameters.reserve_rate
    draft = base.amounts
    rows: list[Row] = []
    teams = teams_changed = members_changed = 0
    try:
        lines = settle(applied, members=False)
        places = _team_places(applied)
        sheet = Sheet(applied.year, params.reserve_rate, params.attainment_cap, "")
        for line in lines:
            level = line.level
            simulated = line.entitled_fen or 0
            if level in ("pool", "county", "institution"):
                rows.append(
                    Row(level, line.unit_id or 0, line.name, draft.get(line.key, 0), simulated)
                )
            elif level == "team":
                teams += 1
                moved = draft.get(line.key) != simulated
                teams_changed += moved
                if moved or reserve_changed:
                    members_changed += _members_moved(base, places[line.key], sheet, simulated)
    except SettlementInputError as exc:
        raise SettlementError(f"按此调整无法计算：{exc}") from None
    return Result(
        overrides=overrides,
        pools=[r for r in rows if r.level == "pool"],
        counties=[r for r in rows if r.level == "county"],
        institutions=[r for r in rows if r.level == "institution"],
        rows=rows,
        teams_changed=teams_changed,
        teams=teams,
        members_changed=members_changed,
        members=base.members,
    )


# --------------------------------------------------------------------------- saved simulations


def save(
    settlement: Settlement, name: str, overrides: Overrides, user: Any
) -> SettlementSimulation:
    """Keep a simulation under a name (checked first by ``simulate``). Flushes."""
    name = name.strip()
    if not name:
        raise SettlementError("请填写模拟方案名称")
    if len(name) > 60:
        raise SettlementError("模拟方案名称不能超过 60 个字")
    if overrides.empty:
        raise SettlementError("没有任何调整，无需保存")
    simulate(settlement, overrides)
    taken = db.session.scalar(
        select(SettlementSimulation.id).where(
            SettlementSimulation.settlement_id == settlement.id, SettlementSimulation.name == name
        )
    )
    if taken is not None:
        raise SettlementError(f"已有名为「{name}」的模拟方案，请换一个名称")
    saved = SettlementSimulation(
        settlement_id=settlement.id,
        name=name,
        overrides_json=json.dumps(overrides.as_json(), ensure_ascii=False, sort_keys=True),
        base_version=settlement.version,
        base_sha256=settlement.sha256,
        created_at=clock.now(),
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(saved)
    db.session.flush()
    return saved


def saved_simulations(settlement: Settlement) -> list[SettlementSimulation]:
    return list(
        db.session.scalars(
            select(SettlementSimulation)
            .where(SettlementSimulation.settlement_id == settlement.id)
            .order_by(SettlementSimulation.created_at, SettlementSimulation.id)
        )
    )


def overrides_of(saved: SettlementSimulation) -> Overrides:
    return Overrides.parse(json.loads(saved.overrides_json))


@dataclass(frozen=True)
class ComparedRow:
    level: str
    name: str
    draft_fen: int
    first_fen: int
    second_fen: int

    @property
    def diff_fen(self) -> int:
        return self.second_fen - self.first_fen


def compare(
    settlement: Settlement, first: SettlementSimulation, second: SettlementSimulation
) -> list[ComparedRow]:
    """Two saved simulations of the draft side by side (each re-run on the current draft)."""
    a = simulate(settlement, overrides_of(first))
    b = simulate(settlement, overrides_of(second))
    return [
        ComparedRow(x.level, x.name, x.draft_fen, x.simulated_fen, y.simulated_fen)
        for x, y in zip(a.rows, b.rows, strict=True)
    ]


SPLIT_ROWS = 3  # institution splits a form changes at once


def _number(text: str, label: str, places: int, errors: list[str]) -> Decimal | None:
    if not (text or "").strip():
        return None
    try:
        return parse_number(text, label, places=places)
    except SettlementError as exc:
        errors.append(str(exc))
        return None


def _unit_id(name: str, prefix: str, label: str, errors: list[str]) -> int | None:
    raw = name.removeprefix(prefix)
    if not raw.isdigit():
        errors.append(f"未知的{label}（{raw}）")
        return None
    return int(raw)


def overrides_from_form(base: Base, form: Any) -> Overrides:
    """The overrides typed in the simulation form (blank fields: as the draft), checked against
    the draft; every problem in one Chinese ``SettlementError``.

    Fields: ``fund_<pool id>`` (yuan), ``score_<county id>``, ``split_institution_<n>`` with
    ``split_centre_<n>`` and ``split_stations_<n>`` (%), ``reserve_pct`` (%).
    """
    errors: list[str] = []
    funds: dict[int, int] = {}
    scores: dict[int, Decimal] = {}
    splits: dict[int, tuple[Decimal, Decimal]] = {}
    for name in form:
        value = form.get(name, "")
        if name.startswith("fund_"):
            pool_id = _unit_id(name, "fund_", "结算池", errors)
            label = base.pools[pool_id].name if pool_id in base.pools else name
            yuan = _number(value, f"结算池「{label}」的资金（元）", 2, errors)
            if pool_id is not None and yuan is not None:
                funds[pool_id] = int(yuan * 100)
        elif name.startswith("score_"):
            county_id = _unit_id(name, "score_", "县（市、区）", errors)
            label = base.counties[county_id].name if county_id in base.counties else name
            score = _number(value, f"县（市、区）「{label}」的得分", 2, errors)
            if county_id is not None and score is not None:
                scores[county_id] = score
    for n in range(1, SPLIT_ROWS + 1):
        chosen = (form.get(f"split_institution_{n}") or "").strip()
        centre = _number(form.get(f"split_centre_{n}", ""), "中心部分比例（%）", 2, errors)
        stations = _number(form.get(f"split_stations_{n}", ""), "站点部分比例（%）", 2, errors)
        if not chosen:
            if centre is not None or stations is not None:
                errors.append("填写了拆分比例，但没有选择医疗机构")
            continue
        inst_id = int(chosen) if chosen.isdigit() else -1
        if inst_id not in base.institutions:
            errors.append(f"未知的医疗机构（{chosen}）")
        elif centre is None or stations is None:
            errors.append(f"请填写医疗机构「{base.institutions[inst_id].name}」的中心与站点比例")
        elif inst_id in splits:
            errors.append(f"医疗机构「{base.institutions[inst_id].name}」重复填写了拆分比例")
        else:
            splits[inst_id] = (centre, stations)
    reserve = _number(form.get("reserve_pct", ""), "部门基金提取比例（%）", 2, errors)
    overrides = Overrides(funds, scores, splits, None if reserve is None else reserve / 100)
    errors += validate(base, overrides)
    if errors:
        raise SettlementError("；".join(errors))
    return overrides
