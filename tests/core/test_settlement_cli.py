"""``python -m assessments settle|distribute`` end to end, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from assessments.settlement_cli import dump_json, main

REPO = Path(__file__).resolve().parents[2]

SETTLE_INPUT = {
    "pools": [
        {
            "name": "市区",
            "fund_fen": 100,
            "units": [
                {"name": "甲", "signed_population": 1, "score": 91.5, "preallocated_fen": 40},
                {"name": "乙", "signed_population": 1, "score": 91.5},
                {"name": "丙", "signed_population": 1, "score": 91.5},
            ],
        },
        {
            "name": "县市",
            "fund_fen": 1001,
            "units": [
                {"name": "禹州市", "signed_population": 3, "score": 80},
                {"name": "长葛市", "signed_population": 2, "score": 90},
                {"name": "鄢陵县", "signed_population": 1, "score": 60},
            ],
        },
    ]
}

DISTRIBUTE_INPUT = {
    "amount_fen": 10000,
    "reserve_rate": 0.10,
    "members": [
        {"name": "张三", "k": 1, "y": 1, "c": 1, "a": 1},
        {"name": "李四", "k": 1.2, "y": 1.5, "c": 1.0, "a": 1},
        {"name": "王五", "k": 1, "y": 1, "c": 1, "a": 1, "probation": True},
        {"name": "赵六", "k": 0.6, "y": 1, "c": 0.8, "a": 0.5},
    ],
}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assessments", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env={**os.environ, "PYTHONUTF8": "1"},
        check=False,
    )


def write(tmp_path: Path, document: object, name: str = "input.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return str(path)


def run_main(capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, text: str):
    path = tmp_path / "input.json"
    path.write_text(text, encoding="utf-8")
    code = main([command, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def settle_with_unit(capsys, tmp_path, unit_text: str):
    text = '{"pools": [{"name": "市区", "fund_fen": 100, "units": [' + unit_text + "]}]}"
    return run_main(capsys, tmp_path, "settle", text)


# --------------------------------------------------------------------------- settle


def test_settle_prints_entitled_amounts_per_pool(tmp_path):
    result = run("settle", write(tmp_path, SETTLE_INPUT))
    output = json.loads(result.stdout)
    assert [[u["entitled_fen"] for u in p["units"]] for p in output["pools"]] == [
        [33, 33, 34],
        [501, 375, 125],
    ]


def test_settle_exits_zero_and_writes_nothing_to_stderr(tmp_path):
    result = run("settle", write(tmp_path, SETTLE_INPUT))
    assert (result.returncode, result.stderr) == (0, "")


def test_settle_prints_balance_and_pool_totals(tmp_path):
    output = json.loads(run("settle", write(tmp_path, SETTLE_INPUT)).stdout)
    urban = output["pools"][0]
    assert (urban["units"][0]["balance_fen"], urban["totals"]["balance_fen"]) == (-7, 60)


def test_settle_prints_weight_and_share_as_exact_json_numbers(tmp_path):
    stdout = run("settle", write(tmp_path, SETTLE_INPUT)).stdout
    assert '"weight": 91.5,' in stdout and '"share": 0.33333333,' in stdout


def test_settle_prints_the_rounding_adjustment_as_a_fraction(tmp_path):
    output = json.loads(run("settle", write(tmp_path, SETTLE_INPUT)).stdout)
    assert [u["rounding_adjustment_fen"] for u in output["pools"][0]["units"]] == [
        "-1/3",
        "-1/3",
        "2/3",
    ]


def test_settle_prints_chinese_names_unescaped(tmp_path):
    assert (
        '"name": "魏都区"'
        in run(
            "settle",
            write(
                tmp_path,
                {
                    "pools": [
                        {
                            "name": "市区",
                            "fund_fen": 1,
                            "units": [{"name": "魏都区", "signed_population": 1, "score": 1}],
                        }
                    ]
                },
            ),
        ).stdout
    )


def test_settle_reads_standard_input_when_the_file_is_a_dash():
    result = run("settle", "-", stdin=json.dumps(SETTLE_INPUT, ensure_ascii=False))
    assert json.loads(result.stdout)["pools"][1]["units"][0]["entitled_fen"] == 501


def test_settle_accepts_a_utf8_byte_order_mark(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SETTLE_INPUT).encode())
    assert run("settle", str(path)).returncode == 0


def test_settle_decides_no_fen_with_floats(tmp_path):
    # As floats, 3 × 33.33 is 99.99000000000001; parsed as Decimal it is exactly 99.99.
    document = {
        "pools": [
            {
                "name": "市区",
                "fund_fen": 1,
                "units": [{"name": "甲", "signed_population": 3, "score": Decimal("33.33")}],
            }
        ]
    }
    path = tmp_path / "input.json"
    path.write_text(dump_json(document), encoding="utf-8")
    assert '"weight": 99.99,' in run("settle", str(path)).stdout


# --------------------------------------------------------------------------- settle errors


def test_settle_bad_input_exits_2_with_a_chinese_message_and_no_output(tmp_path):
    document = json.loads(json.dumps(SETTLE_INPUT))
    document["pools"][0]["units"][1]["score"] = 101
    result = run("settle", write(tmp_path, document))
    assert (result.returncode, result.stdout, result.stderr.strip()) == (
        2,
        "",
        "错误：结算池「市区」中单位「乙」的考核得分必须在 0 到 100 之间：101",
    )


def test_settle_fractional_fund_exits_2(tmp_path):
    document = json.loads(json.dumps(SETTLE_INPUT))
    document["pools"][0]["fund_fen"] = 12.5
    result = run("settle", write(tmp_path, document))
    assert (result.returncode, "资金总额必须是整数分" in result.stderr) == (2, True)


def test_settle_missing_population_names_pool_unit_and_field(capsys, tmp_path):
    code, out, err = settle_with_unit(capsys, tmp_path, '{"name": "甲", "score": 90}')
    assert (code, out, err.strip()) == (2, "", "错误：缺少结算池「市区」中单位「甲」的签约人口")


def test_settle_text_fund_exits_2(capsys, tmp_path):
    text = '{"pools": [{"name": "市区", "fund_fen": "abc", "units": [{"name": "甲", "signed_population": 1, "score": 1}]}]}'
    code, _, err = run_main(capsys, tmp_path, "settle", text)
    assert (code, "资金总额必须是数字" in err) == (2, True)


def test_settle_boolean_population_exits_2(capsys, tmp_path):
    code, _, err = settle_with_unit(
        capsys, tmp_path, '{"name": "甲", "signed_population": true, "score": 1}'
    )
    assert (code, "不能是布尔值" in err) == (2, True)


def test_settle_unknown_field_exits_2(capsys, tmp_path):
    code, _, err = settle_with_unit(
        capsys, tmp_path, '{"name": "甲", "signed_population": 1, "score": 1, "preallocted_fen": 5}'
    )
    assert (code, "单位「甲」含有未知字段：preallocted_fen" in err) == (2, True)


def test_settle_repeated_field_exits_2(capsys, tmp_path):
    code, _, err = settle_with_unit(
        capsys, tmp_path, '{"name": "甲", "signed_population": 1, "score": 1, "score": 2}'
    )
    assert (code, "字段「score」重复出现" in err) == (2, True)


def test_settle_nan_exits_2(capsys, tmp_path):
    code, _, err = settle_with_unit(
        capsys, tmp_path, '{"name": "甲", "signed_population": 1, "score": NaN}'
    )
    assert (code, "不能使用 NaN" in err) == (2, True)


def test_settle_invalid_json_exits_2(capsys, tmp_path):
    code, out, err = run_main(capsys, tmp_path, "settle", '{"pools": [')
    assert (code, out, "JSON 格式错误" in err) == (2, "", True)


def test_settle_without_pools_exits_2(capsys, tmp_path):
    code, _, err = run_main(capsys, tmp_path, "settle", '{"pools": []}')
    assert (code, "pools（结算池列表）必须是非空数组" in err) == (2, True)


def test_settle_with_a_pool_that_is_not_an_object_exits_2(capsys, tmp_path):
    code, _, err = run_main(capsys, tmp_path, "settle", '{"pools": [42]}')
    assert (code, "第 1 个结算池必须是 JSON 对象" in err) == (2, True)


def test_settle_missing_file_exits_2(tmp_path):
    result = run("settle", str(tmp_path / "missing.json"))
    assert (result.returncode, result.stdout, "无法读取输入文件" in result.stderr) == (2, "", True)


def test_settle_non_utf8_file_exits_2(tmp_path):
    path = tmp_path / "gbk.json"
    path.write_bytes('{"pools": [{"name": "市区"}]}'.encode("gbk"))
    result = run("settle", str(path))
    assert (result.returncode, "UTF-8" in result.stderr) == (2, True)


def test_settle_without_a_file_argument_exits_2_with_usage():
    result = run("settle")
    assert (result.returncode, result.stdout, "用法" in result.stderr) == (2, "", True)


def test_settlement_help_exits_0(capsys):
    assert main(["settle", "--help"]) == 0


# --------------------------------------------------------------------------- distribute


def test_distribute_prints_reserve_members_and_distributed(tmp_path):
    output = json.loads(run("distribute", write(tmp_path, DISTRIBUTE_INPUT)).stdout)
    assert (
        output["amount_fen"],
        output["reserve_fen"],
        [(m["name"], m["amount_fen"]) for m in output["members"]],
        output["distributed_fen"],
    ) == (10000, 1000, [("张三", 2961), ("李四", 5329), ("王五", 0), ("赵六", 710)], 9000)


def test_distribute_prints_member_weights_as_exact_json_numbers(tmp_path):
    stdout = run("distribute", write(tmp_path, DISTRIBUTE_INPUT)).stdout
    assert '"weight": 0.24,' in stdout


def test_distribute_uses_the_default_reserve_rate_when_none_is_given(tmp_path):
    document = {key: value for key, value in DISTRIBUTE_INPUT.items() if key != "reserve_rate"}
    output = json.loads(run("distribute", write(tmp_path, document)).stdout)
    assert output["reserve_fen"] == 1000


def test_distribute_with_nobody_carrying_weight_keeps_everything_in_the_reserve(tmp_path):
    document = {
        "amount_fen": 500,
        "members": [{"name": "甲", "k": 1, "y": 1, "c": 1, "a": 1, "probation": True}],
    }
    output = json.loads(run("distribute", write(tmp_path, document)).stdout)
    assert (output["reserve_fen"], output["distributed_fen"]) == (500, 0)


def test_distribute_bad_coefficient_exits_2_with_a_chinese_message(tmp_path):
    document = json.loads(json.dumps(DISTRIBUTE_INPUT))
    document["members"][0]["c"] = 1.3
    result = run("distribute", write(tmp_path, document))
    assert (result.returncode, result.stdout, result.stderr.strip()) == (
        2,
        "",
        "错误：成员「张三」的个人绩效考评系数 c 必须在 0.8 到 1.2 之间：1.3",
    )


def test_distribute_reserve_rate_outside_zero_to_one_exits_2(capsys, tmp_path):
    text = '{"amount_fen": 100, "reserve_rate": 1.5, "members": [{"name": "甲", "k": 1, "y": 1, "c": 1, "a": 1}]}'
    code, _, err = run_main(capsys, tmp_path, "distribute", text)
    assert (code, "部门基金提取比例必须在 0 到 1 之间" in err) == (2, True)


def test_distribute_missing_coefficient_exits_2(capsys, tmp_path):
    text = '{"amount_fen": 100, "members": [{"name": "甲", "k": 1, "y": 1, "c": 1}]}'
    code, _, err = run_main(capsys, tmp_path, "distribute", text)
    assert (code, "缺少成员「甲」的出勤系数 a" in err) == (2, True)


def test_distribute_without_members_exits_2(capsys, tmp_path):
    code, _, err = run_main(capsys, tmp_path, "distribute", '{"amount_fen": 100, "members": []}')
    assert (code, "members（成员列表）必须是非空数组" in err) == (2, True)


# --------------------------------------------------------------------------- dump_json


def test_dump_json_writes_decimals_without_exponent():
    assert dump_json([Decimal("1E-8"), Decimal("1.5E+3")]) == "[\n  0.00000001,\n  1500\n]"
