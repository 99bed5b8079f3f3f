"""Evidence at capture (采集凭据): what the tablet says about how and where a record was made.

All of it is optional and none of it blocks a doctor without signal: the tablet keeps it with the
record in its queue and sends it in the record's payload (and the batch's ``device_time``):

* ``form_opened_at`` — when the form was opened, on the tablet's clock; with the record's
  ``entered_at`` (when it was saved) it gives the time spent on the form (``form_seconds``).
* ``location`` — ``{"latitude", "longitude", "accuracy_m"}`` from the browser's geolocation, only
  when the device allows it and the user agreed.
* ``resident_signature`` — the resident's signature drawn on the tablet, as SVG path data:
  ``M x y`` starts a stroke, ``L x y`` continues it, integer coordinates inside a 400×160 box.
  Only these commands and numbers are accepted, so the stored text is safe to draw as a path.
* ``device_time`` (once per batch) — the tablet's clock when the batch was sent; the server
  stores the difference to its own clock on each record (``clock_skew_seconds``).

Messages are Chinese and keyed by the payload's field name, like the other fields' messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fdoctor.core import clock

MAX_FORM_SECONDS = 86_400  # a form open for more than a day is not one sitting
MAX_ACCURACY_M = 100_000
SIGNATURE_BOX = (400, 160)
MAX_SIGNATURE_CHARS = 12_000  # about 1,200 points: a signature, not a drawing
MIN_SIGNATURE_POINTS = 5
MAX_SKEW_SECONDS = 10 * 366 * 86_400  # stored as is up to ten years, clamped beyond
SIGNATURE_PATH = re.compile(r"(?:[ML]\d{1,3} \d{1,3})+")
_POINT = re.compile(r"[ML](\d{1,3}) (\d{1,3})")
EVIDENCE_FIELDS = ("form_opened_at", "location", "resident_signature")


@dataclass(frozen=True)
class Evidence:
    form_opened_at: datetime | None = None
    form_seconds: int | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    location_accuracy_m: int | None = None
    resident_signature: str | None = None


def parse_moment(value: Any) -> datetime | None:
    """An ISO timestamp as naive local (China) time to the second; ``None`` if unreadable."""
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(clock.CHINA_TZ).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return moment.replace(microsecond=0)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _decimal(value: Any, low: int, high: int) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip()).quantize(Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and low <= number <= high else None


def parse_evidence(
    raw: Mapping[str, Any], entered_at: datetime | None, errors: dict[str, str]
) -> Evidence:
    """Read the optional evidence of one record's payload; messages go into ``errors``."""
    opened = seconds = None
    if not _blank(raw.get("form_opened_at")):
        opened = parse_moment(raw.get("form_opened_at"))
        if opened is None:
            errors["form_opened_at"] = "表单打开时间格式应为 YYYY-MM-DDTHH:MM:SS"
        elif entered_at is not None:
            seconds = int((entered_at - opened).total_seconds())
            if seconds < 0:
                errors["form_opened_at"] = "表单打开时间晚于保存时间"
            elif seconds > MAX_FORM_SECONDS:
                errors["form_opened_at"] = "表单打开到保存超过 24 小时，请重新填写"
    latitude = longitude = accuracy = None
    location = raw.get("location")
    if location is not None:
        if not isinstance(location, Mapping):
            errors["location"] = "位置应为包含经纬度的对象"
        else:
            latitude = _decimal(location.get("latitude"), -90, 90)
            longitude = _decimal(location.get("longitude"), -180, 180)
            accuracy_raw = location.get("accuracy_m")
            if latitude is None or longitude is None:
                errors["location"] = "位置的纬度应在 -90–90、经度应在 -180–180 之间"
            elif not _blank(accuracy_raw):
                value = _decimal(accuracy_raw, 0, MAX_ACCURACY_M)
                if value is None:
                    errors["location"] = f"定位精度应在 0–{MAX_ACCURACY_M} 米之间"
                else:
                    accuracy = int(value)
    signature = raw.get("resident_signature")
    if _blank(signature):
        signature = None
    elif not isinstance(signature, str):
        errors["resident_signature"] = "居民签名格式不正确"
        signature = None
    else:
        signature = signature.strip()
        message = signature_error(signature)
        if message:
            errors["resident_signature"] = message
            signature = None
    return Evidence(opened, seconds, latitude, longitude, accuracy, signature)


def signature_error(path: str) -> str | None:
    """Why a signature's path data is refused, or ``None`` when it is acceptable."""
    if len(path) > MAX_SIGNATURE_CHARS:
        return f"居民签名过大（不超过 {MAX_SIGNATURE_CHARS} 个字符）"
    if not SIGNATURE_PATH.fullmatch(path) or not path.startswith("M"):
        return "居民签名格式不正确"
    points = [(int(x), int(y)) for x, y in _POINT.findall(path)]
    width, height = SIGNATURE_BOX
    if any(x > width or y > height for x, y in points):
        return f"居民签名超出签名框（{width}×{height}）"
    if len(points) < MIN_SIGNATURE_POINTS:
        return "居民签名过短，请居民重新签名"
    return None


def clock_skew(device_time: datetime | None, now: datetime) -> int | None:
    """The tablet's clock minus the server's, in whole seconds (clamped to ten years)."""
    if device_time is None:
        return None
    skew = int((device_time - now).total_seconds())
    return max(-MAX_SKEW_SECONDS, min(MAX_SKEW_SECONDS, skew))
