"""Index files (考核指标文件): the shipped city files, validation, fallback years, derivation."""

from __future__ import annotations

import dataclasses
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from assessments.index import (
    KNOWN_METRICS,
    Band,
    Bands,
    Deduction,
    IndexFileError,
    Manual,
    MeanScale,
    RatioToTarget,
)
from assessments.index_files import (
    INDEXES_DIR,
    default_index_path,
    derive_index,
    load_index,
    load_index_text,
)

CITY_2026 = INDEXES_DIR / "city-2026.toml"

# A small valid city index (A 20 / B 50 / C 30) that the error cases below edit.
MINIMAL = """\
code = "test-2026"
name = "测试指标"
year = 2026
scope = "city"

[[indicators]]
code = "A1"
name = "签约覆盖率"
dimension = "A"
max_points = 20
metric = "signing_coverage"
rule = "ratio_to_target"
target = 0.35

[[indicators]]
code = "B1"
name = "合理医疗"
dimension = "B"
max_points = 50
rule = "manual"

[[indicators]]
code = "C1"
name = "医德医风"
dimension = "C"
max_points = 30
metric = "ethics_deductions"
rule = "deduction"
per_event = { complaints = 2, false_records = 4 }
"""

A1_RULE = 'rule = "ratio_to_target"\ntarget = 0.35\n'
BANDS_RULE = 'rule = "bands"\nbands = [[0.2, 0.5], [0.3, 0.8], [0.35, 1.0]]\n'


def edit(text: str, old: str, new: str) -> str:
    """Replace ``old`` (which must occur) by ``new``."""
    assert old in text, old
    return text.replace(old, new, 1)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> IndexFileError:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(IndexFileError) as caught:
        load_index(path)
    return caught.value


# --------------------------------------------------------------------------- shipped files


def test_city_2026_has_the_sixteen_indicators_of_spec_4_in_order() -> None:
    index = load_index(CITY_2026)
    assert [i.code for i in index.indicators] == [
        *("A1", "A2", "A3", "A4", "A5"),
        *("B1", "B2", "B3", "B4", "B5", "B6", "B7"),
        *("C1", "C2", "C3", "C4"),
    ]


def test_city_2026_points_match_spec_4() -> None:
    index = load_index(CITY_2026)
    points = [int(i.max_points) for i in index.indicators]
    assert points == [5, 5, 4, 3, 3, 10, 8, 10, 8, 4, 4, 6, 8, 6, 10, 6]


def test_city_2026_dimensions_are_20_50_30() -> None:
    index = load_index(CITY_2026)
    assert [(d.code, d.name, d.max_points) for d in index.dimensions] == [
        ("A", "团队管理", Decimal(20)),
        ("B", "服务功能", Decimal(50)),
        ("C", "服务效果", Decimal(30)),
    ]


def test_city_2026_header() -> None:
    index = load_index(CITY_2026)
    assert (index.code, index.year, index.scope, index.version, index.based_on) == (
        "city-2026",
        2026,
        "city",
        1,
        None,
    )
    assert index.is_city and index.total_points == 100


def test_city_2026_targets() -> None:
    index = load_index(CITY_2026)
    targets = {i.code: i.target for i in index.indicators if i.target is not None}
    assert targets == {
        "A1": Decimal("0.35"),
        "A2": Decimal("0.70"),
        "A3": Decimal("0.90"),
        "A5": Decimal("0.95"),
        "B1": Decimal("4.0"),
        "B3": Decimal("0.80"),
        "B4": Decimal("0.90"),
        "B5": Decimal("1.0"),
        "B6": Decimal("0.90"),
        "B7": Decimal("1.0"),
        "C2": Decimal("0.90"),
        "C4": Decimal("0.60"),
    }


def test_city_2026_targets_are_ratio_to_target_rules() -> None:
    index = load_index(CITY_2026)
    assert all(isinstance(i.rule, RatioToTarget) for i in index.indicators if i.target is not None)


def test_city_2026_a4_and_b2_are_manual_without_metric() -> None:
    index = load_index(CITY_2026)
    manual = [(i.code, i.metric) for i in index.indicators if isinstance(i.rule, Manual)]
    assert manual == [("A4", None), ("B2", None)]


def test_city_2026_c1_deducts_2_per_complaint_and_4_per_false_record() -> None:
    c1 = load_index(CITY_2026).get("C1")
    assert c1 is not None
    assert c1.rule == Deduction((("complaints", Decimal(2)), ("false_records", Decimal(4))))


def test_city_2026_c3_is_mean_scale() -> None:
    c3 = load_index(CITY_2026).get("C3")
    assert c3 is not None and isinstance(c3.rule, MeanScale)


def test_city_2026_only_b7_scores_half_when_empty() -> None:
    index = load_index(CITY_2026)
    assert {i.code: i.when_empty for i in index.indicators if i.when_empty is not None} == {
        "B7": Decimal("0.5")
    }


def test_city_2026_uses_every_known_metric_once() -> None:
    metrics = [i.metric for i in load_index(CITY_2026).indicators if i.metric is not None]
    assert sorted(metrics) == sorted(KNOWN_METRICS)


def test_city_2026_every_indicator_has_a_chinese_name_and_description() -> None:
    for indicator in load_index(CITY_2026).indicators:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in indicator.name), indicator.code
        assert len(indicator.description) >= 20, indicator.code


def test_city_2026_ratio_descriptions_name_numerator_and_denominator() -> None:
    for indicator in load_index(CITY_2026).indicators:
        metric = KNOWN_METRICS.get(indicator.metric or "")
        if metric is not None and metric.kind == "ratio":
            assert "分子" in indicator.description, indicator.code
            assert "分母" in indicator.description, indicator.code


def test_city_2025_is_city_2026_for_year_2025() -> None:
    old, new = load_index(INDEXES_DIR / "city-2025.toml"), load_index(CITY_2026)
    assert (old.code, old.year) == ("city-2025", 2025)
    assert old.indicators == new.indicators


def test_floats_are_read_as_exact_decimals() -> None:
    a1 = load_index_text(MINIMAL).get("A1")
    assert a1 is not None and a1.target == Decimal("0.35")


def test_dimension_names_default_when_the_table_is_absent() -> None:
    index = load_index_text(MINIMAL)
    assert [d.name for d in index.dimensions] == ["团队管理", "服务功能", "服务效果"]


def test_dimension_names_can_be_set() -> None:
    index = load_index_text(
        edit(MINIMAL, 'scope = "city"\n', 'scope = "city"\n[dimensions]\nA = "管理"\n')
    )
    assert index.dimensions[0].name == "管理"


def test_version_defaults_to_1() -> None:
    assert load_index_text(MINIMAL).version == 1


def test_bands_are_parsed_in_order() -> None:
    index = load_index_text(edit(MINIMAL, A1_RULE, BANDS_RULE + "floor = 0.1\n"))
    a1 = index.get("A1")
    assert a1 is not None
    assert a1.rule == Bands(
        (
            Band(Decimal("0.2"), Decimal("0.5")),
            Band(Decimal("0.3"), Decimal("0.8")),
            Band(Decimal("0.35"), Decimal("1.0")),
        ),
        Decimal("0.1"),
    )


def test_index_is_immutable() -> None:
    index = load_index_text(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        index.year = 2027  # type: ignore[misc]


def test_get_unknown_code_is_none() -> None:
    assert load_index_text(MINIMAL).get("Z9") is None


# --------------------------------------------------------------------------- default path


def test_default_index_path_is_the_year_s_city_file() -> None:
    assert default_index_path(2025) == INDEXES_DIR / "city-2025.toml"


def test_default_index_path_falls_back_to_the_newest_earlier_year(tmp_path: Path) -> None:
    for year in (2023, 2025):
        write(tmp_path, f"city-{year}.toml", MINIMAL)
    assert default_index_path(2027, tmp_path) == tmp_path / "city-2025.toml"


def test_default_index_path_never_uses_a_later_year(tmp_path: Path) -> None:
    for year in (2023, 2025):
        write(tmp_path, f"city-{year}.toml", MINIMAL)
    assert default_index_path(2024, tmp_path) == tmp_path / "city-2023.toml"


def test_default_index_path_ignores_county_files(tmp_path: Path) -> None:
    write(tmp_path, "city-2025.toml", MINIMAL)
    write(tmp_path, "411002-2026.toml", MINIMAL)
    assert default_index_path(2026, tmp_path) == tmp_path / "city-2025.toml"


def test_default_index_path_without_an_earlier_year_raises_in_chinese(tmp_path: Path) -> None:
    write(tmp_path, "city-2025.toml", MINIMAL)
    with pytest.raises(IndexFileError, match="没有 2024 年或更早年份的市级考核指标文件"):
        default_index_path(2024, tmp_path)


def test_default_index_path_of_a_future_year_is_the_newest_shipped_file() -> None:
    assert default_index_path(2099) == CITY_2026


# --------------------------------------------------------------------------- validation

# (id, edit of MINIMAL as (old, new), words the message must contain)
BAD_FILES = [
    (
        "toml-syntax",
        ('name = "测试指标"', "name = 测试指标"),
        ["TOML 格式错误（第 2 行第 8 列）：Invalid value"],
    ),
    ("huge-integer", ("year = 2026", "year = " + "9" * 5000), ["TOML 格式错误：数字位数过多"]),
    ("missing-code", ('code = "test-2026"\n', ""), ["缺少字段 code"]),
    ("bad-year", ("year = 2026", 'year = "2026"'), ["year", "年份"]),
    ("bad-scope", ('scope = "city"', 'scope = "ctiy"'), ["scope", "6 位"]),
    ("bad-version", ('scope = "city"\n', 'scope = "city"\nversion = 0\n'), ["version", "正整数"]),
    ("unknown-top-key", ('scope = "city"\n', 'scope = "city"\nyaer = 1\n'), ["未知的字段：yaer"]),
    (
        "overrides-without-base",
        ('scope = "city"\n', 'scope = "city"\n[overrides.A1]\ntarget = 0.4\n'),
        ["based_on"],
    ),
    (
        "unknown-dimension-name",
        ('scope = "city"\n', 'scope = "city"\n[dimensions]\nD = "其他"\n'),
        ["未知的维度 D"],
    ),
    (
        "unknown-indicator-key",
        (A1_RULE, A1_RULE + "traget = 0.4\n"),
        ["指标 A1（签约覆盖率）", "未知的字段：traget"],
    ),
    ("missing-name", ('name = "签约覆盖率"\n', ""), ["指标 A1", "缺少字段 name"]),
    (
        "unknown-dimension",
        ('dimension = "A"', 'dimension = "D"'),
        ["指标 A1（签约覆盖率）", "dimension"],
    ),
    (
        "code-outside-dimension",
        ('dimension = "A"', 'dimension = "B"'),
        ["指标 A1（签约覆盖率）", "应以所属维度字母 B 开头"],
    ),
    ("bad-code", ('code = "A1"', 'code = "a-1"'), ["指标 a-1（签约覆盖率）", "例如 A1"]),
    (
        "zero-points",
        ("max_points = 20", "max_points = 0"),
        ["指标 A1（签约覆盖率）", "max_points（分值）必须是正数"],
    ),
    (
        "text-points",
        ("max_points = 20", 'max_points = "20"'),
        ["指标 A1（签约覆盖率）", "max_points（分值）必须是正数"],
    ),
    (
        "three-decimal-points",
        ("max_points = 20", "max_points = 19.995"),
        ["指标 A1（签约覆盖率）", "最多两位小数"],
    ),
    (
        "missing-rule",
        ('rule = "ratio_to_target"\n', ""),
        ["指标 A1（签约覆盖率）", "缺少字段 rule"],
    ),
    (
        "unknown-rule",
        ('rule = "ratio_to_target"', 'rule = "ratio"'),
        ["指标 A1（签约覆盖率）", "未知的计分规则 'ratio'"],
    ),
    (
        "unknown-metric",
        ('metric = "signing_coverage"', 'metric = "signing"'),
        ["指标 A1（签约覆盖率）", "未知的指标数据 metric = 'signing'"],
    ),
    (
        "missing-metric",
        ('metric = "signing_coverage"\n', ""),
        ["指标 A1（签约覆盖率）", "缺少字段 metric"],
    ),
    (
        "metric-on-manual",
        ('rule = "manual"', 'rule = "manual"\nmetric = "awareness"'),
        ["指标 B1（合理医疗）", "不能指定 metric"],
    ),
    (
        "events-metric-with-ratio-rule",
        ('metric = "signing_coverage"', 'metric = "ethics_deductions"'),
        ["指标 A1（签约覆盖率）", "只能用扣分规则"],
    ),
    (
        "ratio-metric-with-deduction",
        ('metric = "ethics_deductions"', 'metric = "awareness"'),
        ["指标 C1（医德医风）", "扣分规则（deduction）只能用于事件计数"],
    ),
    (
        "mean-scale-on-ratio-metric",
        (A1_RULE, 'rule = "mean_scale"\n'),
        ["指标 A1（签约覆盖率）", "mean_scale"],
    ),
    ("missing-target", ("target = 0.35\n", ""), ["指标 A1（签约覆盖率）", "缺少目标值 target"]),
    (
        "zero-target",
        ("target = 0.35", "target = 0"),
        ["指标 A1（签约覆盖率）", "目标值 target 必须是正数"],
    ),
    (
        "nan-target",
        ("target = 0.35", "target = nan"),
        ["指标 A1（签约覆盖率）", "目标值 target 必须是正数"],
    ),
    (
        "target-on-manual",
        ('rule = "manual"', 'rule = "manual"\ntarget = 1'),
        ["指标 B1（合理医疗）", "只有 ratio_to_target 规则使用目标值"],
    ),
    (
        "when-empty-above-1",
        ("target = 0.35", "target = 0.35\nwhen_empty = 1.5"),
        ["指标 A1（签约覆盖率）", "when_empty", "0 到 1"],
    ),
    (
        "when-empty-negative",
        ("target = 0.35", "target = 0.35\nwhen_empty = -0.1"),
        ["指标 A1（签约覆盖率）", "when_empty", "0 到 1"],
    ),
    (
        "when-empty-on-manual",
        ('rule = "manual"', 'rule = "manual"\nwhen_empty = 0.5'),
        ["指标 B1（合理医疗）", "不能设置 when_empty"],
    ),
    (
        "when-empty-on-deduction",
        ('rule = "deduction"', 'rule = "deduction"\nwhen_empty = 0.5'),
        ["指标 C1（医德医风）", "不能设置 when_empty"],
    ),
    (
        "bands-missing",
        (A1_RULE, 'rule = "bands"\n'),
        ["指标 A1（签约覆盖率）", "bands = [[阈值, 满分比例]"],
    ),
    (
        "bands-empty",
        (A1_RULE, 'rule = "bands"\nbands = []\n'),
        ["指标 A1（签约覆盖率）", "至少一档"],
    ),
    (
        "bands-not-pairs",
        (A1_RULE, 'rule = "bands"\nbands = [[0.2, 0.5, 1]]\n'),
        ["指标 A1（签约覆盖率）", "第 1 档必须是 [阈值, 满分比例]"],
    ),
    (
        "bands-descending",
        (A1_RULE, 'rule = "bands"\nbands = [[0.3, 0.5], [0.2, 1.0]]\n'),
        ["指标 A1（签约覆盖率）", "从小到大"],
    ),
    (
        "bands-repeated-threshold",
        (A1_RULE, 'rule = "bands"\nbands = [[0.3, 0.5], [0.3, 1.0]]\n'),
        ["指标 A1（签约覆盖率）", "从小到大排列且不重复"],
    ),
    (
        "bands-fraction-above-1",
        (A1_RULE, 'rule = "bands"\nbands = [[0.3, 1.2]]\n'),
        ["指标 A1（签约覆盖率）", "满分比例必须在 0 到 1 之间", "1.2"],
    ),
    (
        "bands-fraction-negative",
        (A1_RULE, 'rule = "bands"\nbands = [[0.3, -0.5]]\n'),
        ["指标 A1（签约覆盖率）", "满分比例必须在 0 到 1 之间"],
    ),
    (
        "bands-fraction-falls",
        (A1_RULE, 'rule = "bands"\nbands = [[0.2, 0.8], [0.3, 0.5]]\n'),
        ["指标 A1（签约覆盖率）", "更高的阈值不能得更少的分"],
    ),
    (
        "floor-above-lowest-band",
        (A1_RULE, BANDS_RULE + "floor = 0.6\n"),
        ["指标 A1（签约覆盖率）", "floor"],
    ),
    (
        "bands-on-ratio-rule",
        ("target = 0.35", "target = 0.35\nbands = [[0.3, 1.0]]"),
        ["指标 A1（签约覆盖率）", "只有 bands 规则使用 bands"],
    ),
    (
        "floor-on-ratio-rule",
        ("target = 0.35", "target = 0.35\nfloor = 0.1"),
        ["指标 A1（签约覆盖率）", "只有 bands 规则使用 floor"],
    ),
    (
        "per-event-missing",
        ("per_event = { complaints = 2, false_records = 4 }\n", ""),
        ["指标 C1（医德医风）", "per_event"],
    ),
    (
        "per-event-unknown-event",
        ("complaints = 2", "complaint = 2"),
        ["指标 C1（医德医风）", "未知的事件 complaint"],
    ),
    (
        "per-event-zero-points",
        ("complaints = 2", "complaints = 0"),
        ["指标 C1（医德医风）", "per_event.complaints（每次扣分）必须是正数"],
    ),
    (
        "per-event-on-ratio-rule",
        ("target = 0.35", "target = 0.35\nper_event = { complaints = 2 }"),
        ["指标 A1（签约覆盖率）", "只有 deduction 规则使用 per_event"],
    ),
    ("duplicate-code", ('code = "B1"', 'code = "A1"\n'), ["指标代码 A1 重复"]),
    ("no-indicators", (MINIMAL[MINIMAL.index("[[indicators]]") :], ""), ["没有任何指标"]),
    ("total-not-100", ("max_points = 50", "max_points = 49"), ["合计应为 100 分，现为 99 分"]),
    (
        "city-dimension-totals",
        (
            'code = "B1"\nname = "合理医疗"\ndimension = "B"',
            'code = "A2"\nname = "合理医疗"\ndimension = "A"',
        ),
        [
            "维度 A（团队管理）分值合计应为 20 分，现为 70 分",
            "维度 B（服务功能）分值合计应为 50 分，现为 0 分",
        ],
    ),
]


@pytest.mark.parametrize(
    ("change", "words"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES]
)
def test_invalid_index_file_is_refused_with_a_chinese_message_naming_the_file(
    tmp_path: Path, change: tuple[str, str], words: list[str]
) -> None:
    error = load_error(tmp_path, edit(MINIMAL, *change))
    message = str(error)
    assert message.startswith(f"考核指标文件 {tmp_path / 'bad.toml'}")
    for word in words:
        assert word in message


def test_index_file_error_is_a_value_error() -> None:
    assert issubclass(IndexFileError, ValueError)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = edit(MINIMAL, "target = 0.35\n", "")
    text = edit(text, 'metric = "ethics_deductions"', 'metric = "ethics"')
    error = load_error(tmp_path, text)
    assert len(error.problems) == 2
    assert "有 2 处错误" in str(error)


def test_totals_are_not_checked_while_an_indicator_is_invalid(tmp_path: Path) -> None:
    error = load_error(tmp_path, edit(MINIMAL, "max_points = 50", "max_points = -50"))
    assert not any("合计" in problem for problem in error.problems)


def test_missing_file_is_an_index_file_error(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="文件不存在"):
        load_index(tmp_path / "nowhere.toml")


def test_non_utf8_file_is_an_index_file_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes(MINIMAL.encode("gbk"))
    with pytest.raises(IndexFileError, match="UTF-8"):
        load_index(path)


def test_load_index_text_names_its_source() -> None:
    with pytest.raises(IndexFileError, match="^考核指标文件 上传的文件："):
        load_index_text("code = ", source="上传的文件")


def test_county_index_need_not_have_city_dimension_totals() -> None:
    text = edit(MINIMAL, 'scope = "city"', 'scope = "411002"')
    text = edit(text, 'max_points = 30\nmetric = "ethics', 'max_points = 20\nmetric = "ethics')
    text = edit(text, 'max_points = 20\nmetric = "signing', 'max_points = 30\nmetric = "signing')
    index = load_index_text(text)
    assert [d.max_points for d in index.dimensions] == [30, 50, 20]


def test_county_index_still_needs_100_points() -> None:
    text = edit(MINIMAL, 'scope = "city"', 'scope = "411002"')
    with pytest.raises(IndexFileError, match="合计应为 100 分，现为 105 分"):
        load_index_text(edit(text, "max_points = 20", "max_points = 25"))


# --------------------------------------------------------------------------- county files

COUNTY = """\
based_on = "city-2026"
code = "411002-2026"
name = "魏都区 2026 年度家庭医生签约服务考核指标"
scope = "411002"

[overrides.A1]
target = 0.40
"""


def test_county_file_overrides_a_target(tmp_path: Path) -> None:
    county = load_index(write(tmp_path, "411002-2026.toml", COUNTY))
    a1 = county.get("A1")
    assert a1 is not None and a1.target == Decimal("0.40")


def test_county_file_keeps_the_other_indicators_of_its_base(tmp_path: Path) -> None:
    county = load_index(write(tmp_path, "411002-2026.toml", COUNTY))
    city = load_index(CITY_2026)
    assert county.indicators[1:] == city.indicators[1:]


def test_county_file_takes_its_header_and_base_year(tmp_path: Path) -> None:
    county = load_index(write(tmp_path, "411002-2026.toml", COUNTY))
    assert (county.code, county.scope, county.year, county.based_on, county.is_city) == (
        "411002-2026",
        "411002",
        2026,
        "city-2026",
        False,
    )


def test_county_file_may_move_points_between_indicators(tmp_path: Path) -> None:
    text = COUNTY + "\n[overrides.B1]\nmax_points = 14\n\n[overrides.A4]\nmax_points = 2\n"
    text += "\n[overrides.C3]\nmax_points = 7\n"
    county = load_index(write(tmp_path, "411002-2026.toml", text))
    assert [d.max_points for d in county.dimensions] == [19, 54, 27]


def test_county_file_merges_per_event_points(tmp_path: Path) -> None:
    text = COUNTY + "\n[overrides.C1.per_event]\ncomplaints = 3\n"
    c1 = load_index(write(tmp_path, "411002-2026.toml", text)).get("C1")
    assert c1 is not None
    assert c1.rule == Deduction((("complaints", Decimal(3)), ("false_records", Decimal(4))))


def test_county_file_prefers_a_base_beside_it(tmp_path: Path) -> None:
    base = edit(MINIMAL, 'code = "test-2026"', 'code = "city-2026"')
    write(tmp_path, "city-2026.toml", base)
    text = edit(COUNTY, "target = 0.40", "target = 0.5")
    county = load_index(write(tmp_path, "411002-2026.toml", text))
    assert [i.code for i in county.indicators] == ["A1", "B1", "C1"]


def test_county_text_resolves_its_base_in_the_package_folder() -> None:
    county = load_index_text(COUNTY)
    assert len(county.indicators) == 16


COUNTY_ERRORS = [
    (
        "missing-base",
        ('based_on = "city-2026"', 'based_on = "city-1999"'),
        "找不到基础指标文件 city-1999.toml",
    ),
    (
        "base-as-path",
        ('based_on = "city-2026"', 'based_on = "../city-2026"'),
        "based_on 必须是基础指标文件名",
    ),
    (
        "unknown-indicator",
        ("[overrides.A1]", "[overrides.A9]"),
        "基础指标文件 city-2026 中没有指标 A9",
    ),
    (
        "non-overridable-field",
        ("target = 0.40", 'metric = "awareness"'),
        "指标 A1（签约覆盖率）：覆盖项不能修改 metric",
    ),
    (
        "invalid-override-value",
        ("target = 0.40", "target = -1"),
        "指标 A1（签约覆盖率）：目标值 target 必须是正数",
    ),
    ("override-breaks-total", ("target = 0.40", "max_points = 6"), "合计应为 100 分，现为 101 分"),
    (
        "override-not-a-table",
        ("[overrides.A1]\ntarget = 0.40", "overrides = 1"),
        "overrides 必须写成 [overrides.指标代码] 表",
    ),
    (
        "indicators-listed",
        ("[overrides.A1]\ntarget = 0.40", '[[indicators]]\ncode = "A1"'),
        "不能再列出 indicators",
    ),
    ("missing-scope", ('scope = "411002"\n', ""), "缺少字段 scope"),
    ("bad-scope", ('scope = "411002"', 'scope = "魏都区"'), "scope 必须是"),
    ("unknown-key", ('scope = "411002"\n', 'scope = "411002"\ncolour = 1\n'), "未知的字段：colour"),
]


@pytest.mark.parametrize(
    ("change", "words"),
    [case[1:] for case in COUNTY_ERRORS],
    ids=[case[0] for case in COUNTY_ERRORS],
)
def test_invalid_county_file_is_refused_naming_the_county_file(
    tmp_path: Path, change: tuple[str, str], words: str
) -> None:
    path = write(tmp_path, "411002-2026.toml", edit(COUNTY, *change))
    with pytest.raises(IndexFileError) as caught:
        load_index(path)
    assert str(caught.value).startswith(f"考核指标文件 {path}")
    assert words in str(caught.value)


def test_county_file_cannot_be_based_on_a_county_file(tmp_path: Path) -> None:
    write(tmp_path, "411002-2026.toml", COUNTY)
    text = edit(COUNTY, 'based_on = "city-2026"', 'based_on = "411002-2026"')
    with pytest.raises(IndexFileError, match="不是市级指标文件"):
        load_index(write(tmp_path, "411003-2026.toml", text))


def test_county_file_based_on_itself_is_refused_without_recursion(tmp_path: Path) -> None:
    text = edit(COUNTY, 'based_on = "city-2026"', 'based_on = "411002-2026"')
    with pytest.raises(IndexFileError, match="不是市级指标文件"):
        load_index(write(tmp_path, "411002-2026.toml", text))


def test_based_on_must_match_the_code_of_the_base_file(tmp_path: Path) -> None:
    write(tmp_path, "city-2026.toml", MINIMAL)  # its code is test-2026
    with pytest.raises(IndexFileError, match="该文件的指标代码（code）是 test-2026"):
        load_index(write(tmp_path, "411002-2026.toml", COUNTY))


def test_error_in_the_base_file_names_the_base_file(tmp_path: Path) -> None:
    base = write(tmp_path, "city-2026.toml", edit(MINIMAL, "target = 0.35\n", ""))
    with pytest.raises(IndexFileError, match=f"^考核指标文件 {base}"):
        load_index(write(tmp_path, "411002-2026.toml", COUNTY))


# --------------------------------------------------------------------------- derive_index


def test_derive_index_takes_floats_by_their_str() -> None:
    county = derive_index(load_index(CITY_2026), {"A1": {"target": 0.4}}, scope="411002")
    a1 = county.get("A1")
    assert a1 is not None and a1.target == Decimal("0.4")


def test_derive_index_keeps_the_base_header_not_given() -> None:
    county = derive_index(load_index(CITY_2026), {}, code="411002-2026", scope="411002")
    assert (county.code, county.name, county.year, county.based_on) == (
        "411002-2026",
        "2026 年度家庭医生签约服务考核指标",
        2026,
        "city-2026",
    )


def test_derive_index_leaves_the_base_unchanged() -> None:
    city = load_index(CITY_2026)
    derive_index(city, {"C1": {"per_event": {"complaints": 3}}}, scope="411002")
    assert city == load_index(CITY_2026)


def test_derive_index_keeping_city_scope_keeps_the_city_totals() -> None:
    with pytest.raises(IndexFileError, match="维度 A（团队管理）分值合计应为 20 分，现为 21 分"):
        derive_index(load_index(CITY_2026), {"A1": {"max_points": 6}, "B1": {"max_points": 9}})


def test_derive_index_names_its_source() -> None:
    with pytest.raises(IndexFileError, match="^考核指标文件 魏都区草稿：指标 A1"):
        derive_index(load_index(CITY_2026), {"A1": {"rule": "bands"}}, source="魏都区草稿")


def test_shipped_files_parse_as_plain_toml() -> None:
    # The files stay readable by any TOML reader, not only ours.
    for path in INDEXES_DIR.glob("*.toml"):
        with path.open("rb") as handle:
            assert tomllib.load(handle)["indicators"]
