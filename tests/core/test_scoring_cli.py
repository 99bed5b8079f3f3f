"""``python -m assessments score``: JSON in, JSON out, Chinese errors with exit code 2."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assessments.index_files import INDEXES_DIR
from assessments.scoring_cli import main

ROOT = Path(__file__).resolve().parents[2]
CITY_2026 = str(INDEXES_DIR / "city-2026.toml")

METRICS: dict[str, Any] = {
    "A1": 0.31,
    "A2": 0.7,
    "A3": 0.95,
    "A4": 3,
    "A5": 0.9,
    "B1": 3.2,
    "B2": {"points": 7.5, "reason": "病历书写不规范 2 份"},
    "B3": 0.8,
    "B4": 0.9,
    "B5": 1.5,
    "B6": 0.5,
    "B7": None,
    "C1": {"complaints": 1, "false_records": 0},
    "C2": 0.9,
    "C3": 87.5,
    "C4": 0.61,
}


def metrics_file(tmp_path: Path, metrics: object = METRICS, text: str | None = None) -> str:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(metrics) if text is None else text, encoding="utf-8")
    return str(path)


def run_module(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m assessments score …`` in a fresh interpreter, UTF-8 on every stream."""
    return subprocess.run(
        [sys.executable, "-m", "assessments", "score", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env={**os.environ, "PYTHONUTF8": "1"},
        check=False,
    )


# --------------------------------------------------------------------------- end to end


def test_module_prints_the_scores_as_json(tmp_path: Path) -> None:
    done = run_module("--index", CITY_2026, "--metrics", metrics_file(tmp_path))
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["indicators"]["A1"] == {"points": 4.43, "max": 5}
    assert output["dimensions"] == {"A": 19.27, "B": 42.72, "C": 26.75}
    assert output["total"] == 88.74


def test_module_reads_metrics_from_stdin() -> None:
    done = run_module("--index", CITY_2026, "--metrics", "-", stdin=json.dumps(METRICS))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 88.74


def test_module_error_exits_2_with_chinese_message_and_empty_stdout(tmp_path: Path) -> None:
    metrics = {code: value for code, value in METRICS.items() if code != "A1"}
    done = run_module("--index", CITY_2026, "--metrics", metrics_file(tmp_path, metrics))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip() == "错误：指标 A1（签约覆盖率）缺少数值"


# --------------------------------------------------------------------------- output shape


def test_output_has_exactly_indicators_dimensions_and_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--index", CITY_2026, "--metrics", metrics_file(tmp_path)]) == 0
    output = json.loads(capsys.readouterr().out)
    assert list(output) == ["indicators", "dimensions", "total"]
    assert list(output["indicators"]) == list(METRICS)
    assert all(set(item) == {"points", "max"} for item in output["indicators"].values())


def test_whole_numbers_print_as_integers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--index", CITY_2026, "--metrics", metrics_file(tmp_path)])
    out = capsys.readouterr().out
    assert '"A2": {\n      "points": 5,\n      "max": 5\n    }' in out


def test_fractional_points_print_with_their_decimals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--index", CITY_2026, "--metrics", metrics_file(tmp_path)])
    out = capsys.readouterr().out
    assert '"points": 4.43,' in out and '"points": 7.5,' in out and '"total": 88.74' in out


def test_metrics_numbers_are_read_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 5 × 0.2047499999999999999993 ÷ 0.35 = 2.92499…; as a float the value would become
    # 0.20475 and score 2.93.
    text = json.dumps(METRICS).replace("0.31", "0.2047499999999999999993")
    main(["--index", CITY_2026, "--metrics", metrics_file(tmp_path, text=text)])
    assert json.loads(capsys.readouterr().out)["indicators"]["A1"]["points"] == 2.92


def test_manual_score_without_reason_warns_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = metrics_file(tmp_path, {**METRICS, "A4": 2})
    assert main(["--index", CITY_2026, "--metrics", path]) == 0
    captured = capsys.readouterr()
    assert "警告：指标 A4（内部管理）手工评分 2.00 分低于满分 3 分，但未填写理由" in captured.err
    assert json.loads(captured.out)["indicators"]["A4"]["points"] == 2


def test_equals_form_of_the_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"--index={CITY_2026}", f"--metrics={metrics_file(tmp_path)}"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 88.74


def test_help_prints_usage_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "用法" in capsys.readouterr().out


def test_stdin_is_read_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(METRICS)))
    assert main(["--index", CITY_2026, "--metrics", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 88.74


# --------------------------------------------------------------------------- errors


def run_error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """Run ``main`` expecting exit code 2 and nothing on stdout; return stderr."""
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_missing_metrics_option_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert "缺少参数 --metrics" in run_error(capsys, ["--index", CITY_2026])


def test_missing_index_option_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "缺少参数 --index" in run_error(capsys, ["--metrics", metrics_file(tmp_path)])


def test_unknown_option_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert "未知的参数 --year" in run_error(capsys, ["--year", "2026"])


def test_option_without_value_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert "参数 --metrics 后面缺少文件名" in run_error(capsys, ["--index", CITY_2026, "--metrics"])


def test_repeated_option_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    err = run_error(capsys, ["--index", CITY_2026, "--index", CITY_2026, "--metrics", "-"])
    assert "参数 --index 重复" in err


def test_missing_metrics_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = run_error(capsys, ["--index", CITY_2026, "--metrics", str(tmp_path / "none.json")])
    assert "数值文件" in err and "不存在" in err


def test_invalid_index_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("code = ", encoding="utf-8")
    err = run_error(capsys, ["--index", str(bad), "--metrics", metrics_file(tmp_path)])
    assert f"考核指标文件 {bad}：TOML 格式错误" in err


def test_invalid_json_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = metrics_file(tmp_path, text='{"A1": 0.31,')
    err = run_error(capsys, ["--index", CITY_2026, "--metrics", path])
    assert "不是有效的 JSON（第 1 行" in err


def test_json_integer_of_thousands_of_digits_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = metrics_file(tmp_path, text='{"A4": ' + "9" * 5000 + "}")
    err = run_error(capsys, ["--index", CITY_2026, "--metrics", path])
    assert "中的数字位数过多" in err


def test_json_that_is_not_an_object_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = metrics_file(tmp_path, [0.31])
    err = run_error(capsys, ["--index", CITY_2026, "--metrics", path])
    assert "必须是以指标代码为键的 JSON 对象" in err


def test_repeated_json_key_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(METRICS)[:-1] + ', "A1": 0.2}'
    err = run_error(capsys, ["--index", CITY_2026, "--metrics", metrics_file(tmp_path, text=text)])
    assert "键 'A1' 重复" in err


def test_json_nan_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps(METRICS).replace("0.31", "NaN")
    err = run_error(capsys, ["--index", CITY_2026, "--metrics", metrics_file(tmp_path, text=text)])
    assert "指标 A1（签约覆盖率）的数值必须是有限的数字" in err


def test_scoring_error_is_reported_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = metrics_file(tmp_path, {**METRICS, "A4": 4})
    err = run_error(capsys, ["--index", CITY_2026, "--metrics", path])
    assert err == "错误：指标 A4（内部管理）的手工评分应在 0 到 3 分之间，收到 4\n"
