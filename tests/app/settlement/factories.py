"""A hand-built city for the settlement tests: two pools, three counties, six teams.

Every figure the tests expect is worked out by hand in ``test_cascade.py`` from the numbers here.

    市区 (fund 10,000.00 yuan)            县市 (fund 5,000.00 yuan)
    ├─ 甲区  P 9, L4 90                   └─ 丙县  P 4, L4 85.5
    │   ├─ 甲一中心 P 6, L3 95 (split 60/40)    └─ 丙一卫生院 P 4, L3 92 (own split 70/30)
    │   │   ├─ T1 甲一中心团队 (centre)  P 4        ├─ T5 丙一卫生院团队 (centre) P 3
    │   │   └─ T2 甲一站团队 (station)   P 2        └─ T6 丙一村卫生室团队 (station) P 1
    │   └─ 甲二中心 P 3, L3 85
    │       └─ T3 甲二中心团队 (centre)  P 3
    └─ 乙区  P 5, L4 80
        └─ 乙一中心 P 5, L3 88
            └─ T4 乙一中心团队 (centre)  P 5
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from fdoctor.assessments.models import Assessment
from fdoctor.auth.models import User
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.org.services import add_unit
from fdoctor.records.models import ServiceRecord
from fdoctor.settlement.models import (
    InstitutionSplit,
    MemberRating,
    PoolFund,
    PostCoefficient,
    WorkloadStandard,
)
from fdoctor.teamsplit.models import AttendanceRecord, LeaderRule
from tests.factories import PASSWORD, make_household

YEAR = 2026
NOW = datetime(2027, 2, 25, 9, 0)
_codes = itertools.count(1)


def make_assessment(
    unit: OrgUnit,
    level: str,
    period: str,
    total: str | None,
    *,
    status: str = "published",
    revision: int = 1,
    is_current: bool = True,
) -> Assessment:
    """An assessment row as the assessment workflow would leave it."""
    assessment = Assessment(
        level=level,
        period=period,
        unit_id=unit.id,
        county_id=unit.county_id,
        institution_id=unit.institution_id,
        team_id=unit.id if unit.kind == "team" else None,
        index_code=f"city-{YEAR}",
        status=status,
        revision=revision,
        is_current=is_current,
        total=Decimal(total) if total is not None else None,
        opened_at=NOW,
        due_on=NOW.date(),
        published_at=NOW if status in ("published", "acknowledged") else None,
    )
    db.session.add(assessment)
    db.session.flush()
    return assessment


def supersede(old: Assessment, unit: OrgUnit, total: str) -> Assessment:
    """Replace a published score by a corrected revision, in the order the workflow (and the
    database's locks) use: the new row first, not yet current; then the old one superseded."""
    new = make_assessment(
        unit, old.level, old.period, total, status="submitted", revision=old.revision + 1,
        is_current=False,
    )  # fmt: skip
    new.supersedes_id = old.id
    db.session.flush()
    old.is_current, old.status = False, "superseded"
    db.session.flush()
    new.is_current, new.status, new.published_at = True, "published", NOW
    db.session.flush()
    return new


def sign(
    team: OrgUnit,
    people: int,
    start: date = date(YEAR, 1, 10),
    end: date = date(YEAR + 1, 12, 31),
    *,
    status: str = "active",
    terminated_on: date | None = None,
) -> Contract:
    """One household of ``people`` residents under one contract of ``team``."""
    household = make_household(team, members=people)
    contract = Contract(
        code=f"QY-T-{next(_codes)}",
        household_id=household.id,
        signed_on=start,
        start_date=start,
        end_date=end,
        status=status,
        terminated_on=terminated_on,
        county_id=team.county_id,
        institution_id=team.institution_id,
        team_id=team.id,
    )
    db.session.add(contract)
    db.session.flush()
    for resident in household.residents:
        db.session.add(
            ContractMember(
                contract_id=contract.id,
                resident_id=resident.id,
                is_active=status == "active",
                county_id=team.county_id,
                institution_id=team.institution_id,
                team_id=team.id,
            )
        )
    db.session.flush()
    return contract


def make_services(
    user: User,
    team: OrgUnit,
    count: int,
    day: date = date(YEAR, 6, 1),
    verification: str = "unverified",
    service_type: str = "consultation",
) -> None:
    for _ in range(count):
        db.session.add(
            ServiceRecord(
                client_uuid=str(uuid.uuid4()),
                doctor_id=user.id,
                service_date=day,
                category="basic_medical",
                type=service_type,
                entered_at=datetime(day.year, day.month, day.day, 10, 0),
                entered_by_id=user.id,
                verification=verification,
                county_id=team.county_id,
                institution_id=team.institution_id,
                team_id=team.id,
            )
        )
    db.session.flush()


@cache
def _password_hash() -> str:
    # Hashing is deliberately slow; one hash of factories.PASSWORD serves every test user.
    return generate_password_hash(PASSWORD)


def make_login(username: str, role: str, unit: OrgUnit | None, post: str | None = None,
               probation: bool = False) -> User:  # fmt: skip
    """A user who can log in with ``tests.factories.PASSWORD`` (hashed once per run)."""
    user = User(
        username=username, display_name=username, password_hash=_password_hash(), role=role,
        org_unit_id=unit.id if unit else None, post=post, on_probation=probation, active=True,
    )  # fmt: skip
    db.session.add(user)
    db.session.flush()
    return user


def member(username: str, role: str, team: OrgUnit, post: str, probation: bool = False) -> User:
    return make_login(username, role, team, post, probation)


def rate(user: User, c: str, a: str | None = None, year: int = YEAR) -> MemberRating:
    """The member's c, and (when ``a`` is given) a year of attendance records giving that a:
    20 days due each month, ``20 × a`` worked (a is a multiple of 0.05)."""
    team = user.org_unit
    assert team is not None
    rating = MemberRating(
        year=year, user_id=user.id, c=Decimal(c), entered_at=NOW,
        county_id=team.county_id, institution_id=team.institution_id, team_id=team.id,
    )  # fmt: skip
    db.session.add(rating)
    if a is not None:
        worked = Decimal(20) * Decimal(a)
        assert worked == worked.to_integral_value()
        attend(user, {f"{year}-{m:02d}": (20, int(worked)) for m in range(1, 13)})
    db.session.flush()
    return rating


def attend(user: User, months: dict[str, tuple[int, int]], **leave: int) -> None:
    """Attendance records: month -> (days due, days worked); ``leave`` days by column name
    (e.g. ``maternity_days=2``) on every month given."""
    team = user.org_unit
    assert team is not None
    for month, (due, worked) in months.items():
        db.session.add(
            AttendanceRecord(
                user_id=user.id, month=month, days_due=due, days_worked=worked, entered_at=NOW,
                county_id=team.county_id, institution_id=team.institution_id, team_id=team.id,
                **leave,
            )
        )  # fmt: skip
    db.session.flush()


@dataclass
class World:
    units: dict[str, OrgUnit]
    users: dict[str, User] = field(default_factory=dict)
    assessments: dict[str, Assessment] = field(default_factory=dict)

    def __getitem__(self, key: str) -> OrgUnit:
        return self.units[key]


def build_world(*, scores: bool = True, config: bool = True, ratings: bool = True) -> World:
    """The city of the module docstring, with its contracts, services, scores and configuration."""
    u: dict[str, OrgUnit] = {}
    u["city"] = add_unit("T", "测试市", "city", None)
    u["市区"] = add_unit("T-P1", "市区", "pool", u["city"])
    u["县市"] = add_unit("T-P2", "县市", "pool", u["city"])
    u["甲区"] = add_unit("410001", "甲区", "county", u["市区"], "district")
    u["乙区"] = add_unit("410002", "乙区", "county", u["市区"], "district")
    u["丙县"] = add_unit("410003", "丙县", "county", u["县市"], "county")
    u["甲一"] = add_unit("410001-01", "甲一中心", "institution", u["甲区"], "community_centre")
    u["甲一站"] = add_unit("410001-01-S1", "甲一服务站", "station", u["甲一"], "community_station")
    u["甲二"] = add_unit("410001-02", "甲二中心", "institution", u["甲区"], "community_centre")
    u["乙一"] = add_unit("410002-01", "乙一中心", "institution", u["乙区"], "community_centre")
    u["丙一"] = add_unit("410003-01", "丙一卫生院", "institution", u["丙县"], "township_centre")
    u["丙一室"] = add_unit("410003-01-S1", "丙一村卫生室", "station", u["丙一"], "village_clinic")
    u["T1"] = add_unit("410001-01-T1", "甲一中心团队", "team", u["甲一"])
    u["T2"] = add_unit("410001-01-T2", "甲一站团队", "team", u["甲一站"])
    u["T3"] = add_unit("410001-02-T1", "甲二中心团队", "team", u["甲二"])
    u["T4"] = add_unit("410002-01-T1", "乙一中心团队", "team", u["乙一"])
    u["T5"] = add_unit("410003-01-T1", "丙一卫生院团队", "team", u["丙一"])
    u["T6"] = add_unit("410003-01-T2", "丙一村卫生室团队", "team", u["丙一室"])
    world = World(u)

    # Signed population at 2026-12-31: T1 4, T2 2, T3 3, T4 5, T5 3, T6 1.
    for team, people in (("T1", 4), ("T2", 2), ("T3", 3), ("T4", 4), ("T5", 3), ("T6", 1)):
        sign(u[team], people)
    # Terminated only after the year end: still counted at 2026-12-31 (T4's fifth person).
    sign(u["T4"], 1, status="terminated", terminated_on=date(YEAR + 1, 1, 15))
    # Not counted at 2026-12-31: terminated before, ended the day before, starting after.
    sign(u["T1"], 2, status="terminated", terminated_on=date(YEAR, 10, 1))
    sign(u["T1"], 1, end=date(YEAR, 12, 30), status="expired")
    sign(u["T1"], 1, start=date(YEAR + 1, 1, 1), end=date(YEAR + 2, 12, 31))
    # Counted at 2025-12-31 only (the pre-allocation of 2026 counts at the end of 2025).
    sign(u["T2"], 1, start=date(YEAR - 1, 1, 1), end=date(YEAR - 1, 12, 31), status="expired")

    users = world.users
    users["T1L"] = member("t1-leader", "team_leader", u["T1"], "全科医生")
    users["T1N"] = member("t1-nurse", "doctor", u["T1"], "护士")
    users["T1P"] = member("t1-new", "doctor", u["T1"], "全科医生", probation=True)
    users["T2L"] = member("t2-leader", "team_leader", u["T2"], "乡村医生")
    users["T2N"] = member("t2-nurse", "doctor", u["T2"], "护士")
    users["T3L"] = member("t3-leader", "team_leader", u["T3"], "全科医生")
    users["T4L"] = member("t4-leader", "team_leader", u["T4"], "全科医生")
    users["T4D"] = member("t4-doctor", "doctor", u["T4"], "全科医生")
    users["T5L"] = member("t5-leader", "team_leader", u["T5"], "全科医生")
    users["T5D"] = member("t5-doctor", "doctor", u["T5"], "乡村医生")
    users["T6L"] = member("t6-leader", "team_leader", u["T6"], "乡村医生")

    for key, count in (("T1L", 10), ("T1N", 6), ("T1P", 3), ("T2L", 12), ("T2N", 8), ("T3L", 5),
                       ("T4L", 10), ("T4D", 15), ("T5L", 7), ("T5D", 10), ("T6L", 9)):  # fmt: skip
        user = users[key]
        assert user.org_unit is not None
        make_services(user, user.org_unit, count)
    # Not counted: found false, under dispute, or in another year.
    make_services(users["T1L"], u["T1"], 1, verification="false")
    make_services(users["T1L"], u["T1"], 1, verification="disputed")
    make_services(users["T1L"], u["T1"], 1, day=date(YEAR - 1, 12, 31))

    if scores:
        add_scores(world)
    if config:
        add_config(world)
    if ratings:
        for key, c, a in (("T1L", "1.0", "1"), ("T1N", "1.2", "0.9"), ("T2L", "1.1", "1"),
                          ("T2N", "0.9", "0.95"), ("T3L", "1.0", "0.8"), ("T4L", "1.0", "1"),
                          ("T4D", "0.8", "1"), ("T5L", "1.2", "1"), ("T5D", "1.0", "0.5"),
                          ("T6L", "1.0", "1")):  # fmt: skip
            rate(users[key], c, a)
    return world


def add_scores(world: World) -> None:
    u, a = world.units, world.assessments
    # 甲区's first L4 revision (70) was corrected to 90: only the current revision counts.
    make_assessment(
        u["甲区"], "L4", "2026", "70", status="superseded", revision=1, is_current=False
    )
    a["L4 甲区"] = make_assessment(u["甲区"], "L4", "2026", "90", revision=2)
    a["L4 乙区"] = make_assessment(u["乙区"], "L4", "2026", "80", status="acknowledged")
    a["L4 丙县"] = make_assessment(u["丙县"], "L4", "2026", "85.5")
    for key, total in (("甲一", "95"), ("甲二", "85"), ("乙一", "88"), ("丙一", "92")):
        a[f"L3 {key}"] = make_assessment(u[key], "L3", "2026-H2", total)
    l2 = {
        "T1": {"Q1": "90", "Q2": "80", "Q3": "85", "Q4": "95"},
        "T2": {"Q1": "80", "Q3": "70"},
        "T3": {"Q1": "88", "Q2": "88", "Q3": "89", "Q4": "89"},
        "T4": {"Q4": "90"},
        "T5": {"Q1": "91", "Q2": "92", "Q3": "92"},
        "T6": {"Q2": "80"},
    }
    for team, quarters in l2.items():
        for quarter, total in quarters.items():
            a[f"L2 {team} {quarter}"] = make_assessment(u[team], "L2", f"2026-{quarter}", total)
    # Not counted: a draft quarter and an open one without a total.
    make_assessment(u["T2"], "L2", "2026-Q4", "10", status="draft")
    make_assessment(u["T6"], "L2", "2026-Q1", None)


def add_config(world: World) -> None:
    u = world.units
    db.session.add_all(
        [
            PoolFund(pool_id=u["市区"].id, year=YEAR, fund_fen=1_000_000, updated_at=NOW),
            PoolFund(pool_id=u["县市"].id, year=YEAR, fund_fen=500_000, updated_at=NOW),
            InstitutionSplit(institution_id=None, centre_ratio=Decimal(60), stations_ratio=Decimal(40), updated_at=NOW),
            InstitutionSplit(institution_id=u["丙一"].id, centre_ratio=Decimal(70), stations_ratio=Decimal(30), updated_at=NOW),
            PostCoefficient(post="全科医生", coefficient=Decimal("1.2"), updated_at=NOW),
            PostCoefficient(post="护士", coefficient=Decimal("1.0"), updated_at=NOW),
            PostCoefficient(post="乡村医生", coefficient=Decimal("0.8"), updated_at=NOW),
            WorkloadStandard(year=YEAR, post="", standard_points=Decimal(10), updated_at=NOW),
            WorkloadStandard(year=YEAR, post="护士", standard_points=Decimal(8), updated_at=NOW),
        ]
    )  # fmt: skip
    # The hand-computed figures keep the leaders in their teams' split (the seed's default puts
    # them outside it; ``test_team_split`` covers that rule).
    db.session.add_all(
        [
            LeaderRule(institution_id=u[key].id, leaders_in_split=True, updated_at=NOW)
            for key in ("甲一", "甲二", "乙一", "丙一")
        ]
    )
    db.session.flush()


DEMO_POSTS = {"全科医生": "1.2", "乡村医生": "0.9", "公卫医生": "1.0", "护士": "0.8"}


def _assessment(unit: OrgUnit, level: str, period: str, total: Decimal, year: int) -> Assessment:
    return Assessment(
        level=level, period=period, unit_id=unit.id, county_id=unit.county_id,
        institution_id=unit.institution_id, team_id=unit.id if unit.kind == "team" else None,
        index_code=f"city-{year}", status="published", revision=1, is_current=True, total=total,
        opened_at=NOW, due_on=NOW.date(), published_at=NOW,
    )  # fmt: skip


def prepare_demo_settlement(year: int = YEAR) -> dict[str, Any]:
    """Publish scores for the demo city's units, configure it and rate every member; commits.

    The demo has no published assessments yet; should it get some, only the gaps are filled.
    """
    units = db.session.scalars(select(OrgUnit).order_by(OrgUnit.id)).all()
    existing = set(
        db.session.execute(select(Assessment.level, Assessment.period, Assessment.unit_id)).all()
    )
    rows: list[Any] = []
    for unit in units:
        score = Decimal(70 + unit.id % 29) + Decimal(unit.id % 7) / 4  # 70.00–99.50
        wanted = {
            "county": [("L4", str(year), score)],
            "institution": [("L3", f"{year}-H2", score)],
            "team": [("L2", f"{year}-Q{q}", score - q) for q in (1, 2, 3)],
        }.get(unit.kind, [])
        rows += [
            _assessment(unit, level, period, total, year)
            for level, period, total in wanted
            if (level, period, unit.id) not in existing
        ]
    pools = [u for u in units if u.kind == "pool"]
    rows += [
        PoolFund(pool_id=p.id, year=year, fund_fen=987_654_321 + i, updated_at=NOW)
        for i, p in enumerate(pools)
    ]
    rows.append(
        InstitutionSplit(
            institution_id=None,
            centre_ratio=Decimal(60),
            stations_ratio=Decimal(40),
            updated_at=NOW,
        )
    )
    rows += [
        PostCoefficient(post=post, coefficient=Decimal(y), updated_at=NOW)
        for post, y in DEMO_POSTS.items()
    ]
    rows.append(WorkloadStandard(year=year, post="", standard_points=Decimal(150), updated_at=NOW))
    members = db.session.scalars(
        select(User)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(
            OrgUnit.kind == "team",
            User.role.in_(("doctor", "team_leader")),
            User.on_probation.is_(False),
        )
    ).all()
    teams = {u.id: u for u in units}
    for i, user in enumerate(members):
        team = teams[user.org_unit_id]
        rows.append(MemberRating(
            year=year, user_id=user.id, c=Decimal("0.8") + Decimal(i % 5) / 10,
            entered_at=NOW, county_id=team.county_id,
            institution_id=team.institution_id, team_id=team.id,
        ))  # fmt: skip
        rows += [
            AttendanceRecord(
                user_id=user.id,
                month=f"{year}-{m:02d}",
                days_due=20,
                days_worked=20 - i % 4,
                sick_days=i % 4,
                entered_at=NOW,
                county_id=team.county_id,
                institution_id=team.institution_id,
                team_id=team.id,
            )  # fmt: skip
            for m in range(1, 13)
        ]
    # The seed's rule: leaders outside the team split, paid from a 5% management share.
    rows += [
        LeaderRule(
            institution_id=u.id,
            leaders_in_split=False,
            management_rate=Decimal("0.05"),
            updated_at=NOW,
        )  # fmt: skip
        for u in units
        if u.kind == "institution"
    ]
    db.session.add_all(rows)
    db.session.commit()
    return {"pools": pools, "members": members}
