"""The demo city: deterministic, consistent, and with data behind every indicator."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import aliased, selectinload

from assessments import sampling
from fdoctor import create_app
from fdoctor.auth.models import User
from fdoctor.auth.services import authenticate, create_user
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import citizen_id as cid
from fdoctor.core.roles import Role
from fdoctor.demo.generator import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    TABLE_LABELS,
    DemoError,
    load_demo,
)
from fdoctor.extensions import db
from fdoctor.households.models import STORED_TAGS, Household, Resident
from fdoctor.org.models import POPULATION_CATEGORIES, OrgUnit, PopulationFigure
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import (
    SurveyRecordCheck,
    SurveyResponse,
    VerificationSample,
    VerificationSampleItem,
)
from tests.conftest import DEMO_ANCHOR

pytestmark = pytest.mark.db

SEED = 4242
ANCHOR = date(2026, 3, 18)


@contextmanager
def second_app(tmp_path: Path) -> Iterator[Flask]:
    """Another app on its own fresh SQLite file, inside its app context."""
    url = f"sqlite:///{tmp_path / 'second.sqlite3'}"
    other = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": secrets.token_urlsafe(32)}
    )
    with other.app_context():
        db.create_all()
        try:
            yield other
        finally:
            db.session.remove()
            db.engine.dispose()


def fingerprint() -> dict[str, Any]:
    """Row counts and checksums of a few columns of the loaded city."""

    def digest(values: list[Any]) -> str:
        return hashlib.sha256("\n".join(map(str, values)).encode()).hexdigest()

    counts = {
        table: db.session.scalar(select(func.count()).select_from(db.metadata.tables[table]))
        for table in TABLE_LABELS
    }
    contracts = db.session.execute(
        select(Contract.code, Contract.start_date, Contract.end_date, Contract.status).order_by(
            Contract.code
        )
    ).all()
    return {
        "counts": counts,
        "citizen_ids": digest(sorted(db.session.scalars(select(Resident.citizen_id)))),
        "service_days": sum(
            d.toordinal() for d in db.session.scalars(select(ServiceRecord.service_date))
        ),
        "systolic": db.session.scalar(select(func.sum(ServiceRecord.systolic_bp))),
        "uuids": digest(sorted(db.session.scalars(select(ServiceRecord.client_uuid)))),
        "contracts": digest([tuple(row) for row in contracts]),
        "users": digest(sorted(db.session.execute(select(User.username, User.display_name)).all())),
    }


@pytest.fixture()
def demo(demo_app: Flask) -> Iterator[Flask]:
    """The shared, already loaded demo city (read only: nothing here commits)."""
    with demo_app.app_context():
        yield demo_app


def test_same_seed_and_anchor_give_identical_data(app: Flask, tmp_path: Path) -> None:
    load_demo(seed=SEED, anchor=ANCHOR, scale="small")
    first = fingerprint()
    with second_app(tmp_path):
        load_demo(seed=SEED, anchor=ANCHOR, scale="small")
        second = fingerprint()
    assert first["counts"]["service_record"] > 1000
    assert first == second


def test_another_seed_gives_another_city(app: Flask, tmp_path: Path) -> None:
    load_demo(seed=SEED, anchor=ANCHOR, scale="small")
    first = fingerprint()
    with second_app(tmp_path):
        load_demo(seed=SEED + 1, anchor=ANCHOR, scale="small")
        second = fingerprint()
    assert first["citizen_ids"] != second["citizen_ids"]


def test_loading_into_a_non_empty_database_is_refused(app: Flask) -> None:
    load_demo(seed=SEED, anchor=ANCHOR, scale="small")
    with pytest.raises(DemoError, match="空数据库"):
        load_demo(seed=SEED, anchor=ANCHOR, scale="small")


def test_an_unknown_scale_is_refused(app: Flask) -> None:
    with pytest.raises(DemoError, match="规模"):
        load_demo(seed=SEED, anchor=ANCHOR, scale="huge")


def test_new_rows_get_fresh_ids_after_the_load(app: Flask) -> None:
    summary = load_demo(seed=SEED, anchor=ANCHOR, scale="small")
    user = create_user("newcomer", "Harbour-88x", "doctor", "411002-01-T1", "新来的医生")
    unit = OrgUnit(code="4110-X", name="测试机构", kind="station", path="/x/")
    db.session.add(unit)
    db.session.flush()
    assert user.id > summary.counts["user_account"]
    assert unit.id > summary.counts["org_unit"]


def test_demo_load_command_loads_once_and_prints_the_logins(app: Flask) -> None:
    runner = app.test_cli_runner()
    args = ["demo", "load", "--seed", str(SEED), "--anchor", ANCHOR.isoformat()]
    result = runner.invoke(args=[*args, "--scale", "small", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "已载入演示数据" in result.output
    assert result.output.count("演示账号（密码均为") == 1
    if db.engine.dialect.name == "postgresql":
        # Vacuumed after the load: the visibility map is set, so index-only scans stay so.
        visible = db.session.execute(
            text("SELECT relallvisible FROM pg_class WHERE relname = 'service_record'")
        ).scalar_one()
        assert visible > 0
    again = runner.invoke(args=[*args, "--scale", "small", "--if-empty"])
    assert again.exit_code == 0 and "跳过" in again.output
    assert again.output.count(f"演示账号（密码均为 {DEMO_PASSWORD}）") == 1  # start relies on it
    refused = runner.invoke(args=[*args, "--scale", "small"])
    assert refused.exit_code != 0 and "空数据库" in refused.output
    logins = runner.invoke(args=["demo", "logins"])
    assert logins.exit_code == 0
    for username, label in DEMO_LOGINS:
        assert username in logins.output and label in logins.output


def test_every_citizen_id_is_valid_and_matches_sex_and_birth_date(demo: Flask) -> None:
    rows = db.session.execute(
        select(
            Resident.citizen_id,
            Resident.sex,
            Resident.birth_date,
            Resident.id_tail,
            OrgUnit.region_code,
        ).join(OrgUnit, OrgUnit.id == Resident.county_id)
    ).all()
    assert len(rows) > 6000
    for number, sex, born, tail, region in rows:
        parsed = cid.parse(number)
        assert (parsed.sex, parsed.birth_date, parsed.region, number[-6:]) == (
            sex,
            born,
            region,
            tail,
        )


def test_every_demo_resident_passes_the_checks_a_typed_one_would(demo: Flask) -> None:
    """Normalised IDs, real province codes, and tags that agree with the ID (a maternal tag
    only on a woman of 15-55): the demo city holds nothing the forms would refuse."""
    from fdoctor.households.services import ResidentInput, check_resident

    people = db.session.scalars(select(Resident).options(selectinload(Resident.pregnancies)))
    problems = []
    for person in people:
        pregnancy = person.pregnancies[-1] if person.pregnancies else None  # maybe delivered
        data = ResidentInput(
            name=person.name,
            citizen_id=person.citizen_id,
            relation=person.relation,
            is_head=person.is_head,
            phone=person.phone or "",
            tags={t for t in STORED_TAGS if getattr(person, f"tag_{t}")},
            lmp_date=pregnancy.lmp_date if pregnancy is not None and person.tag_maternal else None,
            tb_treatment_start=person.tb_treatment_start,
        )
        _parsed, errors = check_resident(data, DEMO_ANCHOR)
        assert cid.normalize(person.citizen_id) == person.citizen_id
        if errors:
            problems.append((person.id, errors))
    assert problems == []


def test_org_unit_paths_and_ancestors_follow_the_parent_chain(demo: Flask) -> None:
    units = {u.id: u for u in db.session.scalars(select(OrgUnit))}
    kinds = {u.kind for u in units.values()}
    assert kinds == {"city", "pool", "county", "institution", "station", "team"}
    for unit in units.values():
        chain = [unit]
        while chain[-1].parent_id is not None:
            chain.append(units[chain[-1].parent_id])
        assert unit.path == "/" + "".join(f"{u.id}/" for u in reversed(chain))
        by_kind = {u.kind: u.id for u in chain}
        assert unit.county_id == by_kind.get("county")
        assert unit.institution_id == by_kind.get("institution")


@pytest.mark.parametrize(("username", "label"), DEMO_LOGINS)
def test_each_demo_login_has_its_role_and_authenticates(
    demo: Flask, username: str, label: str
) -> None:
    user, error = authenticate(username, DEMO_PASSWORD)
    assert error is None and user is not None
    assert user.role_enum.label == label
    unit = user.org_unit
    expected_unit = {
        Role.DOCTOR: "411002-01-T1",
        Role.TEAM_LEADER: "411002-01-T1",
        Role.CENTRE_ADMIN: "411002-01",
        Role.COUNTY_AUDITOR: "411002",
        Role.CITY_ADMIN: "4110",
        Role.FINANCE: "4110",
        Role.ADMIN: None,
    }[user.role_enum]
    assert (unit.code if unit else None) == expected_unit
    assert not user.on_probation


def test_every_demo_role_has_exactly_one_login(demo: Flask) -> None:
    assert sorted(label for _, label in DEMO_LOGINS) == sorted(role.label for role in Role)
    assert db.session.scalar(select(func.count(User.id)).where(User.on_probation)) >= 1


def test_every_team_has_data_behind_its_indicators(demo: Flask) -> None:
    teams = set(db.session.scalars(select(OrgUnit.id).where(OrgUnit.kind == "team")))
    assert len(teams) >= 30

    def teams_with(stmt: Any) -> set[int]:
        return set(db.session.scalars(stmt))

    signed = teams_with(select(ContractMember.team_id).where(ContractMember.is_active).distinct())
    followed = teams_with(
        select(ServiceRecord.team_id)
        .where(
            ServiceRecord.type == "hypertension_followup",
            ServiceRecord.systolic_bp.is_not(None),
            ServiceRecord.diastolic_bp.is_not(None),
        )
        .distinct()
    )
    educated = teams_with(
        select(ServiceRecord.team_id)
        .where(
            ServiceRecord.type == "health_education",
            ServiceRecord.resident_id.is_(None),
            ServiceRecord.attendance > 0,
            ServiceRecord.topic.is_not(None),
        )
        .distinct()
    )
    referred = teams_with(
        select(ServiceRecord.team_id)
        .where(
            ServiceRecord.type.in_(("referral_up", "referral_down")),
            ServiceRecord.other_institution_name.is_not(None),
        )
        .distinct()
    )
    surveyed = teams_with(select(SurveyResponse.team_id).distinct())
    for name, covered in [
        ("signed residents", signed),
        ("hypertension follow-ups", followed),
        ("health education", educated),
        ("referrals", referred),
        ("survey responses", surveyed),
    ]:
        assert covered == teams, f"teams without {name}: {teams - covered}"


def test_no_resident_is_in_two_active_contracts(demo: Flask) -> None:
    doubles = db.session.execute(
        select(ContractMember.resident_id)
        .where(ContractMember.is_active)
        .group_by(ContractMember.resident_id)
        .having(func.count() > 1)
    ).all()
    assert doubles == []
    mismatched = db.session.scalar(
        select(func.count(ContractMember.id))
        .join(Contract, Contract.id == ContractMember.contract_id)
        .where(ContractMember.is_active != (Contract.status == "active"))
    )
    assert mismatched == 0


def test_contracts_have_a_realistic_history(demo: Flask) -> None:
    anchor = DEMO_ANCHOR
    statuses = dict(
        db.session.execute(select(Contract.status, func.count()).group_by(Contract.status)).all()
    )
    assert set(statuses) == {"active", "expired", "renewed", "terminated"}
    assert statuses["active"] > 10 * (statuses["expired"] + statuses["terminated"])
    expiring = db.session.scalar(
        select(func.count(Contract.id)).where(
            Contract.status == "active",
            Contract.end_date >= anchor,
            Contract.end_date <= anchor + timedelta(days=30),
        )
    )
    assert 20 <= expiring <= statuses["active"] // 5
    stale = db.session.scalar(
        select(func.count(Contract.id)).where(
            Contract.status == "active", Contract.end_date < anchor
        )
    )
    assert stale == 0
    renewal = aliased(Contract)
    broken = db.session.scalar(
        select(func.count(Contract.id))
        .join(renewal, renewal.id == Contract.renewed_from_id)
        .where((renewal.status != "renewed") | (renewal.household_id != Contract.household_id))
    )
    assert broken == 0
    terminated = db.session.scalar(
        select(func.count(Contract.id)).where(
            Contract.status == "terminated", Contract.termination_reason.is_(None)
        )
    )
    assert terminated == 0


def test_the_city_has_the_intended_size_and_signing_rate(demo: Flask) -> None:
    households = db.session.scalar(select(func.count(Household.id)))
    residents = db.session.scalar(select(func.count(Resident.id)))
    signed = db.session.scalar(
        select(func.count(ContractMember.id)).where(ContractMember.is_active)
    )
    assert 2500 <= households <= 3500
    assert 2 * households <= residents <= 4 * households
    assert 0.35 <= signed / residents <= 0.45


def test_late_entries_are_a_few_percent_in_every_team(demo: Flask) -> None:
    rows = db.session.execute(
        select(ServiceRecord.team_id, ServiceRecord.service_date, ServiceRecord.entered_at)
    ).all()
    late: dict[int, list[bool]] = {}
    for team_id, day, entered in rows:
        hours = (entered - datetime.combine(day, time())).total_seconds() / 3600
        late.setdefault(team_id, []).append(hours > 48)
    shares = [sum(flags) / len(flags) for flags in late.values()]
    assert all(0.0 < share < 0.15 for share in shares)
    assert max(shares) - min(shares) > 0.02  # teams differ


def test_population_figures_cover_every_unit_and_add_up(demo: Flask) -> None:
    units = db.session.execute(
        select(OrgUnit.id, OrgUnit.kind, OrgUnit.parent_id, OrgUnit.institution_id).where(
            OrgUnit.kind.in_(("county", "institution", "station", "team"))
        )
    ).all()
    figures = {
        (unit_id, year, category): count
        for unit_id, year, category, count in db.session.execute(
            select(
                PopulationFigure.org_unit_id,
                PopulationFigure.year,
                PopulationFigure.category,
                PopulationFigure.count,
            )
        )
    }
    years = {year for _, year, _ in figures}
    assert len(years) == 2
    for unit_id, *_ in units:
        for year in years:
            for category in POPULATION_CATEGORIES:
                assert (unit_id, year, category) in figures
    year = max(years)
    for unit_id, kind, _, _ in units:
        if kind != "institution":
            continue
        teams = [u for u, k, _, inst in units if k == "team" and inst == unit_id]
        for category in POPULATION_CATEGORIES:
            assert figures[(unit_id, year, category)] == sum(
                figures[(t, year, category)] for t in teams
            )
    residents = dict(
        db.session.execute(select(Resident.team_id, func.count()).group_by(Resident.team_id)).all()
    )
    for team_id, count in residents.items():
        assert count < figures[(team_id, year, "registered")] <= 1.4 * count


def test_verification_answers_match_the_record_states(demo: Flask) -> None:
    rows = db.session.execute(
        select(ServiceRecord.verification, SurveyRecordCheck.answer).join(
            SurveyRecordCheck, SurveyRecordCheck.service_record_id == ServiceRecord.id
        )
    ).all()
    for state, answer in rows:
        if state in ("disputed", "false"):
            assert answer == "not_received"
        if state == "confirmed":
            assert answer == "received"
    states = dict(
        db.session.execute(
            select(ServiceRecord.verification, func.count()).group_by(ServiceRecord.verification)
        ).all()
    )
    assert states["unverified"] > states["confirmed"] > states["disputed"] + states["false"] > 0


def test_each_verification_draw_replays_from_its_recorded_seed(demo: Flask) -> None:
    samples = db.session.scalars(select(VerificationSample).order_by(VerificationSample.id)).all()
    assert len(samples) >= 4 * 10
    for sample in samples[:: len(samples) // 5]:
        year, quarter = int(sample.period[:4]), int(sample.period[-1])
        q_start = date(year, 3 * quarter - 2, 1)
        q_end = date(year + quarter // 4, 3 * quarter % 12 + 1, 1) - timedelta(days=1)
        # Candidates: the institution's residents under a contract at some time in the quarter.
        candidates: dict[int, list[int]] = {}
        for team_id, resident_id in db.session.execute(
            select(ContractMember.team_id, ContractMember.resident_id)
            .join(Contract, Contract.id == ContractMember.contract_id)
            .where(
                Contract.institution_id == sample.org_unit_id,
                Contract.start_date <= q_end,
                func.coalesce(Contract.terminated_on, Contract.end_date) >= q_start,
            )
            .distinct()
        ):
            candidates.setdefault(team_id, []).append(resident_id)
        drawn: dict[int, list[int]] = {}
        for team_id, resident_id in db.session.execute(
            select(VerificationSampleItem.team_id, VerificationSampleItem.resident_id)
            .where(VerificationSampleItem.sample_id == sample.id)
            .order_by(VerificationSampleItem.draw_order)
        ):
            drawn.setdefault(team_id, []).append(resident_id)
        assert drawn == sampling.draw_residents_per_team(candidates, sample.seed)


def test_every_demo_package_fits_the_members_it_covers(demo: Flask) -> None:
    from fdoctor.contracts.models import Contract
    from fdoctor.contracts.services import package_fit_message

    misfits = []
    for contract in db.session.scalars(select(Contract)):
        members = [m.resident for m in contract.members]
        for cp in contract.packages:
            if cp.package.kind == "basic" or not cp.package.fee_fen:
                continue
            persons = cp.fee_fen // cp.package.fee_fen
            message = package_fit_message(cp.package, members, persons, contract.start_date)
            if message:
                misfits.append((contract.code, message))
    assert misfits == []


def test_grid_cell_names_and_codes_are_unique_under_their_parent(demo: Flask) -> None:
    from fdoctor.org.models import GridCell

    cells = db.session.execute(
        select(GridCell.code, GridCell.name, GridCell.parent_id, GridCell.team_id)
    ).all()
    codes = [c.code for c in cells]
    assert len(codes) == len(set(codes))
    siblings = [(c.team_id if c.parent_id is None else None, c.parent_id, c.name) for c in cells]
    repeated = sorted({s for s in siblings if siblings.count(s) > 1}, key=str)
    assert repeated == []
