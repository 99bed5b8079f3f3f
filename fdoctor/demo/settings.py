"""What a demo load is asked for: the scales, the demo logins and the tables it fills.

Shared by every part of the generator, so it imports nothing from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fdoctor.core.roles import Role

Row = dict[str, Any]

DEMO_PASSWORD = "Demo2026"
# One memorable login per role; all of them in 魏都区's first institution and team where scoped.
DEMO_LOGINS: list[tuple[str, str]] = [
    ("doctor", Role.DOCTOR.label),
    ("leader", Role.TEAM_LEADER.label),
    ("centre", Role.CENTRE_ADMIN.label),
    ("county", Role.COUNTY_AUDITOR.label),
    ("city", Role.CITY_ADMIN.label),
    ("finance", Role.FINANCE.label),
    ("admin", Role.ADMIN.label),
]


@dataclass(frozen=True)
class Scale:
    """How big a generated city is. Ranges are inclusive and drawn per parent unit.

    ``demo`` and ``small`` build the six-county city in memory and insert it at once; ``county``
    and ``city`` are for benchmarks and stream institution by institution (COPY on PostgreSQL),
    so memory stays flat whatever the size.
    """

    label: str
    households: tuple[int, int]  # per team
    counties: int = 6
    institutions: tuple[int, int] = (2, 3)  # per county
    stations: tuple[int, int] = (2, 3)  # per institution
    teams: tuple[int, int] = (2, 3)  # per institution
    # Share of the remaining refusals that sign anyway (0 keeps the demo's signing rates).
    sign_boost: float = 0.0
    volume: float = 1.0  # multiplier on consultations and home visits
    streaming: bool = False
    # Records from 1 January of last year (the demo lives through that year); the benchmark
    # scales keep the 365 days before the anchor, so their figures stay "a year of records".
    whole_last_year: bool = True


SCALES: dict[str, Scale] = {
    "demo": Scale("演示：6个县区，约3000户", (60, 100)),
    "small": Scale("测试：每团队十几户", (10, 16)),
    # A tenth of the city: two counties (one per settlement pool), ~200 teams, ~60,000 households.
    "county": Scale(
        "县级规模：2个县区，约200个团队、6万户",
        (240, 360),
        counties=2,
        institutions=(7, 8),
        stations=(15, 22),
        teams=(11, 16),
        sign_boost=0.85,
        volume=6.5,
        streaming=True,
        whole_last_year=False,
    ),
    # The seed documents' city: 9 counties, ~150 institutions, ~2,800 stations, ~2,000 teams,
    # ~600,000 households, ~1.5 million signed residents, ~12 million service records a year.
    "city": Scale(
        "市级规模：9个县区，约2000个团队、60万户",
        (240, 360),
        counties=9,
        institutions=(14, 19),
        stations=(15, 22),
        teams=(11, 16),
        sign_boost=0.85,
        volume=6.5,
        streaming=True,
        whole_last_year=False,
    ),
}

# Insert order respects every foreign key (SQLite enforces them row by row).
TABLE_LABELS: dict[str, str] = {
    "org_unit": "机构",
    "user_account": "用户",
    "service_package": "服务包",
    "grid_cell": "网格",
    "household": "家庭户",
    "resident": "居民",
    "pregnancy": "孕产记录",
    "population_figure": "人口数",
    "contract": "签约协议",
    "contract_member": "签约成员",
    "contract_package": "签约服务包",
    "service_record": "服务记录",
    "verification_sample": "抽查批次",
    "verification_sample_item": "抽查对象",
    "survey_response": "调查问卷",
    "survey_record_check": "服务核实",
    "complaint": "投诉",
}


class DemoError(RuntimeError):
    """The demo city cannot be loaded; the message is for the user, in Chinese."""
