"""JSON API ``/api/v1/`` (tablet sync and more); documented in docs/api.md.

Authentication is either the Flask-Login session, the same login as the pages, or a device's
bearer token (``Authorization: Bearer <token>``, resolved once per request in
``fdoctor.core.web``: no session is read or set for such a call), and every query is scoped
exactly like the pages (``fdoctor.core.scope``). Views read ``current_user`` only through
:func:`_user`. Cookie-authenticated writes need the ``X-CSRFToken`` header (CSRFProtect stays
on); the token is in the tablet page's ``<meta name="csrf-token">`` and in ``GET /api/v1/me``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from fdoctor.api import services as reads
from fdoctor.core import clock
from fdoctor.core.access import roles_required
from fdoctor.core.roles import HEALTH_DATA_READERS, RECORDERS, Role
from fdoctor.core.scope import scope_clause
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.records.evidence import parse_moment
from fdoctor.records.models import ServiceRecord
from fdoctor.records.sync import MAX_BATCH, upload_batch

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_DEVICE_ID = 64


def _user() -> Any:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _error(message: str, status: int, **extra: Any) -> tuple[dict[str, Any], int]:
    return {"error": message, "status": status, **extra}, status


@bp.errorhandler(reads.ApiError)
def _bad_parameter(exc: reads.ApiError) -> Any:
    return _error(str(exc), 400)


@bp.get("/me")
@roles_required(list(Role))
def me() -> Any:
    """Who is logged in, and a fresh CSRF token for writes."""
    return {
        **reads.me(_user()),
        "csrf_token": generate_csrf(),
        "server_time": clock.now().isoformat(),
    }


@bp.get("/residents")
@roles_required(HEALTH_DATA_READERS)
def residents() -> Any:
    return reads.residents_page(_user(), request.args)


@bp.get("/services")
@roles_required(HEALTH_DATA_READERS)
def services() -> Any:
    return reads.records_page(_user(), request.args)


def _device_id(body: dict[str, Any]) -> str | None:
    device_id = body.get("device_id")
    if device_id is None:
        return None
    if not isinstance(device_id, str) or not 0 < len(device_id) <= MAX_DEVICE_ID:
        raise reads.ApiError(f"device_id 应为不超过 {MAX_DEVICE_ID} 个字符的文字")
    return device_id


def _device_time(body: dict[str, Any]) -> Any:
    """The tablet's clock when it sent the batch (optional): the records' clock evidence."""
    raw = body.get("device_time")
    if raw is None:
        return None
    moment = parse_moment(raw) if isinstance(raw, str) and len(raw) <= 40 else None
    if moment is None:
        raise reads.ApiError("device_time 应为 ISO 时间（如 2026-06-15T10:02:11+08:00）")
    return moment


@bp.post("/services/batch")
@roles_required(RECORDERS)
def services_batch() -> Any:
    """Upload up to 200 new records (and offline edits); one result per record."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("请求体应为 JSON 对象", 400)
    records = body.get("records")
    if not isinstance(records, list):
        return _error("records 应为记录数组", 400)
    if len(records) > MAX_BATCH:
        return _error(f"每批最多 {MAX_BATCH} 条记录，本次 {len(records)} 条，请分批上传", 400)
    # One transaction for the batch, committed by the request's unit of work: the batch's
    # refused records are answered one by one and written nowhere (``upload_batch``).
    results = upload_batch(_user(), _device_id(body), records, _device_time(body))
    return {"results": [r.as_dict() for r in results], "server_time": clock.now().isoformat()}


@bp.route("/services/<uuid:client_uuid>", methods=["GET", "PUT"])
@roles_required(HEALTH_DATA_READERS)
def service(client_uuid: Any) -> Any:
    """One record by its client id; PUT applies an edit (full replacement of its fields)."""
    key = str(client_uuid).lower()
    if request.method == "PUT":
        return _edit_one(key)
    row = db.session.execute(
        select(ServiceRecord, Resident.name)
        .outerjoin(Resident, Resident.id == ServiceRecord.resident_id)
        .where(ServiceRecord.client_uuid == key, scope_clause(ServiceRecord, _user()))
    ).first()
    if row is None:
        return _error("记录不存在或不在您的管辖范围内", 404)
    return {"record": reads.record_json(row[0], row[1])}


def _edit_one(client_uuid: str) -> Any:
    if _user().role not in {r.value for r in RECORDERS}:
        return _error("您没有权限修改服务记录", 403)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("请求体应为 JSON 对象", 400)
    item = {**body, "op": "update", "client_uuid": client_uuid}
    [result] = upload_batch(_user(), _device_id(body), [item])
    # Committed here, on purpose: a conflicting edit answers 409 (an answer of 400 or above keeps
    # nothing of the request), yet the device's version is kept for the reviewers to decide.
    db.session.commit()
    # The body is the batch's per-record result ("status" is the record's); failures add "error".
    out = result.as_dict()
    if result.status in {"updated", "duplicate"}:
        return out
    if result.status == "conflict":
        return {**out, "error": result.warnings[-1]}, 409
    if result.id is None and "client_uuid" in result.errors:
        return {**out, "error": result.errors["client_uuid"]}, 404
    return {**out, "error": "；".join(result.errors.values())}, 422


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI description of this API (no data in it, so no login)."""
    from fdoctor.api.openapi import spec

    return spec()
