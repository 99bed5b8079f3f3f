"""Configuration classes. The database URL comes from ``DATABASE_URL``; SQLite under instance/ by default."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _default_sqlite_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'fdoctor.sqlite3'}"


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    # No key is ever written here: see fdoctor/core/secret_key.py. Without SECRET_KEY, a
    # development installation uses (and creates once) its own key file under instance/.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SECRET_KEY_FILE = os.environ.get("FDOCTOR_SECRET_KEY_FILE") or str(INSTANCE_DIR / "secret_key")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _default_sqlite_url()
    # The audit trail's key, kept outside the database (fdoctor/audit/keys.py); without it,
    # production refuses to start and other environments keep one under instance/.
    AUDIT_KEY = os.environ.get("AUDIT_KEY")
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {"pool_pre_ping": True}
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    WTF_CSRF_ENABLED = True
    # CSRF is checked by our own before_request (fdoctor/core/web.py): every form and every
    # cookie-authenticated API call; bearer-token API calls carry no cookie and need none.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session does
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)  # idle sessions expire
    # One timezone for the whole deployment: dates and times are stored as local (Asia/Shanghai) time.
    TIMEZONE = "Asia/Shanghai"
    # Verification calls (SPEC 6): per team 5% of signed residents, at least 20.
    VERIFICATION_SAMPLE_RATE = "0.05"
    VERIFICATION_SAMPLE_MINIMUM = 20
    # Suspicion detectors (疑点规则; assessments/detectors.py, docs/flags.md): every parameter of
    # the field rules, which a county may tune here. Keys are DetectorSettings fields.
    FLAG_RULES: dict[str, int | str] = {
        "volume_history_days": 90,  # history a doctor-day is compared with
        "volume_min_history_days": 10,  # days a baseline needs
        "volume_own_factor": "2.5",  # × the doctor's median day
        "volume_team_factor": "2.5",  # × the median day of the team's other doctors
        "volume_floor": 12,  # visits below this in a day are never flagged
        "volume_ceiling": 30,  # visits from this in a day are always flagged
        "near_duplicate_days": 5,  # same resident and scheduled type again within … days
        "pulse_pressure_min": 15,  # mmHg
        "pulse_pressure_max": 140,  # mmHg
        "systolic_max": 230,  # mmHg
        "glucose_min": "2.5",  # mmol/L
        "glucose_max": "30.0",  # mmol/L
        "threshold_systolic": 140,  # control line (mmHg)
        "threshold_band": 5,  # "just below": [140 - 5, 140)
        "glucose_threshold": "7.0",  # control line (mmol/L)
        "glucose_band": "0.5",  # "just below": [6.5, 7.0)
        "threshold_min_readings": 20,  # readings a doctor needs in the window
        "threshold_share": "0.4",  # share just below the line, with no other doctor to compare
        "threshold_share_floor": "0.25",  # never flagged below this share
        "threshold_peer_factor": "2.5",  # × the other doctors' median share
        "digit_min_readings": 30,  # blood-pressure readings a doctor needs in the window
        "digit_zero_share": "0.5",  # values ending in 0, with no other doctor to compare
        "digit_zero_floor": "0.3",  # never flagged below this share (honest: 0.1-0.2)
        "digit_peer_factor": "2",  # × the other doctors' median share
        "shared_phone_households": 3,  # households giving one phone number
        "unaware_unserved_days": 180,  # "does not know a doctor" and no service in … days
        "unreachable_min": 2,  # verification calls that found nobody
        "first_service_days": 90,  # days after signing without any service: a call is due
        "clock_skew_seconds": 600,  # tablet clock vs server clock at upload
    }
    # Assessment workflow (SPEC 5): appeal window, rectification deadline, the L4 combination.
    ASSESSMENT_APPEAL_DAYS = 7
    ASSESSMENT_RECTIFICATION_DAYS = 30
    ASSESSMENT_L4_REPORTED_WEIGHT = "0.4"
    ASSESSMENT_L4_SPOT_WEIGHT = "0.6"
    ASSESSMENT_L4_FLAG_POINTS = 10
    ASSESSMENT_L4_PER_COUNTY = 2
    MAX_CONTENT_LENGTH = (
        11 * 1024 * 1024
    )  # uploads (imports) are limited to 10 MB plus form overhead
    DEMO_SEED = int(os.environ.get("FDOCTOR_DEMO_SEED", "20260101"))
    # Front-end libraries copied from node_modules by the setup script (never a CDN).
    VENDOR_DIR = BASE_DIR / "fdoctor" / "static" / "vendor"


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = secrets.token_urlsafe(32)  # random per test process
    WTF_CSRF_ENABLED = True


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    SECRET_KEY = os.environ.get("SECRET_KEY", "")  # required: no key file is made in production


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None) -> type[Config]:
    """Pick the config class by name (``FDOCTOR_ENV``), development by default."""
    return CONFIGS.get(name or os.environ.get("FDOCTOR_ENV", "development"), DevelopmentConfig)
