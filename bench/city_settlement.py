"""Measured path 3: the year's settlement sheet down to every member, after the prerequisites it
lacks are put in place in the same rolled-back transaction."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bench.city_harness import (
    Settings,
    make_app,
)

# --------------------------------------------------------------------------- path 3: settlement


def work_settlement(s: Settings) -> dict[str, Any]:
    from sqlalchemy import func, select

    from fdoctor.core import clock
    from fdoctor.extensions import db
    from fdoctor.settlement.build import build_settlement
    from fdoctor.settlement.cascade import compute
    from fdoctor.settlement.inputs import gather_inputs
    from fdoctor.settlement.models import SettlementLine

    app = make_app(s)
    year = s.year
    runs = []
    with app.app_context(), clock.frozen(date(year + 1, 3, 1)):
        for _ in range(s.repeat):
            added = settlement_prerequisites(year)
            started = time.perf_counter()
            settlement, _changed = build_settlement(year, "settlement", None)
            db.session.flush()
            build_s = time.perf_counter() - started
            started = time.perf_counter()
            inputs, missing = gather_inputs(year, "settlement")
            gather_s = time.perf_counter() - started
            started = time.perf_counter()
            outputs = compute(inputs)
            compute_s = time.perf_counter() - started
            levels = dict(
                db.session.execute(
                    select(SettlementLine.level, func.count(SettlementLine.id))
                    .where(SettlementLine.settlement_id == settlement.id)
                    .group_by(SettlementLine.level)
                ).all()
            )
            runs.append(
                {
                    "build_s": round(build_s, 4),
                    "gather_inputs_s": round(gather_s, 4),
                    "compute_s": round(compute_s, 4),
                    "lines": levels,
                    "total_fen": settlement.total_fen,
                    "sha256": settlement.sha256,
                    "amounts_sha256": _amounts_digest(outputs),
                    "missing": missing,
                    "sums_ok": _sums_ok(outputs),
                    "prerequisites_added": added,
                }
            )
            db.session.rollback()
        db.session.remove()
    return {"year": year, "runs": runs}


def _amounts_digest(outputs: list[dict[str, Any]]) -> str:
    """SHA-256 of every line's key and amounts: unlike the sheet's own SHA-256 it leaves out the
    ids of the source assessments, which PostgreSQL sequences move on even when rolled back."""
    import hashlib

    amounts = sorted(
        (line["key"], line["entitled_fen"], line["preallocated_fen"], line["balance_fen"])
        for line in outputs
    )
    return hashlib.sha256(json.dumps(amounts, default=str).encode()).hexdigest()


def _sums_ok(outputs: list[dict[str, Any]]) -> bool:
    """Every parent line's entitlement is exactly the sum of its children's (like the tests)."""
    children: dict[str, int] = defaultdict(int)
    have_children: set[str] = set()
    for line in outputs:
        if line["parent"]:
            children[line["parent"]] += line["entitled_fen"] or 0
            have_children.add(line["parent"])
    lines = {line["key"]: line for line in outputs}
    return bool(outputs) and all(
        children[key] == (lines[key]["entitled_fen"] or 0) for key in have_children
    )


DEMO_POST_COEFFICIENTS = {"全科医生": "1.2", "乡村医生": "0.9", "公卫医生": "1.0", "护士": "0.8"}


def settlement_prerequisites(year: int) -> dict[str, int]:
    """Put in place (in the current transaction) what the year's settlement lacks."""
    from fdoctor.core import clock
    from fdoctor.extensions import db

    now = clock.now()
    added: dict[str, int] = Counter()
    place = _publish_scores(year, now, added)
    _fund_pools(year, now, place, added)
    _default_split(now, added)
    members = _team_members()
    _post_coefficients(members, now, added)
    _workload_standard(year, now, added)
    _member_ratings(year, now, members, place, added)
    _team_split_sources(year, now, members, place, added)
    db.session.flush()
    return dict(added)


def _publish_scores(
    year: int, now: datetime, added: dict[str, int]
) -> dict[int, tuple[int | None, int | None, str]]:
    """Published L2 Q1–Q4 (teams), L3 H2 (institutions) and L4 (counties) scores: existing
    assessments are published, missing ones inserted. Returns each active unit's place."""
    from sqlalchemy import insert, select

    from fdoctor.assessments.models import Assessment
    from fdoctor.extensions import db
    from fdoctor.org.models import OrgUnit
    from fdoctor.settlement.reads import COUNTING_STATUSES

    units = db.session.execute(
        select(OrgUnit.id, OrgUnit.kind, OrgUnit.county_id, OrgUnit.institution_id).where(
            OrgUnit.active.is_(True)
        )
    ).all()
    wanted: dict[tuple[str, str, int], Any] = {}
    place: dict[int, tuple[int | None, int | None, str]] = {}
    for unit_id, kind, county_id, institution_id in units:
        place[unit_id] = (county_id, institution_id, kind)
        score = Decimal(70 + unit_id % 29) + Decimal(unit_id % 7) / 4
        if kind == "county":
            wanted[("L4", str(year), unit_id)] = score
        elif kind == "institution":
            wanted[("L3", f"{year}-H2", unit_id)] = score
        elif kind == "team":
            for q in (1, 2, 3, 4):
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
        key = (a.level, a.period, a.unit_id)
        if key not in wanted:
            continue
        total = wanted.pop(key)
        if a.status not in COUNTING_STATUSES or a.total is None:
            a.status, a.total, a.published_at = "published", total, now
            added["assessments_published"] += 1
    rows = []
    for (level, period, unit_id), total in wanted.items():
        county_id, institution_id, kind = place[unit_id]
        rows.append(
            {"level": level, "period": period, "unit_id": unit_id,
             "county_id": unit_id if kind == "county" else county_id,
             "institution_id": unit_id if kind == "institution" else institution_id,
             "team_id": unit_id if kind == "team" else None, "index_code": f"city-{year}",
             "index_version": "1", "status": "published", "revision": 1, "is_current": True,
             "flagged": False, "total": total, "opened_at": now, "due_on": now.date(),
             "published_at": now}
        )  # fmt: skip
    if rows:
        db.session.execute(insert(Assessment), rows)
        added["assessments_inserted"] = len(rows)
    return place


def _fund_pools(
    year: int,
    now: datetime,
    place: dict[int, tuple[int | None, int | None, str]],
    added: dict[str, int],
) -> None:
    from sqlalchemy import select

    from fdoctor.extensions import db
    from fdoctor.settlement.models import PoolFund

    pools = [u for u, (_c, _i, kind) in place.items() if kind == "pool"]
    funded = set(db.session.scalars(select(PoolFund.pool_id).where(PoolFund.year == year)))
    for n, pool_id in enumerate(sorted(pools)):
        if pool_id not in funded:
            db.session.add(
                PoolFund(pool_id=pool_id, year=year, fund_fen=987_654_321 + n, updated_at=now)
            )
            added["pool_funds"] += 1


def _default_split(now: datetime, added: dict[str, int]) -> None:
    from sqlalchemy import select

    from fdoctor.extensions import db
    from fdoctor.settlement.models import InstitutionSplit

    if (
        db.session.scalar(
            select(InstitutionSplit.id).where(InstitutionSplit.institution_id.is_(None))
        )
        is None
    ):
        db.session.add(InstitutionSplit(institution_id=None, centre_ratio=Decimal(60),
                                        stations_ratio=Decimal(40), updated_at=now))  # fmt: skip
        added["default_split"] = 1


def _team_members() -> list[Any]:
    """(user id, post, team id, on probation) of every active team member the sheet pays."""
    from sqlalchemy import select

    from fdoctor.auth.models import User
    from fdoctor.extensions import db
    from fdoctor.org.models import OrgUnit
    from fdoctor.settlement.parameters import MEMBER_ROLES

    return list(
        db.session.execute(
            select(User.id, User.post, User.org_unit_id, User.on_probation)
            .join(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(OrgUnit.kind == "team", User.role.in_(MEMBER_ROLES), User.active.is_(True))
        ).all()
    )


def _post_coefficients(members: list[Any], now: datetime, added: dict[str, int]) -> None:
    from sqlalchemy import select

    from fdoctor.extensions import db
    from fdoctor.settlement.models import PostCoefficient

    posts = set(db.session.scalars(select(PostCoefficient.post)))
    for post in sorted({(p or "").strip() for _, p, _, _ in members} - posts):
        coefficient = Decimal(DEMO_POST_COEFFICIENTS.get(post, "1.0"))
        db.session.add(PostCoefficient(post=post, coefficient=coefficient, updated_at=now))
        added["post_coefficients"] += 1


def _workload_standard(year: int, now: datetime, added: dict[str, int]) -> None:
    from sqlalchemy import select

    from fdoctor.extensions import db
    from fdoctor.settlement.models import WorkloadStandard

    standard = db.session.scalar(
        select(WorkloadStandard.id).where(
            WorkloadStandard.year == year, WorkloadStandard.post == ""
        )
    )
    if standard is None:
        db.session.add(
            WorkloadStandard(year=year, post="", standard_points=Decimal(150), updated_at=now)
        )
        added["workload_standard"] = 1


def _member_ratings(
    year: int,
    now: datetime,
    members: list[Any],
    place: dict[int, tuple[int | None, int | None, str]],
    added: dict[str, int],
) -> None:
    from sqlalchemy import insert, select

    from fdoctor.extensions import db
    from fdoctor.settlement.models import MemberRating

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


def _team_split_sources(
    year: int,
    now: datetime,
    members: list[Any],
    place: dict[int, tuple[int | None, int | None, str]],
    added: dict[str, int],
) -> None:
    """Twelve months of attendance for every member (20 days due, 0–3 days of sick leave) and,
    for institutions without a leader rule, the seed's rule with a 5% management share."""
    from sqlalchemy import insert, select

    from fdoctor.extensions import db
    from fdoctor.teamsplit.models import AttendanceRecord, LeaderRule

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
    ruled = set(db.session.scalars(select(LeaderRule.institution_id)))
    institutions = {
        unit_id
        for unit_id, (_c, _i, kind) in place.items()
        if kind == "institution" and unit_id not in ruled
    }
    for unit_id in sorted(institutions):
        db.session.add(
            LeaderRule(
                institution_id=unit_id,
                leaders_in_split=False,
                management_rate=Decimal("0.05"),
                updated_at=now,
            )
        )
    added["leader_rules"] = len(institutions)
