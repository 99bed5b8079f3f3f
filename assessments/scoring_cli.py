"""``python -m assessments score --index FILE --metrics FILE.json`` (``-`` reads standard input).

The metrics file is a JSON object of indicator code → value, as ``assessments.scoring.score``
takes it; numbers with a fraction or exponent are read as ``Decimal``, and repeated keys are
refused. The result is printed as JSON::

    {"indicators": {"A1": {"points": 4.43, "max": 5}, …},
     "dimensions": {"A": 18.27, "B": 42.72, "C": 20.75}, "total": 81.74}

Whole numbers print as integers (``5``, not ``5.0``), others with their decimals (``4.43``).
Warnings (a manual score below the maximum without a reason) go to standard error. On invalid
input a Chinese message goes to standard error, nothing to standard output, and the exit code
is 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from assessments.index import IndexFileError
from assessments.index_files import load_index
from assessments.scoring import ScoreResult, ScoringError, score

__all__ = ["EXIT_INPUT_ERROR", "USAGE", "main", "result_to_json"]

USAGE = """用法:
  python -m assessments score --index 指标文件.toml --metrics 数值文件.json
数值文件为 - 时从标准输入读取。"""

EXIT_INPUT_ERROR = 2


class _InputError(Exception):
    """A usage or file problem; the message is user-facing Chinese."""


@dataclass(frozen=True, slots=True)
class _Options:
    index: str
    metrics: str


def main(argv: Sequence[str]) -> int:
    """Score a metrics file against an index file; return the process exit code."""
    args = list(argv)
    if any(arg in {"-h", "--help"} for arg in args):
        print(USAGE)
        return 0
    try:
        options = _parse_args(args)
        index = load_index(options.index)
        result = score(index, _read_metrics(options.metrics))
    except (_InputError, IndexFileError, ScoringError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    for warning in result.warnings:
        print(f"警告：{warning}", file=sys.stderr)
    print(json.dumps(result_to_json(result), ensure_ascii=False, indent=2))
    return 0


def result_to_json(result: ScoreResult) -> dict[str, object]:
    """The printed shape: points and maximum per indicator, subtotals and the total."""
    return {
        "indicators": {
            item.code: {"points": _json_number(item.points), "max": _json_number(item.max_points)}
            for item in result.indicators
        },
        "dimensions": {
            dimension.code: _json_number(dimension.points) for dimension in result.dimensions
        },
        "total": _json_number(result.total),
    }


def _json_number(value: Decimal) -> int | float:
    # Points have at most 2 places and are at most 100, so the float's shortest repr is
    # exactly the decimal text (4.43 prints as 4.43).
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _parse_args(args: list[str]) -> _Options:
    found: dict[str, str] = {}
    position = 0
    while position < len(args):
        arg = args[position]
        name, has_value, inline = arg.partition("=")
        if name not in {"--index", "--metrics"}:
            raise _InputError(f"未知的参数 {arg}\n{USAGE}")
        if has_value:
            value = inline
        elif position + 1 < len(args):
            position += 1
            value = args[position]
        else:
            raise _InputError(f"参数 {name} 后面缺少文件名\n{USAGE}")
        if name in found:
            raise _InputError(f"参数 {name} 重复\n{USAGE}")
        found[name] = value
        position += 1
    for name in ("--index", "--metrics"):
        if name not in found:
            raise _InputError(f"缺少参数 {name}\n{USAGE}")
    return _Options(index=found["--index"], metrics=found["--metrics"])


def _read_metrics(source: str) -> dict[str, object]:
    label = "标准输入" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _InputError(f"数值文件 {label} 不存在") from None
    except UnicodeDecodeError:
        raise _InputError(f"数值文件 {label} 不是 UTF-8 编码") from None
    except OSError as exc:
        raise _InputError(f"无法读取数值文件 {label}：{exc.strerror or exc}") from None
    try:
        document: object = json.loads(
            text, parse_float=Decimal, object_pairs_hook=_refuse_repeated_keys
        )
    except json.JSONDecodeError as exc:
        raise _InputError(
            f"数值文件 {label} 不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）"
        ) from None
    except ValueError:
        # Python's own guard against integers of thousands of digits.
        raise _InputError(f"数值文件 {label} 中的数字位数过多") from None
    if not isinstance(document, dict):
        raise _InputError(f"数值文件 {label} 必须是以指标代码为键的 JSON 对象")
    return document


def _refuse_repeated_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document: dict[str, object] = {}
    for key, value in pairs:
        if key in document:
            # A ValueError inside the hook would escape as a bare error, so raise ours.
            raise _InputError(f"数值文件中的键 {key!r} 重复")
        document[key] = value
    return document
