"""Settlement: the hand-built city of the settlement tests, and the prerequisites of any city.

Every figure the settlement tests expect is worked out by hand in ``test_cascade.py`` from the
numbers here (the units are ``org.make_two_pool_city``):

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

``settlement_prerequisites`` puts in place what a year's settlement of any city lacks (published
scores, funds, the split, coefficients, the standard, ratings and attendance): the demo city's
test and the city benchmark (``bench/city_settlement.py``) both use it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from fdoctor.assessments.models import Assessment
from fdoctor.auth.models import User
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.models import (
    InstitutionSplit,
    MemberRating,
    PoolFund,
    PostCoefficient,
    WorkloadStandard,
)
from fdoctor.settlement.parameters import MEMBER_ROLES
from fdoctor.settlement.reads import COUNTING_STATUSES
from fdoctor.teamsplit.models import AttendanceRecord, LeaderRule
from tests.factories.assessments import SCORED_AT, make_assessment, score_columns
from tests.factories.contracts import signed_household
from tests.factories.org import make_two_pool_city
from tests.factories.records import make_record
from tests.factories.users import make_user

YEAR = 2026
NOW = SCORED_AT  # when the inputs of YEAR's settlement were entered
TERM = (date(YEAR, 1, 10), date(YEAR + 1, 12, 31))  # a contract signed early in YEAR, for two years


def make_services(
    doctor: User,
    team: OrgUnit,
    count: int,
    day: date = date(YEAR, 6, 1),
    verification: str = "unverified",
    service_type: str = "consultation",
) -> None:
    """``count`` records of ``doctor`` in ``team`` on ``day``, of nobody in particular: workload."""
    for _ in range(count):
        make_record(service_type, day, team=team, doctor=doctor, verification=verification)


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


# --- the hand-built city ----------------------------------------------------------------------


@dataclass
class World:
    units: dict[str, OrgUnit]
    users: dict[str, User] = field(default_factory=dict)
    assessments: dict[str, Assessment] = field(default_factory=dict)

    def __getitem__(self, key: str) -> OrgUnit:
        return self.units[key]


def build_world(*, scores: bool = True, config: bool = True, ratings: bool = True) -> World:
    """The city of the module docstring, with its contracts, services, scores and configuration."""
    u = make_two_pool_city()
    world = World(u)

    # Signed population at 2026-12-31: T1 4, T2 2, T3 3, T4 5, T5 3, T6 1.
    for team, people in (("T1", 4), ("T2", 2), ("T3", 3), ("T4", 4), ("T5", 3), ("T6", 1)):
        signed_household(u[team], people, *TERM)
    # Terminated only after the year end: still counted at 2026-12-31 (T4's fifth person).
    signed_household(u["T4"], 1, *TERM, "terminated", terminated_on=date(YEAR + 1, 1, 15))
    # Not counted at 2026-12-31: terminated before, ended the day before, starting after.
    signed_household(u["T1"], 2, *TERM, "terminated", terminated_on=date(YEAR, 10, 1))
    signed_household(u["T1"], 1, TERM[0], date(YEAR, 12, 30), "expired")
    signed_household(u["T1"], 1, date(YEAR + 1, 1, 1), date(YEAR + 2, 12, 31))
    # Counted at 2025-12-31 only (the pre-allocation of 2026 counts at the end of 2025).
    signed_household(u["T2"], 1, date(YEAR - 1, 1, 1), date(YEAR - 1, 12, 31), "expired")

    users = world.users
    for key, username, role, post in (
        ("T1L", "t1-leader", "team_leader", "全科医生"), ("T1N", "t1-nurse", "doctor", "护士"),
        ("T1P", "t1-new", "doctor", "全科医生"), ("T2L", "t2-leader", "team_leader", "乡村医生"),
        ("T2N", "t2-nurse", "doctor", "护士"), ("T3L", "t3-leader", "team_leader", "全科医生"),
        ("T4L", "t4-leader", "team_leader", "全科医生"), ("T4D", "t4-doctor", "doctor", "全科医生"),
        ("T5L", "t5-leader", "team_leader", "全科医生"), ("T5D", "t5-doctor", "doctor", "乡村医生"),
        ("T6L", "t6-leader", "team_leader", "乡村医生"),
    ):  # fmt: skip
        users[key] = make_user(username, role, u[key[:2]], post=post, probation=key == "T1P")

    for key, count in (("T1L", 10), ("T1N", 6), ("T1P", 3), ("T2L", 12), ("T2N", 8), ("T3L", 5),
                       ("T4L", 10), ("T4D", 15), ("T5L", 7), ("T5D", 10), ("T6L", 9)):  # fmt: skip
        make_services(users[key], u[key[:2]], count)
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


# --- the prerequisites of any city (the demo's, the benchmark's) ------------------------------

DEMO_POST_COEFFICIENTS = {"全科医生": "1.2", "乡村医生": "0.9", "公卫医生": "1.0", "护士": "0.8"}

Place = dict[
    int, tuple[int | None, int | None, str]
]  # unit id -> (county id, institution id, kind)


def demo_score(unit_id: int) -> Decimal:
    """A unit's published score, spread over 70.00–99.50 by its id."""
    return Decimal(70 + unit_id % 29) + Decimal(unit_id % 7) / 4


def settlement_prerequisites(year: int, now: datetime, *, quarters: int = 4) -> dict[str, int]:
    """Put in place, in the current transaction (flushed, not committed), what the year's
    settlement of any city lacks: published scores (``demo_score``: L4 of the counties, L3 H2 of
    the institutions, L2 of the teams' first ``quarters`` quarters, less a point a quarter), a
    fund for every pool, the default split, a coefficient for every member's post, the workload
    standard, every member's rating and a year of attendance, and the seed's leader rule (leaders
    outside the team split, paid from a 5% management share). Returns what was added."""
    added: dict[str, int] = Counter()
    place = _publish_scores(year, now, quarters, added)
    _fund_pools(year, now, place, added)
    if db.session.scalar(
        select(InstitutionSplit.id).where(InstitutionSplit.institution_id.is_(None))
    ) is None:  # fmt: skip
        db.session.add(InstitutionSplit(institution_id=None, centre_ratio=Decimal(60),
                                        stations_ratio=Decimal(40), updated_at=now))  # fmt: skip
        added["default_split"] = 1
    members = team_members()
    _post_coefficients(members, now, added)
    if db.session.scalar(
        select(WorkloadStandard.id).where(WorkloadStandard.year == year, WorkloadStandard.post == "")
    ) is None:  # fmt: skip
        db.session.add(
            WorkloadStandard(year=year, post="", standard_points=Decimal(150), updated_at=now)
        )
        added["workload_standard"] = 1
    _member_ratings(year, now, members, place, added)
    _attendance(year, now, members, place, added)
    _leader_rules(now, place, added)
    db.session.flush()
    return dict(added)


def _publish_scores(year: int, now: datetime, quarters: int, added: dict[str, int]) -> Place:
    """Existing assessments are published, missing ones inserted. Returns each active unit's
    place."""
    units = db.session.execute(
        select(OrgUnit.id, OrgUnit.kind, OrgUnit.county_id, OrgUnit.institution_id).where(
            OrgUnit.active.is_(True)
        )
    ).all()
    wanted: dict[tuple[str, str, int], Decimal] = {}
    place: Place = {}
    for unit_id, kind, county_id, institution_id in units:
        place[unit_id] = (county_id, institution_id, kind)
        score = demo_score(unit_id)
        if kind == "county":
            wanted[("L4", str(year), unit_id)] = score
        elif kind == "institution":
            wanted[("L3", f"{year}-H2", unit_id)] = score
        elif kind == "team":
            for q in range(1, quarters + 1):
                wanted[("L2", f"{year}-Q{q}", unit_id)] = score - q
    current = db.session.scalars(
        select(Assessment).where(
            Assessment.is_current.is_(True),
            Assessment.level.in_(("L2", "L3", "L4")),
            Assessment.period.in_(
                [str(year), f"{year}-H2"] + [f"{year}-Q{q}" for q in range(1, 5)]
            ),
        )
    ).all()
    for a in current:
        total = wanted.pop((a.level, a.period, a.unit_id), None)
        if total is not None and (a.status not in COUNTING_STATUSES or a.total is None):
            a.status, a.total, a.published_at = "published", total, now
            added["assessments_published"] += 1
    rows = []
    for (level, period, unit_id), total in wanted.items():
        county_id, institution_id, kind = place[unit_id]
        rows.append(
            score_columns(unit_id, kind, county_id, institution_id, level, period, total, at=now)
        )
    if rows:
        db.session.execute(insert(Assessment), rows)
        added["assessments_inserted"] = len(rows)
    return place


def _fund_pools(year: int, now: datetime, place: Place, added: dict[str, int]) -> None:
    pools = sorted(u for u, (_c, _i, kind) in place.items() if kind == "pool")
    funded = set(db.session.scalars(select(PoolFund.pool_id).where(PoolFund.year == year)))
    for n, pool_id in enumerate(pools):
        if pool_id not in funded:
            db.session.add(
                PoolFund(pool_id=pool_id, year=year, fund_fen=987_654_321 + n, updated_at=now)
            )
            added["pool_funds"] += 1


def team_members() -> list[Any]:
    """(user id, post, team id, on probation) of every active team member the sheet pays."""
    return list(
        db.session.execute(
            select(User.id, User.post, User.org_unit_id, User.on_probation)
            .join(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(OrgUnit.kind == "team", User.role.in_(MEMBER_ROLES), User.active.is_(True))
        ).all()
    )


def _post_coefficients(members: list[Any], now: datetime, added: dict[str, int]) -> None:
    posts = set(db.session.scalars(select(PostCoefficient.post)))
    for post in sorted({(p or "").strip() for _, p, _, _ in members} - posts):
        coefficient = Decimal(DEMO_POST_COEFFICIENTS.get(post, "1.0"))
        db.session.add(PostCoefficient(post=post, coefficient=coefficient, updated_at=now))
        added["post_coefficients"] += 1


def _member_ratings(
    year: int, now: datetime, members: list[Any], place: Place, added: dict[str, int]
) -> None:
    rated = set(db.session.scalars(select(MemberRating.user_id).where(MemberRating.year == year)))
    ratings = []
    for n, (user_id, _post, team_id, probation) in enumerate(members):
        if probation or user_id in rated:
            continue
        county_id, institution_id, _kind = place.get(team_id, (None, None, ""))
        ratings.append(
            {"year": year, "user_id": user_id, "c": Decimal("0.8") + Decimal(n % 5) / 10,
             "entered_at": now, "county_id": county_id,
             "institution_id": institution_id, "team_id": team_id}
        )  # fmt: skip
    if ratings:
        db.session.execute(insert(MemberRating), ratings)
        added["member_ratings"] = len(ratings)


def _attendance(
    year: int, now: datetime, members: list[Any], place: Place, added: dict[str, int]
) -> None:
    """Twelve months of attendance for every member: 20 days due, 0–3 days of sick leave."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    present = set(
        db.session.scalars(
            select(AttendanceRecord.user_id).where(AttendanceRecord.month.in_(months))
        )
    )
    rows = []
    for n, (user_id, _post, team_id, _probation) in enumerate(members):
        if user_id in present:
            continue
        county_id, institution_id, _kind = place.get(team_id, (None, None, ""))
        rows += [
            {"user_id": user_id, "month": month, "days_due": 20, "days_worked": 20 - n % 4,
             "sick_days": n % 4, "personal_days": 0, "maternity_days": 0, "annual_days": 0,
             "marriage_days": 0, "entered_at": now, "county_id": county_id,
             "institution_id": institution_id, "team_id": team_id}
            for month in months
        ]  # fmt: skip
    if rows:
        db.session.execute(insert(AttendanceRecord), rows)
        added["attendance_records"] = len(rows)


def _leader_rules(now: datetime, place: Place, added: dict[str, int]) -> None:
    ruled = set(db.session.scalars(select(LeaderRule.institution_id)))
    institutions = sorted(
        unit_id
        for unit_id, (_c, _i, kind) in place.items()
        if kind == "institution" and unit_id not in ruled
    )
    for unit_id in institutions:
        db.session.add(
            LeaderRule(
                institution_id=unit_id,
                leaders_in_split=False,
                management_rate=Decimal("0.05"),
                updated_at=now,
            )
        )
    added["leader_rules"] = len(institutions)


def prepare_demo_settlement(year: int = YEAR) -> dict[str, Any]:
    """The demo city's prerequisites (three quarters of L2 scores so far), committed; returns its
    pools and the members rated."""
    settlement_prerequisites(year, NOW, quarters=3)
    db.session.commit()
    pools = db.session.scalars(select(OrgUnit).where(OrgUnit.kind == "pool").order_by(OrgUnit.id))
    rated = select(MemberRating.user_id).where(MemberRating.year == year)
    members = db.session.scalars(select(User).where(User.id.in_(rated)).order_by(User.id))
    return {"pools": pools.all(), "members": members.all()}
