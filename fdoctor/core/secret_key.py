"""The key that signs session cookies and CSRF tokens: one per installation, never a public one.

Anyone who knows the key can sign a session cookie for any user id, so the app refuses to start
on a key that is short, missing, or written anywhere in the source tree (every string the
repository holds is public). Production takes its key from ``SECRET_KEY``; a development or
demo installation (``scripts/start``) keeps one generated key in ``instance/secret_key`` (mode
0600), created on the first start and reused after; tests generate a random key per run.

``python -m fdoctor.core.secret_key [FILE]`` makes the key file if it is missing (scripts/start).
"""

from __future__ import annotations

import os
import secrets
import sys
from functools import cache
from pathlib import Path

MIN_LENGTH = 32
MIN_DISTINCT = 10  # refuses "aaaa…" and other keys of one or two repeated characters
# Keys that were ever the built-in defaults (kept refused even if the files change).
KNOWN_PUBLIC = frozenset({"dev-only-not-secret", "test-secret", "test", "dev", "secret"})

# Where the source tree's text lives, and what is not part of it.
_TEXT_SUFFIXES = frozenset(
    {".py", ".md", ".txt", ".toml", ".cfg", ".ini", ".sh", ".yml", ".yaml", ".json", ".html",
     ".js", ".css", ".csv", ".mako", ".example", ".env", ""}
)  # fmt: skip
_SKIP_DIRS = frozenset(
    {".git", ".venv", "node_modules", "instance", "vendor", "__pycache__", ".mypy_cache",
     ".ruff_cache", ".pytest_cache", ".hypothesis", "artifacts", "build", "dist"}
)  # fmt: skip
_MAX_SCANNED_FILE = 2 * 1024 * 1024


class SecretKeyError(RuntimeError):
    """The configured key must not be used; the message says why, in Chinese."""


def generate() -> str:
    """A fresh random key (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def source_root() -> Path:
    """The checkout the app runs from (the folder holding ``config.py``)."""
    from config import BASE_DIR

    return BASE_DIR


@cache
def _source_texts(root: Path) -> tuple[str, ...]:
    """Every text file of the source tree, read once per process."""
    if not (root / "pyproject.toml").is_file():  # an installed copy: only our own package
        roots = [Path(__file__).resolve().parents[1]]
    else:
        roots = [root]
    texts = []
    for top in roots:
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
            for name in files:
                path = Path(folder, name)
                if path.suffix not in _TEXT_SUFFIXES:
                    continue
                try:
                    if path.stat().st_size > _MAX_SCANNED_FILE:
                        continue
                    texts.append(path.read_text(encoding="utf-8", errors="replace"))
                except OSError:
                    continue
    return tuple(texts)


def weakness(key: str | bytes | None, root: Path | None = None) -> str | None:
    """Why ``key`` must not be used (Chinese), or None if it may."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", errors="replace")
    if not key:
        return "未设置"
    if key in KNOWN_PUBLIC:
        return "这是代码中公开的默认值"
    if len(key) < MIN_LENGTH:
        return f"长度不足{MIN_LENGTH}个字符"
    if not (key.isascii() and key.isprintable()) or any(c.isspace() for c in key):
        # Random keys (token_urlsafe, hex, base64) are printable ASCII without spaces; prose,
        # docstrings and escaped literals are not keys.
        return "只能由字母、数字和符号组成，不能含空格或控制字符"
    if len(set(key)) < MIN_DISTINCT:
        return "过于简单（重复字符）"
    if any(key in text for text in _source_texts(root or source_root())):
        return "与源代码中的文字相同，是公开的"
    return None


def check(key: str | bytes | None, root: Path | None = None) -> None:
    reason = weakness(key, root)
    if reason is not None:
        raise SecretKeyError(
            f"SECRET_KEY 不可用：{reason}。请用 python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))' 生成随机密钥（the secret key must be random and "
            "private）"
        )


def ensure_key_file(path: Path) -> tuple[str, bool]:
    """The installation's key from ``path``, creating it (mode 0600) if missing.

    Returns the key and whether this call created it. Creation is atomic (write a private
    temporary file, then hard-link it into place), so two processes starting at once end up
    with the same key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    created = False
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(generate() + "\n")
            try:
                os.link(temporary, path)
                created = True
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            temporary.unlink(missing_ok=True)
    return read_key_file(path), created


def read_key_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & 0o077:
        raise SecretKeyError(
            f"密钥文件 {path} 的权限过宽（{oct(mode & 0o777)}），请执行 chmod 600 {path}"
        )
    return path.read_text(encoding="ascii").strip()


def main(argv: list[str]) -> int:
    from config import Config

    path = Path(argv[0]) if argv else Path(Config.SECRET_KEY_FILE)
    key, created = ensure_key_file(path)
    check(key)
    print(f"{'已生成本机密钥' if created else '使用已有的本机密钥'}：{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
