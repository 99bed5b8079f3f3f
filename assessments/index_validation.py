"""Validate a parsed index file (``assessments.index_files`` describes the format) into an
``Index``: every problem found is reported at once in one ``IndexFileError`` whose Chinese
message names the file and the indicator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TypeAlias, TypeGuard

from assessments.index import (
    CITY_DIMENSION_POINTS,
    CITY_SCOPE,
    DIMENSION_NAMES,
    KNOWN_METRICS,
    RULE_KINDS,
    TOTAL_POINTS,
    Band,
    Bands,
    Deduction,
    Dimension,
    Index,
    IndexFileError,
    Indicator,
    Manual,
    MeanScale,
    Metric,
    RatioToTarget,
    Rule,
    sum_points,
)

__all__ = ["CODE_PATTERN", "parse_document"]

# The code of an index file, and what a derived file's ``based_on`` names.
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

_INDEX_KEYS = {"code", "name", "year", "scope", "version", "dimensions", "indicators", "based_on"}
_INDICATOR_KEYS = {
    "code",
    "name",
    "dimension",
    "max_points",
    "metric",
    "rule",
    "target",
    "when_empty",
    "bands",
    "floor",
    "per_event",
    "description",
}
_INDICATOR_CODE_PATTERN = re.compile(r"[A-Z][0-9]{1,2}")
# 行政区划代码 of a county, as in ``OrgUnit.region_code``.
_COUNTY_SCOPE_PATTERN = re.compile(r"[0-9]{6}")
_POINT_PLACES = 2
_PLAIN_DIGITS = 20

# The per-indicator ``bad(problem)`` callback of ``_parse_indicator``.
_Reporter: TypeAlias = Callable[[str], None]


def parse_document(document: Mapping[str, object], source: str) -> Index:
    """The ``Index`` a parsed TOML document describes (floats read as ``Decimal``)."""
    problems = _header_problems(document)
    dimension_names = _dimension_names(document.get("dimensions", {}), problems)
    indicators = _parse_indicators(document.get("indicators"), problems)
    scope = document.get("scope")
    # Totals are only meaningful once every indicator has parsed.
    if not problems:
        problems.extend(_total_problems(indicators, scope == CITY_SCOPE, dimension_names))
    if problems:
        raise IndexFileError(source, problems)

    code, name, year = document.get("code"), document.get("name"), document.get("year")
    version, based_on = document.get("version", 1), document.get("based_on")
    assert isinstance(code, str) and isinstance(name, str) and isinstance(scope, str)
    assert _is_int(year) and _is_int(version)
    return Index(
        code=code,
        name=name,
        year=year,
        scope=scope,
        version=version,
        based_on=based_on if isinstance(based_on, str) else None,
        indicators=tuple(indicators),
        dimensions=tuple(
            Dimension(key, dimension_names[key], sum_points(indicators, key))
            for key in DIMENSION_NAMES
        ),
    )


def _header_problems(document: Mapping[str, object]) -> list[str]:
    """What is wrong with the file's own fields (all but dimensions and indicators)."""
    problems: list[str] = []
    unknown = sorted(set(document) - _INDEX_KEYS)
    if "overrides" in unknown:
        problems.append("只有派生指标文件（写了 based_on）才能使用 overrides")
        unknown.remove("overrides")
    if unknown:
        problems.append(f"未知的字段：{'、'.join(unknown)}")

    code = document.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        problems.append(
            _missing_or("code", code, "必须是由字母、数字、- 和 _ 组成的代码，例如 city-2026")
        )
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(_missing_or("name", name, "必须是非空的文字"))
    year = document.get("year")
    if not _is_int(year) or not 2000 <= year <= 2100:
        problems.append(_missing_or("year", year, "必须是 2000 到 2100 之间的年份"))
    scope = document.get("scope")
    if not isinstance(scope, str) or not (
        scope == CITY_SCOPE or _COUNTY_SCOPE_PATTERN.fullmatch(scope)
    ):
        problems.append(_missing_or("scope", scope, '必须是 "city" 或 6 位县级行政区划代码'))
    version = document.get("version", 1)
    if not _is_int(version) or version < 1:
        problems.append(f"version 必须是正整数，收到 {version!r}")
    based_on = document.get("based_on")
    if based_on is not None and not isinstance(based_on, str):
        problems.append(f"based_on 必须是文字，收到 {based_on!r}")
    return problems


def _dimension_names(raw_dimensions: object, problems: list[str]) -> dict[str, str]:
    """The dimensions' names: the standard ones, renamed by the file's ``[dimensions]``."""
    dimension_names = dict(DIMENSION_NAMES)
    if not isinstance(raw_dimensions, Mapping):
        problems.append('dimensions 必须是表，例如 [dimensions] A = "团队管理"')
        return dimension_names
    for key, value in raw_dimensions.items():
        if key not in DIMENSION_NAMES:
            problems.append(f"dimensions 中未知的维度 {key}，维度只能是 A、B、C")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"dimensions.{key} 必须是非空的维度名称")
        else:
            dimension_names[key] = value
    return dimension_names


def _parse_indicators(raw_indicators: object, problems: list[str]) -> list[Indicator]:
    """The indicators that parse; the problems of the others, and duplicate codes, go to
    ``problems``."""
    if not isinstance(raw_indicators, list) or not raw_indicators:
        problems.append("没有任何指标，请用 [[indicators]] 列出指标")
    listed: list[object] = raw_indicators if isinstance(raw_indicators, list) else []
    indicators: list[Indicator] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(listed, start=1):
        indicator = _parse_indicator(raw, position, problems)
        raw_code = raw.get("code") if isinstance(raw, Mapping) else None
        if isinstance(raw_code, str):
            if raw_code in seen:
                problems.append(
                    f"指标代码 {raw_code} 重复（第 {seen[raw_code]} 个和第 {position} 个指标）"
                )
            else:
                seen[raw_code] = position
        if indicator is not None:
            indicators.append(indicator)
    return indicators


def _total_problems(
    indicators: list[Indicator], is_city: bool, dimension_names: Mapping[str, str]
) -> list[str]:
    """The points must make 100, and in the city's file the city's split of the dimensions."""
    problems: list[str] = []
    total = sum_points(indicators)
    if total != TOTAL_POINTS:
        problems.append(f"各指标分值合计应为 100 分，现为 {_fmt(total)} 分")
    if is_city:
        for dimension, expected in CITY_DIMENSION_POINTS.items():
            got = sum_points(indicators, dimension)
            if got != expected:
                problems.append(
                    f"市级指标文件中维度 {dimension}（{dimension_names[dimension]}）"
                    f"分值合计应为 {_fmt(expected)} 分，现为 {_fmt(got)} 分"
                )
    return problems


def _parse_indicator(raw: object, position: int, problems: list[str]) -> Indicator | None:
    """Validate one ``[[indicators]]`` table; problems go to ``problems``, None if any."""
    if not isinstance(raw, Mapping):
        problems.append(f"第 {position} 个指标必须是表（[[indicators]]）")
        return None
    label = _indicator_label(raw, position)
    found: list[str] = []

    def bad(problem: str) -> None:
        found.append(f"{label}：{problem}")

    _check_identity(raw, bad)
    max_points = _parse_max_points(raw, bad)
    rule_name = raw.get("rule")
    metric_info = _parse_metric(raw, rule_name, bad)
    target = _parse_target(raw, rule_name, bad)
    when_empty = _parse_when_empty(raw, rule_name, bad)
    rule = _parse_rule(raw, rule_name, metric_info, bad)
    if found:
        problems.extend(found)
        return None

    code, name, dimension = raw.get("code"), raw.get("name"), raw.get("dimension")
    metric, description = raw.get("metric"), raw.get("description", "")
    assert isinstance(code, str) and isinstance(name, str) and isinstance(dimension, str)
    assert max_points is not None and rule is not None and isinstance(description, str)
    return Indicator(
        code=code,
        name=name,
        dimension=dimension,
        max_points=max_points,
        metric=metric if isinstance(metric, str) else None,
        rule=rule,
        target=target,
        when_empty=when_empty,
        description=description,
    )


def _indicator_label(raw: Mapping[str, object], position: int) -> str:
    """How the indicator's problems name it, as far as its code and name are usable."""
    code = raw.get("code")
    name = raw.get("name")
    if isinstance(code, str) and isinstance(name, str) and name:
        return f"指标 {code}（{name}）"
    if isinstance(code, str) and code:
        return f"指标 {code}"
    return f"第 {position} 个指标"


def _check_identity(raw: Mapping[str, object], bad: _Reporter) -> None:
    """The table's keys, and the indicator's code, name, dimension and description."""
    unknown = sorted(set(raw) - _INDICATOR_KEYS)
    if unknown:
        bad(f"未知的字段：{'、'.join(unknown)}")
    code = raw.get("code")
    if not isinstance(code, str) or not _INDICATOR_CODE_PATTERN.fullmatch(code):
        bad(_missing_or("code", code, "必须是维度字母加序号，例如 A1"))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        bad(_missing_or("name", name, "必须是非空的中文名称"))
    dimension = raw.get("dimension")
    if not isinstance(dimension, str) or dimension not in DIMENSION_NAMES:
        bad(_missing_or("dimension", dimension, "必须是 A、B 或 C"))
    elif isinstance(code, str) and _INDICATOR_CODE_PATTERN.fullmatch(code) and code[0] != dimension:
        bad(f"指标代码 {code} 应以所属维度字母 {dimension} 开头")
    description = raw.get("description", "")
    if not isinstance(description, str):
        bad(f"description 必须是文字，收到 {description!r}")


def _parse_max_points(raw: Mapping[str, object], bad: _Reporter) -> Decimal | None:
    max_points = _decimal(raw.get("max_points"))
    if "max_points" not in raw:
        bad("缺少字段 max_points（分值）")
    elif max_points is None or max_points <= 0:
        bad(f"max_points（分值）必须是正数，收到 {raw.get('max_points')!r}")
    elif max_points > TOTAL_POINTS:
        bad(f"max_points（分值）不能超过 100，收到 {_fmt(max_points)}")
    elif _places(max_points) > _POINT_PLACES:
        bad(f"max_points（分值）最多两位小数，收到 {_fmt(max_points)}")
    return max_points


def _parse_metric(raw: Mapping[str, object], rule_name: object, bad: _Reporter) -> Metric | None:
    """The rule's name, and the metric it scores (None for ``manual``) if the rule suits it."""
    metric = raw.get("metric")
    if "rule" not in raw:
        bad(f"缺少字段 rule（计分规则），可选：{'、'.join(RULE_KINDS)}")
    elif rule_name not in RULE_KINDS:
        bad(f"未知的计分规则 {rule_name!r}，可选：{'、'.join(RULE_KINDS)}")
    metric_info: Metric | None = None
    if rule_name == "manual":
        if metric is not None:
            bad("手工评分（manual）指标不能指定 metric")
    elif metric is None:
        bad("缺少字段 metric（从记录计算的指标数据）")
    elif not isinstance(metric, str) or metric not in KNOWN_METRICS:
        bad(f"未知的指标数据 metric = {metric!r}，可选：{'、'.join(KNOWN_METRICS)}")
    else:
        metric_info = KNOWN_METRICS[metric]

    if metric_info is not None and rule_name in RULE_KINDS:
        if (metric_info.kind == "events") != (rule_name == "deduction"):
            if rule_name == "deduction":
                bad(f"扣分规则（deduction）只能用于事件计数类指标数据，{metric} 不是")
            else:
                bad(f"指标数据 {metric} 是事件计数，只能用扣分规则（deduction）")
        elif rule_name == "mean_scale" and metric_info.kind != "mean":
            bad(f"均分规则（mean_scale）只能用于 0–100 分的平均分指标数据，{metric} 不是")
    return metric_info


def _parse_target(raw: Mapping[str, object], rule_name: object, bad: _Reporter) -> Decimal | None:
    target = _decimal(raw.get("target"))
    if rule_name == "ratio_to_target":
        if "target" not in raw:
            bad("缺少目标值 target（ratio_to_target 规则需要）")
        elif target is None or target <= 0:
            bad(f"目标值 target 必须是正数，收到 {raw.get('target')!r}")
    elif "target" in raw:
        bad(f"只有 ratio_to_target 规则使用目标值 target，本指标的规则是 {rule_name}")
    return target


def _parse_when_empty(
    raw: Mapping[str, object], rule_name: object, bad: _Reporter
) -> Decimal | None:
    when_empty = _decimal(raw.get("when_empty"))
    if "when_empty" in raw:
        if rule_name in {"manual", "deduction"}:
            bad(f"{rule_name} 规则的指标不能设置 when_empty（无数据时的得分）")
        elif when_empty is None or not 0 <= when_empty <= 1:
            bad(f"when_empty 是满分的比例，必须在 0 到 1 之间，收到 {raw.get('when_empty')!r}")
    return when_empty


def _parse_rule(
    raw: Mapping[str, object], rule_name: object, metric: Metric | None, bad: _Reporter
) -> Rule | None:
    """The scoring rule with its parameters; a parameter of another rule is a problem."""
    rule: Rule | None = None
    if rule_name == "ratio_to_target":
        rule = RatioToTarget()
    elif rule_name == "mean_scale":
        rule = MeanScale()
    elif rule_name == "manual":
        rule = Manual()
    elif rule_name == "bands":
        rule = _parse_bands(raw, bad)
    elif rule_name == "deduction":
        rule = _parse_deduction(raw, metric, bad)
    for key in ("bands", "floor"):
        if key in raw and rule_name != "bands":
            bad(f"只有 bands 规则使用 {key}，本指标的规则是 {rule_name}")
    if "per_event" in raw and rule_name != "deduction":
        bad(f"只有 deduction 规则使用 per_event，本指标的规则是 {rule_name}")
    return rule


def _parse_bands(raw: Mapping[str, object], bad: _Reporter) -> Bands | None:
    raw_bands = raw.get("bands")
    if not isinstance(raw_bands, list) or not raw_bands:
        bad("bands 规则需要 bands = [[阈值, 满分比例], …]，且至少一档")
        return None
    bands: list[Band] = []
    for position, entry in enumerate(raw_bands, start=1):
        pair = entry if isinstance(entry, list) and len(entry) == 2 else None
        threshold = _decimal(pair[0]) if pair else None
        fraction = _decimal(pair[1]) if pair else None
        if threshold is None or fraction is None:
            bad(f"bands 第 {position} 档必须是 [阈值, 满分比例] 两个数字，收到 {entry!r}")
            return None
        if not 0 <= fraction <= 1:
            bad(f"bands 第 {position} 档的满分比例必须在 0 到 1 之间，收到 {_fmt(fraction)}")
            return None
        bands.append(Band(threshold, fraction))
    for lower, upper in zip(bands, bands[1:], strict=False):
        if upper.threshold <= lower.threshold:
            bad(
                f"bands 的阈值必须从小到大排列且不重复："
                f"{_fmt(lower.threshold)} 之后是 {_fmt(upper.threshold)}"
            )
            return None
        if upper.fraction < lower.fraction:
            bad(
                f"bands 中更高的阈值不能得更少的分：阈值 {_fmt(upper.threshold)} 的比例"
                f" {_fmt(upper.fraction)} 小于前一档的 {_fmt(lower.fraction)}"
            )
            return None
    floor = _decimal(raw.get("floor", 0))
    if floor is None or not 0 <= floor <= bands[0].fraction:
        bad(
            f"floor（未达最低档时的满分比例）必须在 0 到最低档比例 {_fmt(bands[0].fraction)} 之间，"
            f"收到 {raw.get('floor')!r}"
        )
        return None
    return Bands(tuple(bands), floor)


def _parse_deduction(
    raw: Mapping[str, object], metric: Metric | None, bad: _Reporter
) -> Deduction | None:
    per_event = raw.get("per_event")
    if not isinstance(per_event, Mapping) or not per_event:
        bad("deduction 规则需要 per_event = { 事件 = 每次扣分, … }")
        return None
    known = dict(metric.events) if metric is not None else {}
    pairs: list[tuple[str, Decimal]] = []
    for event, points in per_event.items():
        value = _decimal(points)
        if metric is not None and event not in known:
            bad(f"per_event 中未知的事件 {event}，可选：{'、'.join(known)}")
        elif value is None or value <= 0:
            bad(f"per_event.{event}（每次扣分）必须是正数，收到 {points!r}")
        elif value > TOTAL_POINTS:
            bad(f"per_event.{event}（每次扣分）不能超过 100，收到 {_fmt(value)}")
        else:
            pairs.append((event, value))
    if len(pairs) != len(per_event):
        return None
    return Deduction(tuple(pairs))


# --------------------------------------------------------------------------- helpers


def _missing_or(key: str, value: object, requirement: str) -> str:
    if value is None:
        return f"缺少字段 {key}"
    return f"{key} {requirement}，收到 {value!r}"


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _decimal(value: object) -> Decimal | None:
    """A finite Decimal from an int, Decimal or float (by its ``str``); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _fmt(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: ``Decimal("20.0")`` → ``20``."""
    if not -_PLAIN_DIGITS <= value.adjusted() <= _PLAIN_DIGITS:
        # Absurd magnitudes keep their exponent rather than print a million digits.
        return str(value)
    return format(value.normalize(), "f")
