"""Reading the survey, call, review and complaint forms, with Chinese messages.

The pages post plain HTML forms carrying the CSRF token (checked by the app-wide CSRFProtect);
these helpers turn the posted strings into values and refuse bad ones with ``SurveyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from fdoctor.surveys.errors import SurveyError

CHECK_FIELD_PREFIX = "check_"
COMPLAINT_CHANNELS = (
    "12345市民热线",
    "电话投诉",
    "现场投诉",
    "微信公众号",
    "院长信箱",
    "信函",
    "其他",
)


def text(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def grade(form: Mapping[str, str]) -> int | None:
    raw = text(form, "satisfaction")
    return int(raw) if raw.isdigit() else None


def yes_no(form: Mapping[str, str], name: str) -> bool | None:
    return {"yes": True, "no": False}.get(text(form, name))


def day(form: Mapping[str, str], name: str, label: str) -> date:
    raw = text(form, name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise SurveyError(f"{label}格式应为 年-月-日，例如 2026-03-01") from None


def positive_int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def record_answers(form: Mapping[str, str]) -> dict[int, str]:
    """``check_<record id>`` fields: the resident's answer about each picked service record."""
    answers: dict[int, str] = {}
    for key in form:
        if key.startswith(CHECK_FIELD_PREFIX):
            record_id = positive_int(key[len(CHECK_FIELD_PREFIX) :])
            if record_id is None:
                raise SurveyError("服务记录编号无效，请刷新页面后重试")
            answers[record_id] = text(form, key)
    return answers


@dataclass(frozen=True)
class ComplaintInput:
    team_id: int | None
    doctor_id: int | None
    received_on: date
    channel: str
    complainant: str
    content: str


def complaint_input(form: Mapping[str, str]) -> ComplaintInput:
    channel = text(form, "channel")
    if channel not in COMPLAINT_CHANNELS:
        raise SurveyError("请选择投诉渠道")
    return ComplaintInput(
        team_id=positive_int(form.get("team_id")),
        doctor_id=positive_int(form.get("doctor_id")),
        received_on=day(form, "received_on", "受理日期"),
        channel=channel,
        complainant=text(form, "complainant"),
        content=text(form, "content"),
    )
