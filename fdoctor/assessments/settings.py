"""The assessment settings: the app config's value, else the default here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context

from assessments.l4 import DEFAULT_FLAG_POINTS, DEFAULT_REPORTED_WEIGHT, DEFAULT_SPOT_WEIGHT
from assessments.sampling import SPOT_CHECK_MINIMUM

DEFAULTS: dict[str, Any] = {
    "ASSESSMENT_APPEAL_DAYS": 7,
    "ASSESSMENT_RECTIFICATION_DAYS": 30,
    "ASSESSMENT_L4_REPORTED_WEIGHT": DEFAULT_REPORTED_WEIGHT,
    "ASSESSMENT_L4_SPOT_WEIGHT": DEFAULT_SPOT_WEIGHT,
    "ASSESSMENT_L4_FLAG_POINTS": DEFAULT_FLAG_POINTS,
    "ASSESSMENT_L4_PER_COUNTY": SPOT_CHECK_MINIMUM,
    "ASSESSMENT_INDEXES_DIR": None,
}


def setting(name: str) -> Any:
    """An assessment setting from the app config, else its default."""
    if has_app_context() and name in current_app.config:
        value = current_app.config[name]
        if isinstance(DEFAULTS.get(name), Decimal) and not isinstance(value, Decimal):
            return Decimal(str(value))
        return value
    return DEFAULTS[name]
