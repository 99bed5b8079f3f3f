"""Standardised workload (标化工作量): workload points per service type, and k from points.

Seed 6 counts work in points (RBRVS: "按人员完成项目工作量点数"), not in records: a home visit
costs more time and risk than a consultation and is worth more. A point table gives the points of
one counting record of each service type; a member's points are ``Σ count_type × points_type``
over their counting records (records whose verification found them false — or still disputed —
are not counting records; the caller counts only ``unverified`` and ``confirmed`` ones, as the
index does), and

    k = min(points / standard_points, k_cap)

rounded half-up to 4 decimals before the cap (``assessments.settlement.workload_attainment``).

``DEFAULT_POINT_TABLE`` is the city's default. A county adapts it like the index: it keeps the
table and overrides the points of some types (``adapt_point_table``); the service types stay the
app's (``fdoctor.records.models.SERVICE_TYPES``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import lcm
from types import MappingProxyType

from assessments.money import SettlementInputError, exact_decimal, to_fraction
from assessments.settlement import DEFAULT_ATTAINMENT_CAP, Number, workload_attainment

__all__ = [
    "DEFAULT_POINT_TABLE",
    "PointTable",
    "adapt_point_table",
    "attainment_from_points",
    "workload_points",
]


@dataclass(frozen=True, slots=True)
class PointTable:
    """Points of one counting record per service type (工作量点数表)."""

    code: str
    name: str
    points: Mapping[str, Decimal]


DEFAULT_POINT_TABLE = PointTable(
    code="city-default",
    name="市级默认工作量点数表",
    points=MappingProxyType(
        {
            "consultation": Decimal("1"),  # 门诊/咨询 (by phone or at the desk)
            "prescription_review": Decimal("1"),  # 长处方/用药指导
            "vaccination": Decimal("1"),  # 预防接种
            "health_education": Decimal("1.5"),  # 健康教育
            "hypertension_followup": Decimal("2"),  # 高血压随访
            "diabetes_followup": Decimal("2"),  # 糖尿病随访
            "child_checkup": Decimal("2"),  # 儿童健康检查
            "tb_followup": Decimal("2"),  # 肺结核患者随访
            "referral_up": Decimal("2"),  # 上转
            "referral_down": Decimal("2"),  # 下转
            "elderly_checkup": Decimal("3"),  # 老年人健康体检
            "maternal_visit": Decimal("3"),  # 孕产妇访视
            "mental_followup": Decimal("3"),  # 严重精神障碍随访
            "home_visit": Decimal("4"),  # 上门服务
        }
    ),
)


def _points_value(value: object, label: str) -> Decimal:
    exact = to_fraction(value, label)
    if exact < 0:
        raise SettlementInputError(f"{label}不能为负数：{value}")
    return exact_decimal(exact)


def adapt_point_table(
    base: PointTable, overrides: Mapping[str, Number], *, code: str, name: str
) -> PointTable:
    """A county's table: ``base`` with the points of some service types replaced.

    Only types of the base table may be overridden (an unknown type is refused, as a typo would
    otherwise silently leave the base value in force).
    """
    points = dict(base.points)
    for service_type, value in overrides.items():
        if service_type not in points:
            raise SettlementInputError(
                f"工作量点数表「{base.name}」中没有服务类型「{service_type}」"
            )
        points[service_type] = _points_value(value, f"服务类型「{service_type}」的点数")
    return PointTable(code=code, name=name, points=MappingProxyType(points))


def workload_points(
    counts: Mapping[str, int], table: PointTable = DEFAULT_POINT_TABLE, *, member: str = ""
) -> Decimal:
    """``Σ counts[type] × table.points[type]``: the counting records of one member, by type."""
    label = f"成员「{member}」的" if member else ""
    # Σ as one fraction kept in integers (numerator over a common denominator, the points'
    # denominators being few and small): a Fraction sum took some 50 ms of a city's settlement.
    numerator, denominator = 0, 1
    for service_type, count in counts.items():
        if service_type not in table.points:
            raise SettlementInputError(
                f"{label}服务类型「{service_type}」不在工作量点数表「{table.name}」中"
            )
        if type(count) is int and count >= 0:  # the common case, without a label
            records = count
        else:
            exact = to_fraction(count, f"{label}「{service_type}」的记录数")
            if exact.denominator != 1 or exact < 0:
                raise SettlementInputError(
                    f"{label}「{service_type}」的记录数必须是非负整数：{count}"
                )
            records = exact.numerator
        points = to_fraction(table.points[service_type], "点数")
        if points.denominator != denominator:
            common = lcm(denominator, points.denominator)
            numerator *= common // denominator
            denominator = common
        numerator += records * points.numerator * (denominator // points.denominator)
    return exact_decimal(Fraction(numerator, denominator))


def attainment_from_points(
    points: Number, standard_points: Number, cap: Number = DEFAULT_ATTAINMENT_CAP
) -> Decimal:
    """k from workload points: ``min(points / standard_points, cap)``, 4 decimals half-up."""
    return workload_attainment(points, standard_points, cap)
