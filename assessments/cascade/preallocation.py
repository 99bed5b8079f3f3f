"""The pre-allocation (预拨) of year Y: ``preallocate`` per pool, one line per pool and county."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from assessments.cascade.groups import POPULATION_RULE, unique_keys
from assessments.cascade.inputs import PreallocationCounty, PreallocationInputs, PreallocationPool
from assessments.cascade.lines import Explanation, Line
from assessments.cascade.text import approx, frac, num
from assessments.money import SettlementInputError, yuan
from assessments.settlement import (
    Preallocation,
    PreallocationLine,
    PreallocationUnit,
    preallocate,
    share_for_display,
)

__all__ = ["preallocation"]


def preallocation(inputs: PreallocationInputs) -> list[Line]:
    """The lines of the year's pre-allocation sheet, depth-first."""
    note = POPULATION_RULE.format(as_of=inputs.as_of)
    lines: list[Line] = []
    for pool in inputs.pools:
        counties = pool.counties
        if not counties:
            raise SettlementInputError(f"结算池「{pool.name}」下没有县（市、区）")
        keys = unique_keys([c.name for c in counties], [c.code for c in counties])
        units = [
            PreallocationUnit(
                name=k,
                signed_population=c.signed_population,
                last_year_entitled_fen=c.last_year_entitled_fen,
            )
            for k, c in zip(keys, counties, strict=True)
        ]
        result = preallocate(pool.fund_fen, units, inputs.preallocation_rate, pool_name=pool.name)
        lines.append(_pool_line(pool, result, note))
        for county, pline in zip(counties, result.lines, strict=True):
            lines.append(_county_line(pool, county, pline, result, note))
    return lines


def _pool_line(pool: PreallocationPool, result: Preallocation, note: str) -> Line:
    return Line(
        key=f"pool:{pool.unit_id}",
        level="pool",
        name=pool.name,
        unit_id=pool.unit_id,
        signed_population=sum(c.signed_population for c in pool.counties),
        preallocated_fen=result.preallocated_fen,
        explanation=Explanation(
            formula="预拨额度 = 预拨比例 × 当年结算池资金（四舍五入到分）",
            steps=(
                f"当年资金 {yuan(result.fund_fen)} 元 × 预拨比例 {result.rate} = 预拨额度 {yuan(result.budget_fen)} 元",
                f"按上年应得预拨 {yuan(result.by_last_year_fen)} 元；按签约人口预拨 {yuan(result.by_population_fen)} 元",
                f"未预拨（留待次年结算）{yuan(result.unallocated_fen)} 元",
            ),
            notes=(note,),
            figures={
                "fund_fen": result.fund_fen,
                "rate": str(result.rate),
                "budget_fen": result.budget_fen,
                "by_last_year_fen": result.by_last_year_fen,
                "by_population_fen": result.by_population_fen,
                "unallocated_fen": result.unallocated_fen,
            },
        ),
    )


def _county_line(
    pool: PreallocationPool,
    county: PreallocationCounty,
    pline: PreallocationLine,
    result: Preallocation,
    note: str,
) -> Line:
    last = county.last_year_entitled_fen
    if pline.basis == "last_year":
        history_total = sum(c.last_year_entitled_fen or 0 for c in pool.counties)
        group, weight, total = result.by_last_year_fen, last or 0, history_total
        steps = [
            f"上年应得 {yuan(last or 0)} 元，按上年应得比例分享“按上年应得预拨”的 {yuan(group)} 元"
            f"（= 预拨比例 {result.rate} × 上年应得合计 {yuan(history_total)} 元，四舍五入，不超过预拨额度）"
        ]
    else:
        newcomers = [c for c in pool.counties if c.last_year_entitled_fen is None]
        population_total = sum(c.signed_population for c in newcomers)
        group, weight, total = result.by_population_fen, county.signed_population, population_total
        steps = [
            f"无上年结算，按签约人口 {num(county.signed_population)} 人分享预拨额度剩余的 {yuan(group)} 元"
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
    share = Fraction(weight, total) if total else None
    return Line(
        key=f"county:{county.unit_id}",
        parent=f"pool:{pool.unit_id}",
        level="county",
        name=county.name,
        unit_id=county.unit_id,
        county_id=county.unit_id,
        signed_population=county.signed_population,
        weight=Decimal(weight),
        share=share,
        share_display=share_for_display(share) if share is not None else None,
        exact_fen=exact,
        preallocated_fen=pline.preallocated_fen,
        rounding_adjustment=pline.preallocated_fen - exact,
        explanation=Explanation(
            formula="有上年结算：按上年应得比例；无上年结算：按签约人口比例",
            steps=tuple(steps),
            notes=(note,),
            figures={"basis": pline.basis, "last_year_entitled_fen": last},
        ),
    )
