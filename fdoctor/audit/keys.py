"""The audit key: the secret the chain, its head and its checkpoints are keyed with.

It lives outside the database, so someone who can write to the database but does not hold the key
cannot forge an entry, move the head or write a checkpoint. ``AUDIT_KEY`` (environment or config)
sets it; production refuses to start without it; elsewhere the key is read from
``instance/audit_key``, created with 256 random bits on first start (like a secret key file).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from flask import current_app

KEY_FILE = "audit_key"


class AuditKeyError(RuntimeError):
    """The audit key is missing or unreadable; the message is for the operator, in Chinese."""


def init_audit_key(app: Any) -> None:
    """Settle ``app.config["AUDIT_KEY"]`` at start-up (see the module docstring)."""
    key = app.config.get("AUDIT_KEY")
    if key:
        return
    if app.config.get("ENV_NAME") == "production":
        raise AuditKeyError(
            "生产环境必须设置 AUDIT_KEY 环境变量（审计日志密钥，请妥善保管在数据库之外）"
        )
    path = Path(app.instance_path) / KEY_FILE
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
    if not key:
        raise AuditKeyError(f"审计日志密钥文件为空：{KEY_FILE}")
    app.config["AUDIT_KEY"] = key


def audit_key() -> bytes:
    key = current_app.config.get("AUDIT_KEY")
    if not key:
        raise AuditKeyError("未配置审计日志密钥（AUDIT_KEY）")
    return key.encode("utf-8") if isinstance(key, str) else bytes(key)


def keyed(key: bytes) -> Any:
    """An HMAC-SHA256 object with ``key`` loaded, to ``.copy()`` per message (cheaper than new)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
