"""Signed, expiring, single-purpose links to a resident's confirmation page, and their QR codes.

A link carries the contract (and, on a visit receipt, the resident) and the last day it works,
signed with the installation's secret key under a salt of its own: it opens the confirmation page
and nothing else, and a changed character or a link from another salt is refused. The agreement's
link works until 30 days after the contract ends; a visit receipt's for 30 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError

SALT = "fdoctor.resident-confirm.v1"
RECEIPT_DAYS = 30
AFTER_CONTRACT_DAYS = 30


class LinkError(UserFacingError):
    """The link cannot be used; the message is for the resident, in Chinese."""

    status = 404


@dataclass(frozen=True)
class Link:
    contract_id: int
    resident_id: int | None
    expires: date


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(contract_id: int, resident_id: int | None, expires: date) -> str:
    return str(_serializer().dumps({"c": contract_id, "r": resident_id, "x": expires.isoformat()}))


def agreement_token(contract: Any) -> str:
    """For the agreement: the contract's members, until 30 days after its end."""
    return make_token(contract.id, None, contract.end_date + timedelta(days=AFTER_CONTRACT_DAYS))


def receipt_token(contract_id: int, resident_id: int) -> str:
    """For a visit receipt: that resident, for 30 days from today."""
    return make_token(contract_id, resident_id, clock.today() + timedelta(days=RECEIPT_DAYS))


def read_token(token: str) -> Link:
    """The link's contents, or ``LinkError`` when it was forged, altered or has expired."""
    try:
        data = _serializer().loads(token)
        link = Link(
            int(data["c"]),
            None if data["r"] is None else int(data["r"]),
            date.fromisoformat(data["x"]),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        raise LinkError("链接无效：请核对二维码或向您的家庭医生索取新的链接。") from None
    if clock.today() > link.expires:
        raise LinkError(
            f"链接已于 {link.expires:%Y年%m月%d日} 过期，请向您的家庭医生索取新的链接。"
        )
    return link


def link_url(token: str) -> str:
    """The absolute address a QR code carries."""
    return url_for("confirm.page", token=token, _external=True)
