"""Assessment index files (考核指标文件): load, validate and derive.

An index is data, not code (SPEC 4): one TOML file per year under ``assessments/indexes/``,
``city-{year}.toml`` for the city. Each ``[[indicators]]`` table gives an indicator's code, Chinese
name, dimension (A 团队管理 / B 服务功能 / C 服务效果), maximum points, the metric computed
from records (or none for ``manual``), the scoring rule and its parameters::

    [[indicators]]
    code = "A1"
    name = "签约覆盖率"
    dimension = "A"
    max_points = 5
    metric = "signing_coverage"
    rule = "ratio_to_target"          # bands | deduction | mean_scale | manual
    target = 0.35
    description = "分子：…；分母：…"

Rule parameters: ``target`` (ratio_to_target), ``bands = [[threshold, fraction], …]`` and an
optional ``floor`` (bands), ``per_event = { complaints = 2, … }`` (deduction), and for any metric
rule but deduction an optional ``when_empty`` fraction of the maximum given when the metric has
no events (value null).

A county adapts the city's file (SPEC 4, seed 2) with a short file of its own::

    based_on = "city-2026"
    code = "411002-2026"
    name = "魏都区 2026 年度家庭医生签约服务考核指标"
    scope = "411002"

    [overrides.A1]
    target = 0.40

Floats are read as exact ``Decimal`` (``parse_float=Decimal``). Every problem found is reported
at once in one ``IndexFileError`` whose Chinese message names the file and the indicator.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal, TypeAlias, TypeGuard

__all__ = [
    "CITY_DIMENSION_POINTS",
    "CITY_SCOPE",
    "DIMENSION_NAMES",
    "INDEXES_DIR",
    "KNOWN_METRICS",
    "OVERRIDABLE_FIELDS",
    "RULE_KINDS",
    "TOTAL_POINTS",
    "Band",
    "Bands",
    "Deduction",
    "Dimension",
    "Index",
    "IndexFileError",
    "Indicator",
    "Manual",
    "MeanScale",
    "Metric",
    "MetricKind",
    "RatioToTarget",
    "Rule",
    "default_index_path",
    "derive_index",
    "load_index",
    "load_index_text",
]

INDEXES_DIR = Path(__file__).resolve().parent / "indexes"
CITY_SCOPE = "city"
TOTAL_POINTS = Decimal(100)
DIMENSION_NAMES: Mapping[str, str] = MappingProxyType(
    {"A": "团队管理", "B": "服务功能", "C": "服务效果"}
)
# Seed 5's split of the 100 points; a county index may move points between dimensions.
CITY_DIMENSION_POINTS: Mapping[str, Decimal] = MappingProxyType(
    {"A": Decimal(20), "B": Decimal(50), "C": Decimal(30)}
)

# ratio: a share, normally 0..1; rate: per 100 signed residents per month; count: events per
# month; mean: a 0..100 mean; events: counts per event kind (for deductions).
MetricKind = Literal["ratio", "rate", "count", "mean", "events"]


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric the app computes from records: Chinese name, value kind, event kinds."""

    name: str
    kind: MetricKind
    # (event kind, Chinese label) pairs, only for ``events`` metrics.
    events: tuple[tuple[str, str], ...] = ()


KNOWN_METRICS: Mapping[str, Metric] = MappingProxyType(
    {
        "signing_coverage": Metric("签约覆盖率", "ratio"),
        "key_population_signing": Metric("重点人群签约率", "ratio"),
        "effective_contracts": Metric("有效签约率", "ratio"),
        "timely_entry": Metric("电子记录及时录入率", "ratio"),
        "basic_medical_volume": Metric("每百名签约居民每月诊疗与上门服务人次", "rate"),
        "chronic_standard_management": Metric("慢病规范管理率", "ratio"),
        "key_population_services": Metric("重点人群服务率", "ratio"),
        "health_education_sessions": Metric("每月健康教育次数", "count"),
        "vaccination_special_care": Metric("预防接种与特殊人群随访完成率", "ratio"),
        "referral_receipt": Metric("转诊回执确认率", "ratio"),
        "ethics_deductions": Metric(
            "医德医风扣分事项",
            "events",
            (("complaints", "经核实的投诉"), ("false_records", "经核查虚假的记录")),
        ),
        "awareness": Metric("居民知晓率", "ratio"),
        "satisfaction": Metric("满意度平均分", "mean"),
        "health_improvement": Metric("血压血糖控制率", "ratio"),
    }
)

RULE_KINDS = ("ratio_to_target", "bands", "deduction", "mean_scale", "manual")
# What a county's ``[overrides.CODE]`` may change: targets and points, not what is measured.
OVERRIDABLE_FIELDS = (
    "max_points",
    "target",
    "when_empty",
    "bands",
    "floor",
    "per_event",
    "description",
)

_INDEX_KEYS = {"code", "name", "year", "scope", "version", "dimensions", "indicators", "based_on"}
_DERIVED_KEYS = {"based_on", "code", "name", "year", "scope", "version", "overrides"}
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
_CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_INDICATOR_CODE_PATTERN = re.compile(r"[A-Z][0-9]{1,2}")
# 行政区划代码 of a county, as in ``OrgUnit.region_code``.
_COUNTY_SCOPE_PATTERN = re.compile(r"[0-9]{6}")
_TOML_POSITION = re.compile(r"\(at line ([0-9]+), column ([0-9]+)\)")
_CITY_FILE_PATTERN = re.compile(r"city-([0-9]{4})\.toml")
_POINT_PLACES = 2
# Sums of points are exact in 28 digits; a caller's narrower context must not round them.
_CONTEXT = Context(prec=28)
_PLAIN_DIGITS = 20

# The per-indicator ``bad(problem)`` callback of ``_parse_indicator``.
_Reporter: TypeAlias = Callable[[str], None]


class IndexFileError(ValueError):
    """An index file (or a derivation) is invalid; the message is user-facing Chinese."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = f"考核指标文件 {source}：{self.problems[0]}"
        else:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            message = f"考核指标文件 {source} 有 {len(self.problems)} 处错误：\n{lines}"
        super().__init__(message)


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class RatioToTarget:
    """points = max × min(1, value ÷ target)."""

    kind: ClassVar[str] = "ratio_to_target"


@dataclass(frozen=True, slots=True)
class Band:
    """Reaching ``threshold`` (value ≥ threshold) earns ``fraction`` of the maximum."""

    threshold: Decimal
    fraction: Decimal


@dataclass(frozen=True, slots=True)
class Bands:
    """The fraction of the highest band reached; below the lowest band, ``floor``."""

    bands: tuple[Band, ...]
    floor: Decimal = Decimal(0)
    kind: ClassVar[str] = "bands"


@dataclass(frozen=True, slots=True)
class Deduction:
    """points = max − Σ points per event × count, floored at 0."""

    per_event: tuple[tuple[str, Decimal], ...]
    kind: ClassVar[str] = "deduction"


@dataclass(frozen=True, slots=True)
class MeanScale:
    """points = mean (0..100) ÷ 100 × max."""

    kind: ClassVar[str] = "mean_scale"


@dataclass(frozen=True, slots=True)
class Manual:
    """The assessor enters 0..max points (a reason is required below the maximum)."""

    kind: ClassVar[str] = "manual"


Rule: TypeAlias = RatioToTarget | Bands | Deduction | MeanScale | Manual


# --------------------------------------------------------------------------- index


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator (考核指标) of an index."""

    code: str
    name: str
    dimension: str
    max_points: Decimal
    metric: str | None
    rule: Rule
    target: Decimal | None = None
    when_empty: Decimal | None = None
    description: str = ""

    @property
    def is_manual(self) -> bool:
        return isinstance(self.rule, Manual)

    @property
    def label(self) -> str:
        """How messages name the indicator: ``指标 A1（签约覆盖率）``."""
        return f"指标 {self.code}（{self.name}）"


@dataclass(frozen=True, slots=True)
class Dimension:
    """A dimension (维度) and the sum of its indicators' maximum points."""

    code: str
    name: str
    max_points: Decimal


@dataclass(frozen=True, slots=True)
class Index:
    """A validated index: the city's (``scope == "city"``) or a county's (6-digit region code)."""

    code: str
    name: str
    year: int
    scope: str
    version: int
    based_on: str | None
    indicators: tuple[Indicator, ...]
    dimensions: tuple[Dimension, ...]

    @property
    def is_city(self) -> bool:
        return self.scope == CITY_SCOPE

    @property
    def total_points(self) -> Decimal:
        return _sum_points(self.indicators)

    def get(self, code: str) -> Indicator | None:
        """The indicator with this code, or None."""
        for indicator in self.indicators:
            if indicator.code == code:
                return indicator
        return None


# --------------------------------------------------------------------------- loading


def load_index(path: str | os.PathLike[str]) -> Index:
    """Read and validate an index file; a ``based_on`` file is resolved first."""
    file_path = Path(path)
    return load_index_text(_read(file_path), source=str(file_path), base_dir=file_path.parent)


def load_index_text(text: str, source: str = "<文本>", *, base_dir: Path | None = None) -> Index:
    """Parse and validate index TOML; ``source`` names it in messages.

    A ``based_on = "city-2026"`` file is looked up in ``base_dir`` first (the folder of the file
    being loaded), then in the package's ``indexes`` folder.
    """
    document = _parse_toml(text, source)
    if "based_on" in document:
        return _load_derived(document, source, base_dir)
    return _parse_document(document, source)


def default_index_path(year: int, indexes_dir: Path | None = None) -> Path:
    """``city-{year}.toml``, or the newest city file of an earlier year when there is none."""
    folder = INDEXES_DIR if indexes_dir is None else indexes_dir
    years: dict[int, Path] = {}
    if folder.is_dir():
        for candidate in folder.iterdir():
            match = _CITY_FILE_PATTERN.fullmatch(candidate.name)
            if match and candidate.is_file():
                years[int(match.group(1))] = candidate
    usable = [found for found in years if found <= year]
    if not usable:
        raise IndexFileError(
            str(folder), [f"没有 {year} 年或更早年份的市级考核指标文件（city-年份.toml）"]
        )
    return years[max(usable)]


def derive_index(
    base: Index,
    overrides: Mapping[str, Mapping[str, object]],
    *,
    code: str | None = None,
    name: str | None = None,
    scope: str | None = None,
    year: int | None = None,
    version: int | None = None,
    source: str = "<派生>",
) -> Index:
    """A copy of ``base`` with per-indicator changes, validated like a file.

    ``overrides`` maps an indicator code to the fields to change (``OVERRIDABLE_FIELDS``), e.g.
    ``{"A1": {"target": Decimal("0.40")}}``; floats are taken by their ``str``. ``per_event``
    tables are merged into the base's; any other field is replaced. Header fields not given are
    kept from ``base``. A county index needs a total of 100 points but not the city's 20/50/30.
    """
    header: dict[str, object] = {}
    for key, value in (
        ("code", code),
        ("name", name),
        ("scope", scope),
        ("year", year),
        ("version", version),
    ):
        if value is not None:
            header[key] = value
    return _derive(base, overrides, header, source)


# --------------------------------------------------------------------------- derivation


def _load_derived(document: Mapping[str, object], source: str, base_dir: Path | None) -> Index:
    problems: list[str] = []
    unknown = sorted(set(document) - _DERIVED_KEYS)
    if "indicators" in unknown:
        problems.append(
            "派生指标文件（based_on）不能再列出 indicators，请用 [overrides.指标代码] 修改"
        )
        unknown.remove("indicators")
    if unknown:
        problems.append(f"未知的字段：{'、'.join(unknown)}")
    based_on = document["based_on"]
    if not isinstance(based_on, str) or not _CODE_PATTERN.fullmatch(based_on):
        problems.append(
            f"based_on 必须是基础指标文件名（不含 .toml），例如 city-2026，收到 {based_on!r}"
        )
    for key in ("code", "name", "scope"):
        if key not in document:
            problems.append(f"缺少字段 {key}")
    overrides = document.get("overrides", {})
    if not isinstance(overrides, Mapping) or not all(
        isinstance(changes, Mapping) for changes in overrides.values()
    ):
        problems.append("overrides 必须写成 [overrides.指标代码] 表")
    if problems:
        raise IndexFileError(source, problems)
    assert isinstance(based_on, str) and isinstance(overrides, Mapping)

    base_path = _resolve_base(based_on, base_dir)
    if base_path is None:
        raise IndexFileError(source, [f"找不到基础指标文件 {based_on}.toml"])
    base_document = _parse_toml(_read(base_path), str(base_path))
    # Checked before parsing the base so a file based on itself cannot recurse.
    if "based_on" in base_document or base_document.get("scope") != CITY_SCOPE:
        raise IndexFileError(
            source, [f"基础指标文件 {based_on} 不是市级指标文件，只能基于市级指标文件修改"]
        )
    base = _parse_document(base_document, str(base_path))
    if base.code != based_on:
        raise IndexFileError(
            source, [f"based_on = {based_on}，但该文件的指标代码（code）是 {base.code}"]
        )
    header = {
        key: document[key]
        for key in ("code", "name", "scope", "year", "version")
        if key in document
    }
    return _derive(base, overrides, header, source)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IndexFileError(str(path), ["文件不存在"]) from None
    except UnicodeDecodeError:
        raise IndexFileError(str(path), ["文件不是 UTF-8 编码"]) from None
    except OSError as exc:
        raise IndexFileError(str(path), [f"无法读取文件：{exc.strerror or exc}"]) from None


def _parse_toml(text: str, source: str) -> dict[str, object]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message is English; keep its wording but give the position in Chinese.
        match = _TOML_POSITION.search(str(exc))
        if match is None:
            raise IndexFileError(source, [f"TOML 格式错误：{exc}"]) from None
        detail = str(exc)[: match.start()].strip()
        line, column = match.groups()
        raise IndexFileError(
            source, [f"TOML 格式错误（第 {line} 行第 {column} 列）：{detail}"]
        ) from None
    except ValueError:
        # Python's own guard against integers of thousands of digits.
        raise IndexFileError(source, ["TOML 格式错误：数字位数过多"]) from None


def _resolve_base(based_on: str, base_dir: Path | None) -> Path | None:
    folders = [INDEXES_DIR] if base_dir is None else [base_dir, INDEXES_DIR]
    for folder in folders:
        candidate = folder / f"{based_on}.toml"
        if candidate.is_file():
            return candidate
    return None


def _derive(
    base: Index,
    overrides: Mapping[str, object],
    header: Mapping[str, object],
    source: str,
) -> Index:
    indicators = [_indicator_to_raw(indicator) for indicator in base.indicators]
    by_code = {
        indicator.code: raw for indicator, raw in zip(base.indicators, indicators, strict=True)
    }
    problems: list[str] = []
    for code, changes in overrides.items():
        raw = by_code.get(code)
        if raw is None:
            problems.append(
                f"覆盖项 [overrides.{code}]：基础指标文件 {base.code} 中没有指标 {code}"
            )
            continue
        label = f"指标 {code}（{raw['name']}）"
        if not isinstance(changes, Mapping):
            problems.append(f"{label}：覆盖项必须写成 [overrides.{code}] 表")
            continue
        for key, value in changes.items():
            if key not in OVERRIDABLE_FIELDS:
                problems.append(
                    f"{label}：覆盖项不能修改 {key}，只能修改 {'、'.join(OVERRIDABLE_FIELDS)}"
                )
            elif key == "per_event" and isinstance(value, Mapping):
                # A county changes one event's points without restating the others.
                merged = dict(_as_mapping(raw.get("per_event")))
                merged.update(value)
                raw["per_event"] = merged
            else:
                raw[key] = value
    if problems:
        raise IndexFileError(source, problems)

    document: dict[str, object] = {
        "code": base.code,
        "name": base.name,
        "year": base.year,
        "scope": base.scope,
        "version": base.version,
        "dimensions": {dimension.code: dimension.name for dimension in base.dimensions},
        **header,
        "based_on": base.code,
        "indicators": indicators,
    }
    return _parse_document(document, source)


def _as_mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _indicator_to_raw(indicator: Indicator) -> dict[str, object]:
    """The plain-data form of a validated indicator, as its TOML table would parse to."""
    raw: dict[str, object] = {
        "code": indicator.code,
        "name": indicator.name,
        "dimension": indicator.dimension,
        "max_points": indicator.max_points,
        "rule": indicator.rule.kind,
        "description": indicator.description,
    }
    if indicator.metric is not None:
        raw["metric"] = indicator.metric
    if indicator.target is not None:
        raw["target"] = indicator.target
    if indicator.when_empty is not None:
        raw["when_empty"] = indicator.when_empty
    rule = indicator.rule
    if isinstance(rule, Bands):
        raw["bands"] = [[band.threshold, band.fraction] for band in rule.bands]
        raw["floor"] = rule.floor
    elif isinstance(rule, Deduction):
        raw["per_event"] = dict(rule.per_event)
    return raw


# --------------------------------------------------------------------------- validation


def _parse_document(document: Mapping[str, object], source: str) -> Index:
    problems: list[str] = []

    unknown = sorted(set(document) - _INDEX_KEYS)
    if "overrides" in unknown:
        problems.append("只有派生指标文件（写了 based_on）才能使用 overrides")
        unknown.remove("overrides")
    if unknown:
        problems.append(f"未知的字段：{'、'.join(unknown)}")

    code = document.get("code")
    if not isinstance(code, str) or not _CODE_PATTERN.fullmatch(code):
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

    dimension_names = dict(DIMENSION_NAMES)
    raw_dimensions = document.get("dimensions", {})
    if not isinstance(raw_dimensions, Mapping):
        problems.append('dimensions 必须是表，例如 [dimensions] A = "团队管理"')
    else:
        for key, value in raw_dimensions.items():
            if key not in DIMENSION_NAMES:
                problems.append(f"dimensions 中未知的维度 {key}，维度只能是 A、B、C")
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"dimensions.{key} 必须是非空的维度名称")
            else:
                dimension_names[key] = value

    raw_indicators = document.get("indicators")
    indicators: list[Indicator] = []
    indicator_problems: list[str] = []
    if not isinstance(raw_indicators, list) or not raw_indicators:
        problems.append("没有任何指标，请用 [[indicators]] 列出指标")
    listed: list[object] = raw_indicators if isinstance(raw_indicators, list) else []
    seen: dict[str, int] = {}
    for position, raw in enumerate(listed, start=1):
        indicator = _parse_indicator(raw, position, indicator_problems)
        raw_code = raw.get("code") if isinstance(raw, Mapping) else None
        if isinstance(raw_code, str):
            if raw_code in seen:
                indicator_problems.append(
                    f"指标代码 {raw_code} 重复（第 {seen[raw_code]} 个和第 {position} 个指标）"
                )
            else:
                seen[raw_code] = position
        if indicator is not None:
            indicators.append(indicator)
    problems.extend(indicator_problems)

    # Totals are only meaningful once every indicator has parsed.
    if not problems:
        total = _sum_points(indicators)
        if total != TOTAL_POINTS:
            problems.append(f"各指标分值合计应为 100 分，现为 {_fmt(total)} 分")
        if scope == CITY_SCOPE:
            for dimension, expected in CITY_DIMENSION_POINTS.items():
                got = _sum_points(indicators, dimension)
                if got != expected:
                    problems.append(
                        f"市级指标文件中维度 {dimension}（{dimension_names[dimension]}）"
                        f"分值合计应为 {_fmt(expected)} 分，现为 {_fmt(got)} 分"
                    )
    if problems:
        raise IndexFileError(source, problems)

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
            Dimension(key, dimension_names[key], _sum_points(indicators, key))
            for key in DIMENSION_NAMES
        ),
    )


def _parse_indicator(raw: object, position: int, problems: list[str]) -> Indicator | None:
    """Validate one ``[[indicators]]`` table; problems go to ``problems``, None if any."""
    if not isinstance(raw, Mapping):
        problems.append(f"第 {position} 个指标必须是表（[[indicators]]）")
        return None
    code = raw.get("code")
    name = raw.get("name")
    if isinstance(code, str) and isinstance(name, str) and name:
        label = f"指标 {code}（{name}）"
    elif isinstance(code, str) and code:
        label = f"指标 {code}"
    else:
        label = f"第 {position} 个指标"
    found: list[str] = []

    def bad(problem: str) -> None:
        found.append(f"{label}：{problem}")

    unknown = sorted(set(raw) - _INDICATOR_KEYS)
    if unknown:
        bad(f"未知的字段：{'、'.join(unknown)}")
    if not isinstance(code, str) or not _INDICATOR_CODE_PATTERN.fullmatch(code):
        bad(_missing_or("code", code, "必须是维度字母加序号，例如 A1"))
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

    max_points = _decimal(raw.get("max_points"))
    if "max_points" not in raw:
        bad("缺少字段 max_points（分值）")
    elif max_points is None or max_points <= 0:
        bad(f"max_points（分值）必须是正数，收到 {raw.get('max_points')!r}")
    elif max_points > TOTAL_POINTS:
        bad(f"max_points（分值）不能超过 100，收到 {_fmt(max_points)}")
    elif _places(max_points) > _POINT_PLACES:
        bad(f"max_points（分值）最多两位小数，收到 {_fmt(max_points)}")

    rule_name = raw.get("rule")
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

    target = _decimal(raw.get("target"))
    if rule_name == "ratio_to_target":
        if "target" not in raw:
            bad("缺少目标值 target（ratio_to_target 规则需要）")
        elif target is None or target <= 0:
            bad(f"目标值 target 必须是正数，收到 {raw.get('target')!r}")
    elif "target" in raw:
        bad(f"只有 ratio_to_target 规则使用目标值 target，本指标的规则是 {rule_name}")

    when_empty = _decimal(raw.get("when_empty"))
    if "when_empty" in raw:
        if rule_name in {"manual", "deduction"}:
            bad(f"{rule_name} 规则的指标不能设置 when_empty（无数据时的得分）")
        elif when_empty is None or not 0 <= when_empty <= 1:
            bad(f"when_empty 是满分的比例，必须在 0 到 1 之间，收到 {raw.get('when_empty')!r}")

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
        rule = _parse_deduction(raw, metric_info, bad)
    for key in ("bands", "floor"):
        if key in raw and rule_name != "bands":
            bad(f"只有 bands 规则使用 {key}，本指标的规则是 {rule_name}")
    if "per_event" in raw and rule_name != "deduction":
        bad(f"只有 deduction 规则使用 per_event，本指标的规则是 {rule_name}")

    if found:
        problems.extend(found)
        return None
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


def _sum_points(indicators: Sequence[Indicator], dimension: str | None = None) -> Decimal:
    """Total maximum points, of one dimension or of all, whatever the caller's context."""
    with localcontext(_CONTEXT):
        return sum(
            (
                indicator.max_points
                for indicator in indicators
                if dimension is None or indicator.dimension == dimension
            ),
            Decimal(0),
        )
