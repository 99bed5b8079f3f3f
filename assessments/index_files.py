"""Assessment index files (考核指标文件): read them, derive a county's, find a year's.

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

Floats are read as exact ``Decimal`` (``parse_float=Decimal``). The parsed document is checked by
``assessments.index_validation``: every problem found is reported at once in one
``IndexFileError`` whose Chinese message names the file and the indicator.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from assessments.index import CITY_SCOPE, Bands, Deduction, Index, IndexFileError, Indicator
from assessments.index_validation import CODE_PATTERN, parse_document

__all__ = [
    "INDEXES_DIR",
    "OVERRIDABLE_FIELDS",
    "default_index_path",
    "derive_index",
    "load_index",
    "load_index_text",
]

INDEXES_DIR = Path(__file__).resolve().parent / "indexes"
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

_DERIVED_KEYS = {"based_on", "code", "name", "year", "scope", "version", "overrides"}
_TOML_POSITION = re.compile(r"\(at line ([0-9]+), column ([0-9]+)\)")
_CITY_FILE_PATTERN = re.compile(r"city-([0-9]{4})\.toml")


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
    return parse_document(document, source)


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
    if not isinstance(based_on, str) or not CODE_PATTERN.fullmatch(based_on):
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
    base = parse_document(base_document, str(base_path))
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
    return parse_document(document, source)


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
