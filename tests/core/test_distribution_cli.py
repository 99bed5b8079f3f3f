"""``python -m assessments distribute`` with the factors' sources (points, days, deductions, leaders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assessments.distribution_cli import MEMBER_KEYS, TEAM_FILE_KEYS
from assessments.settlement_cli import main

REPO = Path(__file__).resolve().parents[2]


def distribute(capsys, tmp_path, document):
    path = tmp_path / "team.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    code = main(["distribute", str(path)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def person(name, **fields):
    return {"name": name, "k": 1, "y": 1, "c": 1, "a": 1, **fields}


def by_name(output, key="amount_fen"):
    return {m["name"]: m[key] for m in output["members"]}


def test_days_give_a_for_a_twenty_of_twenty_two_day_month(capsys, tmp_path):
    """a = 20/22 → 0.9091; 9000 over weights 1 and 0.9091: 4714 and 4286 (see the core test)."""
    yi = {"name": "乙", "k": 1, "y": 1, "c": 1, "days_due": 22, "days_worked": 20}
    _, output, _ = distribute(
        capsys, tmp_path, {"amount_fen": 10000, "members": [person("甲"), yi]}
    )
    assert (by_name(output, "a")["乙"], by_name(output)) == (0.9091, {"甲": 4714, "乙": 4286})


def test_three_deduction_points_go_to_the_fund(capsys, tmp_path):
    """4500 each; 乙's 3 points take 135 into the fund: reserve 1000 + 135 = 1135."""
    _, output, _ = distribute(
        capsys,
        tmp_path,
        {"amount_fen": 10000, "members": [person("甲"), person("乙", deduction_points=3)]},
    )
    assert (
        output["reserve_fen"],
        output["deducted_fen"],
        by_name(output, "deducted_fen"),
        by_name(output),
        output["distributed_fen"],
    ) == (1135, 135, {"甲": 0, "乙": 135}, {"甲": 4500, "乙": 4365}, 8865)


def test_a_leader_is_outside_the_split_by_default(capsys, tmp_path):
    _, output, _ = distribute(
        capsys,
        tmp_path,
        {"amount_fen": 10000, "members": [person("组长", leader=True), person("甲"), person("乙")]},
    )
    assert (by_name(output), by_name(output, "paid_by_management")["组长"]) == (
        {"组长": 0, "甲": 4500, "乙": 4500},
        True,
    )


def test_leaders_in_split_true_puts_the_leader_back_in_the_split(capsys, tmp_path):
    _, output, _ = distribute(
        capsys,
        tmp_path,
        {
            "amount_fen": 10000,
            "leaders_in_split": True,
            "members": [person("组长", leader=True), person("甲"), person("乙")],
        },
    )
    assert by_name(output) == {"组长": 3000, "甲": 3000, "乙": 3000}


def test_a_member_on_maternity_leave(capsys, tmp_path):
    """12 worked + 10 maternity of 22: a = 0.5455; 9000 over 1 and 0.5455: 5823 and 3177."""
    bing = {
        "name": "丙",
        "k": 1,
        "y": 1,
        "c": 1,
        "days_due": 22,
        "days_worked": 12,
        "leave_days": {"maternity": 10},
    }
    _, output, _ = distribute(
        capsys, tmp_path, {"amount_fen": 10000, "members": [person("甲"), bing]}
    )
    assert (by_name(output, "a")["丙"], by_name(output)) == (0.5455, {"甲": 5823, "丙": 3177})


def test_leave_beyond_the_days_due_exits_2(capsys, tmp_path):
    bing = {"name": "丙", "k": 1, "y": 1, "c": 1, "days_due": 22, "days_worked": 20}
    bing["leave_days"] = {"sick": 3}
    code, _, err = distribute(capsys, tmp_path, {"amount_fen": 100, "members": [bing]})
    assert (code, "之和不能多于应出勤天数（22）" in err) == (2, True)


def test_an_all_probation_team_keeps_everything_in_the_fund(capsys, tmp_path):
    _, output, _ = distribute(
        capsys,
        tmp_path,
        {
            "amount_fen": 10000,
            "members": [person("甲", probation=True), person("乙", probation=True)],
        },
    )
    assert (
        output["configured_reserve_fen"],
        output["undistributed_fen"],
        output["reserve_fen"],
        output["distributed_fen"],
    ) == (1000, 9000, 10000, 0)


def test_points_give_k_against_the_teams_standard_and_cap(capsys, tmp_path):
    """k = 70/80 = 0.875 and 120/80 = 1.5 → cap 1.2; 9000 over 0.875 and 1.2: 3795 and 5205.

    Exact 9000 × 0.875 / 2.075 = 3795.180… and 9000 × 1.2 / 2.075 = 5204.819…; the fen left
    by the floors (3795 + 5204) goes to the larger remainder (.819, 乙).
    """
    members = [
        {"name": "甲", "points": 70, "y": 1, "c": 1, "a": 1},
        {"name": "乙", "points": 120, "y": 1, "c": 1, "a": 1},
    ]
    _, output, _ = distribute(
        capsys,
        tmp_path,
        {"amount_fen": 10000, "standard_points": 80, "k_cap": 1.2, "members": members},
    )
    assert (by_name(output, "k"), by_name(output)) == (
        {"甲": 0.875, "乙": 1.2},
        {"甲": 3795, "乙": 5205},
    )


def test_a_member_may_have_their_own_standard(capsys, tmp_path):
    member = {"name": "甲", "points": 50, "standard_points": 100, "y": 1, "c": 1, "a": 1}
    _, output, _ = distribute(
        capsys, tmp_path, {"amount_fen": 100, "standard_points": 50, "members": [member]}
    )
    assert by_name(output, "k") == {"甲": 0.5}


def test_points_without_a_standard_exit_2(capsys, tmp_path):
    member = {"name": "甲", "points": 50, "y": 1, "c": 1, "a": 1}
    code, _, err = distribute(capsys, tmp_path, {"amount_fen": 100, "members": [member]})
    assert (code, "需要填写 standard_points" in err) == (2, True)


def test_k_and_points_together_exit_2(capsys, tmp_path):
    code, _, err = distribute(
        capsys,
        tmp_path,
        {"amount_fen": 100, "standard_points": 50, "members": [person("甲", points=50)]},
    )
    assert (code, "成员「甲」的 k 与 points 只能填一种" in err) == (2, True)


def test_a_and_days_together_exit_2(capsys, tmp_path):
    code, _, err = distribute(
        capsys,
        tmp_path,
        {"amount_fen": 100, "members": [person("甲", days_due=22, days_worked=20)]},
    )
    assert (code, "a 与 days_due、days_worked 只能填一种" in err) == (2, True)


def test_days_due_without_days_worked_exits_2(capsys, tmp_path):
    member = {"name": "甲", "k": 1, "y": 1, "c": 1, "days_due": 22}
    code, _, err = distribute(capsys, tmp_path, {"amount_fen": 100, "members": [member]})
    assert (code, "需要同时填写 days_due 和 days_worked" in err) == (2, True)


def test_a_non_boolean_leaders_in_split_exits_2(capsys, tmp_path):
    code, _, err = distribute(
        capsys, tmp_path, {"amount_fen": 100, "leaders_in_split": "no", "members": [person("甲")]}
    )
    assert (code, "leaders_in_split）必须是 true 或 false" in err) == (2, True)


@pytest.mark.parametrize("key", sorted(TEAM_FILE_KEYS | MEMBER_KEYS))
def test_help_lists_every_key(capsys, key):
    assert main(["distribute", "--help"]) == 0
    assert f"  {key} " in capsys.readouterr().out


def test_the_docs_example_through_the_command_line(tmp_path):
    """The team 一团队 of ``docs/settlement.md`` (6,379,275 fen), run in a subprocess."""
    document = {
        "amount_fen": 6379275,
        "reserve_rate": 0.10,
        "standard_points": 10000,
        "k_cap": 1.2,
        "leaders_in_split": False,
        "members": [
            {"name": "张组长", "k": 1, "y": 1.2, "c": 1, "a": 1, "leader": True},
            {
                "name": "王医生",
                "points": 11000,
                "y": 1.2,
                "c": 1.0,
                "days_due": 250,
                "days_worked": 250,
            },
            {
                "name": "李医生",
                "points": 9000,
                "y": 1.0,
                "c": 1.1,
                "days_due": 250,
                "days_worked": 230,
                "leave_days": {"sick": 20},
                "deduction_points": 3,
            },
            {
                "name": "赵护士",
                "points": 13000,
                "y": 0.8,
                "c": 0.9,
                "days_due": 250,
                "days_worked": 250,
            },
            {
                "name": "孙护士",
                "points": 6000,
                "y": 0.8,
                "c": 1.0,
                "days_due": 250,
                "days_worked": 152,
                "leave_days": {"maternity": 98},
            },
            {"name": "周医生", "k": 1, "y": 1, "c": 1, "a": 1, "probation": True},
        ],
    }
    path = tmp_path / "team.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "assessments", "distribute", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env={**os.environ, "PYTHONUTF8": "1"},
        check=False,
    )
    output = json.loads(result.stdout)
    assert (output["reserve_fen"], output["distributed_fen"], by_name(output)) == (
        684250,
        5695025,
        {
            "张组长": 0,
            "王医生": 2237787,
            "李医生": 1497751,
            "赵护士": 1464733,
            "孙护士": 494754,
            "周医生": 0,
        },
    )
