"""The settlement cascade computed from a plain inputs dict (no Flask, no database).

``compute(inputs)`` turns the inputs gathered by ``services.gather_inputs`` into the lines of the
sheet, calling the pure core (``assessments.settlement``) for every split:

* city → counties per pool: ``settle_pools`` with P and the L4 score S;
* county → institutions: ``settle_pools`` with P and the L3 year-end (H2) score;
* institution → centre part / stations part: ``split_by_ratio`` with the configured split;
* each part → its teams: ``settle_pools`` with P and the mean of the year's L2 scores;
* team → members: ``distribute_team`` (reserve, then k × y × c × a, ``workload_attainment``);
* pre-allocation of year Y: ``preallocate`` per pool.

Inputs and outputs hold only ints, strings, lists, dicts and None (never floats), so their
canonical JSON (``canonical_json``) and its SHA-256 are the same on every machine. The same
inputs always give the same lines, in the same (depth-first) order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from assessments.money import SettlementInputError, exact_decimal, round_half_up, yuan
from assessments.settlement import (
    MemberInput,
    PoolInput,
    PreallocationUnit,
    UnitInput,
    distribute_team,
    preallocate,
    settle_pools,
    share_for_display,
    split_by_ratio,
    workload_attainment,
)

Line = dict[str, Any]

# Labels of the two parts of an institution by its subtype: urban centre/stations, rural
# township health centre/village clinics (SPEC 7.4).
PART_LABELS = {
    "community_centre": {"centre": "社区卫生服务中心部分", "stations": "社区卫生服务站部分"},
    "township_centre": {"centre": "乡镇卫生院部分", "stations": "村卫生室部分"},
}
DEFAULT_PART_LABELS = {"centre": "机构本部部分", "stations": "站点部分"}
PARTS = ("centre", "stations")
POPULATION_RULE = (
    "签约人口 P：{as_of} 当日有效签约的居民人数（签约协议开始日期不晚于该日、结束日期不早于该日，"
    "且未在该日或之前解约；同一居民只计一次）"
)
SCORE_PLACES = 2


# --------------------------------------------------------------------------- hashing


def _check_json_safe(value: Any, where: str = "$") -> None:
    """Refuse floats (and anything JSON cannot hold exactly) anywhere in the structure."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: non-string key {key!r}")
            _check_json_safe(item, f"{where}.{key}")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_safe(item, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: {type(value).__name__} is not allowed in settlement JSON")


def _json_safe_quick(value: Any) -> bool:
    """True when the structure holds only exact str/int/bool/None, str-keyed dicts and lists.

    A fast, non-recursive pass for the common case; anything else (floats, but also subclasses
    such as an ``IntEnum``) is left to ``_check_json_safe`` to accept or name.
    """
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            extend(item.values())
        elif kind is list:
            extend(item)
        else:
            return False
    return True


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(value: Any, *, checked: bool = False) -> str:
    """Sorted keys, no spaces, UTF-8 text, no floats: the same bytes on every machine.

    ``checked``: the value is part of a structure already checked (e.g. a line of outputs whose
    canonical JSON was just made), so the check is not repeated.
    """
    if not checked and not _json_safe_quick(value):
        _check_json_safe(value)
    return _CANONICAL.encode(value)


def sha256_of(inputs: Any, outputs: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``{"inputs": …, "outputs": …}``."""
    text = canonical_json({"inputs": inputs, "outputs": outputs})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_of_texts(inputs_json: str, outputs_json: str) -> str:
    """``sha256_of`` from the canonical JSON of the inputs and of the outputs, already made.

    The canonical JSON of ``{"inputs": i, "outputs": o}`` is exactly the two texts in that frame
    (keys sorted, no spaces), so the structures need not be walked and encoded a second time.
    """
    text = '{"inputs":' + inputs_json + ',"outputs":' + outputs_json + "}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- formatting


def frac(value: Fraction) -> str:
    """An exact fraction as text: ``"2562/5051"`` or ``"7"``."""
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def parse_frac(text: str | None) -> Fraction | None:
    return None if text is None else Fraction(text)


def approx(value: Fraction, places: int = 6, sign: bool = False) -> str:
    """A fraction as a decimal: exact when it terminates within ``places``, else ``≈`` rounded.

    Rounded half-up like ``round_half_up`` and written like ``exact_decimal`` (shortest form,
    thousands separators), in integers: it runs for every figure of every line.
    """
    numerator, denominator = value.numerator, value.denominator
    scale = 10**places
    scaled = abs(numerator) * scale
    rounded = (2 * scaled + denominator) // (2 * denominator)
    if rounded and rounded * 10**6 < scale:
        # Below 0.000001 a Decimal writes itself in scientific notation ("5E-7"): let it.
        text = f"{exact_decimal(Fraction(-rounded if numerator < 0 else rounded, scale)):,}"
    else:
        whole, rest = divmod(rounded, scale)
        digits = f"{rest:0{places}d}".rstrip("0") if places else ""
        text = f"{whole:,}.{digits}" if digits else f"{whole:,}"
        if numerator < 0 and rounded:
            text = "-" + text
    if sign and numerator > 0:
        text = "+" + text
    return text if rounded * denominator == scaled else f"≈{text}"


def num(value: Decimal | int) -> str:
    return f"{value:,}"


def _dec(value: Fraction) -> str:
    return str(exact_decimal(value))


# --------------------------------------------------------------------------- the shared split


@dataclass(frozen=True)
class _Part:
    """One unit's result within a group, from the core (or all zero for an empty group)."""

    weight: Decimal
    share: Fraction | None
    exact: Fraction
    entitled: int
    rounding: Fraction


def _unique_keys(names: Sequence[str], codes: Sequence[str]) -> list[str]:
    """Names for the core's tie rule; a repeated name gets its code appended."""
    repeated = {n for n in names if names.count(n) > 1}
    return [f"{n}（{c}）" if n in repeated else n for n, c in zip(names, codes, strict=True)]


def _settle(
    where: str, fund: int, names: list[str], populations: list[int], scores: list[Decimal]
) -> list[_Part]:
    """``settle_pools`` on one group; a group of zero weights and zero fund gets zeros."""
    weights = [p * s for p, s in zip(populations, scores, strict=True)]
    if sum(weights, Decimal(0)) == 0:
        if fund > 0:
            raise SettlementInputError(
                f"{where}所有单位的“签约人口×得分”均为 0，无法分配 {yuan(fund)} 元"
            )
        return [_Part(w, None, Fraction(0), 0, Fraction(0)) for w in weights]
    units = [
        UnitInput(name=n, signed_population=p, score=s)
        for n, p, s in zip(names, populations, scores, strict=True)
    ]
    result = settle_pools([PoolInput(name=where, fund_fen=fund, units=units)])[0]
    return [
        _Part(u.weight, u.share, u.exact_fen, u.entitled_fen, u.rounding_adjustment)
        for u in result.units
    ]


def _score(unit: dict[str, Any], what: str) -> Decimal:
    score = unit.get("score")
    if score is None:
        if unit["signed_population"] > 0:
            raise SettlementInputError(f"{what}「{unit['name']}」缺少考核得分")
        return Decimal(0)
    return Decimal(score["value"])


def _share_steps(
    part: _Part, weight_text: str, total_weight: Decimal, fund: int, fund_label: str
) -> list[str]:
    steps = [f"P × S = {weight_text} = {num(part.weight)}"]
    if part.share is None:
        steps.append(f"所在组 Σ(P × S) = 0，{fund_label} 0 分，本行 0 分")
        return steps
    steps += [
        f"份额 = {num(part.weight)} ÷ Σ(P × S) {num(total_weight)} = {frac(part.share)}"
        f" ≈ {share_for_display(part.share)}",
        f"精确金额 = 份额 × {fund_label} {num(fund)} 分 = {approx(part.exact)} 分",
        f"按最大余额法取整：{num(part.entitled)} 分（{yuan(part.entitled)} 元）",
        f"舍入调整 = {num(part.entitled)} − {approx(part.exact)} = "
        f"{approx(part.rounding, sign=True)} 分（精确值 {frac(part.rounding)} 分）",
    ]
    return steps


def _line(**fields: Any) -> Line:
    line: Line = {
        "key": "",
        "parent": None,
        "level": "",
        "name": "",
        "unit_id": None,
        "user_id": None,
        "county_id": None,
        "institution_id": None,
        "team_id": None,
        "signed_population": None,
        "score": None,
        "source": None,
        "weight": None,
        "share": None,
        "share_display": None,
        "exact_fen": None,
        "entitled_fen": None,
        "preallocated_fen": None,
        "balance_fen": None,
        "rounding_adjustment": None,
        "explanation": {},
    }
    line.update(fields)
    return line


def _figures(part: _Part) -> dict[str, Any]:
    return {
        "weight": str(part.weight),
        "share": frac(part.share) if part.share is not None else None,
        "share_display": str(share_for_display(part.share)) if part.share is not None else None,
        "exact_fen": frac(part.exact),
        "entitled_fen": part.entitled,
        "rounding_adjustment": frac(part.rounding),
    }


def _assessment_source(score: dict[str, Any] | None) -> dict[str, Any] | None:
    if score is None:
        return None
    return {key: score[key] for key in ("level", "period", "assessment_id", "revision", "value")}


# --------------------------------------------------------------------------- the settlement


class _Cascade:
    def __init__(self, inputs: dict[str, Any]) -> None:
        self.inputs = inputs
        params = inputs["parameters"]
        self.reserve_rate = Decimal(params["reserve_rate"])
        self.cap = Decimal(params["attainment_cap"])
        self.population_note = POPULATION_RULE.format(as_of=inputs["as_of"])
        self.lines: list[Line] = []

    def run(self) -> list[Line]:
        for pool in self.inputs["pools"]:
            self._pool(pool)
        return self.lines

    # city → counties
    def _pool(self, pool: dict[str, Any]) -> None:
        counties = pool["counties"]
        where = f"结算池「{pool['name']}」"
        if not counties:
            raise SettlementInputError(f"{where}下没有县（市、区）")
        fund = pool["fund_fen"]
        keys = _unique_keys([c["name"] for c in counties], [c["code"] for c in counties])
        scores = [_score(c, "县（市、区）") for c in counties]
        populations = [c["signed_population"] for c in counties]
        parts = _settle(where, fund, keys, populations, scores)
        total_weight = sum((p.weight for p in parts), Decimal(0))
        preallocated = sum(c["preallocated_fen"] for c in counties)
        key = f"pool:{pool['unit_id']}"
        self.lines.append(
            _line(
                key=key,
                level="pool",
                name=pool["name"],
                unit_id=pool["unit_id"],
                signed_population=sum(populations),
                weight=str(total_weight),
                share="1",
                share_display=str(share_for_display(Fraction(1))),
                exact_fen=str(fund),
                entitled_fen=fund,
                preallocated_fen=preallocated,
                balance_fen=fund - preallocated,
                rounding_adjustment="0",
                explanation={
                    "formula": "各县（市、区）应得 = P × S ÷ Σ(P × S) × 结算池资金",
                    "steps": [
                        f"结算池资金 = {num(fund)} 分（{yuan(fund)} 元），由市卫健委在结算配置中录入",
                        f"Σ P = {num(sum(populations))} 人；Σ(P × S) = {num(total_weight)}",
                        f"{len(counties)} 个县（市、区）应得合计 = {yuan(sum(p.entitled for p in parts))} 元"
                        "（最大余额法保证合计恰好等于资金）",
                        f"已预拨合计 {yuan(preallocated)} 元，差额合计 {yuan(fund - preallocated)} 元",
                    ],
                    "notes": [self.population_note],
                    "sources": [],
                },
            )
        )
        for county, part in zip(counties, parts, strict=True):
            self._county(pool, county, part, key, total_weight, fund)

    def _county(
        self,
        pool: dict[str, Any],
        county: dict[str, Any],
        part: _Part,
        parent: str,
        total_weight: Decimal,
        fund: int,
    ) -> None:
        score = county.get("score")
        pre = county["preallocated_fen"]
        balance = part.entitled - pre
        steps = [
            f"P（签约人口）= {num(county['signed_population'])} 人；"
            + (
                f"S（{score['period']} 年度市级考核得分）= {score['value']}"
                if score
                else "S：无考核得分（签约人口为 0，不参与分配）"
            )
        ]
        steps += _share_steps(
            part,
            f"{num(county['signed_population'])} × {score['value'] if score else '0'}",
            total_weight,
            fund,
            f"结算池「{pool['name']}」资金",
        )
        if pre:
            steps.append(
                f"已预拨 {yuan(pre)} 元（{county.get('preallocation_note') or '当年预拨'}）"
            )
        else:
            steps.append("当年未预拨（预拨 0 元）")
        steps.append(
            f"差额 = 应得 {yuan(part.entitled)} − 预拨 {yuan(pre)} = {yuan(balance)} 元"
            + ("（应补拨）" if balance > 0 else "（应追回）" if balance < 0 else "（无差额）")
        )
        key = f"county:{county['unit_id']}"
        self.lines.append(
            _line(
                key=key,
                parent=parent,
                level="county",
                name=county["name"],
                unit_id=county["unit_id"],
                county_id=county["unit_id"],
                signed_population=county["signed_population"],
                score=score["value"] if score else None,
                source=_assessment_source(score),
                preallocated_fen=pre,
                balance_fen=balance,
                explanation={
                    "formula": "应得 = P × S ÷ Σ(P × S) × 结算池资金；差额 = 应得 − 预拨",
                    "steps": steps,
                    "notes": [self.population_note],
                    "sources": [_assessment_source(score)] if score else [],
                },
                **_figures(part),
            )
        )
        self._institutions(county, part.entitled, key)

    # county → institutions
    def _institutions(self, county: dict[str, Any], amount: int, parent: str) -> None:
        institutions = county["institutions"]
        where = f"县（市、区）「{county['name']}」的机构分配"
        if not institutions:
            if amount > 0:
                raise SettlementInputError(
                    f"县（市、区）「{county['name']}」没有医疗机构，无法分配 {yuan(amount)} 元"
                )
            return
        keys = _unique_keys([i["name"] for i in institutions], [i["code"] for i in institutions])
        scores = [_score(i, "医疗机构") for i in institutions]
        populations = [i["signed_population"] for i in institutions]
        parts = _settle(where, amount, keys, populations, scores)
        total_weight = sum((p.weight for p in parts), Decimal(0))
        for inst, part in zip(institutions, parts, strict=True):
            score = inst.get("score")
            steps = [
                f"P（签约人口）= {num(inst['signed_population'])} 人；"
                + (
                    f"S（{score['period']} 县区年终考核得分）= {score['value']}"
                    if score
                    else "S：无考核得分（签约人口为 0，不参与分配）"
                )
            ]
            steps += _share_steps(
                part,
                f"{num(inst['signed_population'])} × {score['value'] if score else '0'}",
                total_weight,
                amount,
                f"「{county['name']}」应得",
            )
            key = f"institution:{inst['unit_id']}"
            self.lines.append(
                _line(
                    key=key,
                    parent=parent,
                    level="institution",
                    name=inst["name"],
                    unit_id=inst["unit_id"],
                    county_id=county["unit_id"],
                    institution_id=inst["unit_id"],
                    signed_population=inst["signed_population"],
                    score=score["value"] if score else None,
                    source=_assessment_source(score),
                    explanation={
                        "formula": "机构应得 = P × S ÷ Σ(P × S) × 县（市、区）应得",
                        "steps": steps,
                        "notes": [self.population_note],
                        "sources": [_assessment_source(score)] if score else [],
                    },
                    **_figures(part),
                )
            )
            self._parts(county, inst, part.entitled, key)

    # institution → centre part / stations part → teams
    def _parts(
        self, county: dict[str, Any], inst: dict[str, Any], amount: int, parent: str
    ) -> None:
        labels = PART_LABELS.get(inst.get("subtype") or "", DEFAULT_PART_LABELS)
        teams = inst["teams"]
        means = {t["unit_id"]: self._mean(t) for t in teams}
        by_part = {p: [t for t in teams if t["part"] == p] for p in PARTS}

        def part_weight(part: str) -> Decimal:
            return sum(
                (t["signed_population"] * (means[t["unit_id"]][0] or 0) for t in by_part[part]),
                Decimal(0),
            )

        used = [p for p in PARTS if by_part[p] and part_weight(p) > 0]
        if not used:
            if amount > 0:
                raise SettlementInputError(
                    f"医疗机构「{inst['name']}」没有可分配的团队（团队的签约人口×得分均为 0），"
                    f"无法分配 {yuan(amount)} 元"
                )
            used = [p for p in PARTS if by_part[p]]
            if not used:
                return
        split = inst["split"]
        configured = {p: Decimal(split[p]) for p in PARTS}
        ratios = {p: configured[p] for p in used} if len(used) == 2 else {used[0]: Decimal(1)}
        amounts = split_by_ratio(amount, {labels[p]: ratios[p] for p in used})
        ratio_total = sum(ratios.values(), Decimal(0))
        source_text = "本机构单独配置" if split["source"] == "institution" else "全市默认配置"
        for p in used:
            part_amount = amounts[labels[p]]
            share = Fraction(ratios[p]) / Fraction(ratio_total)
            exact = share * amount
            if len(used) == 2:
                steps = [
                    f"拆分比例（{source_text}）：中心 {configured['centre']} : 站点 {configured['stations']}",
                    f"份额 = {ratios[p]} ÷ {ratio_total} = {frac(share)}",
                    f"精确金额 = {frac(share)} × 机构应得 {num(amount)} 分 = {approx(exact)} 分",
                    f"按最大余额法取整：{num(part_amount)} 分（{yuan(part_amount)} 元）",
                    f"舍入调整 = {approx(part_amount - exact, sign=True)} 分"
                    f"（精确值 {frac(part_amount - exact)} 分）",
                ]
                notes = []
            else:
                other = "stations" if p == "centre" else "centre"
                reason = "没有团队" if not by_part[other] else "团队的签约人口×得分均为 0"
                steps = [f"{labels[other]}{reason}，机构应得 {yuan(amount)} 元全部归{labels[p]}"]
                notes = (
                    ["未配置拆分比例：本机构只有一部分参与分配，无需拆分"]
                    if split["source"] == "none"
                    else [
                        f"配置的拆分比例（{source_text}）为 {configured['centre']} : "
                        f"{configured['stations']}，本机构只有一部分参与分配"
                    ]
                )
            key = f"split:{inst['unit_id']}:{p}"
            self.lines.append(
                _line(
                    key=key,
                    parent=parent,
                    level="split",
                    name=labels[p],
                    unit_id=inst["unit_id"],
                    county_id=county["unit_id"],
                    institution_id=inst["unit_id"],
                    weight=str(ratios[p]),
                    share=frac(share),
                    share_display=str(share_for_display(share)),
                    exact_fen=frac(exact),
                    entitled_fen=part_amount,
                    rounding_adjustment=frac(part_amount - exact),
                    explanation={
                        "formula": "部分金额 = 拆分比例 ÷ 比例合计 × 机构应得",
                        "steps": steps,
                        "notes": notes,
                        "sources": [],
                        "figures": {"part": p, "ratio": str(ratios[p])},
                    },
                )
            )
            self._teams(county, inst, by_part[p], means, part_amount, key, labels[p])

    def _mean(self, team: dict[str, Any]) -> tuple[Decimal | None, list[str]]:
        """The mean of the year's L2 scores present, half-up to two places, and how it was got."""
        scores = team["l2"]
        if not scores:
            if team["signed_population"] > 0:
                raise SettlementInputError(f"团队「{team['name']}」缺少本年度季度考核得分")
            return None, ["无季度考核得分（签约人口为 0，不参与分配）"]
        values = [Fraction(Decimal(s["value"])) for s in scores]
        exact = sum(values, Fraction(0)) / len(values)
        mean = exact_decimal(round_half_up(exact, SCORE_PLACES)).quantize(Decimal("0.01"))
        periods = "、".join(s["period"] for s in scores)
        present = {s["period"] for s in scores}
        missing = [f"{self.inputs['year']}-Q{q}" for q in range(1, 5)]
        missing = [period for period in missing if period not in present]
        steps = [
            f"季度考核得分（{len(scores)} 个季度：{periods}）= "
            + " + ".join(s["value"] for s in scores)
            + f"，平均 = {approx(exact)} → 四舍五入保留两位 = {mean}"
        ]
        if missing:
            steps.append(f"未计入（无已公示得分）：{'、'.join(missing)}；取已有季度的平均")
        return mean, steps

    def _teams(
        self,
        county: dict[str, Any],
        inst: dict[str, Any],
        teams: list[dict[str, Any]],
        means: dict[int, tuple[Decimal | None, list[str]]],
        amount: int,
        parent: str,
        part_label: str,
    ) -> None:
        where = f"医疗机构「{inst['name']}」{part_label}的团队分配"
        keys = _unique_keys([t["name"] for t in teams], [t["code"] for t in teams])
        scores = [means[t["unit_id"]][0] or Decimal(0) for t in teams]
        populations = [t["signed_population"] for t in teams]
        parts = _settle(where, amount, keys, populations, scores)
        total_weight = sum((p.weight for p in parts), Decimal(0))
        for team, part, score in zip(teams, parts, scores, strict=True):
            mean, mean_steps = means[team["unit_id"]]
            steps = [f"P（签约人口）= {num(team['signed_population'])} 人"] + mean_steps
            steps += _share_steps(
                part,
                f"{num(team['signed_population'])} × {score}",
                total_weight,
                amount,
                part_label,
            )
            sources = [
                {"level": "L2", "period": s["period"], "assessment_id": s["assessment_id"],
                 "revision": s["revision"], "value": s["value"]}
                for s in team["l2"]
            ]  # fmt: skip
            key = f"team:{team['unit_id']}"
            self.lines.append(
                _line(
                    key=key,
                    parent=parent,
                    level="team",
                    name=team["name"],
                    unit_id=team["unit_id"],
                    county_id=county["unit_id"],
                    institution_id=inst["unit_id"],
                    team_id=team["unit_id"],
                    signed_population=team["signed_population"],
                    score=str(mean) if mean is not None else None,
                    explanation={
                        "formula": "团队应得 = P × S̄ ÷ Σ(P × S̄) × 所在部分金额（S̄ = 本年度季度考核得分平均）",
                        "steps": steps,
                        "notes": [self.population_note],
                        "sources": sources,
                    },
                    **_figures(part),
                )
            )
            self._members(county, inst, team, part.entitled, key)

    # team → members (二次分配)
    def _members(
        self,
        county: dict[str, Any],
        inst: dict[str, Any],
        team: dict[str, Any],
        amount: int,
        parent: str,
    ) -> None:
        members = team["members"]
        if not members:
            if amount > 0:
                raise SettlementInputError(
                    f"团队「{team['name']}」没有成员，无法分配 {yuan(amount)} 元"
                )
            return
        keys = _unique_keys([m["name"] for m in members], [m["username"] for m in members])
        factors: list[dict[str, Any]] = []
        inputs = []
        for member, name in zip(members, keys, strict=True):
            notes: list[str] = []
            probation = bool(member["probation"])
            standard = member.get("standard")
            if standard is None and not probation:
                raise SettlementInputError(
                    f"岗位「{member.get('post') or '未填写'}」未配置标准工作量"
                )
            if standard is None:
                k = Decimal(0)
                notes.append("未配置标准工作量，k 记为 0（试用期成员不参与分配）")
            else:
                k = workload_attainment(member["services"], standard, self.cap)
            y = Decimal(member["y"]) if member.get("y") is not None else None
            c = Decimal(member["c"]) if member.get("c") is not None else None
            a = Decimal(member["a"]) if member.get("a") is not None else None
            if not probation and (y is None or c is None or a is None):
                raise SettlementInputError(
                    f"团队「{team['name']}」成员「{member['name']}」缺少岗位系数或个人系数"
                )
            if y is None:
                y = Decimal(1)
                notes.append("岗位未配置岗位系数，按 1 列示（试用期成员不参与分配）")
            if c is None or a is None:
                c, a = Decimal(1), Decimal(1)
                notes.append("未录入个人系数，按 c = 1、a = 1 列示（试用期成员不参与分配）")
            factors.append({"k": k, "y": y, "c": c, "a": a, "notes": notes})
            inputs.append(MemberInput(name=name, k=k, y=y, c=c, a=a, probation=probation))
        dist = distribute_team(amount, self.reserve_rate, inputs)
        total_weight = sum((Fraction(s.weight) for s in dist.members), Fraction(0))
        for member, share, fac in zip(members, dist.members, factors, strict=True):
            exact = share.share * dist.distributed_fen
            rounding = share.amount_fen - exact
            steps = [
                f"k（工作量达标系数）= min(本年服务 {num(member['services'])} 次 ÷ 标准 "
                f"{num(member['standard']) if member.get('standard') is not None else '—'} 次, 上限 {self.cap}) = {share.k}",
                f"y（岗位系数，岗位：{member.get('post') or '未填写'}）= {share.y}",
                f"c（个人绩效考评系数，团队长录入）= {share.c}；a（出勤系数，团队长录入）= {share.a}",
            ]
            if share.probation:
                steps.append("试用期成员：权重为 0，不参与分配")
            else:
                steps.append(
                    f"权重 = k × y × c × a = {share.k} × {share.y} × {share.c} × {share.a} = {share.weight}"
                )
            if dist.distributed_fen and total_weight:
                steps += [
                    f"份额 = {share.weight} ÷ Σ权重 {_dec(total_weight)} = {frac(share.share)}"
                    f" ≈ {share_for_display(share.share)}",
                    f"精确金额 = 份额 × 可分配 {num(dist.distributed_fen)} 分 = {approx(exact)} 分",
                    f"按最大余额法取整：{num(share.amount_fen)} 分（{yuan(share.amount_fen)} 元）",
                    f"舍入调整 = {approx(rounding, sign=True)} 分（精确值 {frac(rounding)} 分）",
                ]
            else:
                steps.append("本团队没有可分配金额或没有成员有权重：本人 0 元，全部留在部门基金")
            self.lines.append(
                _line(
                    key=f"member:{team['unit_id']}:{member['user_id']}",
                    parent=parent,
                    level="member",
                    name=member["name"],
                    user_id=member["user_id"],
                    county_id=county["unit_id"],
                    institution_id=inst["unit_id"],
                    team_id=team["unit_id"],
                    weight=str(share.weight),
                    share=frac(share.share),
                    share_display=str(share_for_display(share.share)),
                    exact_fen=frac(exact),
                    entitled_fen=share.amount_fen,
                    rounding_adjustment=frac(rounding),
                    explanation={
                        "formula": "成员金额 = k × y × c × a ÷ Σ(k × y × c × a) × （团队应得 − 部门基金）",
                        "steps": steps,
                        "notes": fac["notes"],
                        "sources": [],
                        "factors": {
                            "k": str(share.k),
                            "y": str(share.y),
                            "c": str(share.c),
                            "a": str(share.a),
                            "post": member.get("post") or "",
                            "services": member["services"],
                            "standard": member.get("standard"),
                            "probation": share.probation,
                            "rating_id": member.get("rating_id"),
                        },
                    },
                )
            )
        exact_reserve = Fraction(dist.reserve_rate) * amount
        steps = [
            f"部门基金 = 提取比例 {dist.reserve_rate} × 团队应得 {num(amount)} 分 = {approx(exact_reserve)} 分"
            f" → 四舍五入 {num(dist.configured_reserve_fen)} 分",
        ]
        if dist.reserve_fen != dist.configured_reserve_fen:
            steps.append(
                f"没有成员有权重，可分配的 {yuan(dist.reserve_fen - dist.configured_reserve_fen)} 元也留在部门基金"
            )
        steps.append(
            f"部门基金 {yuan(dist.reserve_fen)} 元 + 成员合计 {yuan(dist.distributed_fen)} 元 = 团队应得 {yuan(amount)} 元"
        )
        self.lines.append(
            _line(
                key=f"reserve:{team['unit_id']}",
                parent=parent,
                level="reserve",
                name="部门基金",
                unit_id=team["unit_id"],
                county_id=county["unit_id"],
                institution_id=inst["unit_id"],
                team_id=team["unit_id"],
                weight=str(dist.reserve_rate),
                exact_fen=frac(exact_reserve),
                entitled_fen=dist.reserve_fen,
                rounding_adjustment=frac(dist.configured_reserve_fen - exact_reserve),
                explanation={
                    "formula": "部门基金 = 提取比例 × 团队应得（四舍五入到分）",
                    "steps": steps,
                    "notes": [],
                    "sources": [],
                    "figures": {
                        "reserve_rate": str(dist.reserve_rate),
                        "configured_reserve_fen": dist.configured_reserve_fen,
                        "distributed_fen": dist.distributed_fen,
                    },
                },
            )
        )


# --------------------------------------------------------------------------- pre-allocation


def _preallocation(inputs: dict[str, Any]) -> list[Line]:
    rate = Decimal(inputs["parameters"]["preallocation_rate"])
    population_note = POPULATION_RULE.format(as_of=inputs["as_of"])
    lines: list[Line] = []
    for pool in inputs["pools"]:
        counties = pool["counties"]
        if not counties:
            raise SettlementInputError(f"结算池「{pool['name']}」下没有县（市、区）")
        keys = _unique_keys([c["name"] for c in counties], [c["code"] for c in counties])
        units = [
            PreallocationUnit(
                name=k, signed_population=c["signed_population"],
                last_year_entitled_fen=c["last_year_entitled_fen"],
            )
            for k, c in zip(keys, counties, strict=True)
        ]  # fmt: skip
        result = preallocate(pool["fund_fen"], units, rate, pool_name=pool["name"])
        key = f"pool:{pool['unit_id']}"
        lines.append(
            _line(
                key=key,
                level="pool",
                name=pool["name"],
                unit_id=pool["unit_id"],
                signed_population=sum(c["signed_population"] for c in counties),
                preallocated_fen=result.preallocated_fen,
                explanation={
                    "formula": "预拨额度 = 预拨比例 × 当年结算池资金（四舍五入到分）",
                    "steps": [
                        f"当年资金 {yuan(result.fund_fen)} 元 × 预拨比例 {result.rate} = 预拨额度 {yuan(result.budget_fen)} 元",
                        f"按上年应得预拨 {yuan(result.by_last_year_fen)} 元；按签约人口预拨 {yuan(result.by_population_fen)} 元",
                        f"未预拨（留待次年结算）{yuan(result.unallocated_fen)} 元",
                    ],
                    "notes": [population_note],
                    "sources": [],
                    "figures": {
                        "fund_fen": result.fund_fen,
                        "rate": str(result.rate),
                        "budget_fen": result.budget_fen,
                        "by_last_year_fen": result.by_last_year_fen,
                        "by_population_fen": result.by_population_fen,
                        "unallocated_fen": result.unallocated_fen,
                    },
                },
            )
        )
        history = [c for c in counties if c["last_year_entitled_fen"] is not None]
        history_total = sum(c["last_year_entitled_fen"] for c in history)
        newcomers = [c for c in counties if c["last_year_entitled_fen"] is None]
        population_total = sum(c["signed_population"] for c in newcomers)
        for county, pline in zip(counties, result.lines, strict=True):
            last = county["last_year_entitled_fen"]
            if pline.basis == "last_year":
                group, weight, total = result.by_last_year_fen, last or 0, history_total
                steps = [
                    f"上年应得 {yuan(last or 0)} 元，按上年应得比例分享“按上年应得预拨”的 {yuan(group)} 元"
                    f"（= 预拨比例 {result.rate} × 上年应得合计 {yuan(history_total)} 元，四舍五入，不超过预拨额度）"
                ]
            else:
                group, weight, total = (
                    result.by_population_fen,
                    county["signed_population"],
                    population_total,
                )
                steps = [
                    f"无上年结算，按签约人口 {num(county['signed_population'])} 人分享预拨额度剩余的 {yuan(group)} 元"
                ]
            exact = Fraction(group * weight, total) if total else Fraction(0)
            steps += [
                f"精确金额 = {num(group)} × {num(weight)} ÷ {num(total)} = {approx(exact)} 分"
                if total
                else "该组合计为 0",
                f"按最大余额法取整：{num(pline.preallocated_fen)} 分（{yuan(pline.preallocated_fen)} 元）",
                f"舍入调整 = {approx(pline.preallocated_fen - exact, sign=True)} 分"
                f"（精确值 {frac(pline.preallocated_fen - exact)} 分）",
            ]
            lines.append(
                _line(
                    key=f"county:{county['unit_id']}",
                    parent=key,
                    level="county",
                    name=county["name"],
                    unit_id=county["unit_id"],
                    county_id=county["unit_id"],
                    signed_population=county["signed_population"],
                    weight=str(weight),
                    share=frac(Fraction(weight, total)) if total else None,
                    share_display=str(share_for_display(Fraction(weight, total)))
                    if total
                    else None,
                    exact_fen=frac(exact),
                    preallocated_fen=pline.preallocated_fen,
                    rounding_adjustment=frac(pline.preallocated_fen - exact),
                    explanation={
                        "formula": "有上年结算：按上年应得比例；无上年结算：按签约人口比例",
                        "steps": steps,
                        "notes": [population_note],
                        "sources": [],
                        "figures": {"basis": pline.basis, "last_year_entitled_fen": last},
                    },
                )
            )
    return lines


# --------------------------------------------------------------------------- entry point


def compute(inputs: dict[str, Any]) -> list[Line]:
    """The lines of the sheet, depth-first; raises ``SettlementInputError`` (Chinese) on bad input."""
    if inputs["kind"] == "preallocation":
        return _preallocation(inputs)
    return _Cascade(inputs).run()
