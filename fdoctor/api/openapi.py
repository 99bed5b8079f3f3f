"""The OpenAPI 3.1 description of ``/api/v1/`` (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

from fdoctor.records.evidence import (
    MAX_ACCURACY_M,
    MAX_SIGNATURE_CHARS,
    MIN_SIGNATURE_POINTS,
    SIGNATURE_BOX,
    SIGNATURE_PATH,
)
from fdoctor.records.models import SERVICE_TYPES

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
}
_RECORD_IN = {
    "type": "object",
    "required": ["client_uuid", "type", "service_date"],
    "properties": {
        "op": {"type": "string", "enum": ["create", "update"]},
        "client_uuid": {"type": "string", "format": "uuid"},
        "resident_id": {"type": ["integer", "null"]},
        "team_id": {"type": ["integer", "null"]},
        "type": {"type": "string", "enum": sorted(SERVICE_TYPES)},
        "service_date": {"type": "string", "format": "date"},
        "systolic_bp": {"type": ["integer", "null"]},
        "diastolic_bp": {"type": ["integer", "null"]},
        "fasting_glucose": {"type": ["number", "string", "null"]},
        "attendance": {"type": ["integer", "null"]},
        "topic": {"type": ["string", "null"]},
        "other_institution_id": {"type": ["integer", "null"]},
        "other_institution_name": {"type": ["string", "null"]},
        "referral_receipt_on": {"type": ["string", "null"], "format": "date"},
        "notes": {"type": ["string", "null"], "maxLength": 2000},
        "entered_at": {"type": ["string", "null"]},
        # Evidence at capture (optional; docs/api.md, fdoctor/records/evidence.py).
        "form_opened_at": {
            "type": ["string", "null"],
            "description": "表单打开时间（平板时钟），不晚于 entered_at，相差不超过 24 小时",
        },
        "location": {
            "type": ["object", "null"],
            "description": "经用户同意的设备定位",
            "required": ["latitude", "longitude"],
            "properties": {
                "latitude": {"type": ["number", "string"], "minimum": -90, "maximum": 90},
                "longitude": {"type": ["number", "string"], "minimum": -180, "maximum": 180},
                "accuracy_m": {
                    "type": ["number", "string", "null"],
                    "minimum": 0,
                    "maximum": MAX_ACCURACY_M,
                },
            },
        },
        "resident_signature": {
            "type": ["string", "null"],
            "maxLength": MAX_SIGNATURE_CHARS,
            "pattern": "^" + SIGNATURE_PATH.pattern + "$",
            "description": "居民在平板上的签名：SVG 路径（M x y 起笔、L x y 连线，"
            f"整数坐标，{SIGNATURE_BOX[0]}×{SIGNATURE_BOX[1]} 框内，至少 "
            f"{MIN_SIGNATURE_POINTS} 个点）",
        },
        "edit_uuid": {"type": ["string", "null"]},
        "base_version": {"type": ["integer", "null"]},
    },
}
_RESULT = {
    "type": "object",
    "required": ["client_uuid", "status"],
    "properties": {
        "client_uuid": {"type": ["string", "null"]},
        "status": {
            "type": "string",
            "enum": ["created", "duplicate", "invalid", "updated", "conflict"],
        },
        "id": {"type": ["integer", "null"]},
        "version": {"type": ["integer", "null"]},
        "errors": {"type": "object"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        400: "请求有误",
        401: "未登录或令牌无效",
        403: "无权限",
        404: "不存在或不在管辖范围内",
        409: "版本冲突",
        422: "校验未通过",
    }
    return {
        str(c): {"description": names[c], "content": {"application/json": {"schema": _ERROR}}}
        for c in codes
    }


def _json(schema: dict[str, Any], description: str = "成功") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_INFO = {
    "title": "fdoctor API",
    "version": "1",
    "description": "家庭医生签约服务：平板离线同步接口。认证：登录会话（写操作带 X-CSRFToken 头）或 "
    "Authorization: Bearer <令牌>（flask users token 签发）。详见 docs/api.md。",
}
_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
}
_BATCH_IN = {
    "type": "object",
    "required": ["records"],
    "properties": {
        "device_id": {"type": "string", "maxLength": 64},
        "device_time": {
            "type": "string",
            "description": "发送本批时的平板时钟（ISO 时间），服务器据此记录平板时钟偏差",
        },
        "records": {"type": "array", "maxItems": 200, "items": _RECORD_IN},
    },
}
_BATCH_OUT = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {"type": "array", "items": _RESULT},
        "server_time": {"type": "string"},
    },
}


def _query(name: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema}


def _get(summary: str, operation_id: str, *errors: int, **extra: Any) -> dict[str, Any]:
    """A GET operation answering a JSON object."""
    return {
        "summary": summary,
        "operationId": operation_id,
        **extra,
        "responses": {"200": _json({"type": "object"}), **_errors(*errors)},
    }


def _paths() -> dict[str, Any]:
    residents_parameters = [
        _query("after_id", type="integer", minimum=0),
        _query("limit", type="integer", minimum=1, maximum=1000),
        _query("team", type="integer"),
    ]
    services_parameters = [
        _query("since", type="string"),
        _query("limit", type="integer", minimum=1),
    ]
    return {
        "/me": {"get": _get("当前用户", "me", 401, 403)},
        "/residents": {
            "get": _get(
                "辖区居民（离线检索快照）",
                "residents",
                400,
                401,
                403,
                parameters=residents_parameters,
            )
        },
        "/services": {
            "get": _get(
                "服务记录增量（since 游标）",
                "services",
                400,
                401,
                403,
                parameters=services_parameters,
            )
        },
        "/services/batch": {
            "post": {
                "summary": "批量上传（幂等，逐条结果）",
                "operationId": "services_batch",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _BATCH_IN}},
                },
                "responses": {"200": _json(_BATCH_OUT), **_errors(400, 401, 403)},
            }
        },
        "/services/{client_uuid}": {
            "parameters": [
                {
                    "name": "client_uuid",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            ],
            "get": _get("单条记录", "service_get", 401, 403, 404),
            "put": {
                "summary": "离线修改（带 base_version）",
                "operationId": "service_put",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _RECORD_IN}},
                },
                "responses": {"200": _json(_RESULT), **_errors(400, 401, 403, 404, 409, 422)},
            },
        },
    }


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": _INFO,
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": _SECURITY_SCHEMES},
        "security": [{"bearer": []}, {"session": []}],
        "paths": _paths(),
    }
