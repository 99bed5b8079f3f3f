"""The session key: never one from the repository, one per installation, kept and reused.

Anyone holding the key can sign a session cookie for any user, so every string written in the
source tree must be refused as a key, production must bring its own, and ``scripts/start`` makes
one private key file per installation.
"""

from __future__ import annotations

import ast
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fdoctor import create_app
from fdoctor.core import secret_key

ROOT = Path(__file__).resolve().parents[2]
_QUOTED = re.compile(r"""["'`]([^"'`\n]{""" + str(secret_key.MIN_LENGTH) + r""",})["'`]""")


def _app(**config: Any) -> Flask:
    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", **config})


def _repository_literals() -> set[str]:
    """Every string constant of the Python sources, and every quoted string or word of the other
    text files, long enough to pass the length rule (shorter ones are refused by length)."""
    found: set[str] = set()
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & secret_key._SKIP_DIRS or not path.is_file():
            continue
        if path.suffix == ".py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found |= {
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            }
        elif path.suffix in {".md", ".sh", ".toml", ".cfg", ".ini", ".yml", ".html", ""}:
            text = path.read_text(encoding="utf-8", errors="replace")
            found |= set(_QUOTED.findall(text)) | set(text.split())
    return {s for s in found if len(s) >= secret_key.MIN_LENGTH}


def test_no_string_in_the_repository_is_accepted_as_a_key() -> None:
    literals = _repository_literals()
    assert len(literals) > 100  # the scan did read the sources
    accepted = [s for s in literals if secret_key.weakness(s) is None]
    assert accepted == []


WEAK_KEYS = [
    *sorted(secret_key.KNOWN_PUBLIC),
    "short-but-random-Xy7",
    "a" * 64,
    "a random sentence is not a key, however long it is",
]


@pytest.mark.parametrize("key", WEAK_KEYS)
def test_the_former_defaults_and_weak_keys_are_refused_in_every_configuration(key: str) -> None:
    for env in ("development", "production"):
        with pytest.raises(RuntimeError, match="SECRET_KEY 不可用"):
            _app(ENV_NAME=env, SECRET_KEY=key)


def test_a_long_string_copied_from_the_sources_is_refused() -> None:
    copied = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"  # also in tests/conftest.py
    with pytest.raises(RuntimeError, match="与源代码中的文字相同"):
        _app(ENV_NAME="production", SECRET_KEY=copied)


def test_production_refuses_to_start_without_a_key_and_makes_no_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        _app(ENV_NAME="production", SECRET_KEY="", SECRET_KEY_FILE=str(key_file))
    assert not key_file.exists()


def test_production_starts_with_its_own_random_key() -> None:
    key = secret_key.generate()
    app = _app(ENV_NAME="production", SECRET_KEY=key, AUDIT_KEY=secret_key.generate())
    assert app.secret_key == key


def test_an_installation_creates_its_key_file_once_private_and_reuses_it(tmp_path: Path) -> None:
    key_file = tmp_path / "instance" / "secret_key"
    first = _app(ENV_NAME="development", SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key == key_file.read_text().strip()
    assert secret_key.weakness(first.secret_key) is None
    second = _app(ENV_NAME="development", SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    assert second.secret_key == first.secret_key


def test_two_installations_get_different_keys(tmp_path: Path) -> None:
    keys = {
        _app(SECRET_KEY=None, SECRET_KEY_FILE=str(tmp_path / name / "secret_key")).secret_key
        for name in ("one", "two")
    }
    assert len(keys) == 2


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(secret_key.generate())
    key_file.chmod(0o644)
    with pytest.raises(RuntimeError, match="权限过宽"):
        _app(SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))


def test_a_key_file_holding_a_public_key_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("dev-only-not-secret\n")
    key_file.chmod(0o600)
    with pytest.raises(RuntimeError, match="公开的默认值"):
        _app(SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))


def test_the_start_command_makes_the_key_file_on_its_first_run_only(tmp_path: Path) -> None:
    key_file = tmp_path / "instance" / "secret_key"
    start = (ROOT / "scripts" / "start").read_text()
    assert "python -m fdoctor.core.secret_key" in start

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "fdoctor.core.secret_key", str(key_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    assert "已生成本机密钥" in run()
    key = key_file.read_text()
    assert "使用已有的本机密钥" in run()
    assert key_file.read_text() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_test_configuration_has_a_random_key() -> None:
    from config import TestingConfig

    assert secret_key.weakness(TestingConfig.SECRET_KEY) is None
