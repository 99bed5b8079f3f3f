"""Counts to values: each metric's ratio, its Chinese ``detail`` and its drill-down filters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from assessments.care_schedule.model import ServiceType
from fdoctor.assessments.metrics.predicates import (
    COUNTING,
    KEY_SERVICE_PARTS,
    REFERRAL_TYPES,
    SPECIAL_CARE_PARTS,
    VISIT_TYPES,
    _judged_quarters,
    _months,
    _twelve_months,
)
from fdoctor.assessments.metrics.units import _Population

if TYPE_CHECKING:
    from fdoctor.assessments.metrics.collector import _Run


_PLACES = Decimal("0.000001")
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class MetricValue:
    """One metric of one unit: the value ``assessments.scoring.score`` takes, and how it came."""

    metric: str
    numerator: Decimal | None
    denominator: Decimal | None
    value: object
    detail: str
    drill: dict[str, str]


# --------------------------------------------------------------------------- values


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(_PLACES, ROUND_HALF_UP)


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(value: Decimal) -> str:
    return f"{(value * _HUNDRED).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def _dec(value: Decimal, places: str = "0.01") -> str:
    return str(value.quantize(Decimal(places), ROUND_HALF_UP))


class _Builder:
    """Turns one unit's counts into MetricValues."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.months = _months(run.start, run.end)
        self.low, self.high = _twelve_months(run.as_of)

    def drill(self, metric: str, unit: int, **extra: str) -> dict[str, str]:
        run = self.run
        base = {
            "metric": metric,
            "grain": run.grain.grain,
            "unit_id": str(unit),
            "start": run.start.isoformat(),
            "end": run.end.isoformat(),
            "as_of": run.as_of.isoformat(),
        }
        if run.grain.grain != "city":
            base[f"{run.grain.grain}_id"] = str(unit)
        return base | extra

    def value(
        self,
        metric: str,
        unit: int,
        numerator: int | None,
        denominator: int | None,
        value: object,
        detail: str,
        **drill: str,
    ) -> MetricValue:
        return MetricValue(
            metric=metric,
            numerator=None if numerator is None else Decimal(numerator),
            denominator=None if denominator is None else Decimal(denominator),
            value=value,
            detail=detail,
            drill=self.drill(metric, unit, **drill),
        )

    def ratio(
        self,
        metric: str,
        unit: int,
        numerator: int,
        denominator: int,
        labels: tuple[str, str],
        measure: str,
        empty: str,
        prefix: str = "",
        **drill: str,
    ) -> MetricValue:
        """A share: ``{prefix}{top} n{measure} ÷ {bottom} d{measure} = p%``, or ``empty``."""
        value = _ratio(numerator, denominator)
        if value is None:
            detail = prefix + empty
        else:
            top, bottom = labels
            detail = (
                f"{prefix}{top} {_n(numerator)} {measure} ÷ {bottom} {_n(denominator)} {measure}"
                f" = {_pct(value)}"
            )
        return self.value(metric, unit, numerator, denominator, value, detail, **drill)

    # ------------------------------------------------------------------ one per metric

    def signing_coverage(self, unit: int, c: Counter[str]) -> MetricValue:
        signed = c["signed"]
        population = self.run.population.get(unit, _Population(None))
        year = self.run.end.year
        if population.count is None:
            return self.value(
                "signing_coverage",
                unit,
                signed,
                None,
                None,
                f"签约居民 {_n(signed)} 人；没有 {year} 年常住人口数，无法计算签约覆盖率",
            )
        source = ""
        if population.parts:
            source = f"（{year} 年，由下级 {population.parts_with}/{population.parts} 个单位合计）"
        value = _ratio(signed, population.count)
        if value is None:
            detail = f"签约居民 {_n(signed)} 人；{year} 年常住人口为 0{source}，无法计算签约覆盖率"
        else:
            detail = (
                f"签约居民 {_n(signed)} 人 ÷ 常住人口 {_n(population.count)} 人{source}"
                f" = {_pct(value)}"
            )
        return self.value("signing_coverage", unit, signed, population.count, value, detail)

    def key_population_signing(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "key_population_signing",
            unit,
            c["key_signed"],
            c["key_residents"],
            ("已签约重点人群", "重点人群"),
            "人",
            "辖区内没有重点人群居民",
        )

    def effective_contracts(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "effective_contracts",
            unit,
            c["served_contracts"],
            c["contracts"],
            (f"{self.low} 至 {self.high} 在协议期限内有签约团队计入服务的在约协议", "在约协议"),
            "份",
            f"{self.run.as_of} 没有在约签约协议",
            service_start=self.low.isoformat(),
            service_end=self.high.isoformat(),
        )

    def timely_entry(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "timely_entry",
            unit,
            c["timely"],
            c["records"],
            ("服务日后 48 小时内录入的记录", "服务记录"),
            "条",
            "考核期内没有服务记录",
            verification=",".join(COUNTING),
            entered="timely",
        )

    def basic_medical_volume(self, unit: int, c: Counter[str]) -> MetricValue:
        visits, signed = c["visits"], c["signed"]
        denominator = signed * self.months
        drill = {"type": ",".join(VISIT_TYPES), "verification": ",".join(COUNTING)}
        if denominator == 0:
            detail = f"诊疗与上门服务 {_n(visits)} 人次；没有签约居民，无法折算每百人每月人次"
            return self.value(
                "basic_medical_volume", unit, visits * 100, None, None, detail, **drill
            )
        value = (Decimal(visits * 100) / Decimal(denominator)).quantize(_PLACES, ROUND_HALF_UP)
        detail = (
            f"诊疗与上门服务 {_n(visits)} 人次 × 100 ÷（签约居民 {_n(signed)} 人 × "
            f"{self.months} 个月）= {_dec(value)} 人次/百人·月"
        )
        return self.value(
            "basic_medical_volume", unit, visits * 100, denominator, value, detail, **drill
        )

    def chronic_standard_management(self, unit: int, c: Counter[str]) -> MetricValue:
        year, quarters = _judged_quarters(self.run.as_of)
        first, last = quarters[0].number, quarters[-1].number
        span = f"第 {first} 季度" if first == last else f"第 {first}–{last} 季度"
        prefix = f"按 {year} 年{span}判断"
        if year < self.run.as_of.year:
            prefix += "（本年尚无完整季度，按上一年度）"
        return self.ratio(
            "chronic_standard_management",
            unit,
            c["chronic_managed"],
            c["chronic_patients"],
            ("每季度均有随访的高血压、糖尿病患者", "高血压、糖尿病患者"),
            "人",
            "辖区内没有高血压、糖尿病患者",
            prefix=prefix + "：",
            tag="hypertension,diabetes",
            service_start=date(year, 1, 1).isoformat(),
            service_end=quarters[-1].end.isoformat(),
        )

    def _parts(
        self,
        metric: str,
        unit: int,
        c: Counter[str],
        parts: Sequence[tuple[str, ServiceType, str]],
        empty: str,
    ) -> MetricValue:
        due = sum(c[f"{key}_due"] for key, _, _ in parts)
        done = sum(c[f"{key}_done"] for key, _, _ in parts)
        lines = "，".join(
            f"{label} {_n(c[f'{key}_done'])}/{_n(c[f'{key}_due'])}" for key, _, label in parts
        )
        drill = {"type": ",".join(str(t) for _, t, _ in parts), "verification": ",".join(COUNTING)}
        value = _ratio(done, due)
        if value is None:
            detail = f"{empty}（{lines}）"
        else:
            detail = f"完成 {_n(done)} ÷ 应完成 {_n(due)} = {_pct(value)}（{lines}）"
        return self.value(metric, unit, done, due, value, detail, **drill)

    def key_population_services(self, unit: int, c: Counter[str]) -> MetricValue:
        return self._parts(
            "key_population_services", unit, c, KEY_SERVICE_PARTS, "考核期内没有应完成的服务"
        )

    def vaccination_special_care(self, unit: int, c: Counter[str]) -> MetricValue:
        return self._parts(
            "vaccination_special_care", unit, c, SPECIAL_CARE_PARTS, "考核期内没有应完成的服务"
        )

    def health_education_sessions(self, unit: int, c: Counter[str]) -> MetricValue:
        sessions = c["sessions"]
        value = (Decimal(sessions) / Decimal(self.months)).quantize(_PLACES, ROUND_HALF_UP)
        detail = f"健康教育活动 {_n(sessions)} 次 ÷ {self.months} 个月 = {_dec(value)} 次/月"
        return self.value(
            "health_education_sessions",
            unit,
            sessions,
            self.months,
            value,
            detail,
            type="health_education",
            resident="none",
            verification=",".join(COUNTING),
        )

    def referral_receipt(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "referral_receipt",
            unit,
            c["received"],
            c["referrals"],
            ("已确认回执的转诊", "发起的转诊"),
            "次",
            "考核期内没有发起转诊",
            type=",".join(REFERRAL_TYPES),
            received="yes",
            verification=",".join(COUNTING),
        )

    def ethics_deductions(self, unit: int, c: Counter[str]) -> MetricValue:
        complaints, false_records = c["complaints"], c["false_records"]
        detail = f"经核实的投诉 {_n(complaints)} 起，经核查虚假的服务记录 {_n(false_records)} 条"
        return self.value(
            "ethics_deductions",
            unit,
            None,
            None,
            {"complaints": complaints, "false_records": false_records},
            detail,
            verification="false",
        )

    def awareness(self, unit: int, c: Counter[str]) -> MetricValue:
        return self.ratio(
            "awareness",
            unit,
            c["aware"],
            c["answered"],
            ("知道签约家庭医生的受访者", "回答该问题的受访者"),
            "人",
            "考核期内没有知晓率调查答卷",
            knows_doctor="yes",
        )

    def satisfaction(self, unit: int, c: Counter[str]) -> MetricValue:
        total, count = c["satisfaction_sum"], c["satisfaction_count"]
        if count == 0:
            return self.value(
                "satisfaction", unit, 0, 0, None, "考核期内没有满意度调查答卷", satisfaction="any"
            )
        value = (Decimal(total) / Decimal(count)).quantize(_PLACES, ROUND_HALF_UP)
        detail = f"满意度得分合计 {_n(total)} ÷ 答卷 {_n(count)} 份 = {_dec(value)} 分"
        return self.value("satisfaction", unit, total, count, value, detail, satisfaction="any")

    def health_improvement(self, unit: int, c: Counter[str]) -> MetricValue:
        bp_ok, bp_all = c["bp_controlled"], c["bp_measured"]
        gl_ok, gl_all = c["glucose_controlled"], c["glucose_measured"]
        numerator, denominator = bp_ok + gl_ok, bp_all + gl_all
        drill = {"service_start": self.low.isoformat(), "service_end": self.high.isoformat()}
        value = _ratio(numerator, denominator)
        if value is None:
            detail = f"{self.low} 至 {self.high} 没有高血压患者的血压记录和糖尿病患者的空腹血糖记录"
        else:
            detail = (
                f"最近一次血压 <140/90 的高血压患者 {_n(bp_ok)} 人 + 最近一次空腹血糖 <7.0 的糖尿病患者"
                f" {_n(gl_ok)} 人 = {_n(numerator)} ÷（有血压记录的高血压患者 {_n(bp_all)} 人 + "
                f"有血糖记录的糖尿病患者 {_n(gl_all)} 人 = {_n(denominator)}）= {_pct(value)}"
                f"（{self.low} 至 {self.high} 的最近一次测量）"
            )
        return self.value(
            "health_improvement", unit, numerator, denominator, value, detail, **drill
        )
