"""``python -m assessments settle|distribute FILE.json`` (``-`` reads standard input).

JSON numbers with a fraction or exponent are parsed as ``Decimal`` (``parse_float=Decimal``), so
no float ever decides a fen; ``NaN``/``Infinity``, repeated keys and unknown keys are refused.
The result is printed as JSON (UTF-8, not ASCII-escaped) with weights and shares as exact decimal
numbers and money as integer fen. On invalid input a Chinese message goes to standard error,
nothing to standard output, and the exit code is 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from assessments.distribution_cli import (
    DISTRIBUTE_HELP,
    MEMBER_KEYS,
    TEAM_FILE_KEYS,
    team_output,
    team_pay,
)
from assessments.settlement import (
    PoolInput,
    PoolResult,
    SettlementInputError,
    UnitInput,
    settle_pools,
)

USAGE = """用法:
  python -m assessments settle FILE.json       按“签约人口×考核得分”在结算池内分配资金
  python -m assessments distribute FILE.json   团队内二次分配（部门基金 + k×y×c×a，扣分进部门基金）
FILE.json 为 - 时从标准输入读取；distribute --help 列出全部字段。"""

EXIT_INPUT_ERROR = 2

POOL_FILE_KEYS = {"pools"}
POOL_KEYS = {"name", "fund_fen", "units"}
UNIT_KEYS = {"name", "signed_population", "score", "preallocated_fen"}

JsonValue = Any


def main(argv: Sequence[str]) -> int:
    """Run ``settle`` or ``distribute``; return the process exit code."""
    args = list(argv)
    if len(args) == 2 and args[1] in {"-h", "--help"}:
        print(DISTRIBUTE_HELP if args[0] == "distribute" else USAGE)
        return 0
    if len(args) != 2 or args[0] not in {"settle", "distribute"}:
        print(USAGE, file=sys.stderr)
        return EXIT_INPUT_ERROR
    command, source = args
    try:
        document = _load(source)
        output = _settle(document) if command == "settle" else _distribute(document)
    except SettlementInputError as error:
        print(f"错误：{error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    print(dump_json(output))
    return 0


# --------------------------------------------------------------------------- input


def _load(source: str) -> JsonValue:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        raise SettlementInputError(f"无法读取输入文件「{source}」：{error.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SettlementInputError("输入文件必须是 UTF-8 编码") from None
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as error:
        raise SettlementInputError(
            f"JSON 格式错误（第 {error.lineno} 行第 {error.colno} 列）：{error.msg}"
        ) from None
    except ValueError as error:  # e.g. an integer longer than Python's digit limit
        raise SettlementInputError(f"JSON 内容无法读取：{error}") from None


def _refuse_constant(name: str) -> JsonValue:
    raise SettlementInputError(f"JSON 中不能使用 {name}，金额和系数必须是有限的数字")


def _unique_keys(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = {}
    for key, value in pairs:
        if key in result:
            raise SettlementInputError(f"JSON 对象中字段「{key}」重复出现")
        result[key] = value
    return result


def _object(value: JsonValue, where: str, allowed: set[str]) -> dict[str, JsonValue]:
    if not isinstance(value, dict):
        raise SettlementInputError(f"{where}必须是 JSON 对象")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise SettlementInputError(
            f"{where}含有未知字段：{'、'.join(unknown)}（可用字段：{'、'.join(sorted(allowed))}）"
        )
    return value


def _list(value: JsonValue, where: str) -> list[JsonValue]:
    if not isinstance(value, list) or not value:
        raise SettlementInputError(f"{where}必须是非空数组")
    return value


def _field(obj: dict[str, JsonValue], key: str, default: JsonValue = None) -> JsonValue:
    """A field of a JSON object; a missing field is ``None`` and reported by the core."""
    return obj.get(key, default)


def _label(kind: str, position: int, item: JsonValue) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return (
        f"{kind}「{name}」" if isinstance(name, str) and name.strip() else f"第 {position} 个{kind}"
    )


def _settle(document: JsonValue) -> dict[str, JsonValue]:
    top = _object(document, "输入", POOL_FILE_KEYS)
    pools: list[PoolInput] = []
    for position, raw_pool in enumerate(
        _list(_field(top, "pools"), "pools（结算池列表）"), start=1
    ):
        pool_where = _label("结算池", position, raw_pool)
        pool = _object(raw_pool, pool_where, POOL_KEYS)
        units: list[UnitInput] = []
        for unit_position, raw_unit in enumerate(
            _list(_field(pool, "units"), f"{pool_where}的 units（单位列表）"), start=1
        ):
            unit = _object(
                raw_unit, f"{pool_where}中的{_label('单位', unit_position, raw_unit)}", UNIT_KEYS
            )
            units.append(
                UnitInput(
                    name=_field(unit, "name"),
                    signed_population=_field(unit, "signed_population"),
                    score=_field(unit, "score"),
                    preallocated_fen=_field(unit, "preallocated_fen", 0),
                )
            )
        pools.append(
            PoolInput(name=_field(pool, "name"), fund_fen=_field(pool, "fund_fen"), units=units)
        )
    return {"pools": [_pool_output(result) for result in settle_pools(pools)]}


def _distribute(document: JsonValue) -> dict[str, JsonValue]:
    top = _object(document, "输入", TEAM_FILE_KEYS)
    members = [
        _object(raw_member, _label("成员", position, raw_member), MEMBER_KEYS)
        for position, raw_member in enumerate(
            _list(_field(top, "members"), "members（成员列表）"), start=1
        )
    ]
    return team_output(team_pay(top, members))


# --------------------------------------------------------------------------- output


def _pool_output(pool: PoolResult) -> dict[str, JsonValue]:
    return {
        "name": pool.name,
        "fund_fen": pool.fund_fen,
        "units": [
            {
                "name": unit.name,
                "signed_population": unit.signed_population,
                "score": unit.score,
                "weight": unit.weight,
                "share": unit.share_display,
                "entitled_fen": unit.entitled_fen,
                "rounding_adjustment_fen": str(unit.rounding_adjustment),
                "preallocated_fen": unit.preallocated_fen,
                "balance_fen": unit.balance_fen,
            }
            for unit in pool.units
        ],
        "totals": {
            "signed_population": pool.total_signed_population,
            "weight": pool.total_weight,
            "entitled_fen": pool.total_entitled_fen,
            "preallocated_fen": pool.total_preallocated_fen,
            "balance_fen": pool.total_balance_fen,
        },
    }


def dump_json(value: JsonValue, indent: int = 0) -> str:
    """JSON text with Decimals written as exact numbers (``json.dumps`` refuses Decimal)."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [
            f"{inner}{json.dumps(str(key), ensure_ascii=False)}: {dump_json(item, indent + 1)}"
            for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return (
            "[\n"
            + ",\n".join(f"{inner}{dump_json(item, indent + 1)}" for item in value)
            + (f"\n{pad}]")
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as JSON")
        return format(value, "f")
    if isinstance(value, Fraction):
        raise TypeError("write fractions as strings")
    return json.dumps(value, ensure_ascii=False)
