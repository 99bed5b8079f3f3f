"""What the settlement build reads, generated directly at a chosen scale (PostgreSQL).

The city benchmark (``bench/city.py``) loads the whole demo city (1.77 M residents, 11.6 M service
records) to measure the settlement at the end; that load takes over twenty minutes. The settlement
no longer scans those tables: it reads the running figures (``fdoctor.tallies``) and a handful of
configuration tables. This module writes only those, at any scale:

* the org tree (city, pools, counties, institutions, stations, teams) and the team members;
* the year's published scores (L2 Q1–Q4 per team, L3 H2 per institution, L4 per county);
* pool funds, the default split, post coefficients, workload standards, member ratings;
* the signed population of every unit at the year's end (``signed_population``, period
  ``YYYY-12``) as the ``rebuild_tallies`` job writes it;
* a few service records per member and month (so that ``k`` varies) and their tallies.

Every generated row of an audited table is baselined (``record_bulk_load``), so ``audit verify``
holds on the generated database, and still holds after the measured build's writes.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# The demo city's shape (bench/results/2026-11-24: 9 counties, 148 institutions, 2,703 stations,
# 1,971 teams, 6,911 members, 1.74 M signed residents).
CITY = {
    "pools": 2,
    "counties": 9,
    "institutions": 148,
    "stations": 2703,
    "teams": 1971,
    "members": 6911,
    "residents": 1_735_843,
}
POSTS = {"全科医生": "1.2", "乡村医生": "0.9", "公卫医生": "1.0", "护士": "0.8"}


@dataclass(frozen=True)
class Scale:
    pools: int
    counties: int
    institutions: int
    stations: int
    teams: int
    members: int
    residents: int

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def _spread(total: int, parts: int) -> list[int]:
    """``total`` items over ``parts`` owners, as evenly as possible (each at least one)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def generate(scale: Scale, year: int, seed: int) -> dict[str, int]:
    """Write the settlement's inputs for ``year`` into the empty schema; returns row counts."""
    from sqlalchemy import insert, text

    from fdoctor.assessments.models import Assessment
    from fdoctor.audit.baselines import record_bulk_load
    from fdoctor.audit.tables import AUDITED_TABLES
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
    from fdoctor.tallies.models import SignedPopulation
    from fdoctor.tallies.services import rebuild_service_tallies
    from fdoctor.teamsplit.models import AttendanceRecord, LeaderRule

    rng = random.Random(seed)
    now = datetime(year + 1, 1, 5, 9, 0)
    session = db.session
    ids = iter(range(1, 10**9))
    units: list[dict[str, Any]] = []

    def unit(kind: str, name: str, parent: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
        uid = next(ids)
        row = {
            "id": uid, "code": f"{kind[:2].upper()}{uid:06d}", "name": name, "kind": kind,
            "subtype": extra.get("subtype"), "parent_id": parent["id"] if parent else None,
            "path": f"{parent['path']}{uid}/" if parent else f"/{uid}/",
            "county_id": extra.get("county_id"), "institution_id": extra.get("institution_id"),
            "region_code": None, "active": True,
        }  # fmt: skip
        units.append(row)
        return row

    city = unit("city", "基准市", None)
    pools = [unit("pool", f"结算池{p + 1}", city) for p in range(scale.pools)]
    counties = []
    for p, n in enumerate(_spread(scale.counties, scale.pools)):
        for _ in range(n):
            c = unit("county", f"县区{len(counties) + 1}", pools[p])
            c["county_id"] = c["id"]
            counties.append(c)
    institutions = []
    for c, n in enumerate(_spread(scale.institutions, scale.counties)):
        for _ in range(n):
            subtype = "centre" if len(institutions) % 3 else "township"
            i = unit("institution", f"机构{len(institutions) + 1}", counties[c],
                     county_id=counties[c]["id"], subtype=subtype)  # fmt: skip
            i["institution_id"] = i["id"]
            institutions.append(i)
    stations = []
    for i, n in enumerate(_spread(scale.stations, scale.institutions)):
        inst = institutions[i]
        for _ in range(n):
            stations.append(
                unit(
                    "station",
                    f"站点{len(stations) + 1}",
                    inst,
                    county_id=inst["county_id"],
                    institution_id=inst["id"],
                )  # fmt: skip
            )
    # About four teams in ten directly under their institution (the centre part), the rest under
    # one of its stations: most institutions have teams in both parts.
    teams = []
    stations_of: dict[int, list[dict[str, Any]]] = {}
    for s in stations:
        stations_of.setdefault(s["institution_id"], []).append(s)
    for i, n in enumerate(_spread(scale.teams, scale.institutions)):
        inst = institutions[i]
        own = stations_of.get(inst["id"], [])
        for k in range(n):
            parent = own[k % len(own)] if own and k % 5 in (1, 3, 4) else inst
            teams.append(
                unit(
                    "team",
                    f"团队{len(teams) + 1}",
                    parent,
                    county_id=inst["county_id"],
                    institution_id=inst["id"],
                )  # fmt: skip
            )
    session.execute(insert(OrgUnit), units)

    users = []
    for t, n in enumerate(_spread(scale.members, scale.teams)):
        team = teams[t]
        for k in range(n):
            uid = len(users) + 1
            users.append(
                {"id": uid, "username": f"m{uid:06d}", "display_name": f"成员{uid}",
                 "password_hash": "-", "role": "team_leader" if k == 0 else "doctor",
                 "org_unit_id": team["id"], "post": list(POSTS)[(uid + k) % len(POSTS)],
                 "on_probation": uid % 31 == 0, "active": True, "failed_logins": 0,
                 "session_version": 0}
            )  # fmt: skip
    session.execute(insert(User), users)

    assessments = []

    def score(level: str, period: str, u: dict[str, Any], total: Decimal) -> None:
        assessments.append(
            {"level": level, "period": period, "unit_id": u["id"], "county_id": u["county_id"],
             "institution_id": u["institution_id"],
             "team_id": u["id"] if u["kind"] == "team" else None, "index_code": f"city-{year}",
             "index_version": "1", "status": "published", "revision": 1, "is_current": True,
             "flagged": False, "total": total, "opened_at": now, "due_on": now.date(),
             "published_at": now}
        )  # fmt: skip

    def total() -> Decimal:
        return Decimal(rng.randint(6500, 9900)) / 100

    for c in counties:
        score("L4", str(year), c, total())
    for i in institutions:
        score("L3", f"{year}-H2", i, total())
    for t in teams:
        for q in range(1, 5):
            if rng.random() < 0.97:  # a few quarters missing: the mean of those present
                score("L2", f"{year}-Q{q}", t, total())
    session.execute(insert(Assessment), assessments)

    for n, pool in enumerate(pools):
        session.add(PoolFund(pool_id=pool["id"], year=year, fund_fen=987_654_321 + n,
                             updated_at=now))  # fmt: skip
    session.add(InstitutionSplit(institution_id=None, centre_ratio=Decimal(60),
                                 stations_ratio=Decimal(40), updated_at=now))  # fmt: skip
    for post, coefficient in POSTS.items():
        session.add(PostCoefficient(post=post, coefficient=Decimal(coefficient), updated_at=now))
    session.add(WorkloadStandard(year=year, post="", standard_points=Decimal(24), updated_at=now))
    session.add(
        WorkloadStandard(year=year, post="护士", standard_points=Decimal(18), updated_at=now)
    )
    team_of = {t["id"]: t for t in teams}
    session.execute(
        insert(MemberRating),
        [
            {"year": year, "user_id": u["id"], "c": Decimal(rng.randint(8, 12)) / 10,
             "a": Decimal(rng.randint(80, 100)) / 100, "entered_at": now,
             "county_id": team_of[u["org_unit_id"]]["county_id"],
             "institution_id": team_of[u["org_unit_id"]]["institution_id"],
             "team_id": u["org_unit_id"]}
            for u in users
            if not u["on_probation"]
        ],
    )  # fmt: skip

    # The team split's sources: every member's attendance for each month of the year (22 days
    # due, 18–22 worked, the rest sick or annual leave), and each institution's leader rule
    # (leaders outside the split, paid from a 5% management share, as the seed says).
    attendance = []
    for u in users:
        team = team_of[u["org_unit_id"]]
        for m in range(1, 13):
            worked = 22 - rng.choice((0, 0, 0, 1, 2, 4))
            attendance.append(
                {"user_id": u["id"], "month": f"{year}-{m:02d}", "days_due": 22,
                 "days_worked": worked, "sick_days": (22 - worked) // 2,
                 "personal_days": 0, "maternity_days": 0,
                 "annual_days": 22 - worked - (22 - worked) // 2, "marriage_days": 0,
                 "entered_at": now, "county_id": team["county_id"],
                 "institution_id": team["institution_id"], "team_id": team["id"]}
            )  # fmt: skip
    session.execute(insert(AttendanceRecord), attendance)
    session.execute(
        insert(LeaderRule),
        [{"institution_id": i["id"], "leaders_in_split": False,
          "management_rate": Decimal("0.05"), "updated_at": now} for i in institutions],
    )  # fmt: skip

    # Signed population at the year's end: residents spread over the teams; an institution's and
    # a county's figure is the sum of theirs (each resident signs with one team).
    per_team = _spread(scale.residents, scale.teams)
    rng.shuffle(per_team)
    signed: dict[int, int] = {}
    for t, n in zip(teams, per_team, strict=True):
        signed[t["id"]] = n
        signed[t["institution_id"]] = signed.get(t["institution_id"], 0) + n
        signed[t["county_id"]] = signed.get(t["county_id"], 0) + n
    kind_of = {u["id"]: u["kind"] for u in units}
    session.execute(
        insert(SignedPopulation),
        [{"period": f"{year}-12", "unit_id": uid, "level": kind_of[uid], "signed": n}
         for uid, n in signed.items()],
    )  # fmt: skip

    # One to three service records per member and month (k = records ÷ the standard, capped).
    session.execute(
        text(
            "INSERT INTO service_record (client_uuid, doctor_id, service_date, category, type, "
            "entered_at, entered_by_id, verification, county_id, institution_id, team_id, version, "
            "possible_duplicate) "
            "SELECT md5(u.id || '-' || m || '-' || k), u.id, make_date(:y, m, 1 + (u.id + k) % 28), "
            "'basic_medical', 'consultation', make_timestamp(:y, m, 1, 10, 0, 0), u.id, "
            "CASE WHEN (u.id + m + k) % 41 = 0 THEN 'false' ELSE 'unverified' END, "
            "t.county_id, t.institution_id, t.id, 1, false "
            "FROM user_account u JOIN org_unit t ON t.id = u.org_unit_id "
            "CROSS JOIN generate_series(1, 12) m "
            "CROSS JOIN LATERAL generate_series(1, 1 + (u.id * 7 + m) % 3) k"
        ),
        {"y": year},
    )
    tallies = rebuild_service_tallies()
    session.flush()
    counts = {}
    for table in ("org_unit", "user_account", "assessment", "pool_fund", "institution_split",
                  "post_coefficient", "workload_standard", "member_rating", "service_record",
                  "signed_population", "attendance_record", "leader_rule"):  # fmt: skip
        counts[table] = int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
        if table in AUDITED_TABLES:
            record_bulk_load(table, counts[table], "结算基准数据（直接生成）")
    counts["service_tally"] = tallies
    for seq_table in ("org_unit", "user_account"):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{seq_table}', 'id'), "
                f"(SELECT max(id) FROM {seq_table}))"
            )
        )
    return counts


def scale_of(name: str, overrides: dict[str, int | None]) -> Scale:
    """The city's shape, or a fraction of it (``county``: one county's share), with overrides."""
    base = dict(CITY)
    if name == "county":
        base = {"pools": 1, "counties": 1, "institutions": 16, "stations": 300, "teams": 219,
                "members": 768, "residents": 192_871}  # fmt: skip
    elif name == "small":
        base = {"pools": 2, "counties": 3, "institutions": 6, "stations": 10, "teams": 12,
                "members": 40, "residents": 10_000}  # fmt: skip
    for key, value in overrides.items():
        if value is not None:
            base[key] = value
    return Scale(**base)


def date_of_build(year: int) -> date:
    """The day the benchmark builds the year's sheet on (after the year has ended)."""
    return date(year + 1, 3, 1)
