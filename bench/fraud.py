"""Issue 16 benchmark 6: how many realistic fakes the suspicion flags catch, and at what cost.

    .venv/bin/python bench/fraud.py --db sqlite --out bench/results/2026-12-06
    .venv/bin/python bench/fraud.py --db postgresql --out bench/results/2026-12-06

A small generated city (the demo generator at scale ``demo``, six counties and about 3,000
households, its own seed) on a fresh database;
then, with their own seeded random draws, the kinds of made-up work issue 16 names are injected into
its third quarter, next to genuine look-alikes that must not be flagged:

fakes (each a *case*; caught when any flag names one of its records or contracts)
  padded_day       a doctor adds 10–22 made-up visits on one day, entered through the day
  re_entered       a follow-up or check-up entered again 1–4 days later (reading nudged or not)
  copied_reading   a follow-up whose blood pressure is copied from the resident's last one
  made_up_readings a doctor fills in 25 follow-ups without measuring: round numbers under 140/90
  phantom_household made-up households in the doctor's own grid: three households, one phone
                   (the doctor's), signed in spring, two follow-ups each in the quarter
  inflated_signing a signed contract never served (distinct phone, no service at all)
  clock_set_back   a visit entered weeks late with the tablet's clock set back to the service day
  burst            eight made-up visits typed "live" in a quarter of an hour

genuine look-alikes (counted with the genuine records)
  paper_typist     a doctor types up a week of paper forms (five service days) in one evening:
                   four doctors' own demo weeks re-entered so, and four busier doctors' weeks of
                   5–9 visits a day added
  offline_upload   visits uploaded one to four days after entry, the tablet's clock right

Detection is the quarter job's (``detect_flags`` over 2026-Q3, as ``detect_flags_quarter`` runs it
on 1 October). Then the simulated verification round (``bench/fraud_verification.py``): each
institution draws its risk-weighted Q3 call-back sample and calls it, residents answer about the
records the calls pick, and the reviewer settles the disputes. A case counts as caught within
the quarter when a flag names it or a call disputed one of its records. Reported: recall per kind (cases, and records), overall; genuine records
that are the subject of a flag (per kind), genuine records of a flagged doctor-day or doctor
window, the typists' records flagged, genuine contracts flagged (per kind).
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import tempfile
import time as time_module
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

SEED = 20261206
ANCHOR = date(2026, 10, 5)
Q3_START, Q3_END = date(2026, 7, 1), date(2026, 9, 30)
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
VISIT = ("home_visit", "hypertension_followup")
RECHECKED = ("hypertension_followup", "diabetes_followup", "elderly_checkup")
CONTRACT_KINDS = ("shared_phone", "unaware_resident", "unreachable", "no_first_service",
                  "signed_not_served")  # fmt: skip


@dataclass
class Case:
    kind: str
    records: set[int] = field(default_factory=set)
    contracts: set[int] = field(default_factory=set)
    note: str = ""


# ------------------------------------------------------------------ database


def _database(engine: str, workdir: Path) -> tuple[str, Any]:
    if engine == "sqlite":
        return f"sqlite:///{workdir / 'fraud.sqlite3'}", None
    name = f"fdoctor_bench_fraud_{secrets.token_hex(3)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop


# ------------------------------------------------------------------ the injector


class Injector:
    def __init__(self, rng: random.Random) -> None:
        from fdoctor.auth.models import User
        from fdoctor.extensions import db
        from fdoctor.households.models import Resident
        from fdoctor.records.models import ServiceRecord

        self.rng = rng
        self.db = db
        self.cases: list[Case] = []
        self.typist_records: set[int] = set()
        self.offline_records: set[int] = set()
        self.doctors = list(
            db.session.execute(
                sa.select(User.id, User.org_unit_id)
                .where(User.role == "doctor", User.org_unit_id.is_not(None))
                .order_by(User.id)
            ).all()
        )
        self.residents: dict[int, list[Any]] = defaultdict(list)
        for row in db.session.execute(
            sa.select(
                Resident.id,
                Resident.team_id,
                Resident.county_id,
                Resident.institution_id,
                Resident.tag_hypertension,
            )
            .where(Resident.team_id.is_not(None), Resident.status == "active")
            .order_by(Resident.id)
        ):
            self.residents[row.team_id].append(row)
        self.q3 = list(
            db.session.scalars(
                sa.select(ServiceRecord)
                .where(ServiceRecord.service_date >= Q3_START, ServiceRecord.service_date <= Q3_END)
                .order_by(ServiceRecord.id)
            )
        )
        self.used_doctors: set[int] = set()
        self.last_start = Q3_START

    # --- helpers

    def doctor(self) -> Any:
        free = [
            d
            for d in self.doctors
            if d.id not in self.used_doctors and self.residents[d.org_unit_id]
        ]
        chosen = self.rng.choice(free)
        self.used_doctors.add(chosen.id)
        return chosen

    def add_records(self, rows: list[dict[str, Any]]) -> list[int]:
        from fdoctor.records.models import SERVICE_TYPES, ServiceRecord

        records = []
        for row in rows:
            resident, stype = row.pop("resident"), row["type"]
            entered = row.pop("entered_at")
            records.append(
                ServiceRecord(
                    client_uuid=str(uuid.uuid4()),
                    resident_id=resident.id,
                    category=SERVICE_TYPES[stype][0],
                    entered_at=entered,
                    entered_by_id=row["doctor_id"],
                    uploaded_at=row.pop("uploaded_at", entered + timedelta(seconds=40)),
                    clock_skew_seconds=row.pop("skew", self.rng.randint(-20, 20)),
                    device_id=f"PAD-{row['doctor_id']:05d}",
                    county_id=resident.county_id,
                    institution_id=resident.institution_id,
                    team_id=resident.team_id,
                    **row,
                )
            )
        self.db.session.add_all(records)
        self.db.session.flush()
        return [r.id for r in records]

    def reading(self, stype: str) -> dict[str, Any]:
        from decimal import Decimal

        rng = self.rng
        if stype == "hypertension_followup":
            controlled = rng.random() < 0.6
            if controlled:
                return {"systolic_bp": int(rng.triangular(108, 139, 128)),
                        "diastolic_bp": int(rng.triangular(62, 89, 80))}  # fmt: skip
            return {"systolic_bp": int(rng.triangular(141, 182, 152)),
                    "diastolic_bp": int(rng.triangular(78, 108, 94))}  # fmt: skip
        if stype == "diabetes_followup":
            return {"fasting_glucose": Decimal(f"{rng.triangular(4.6, 12.0, 7.0):.1f}")}
        return {}

    def weekday(self, first: date = Q3_START, last: date = Q3_END) -> date:
        while True:
            day = first + timedelta(days=self.rng.randint(0, (last - first).days))
            if day.weekday() < 5:
                return day

    # --- fakes

    def padded_day(self, n: int) -> None:
        for _ in range(n):
            doc = self.doctor()
            day = self.weekday(date(2026, 7, 20))
            k = self.rng.randint(10, 22)
            at = datetime.combine(day, time(8, 30))
            rows = []
            for _i in range(k):
                at += timedelta(minutes=self.rng.randint(8, 35))
                stype = self.rng.choice(VISIT)
                rows.append({"resident": self.rng.choice(self.residents[doc.org_unit_id]),
                             "doctor_id": doc.id, "service_date": day, "type": stype,
                             "entered_at": at, **self.reading(stype)})  # fmt: skip
            self.cases.append(Case("padded_day", set(self.add_records(rows)), note=f"{k} 次"))

    def re_entered(self, n: int) -> None:
        pool = [
            r
            for r in self.q3
            if r.type in RECHECKED and r.resident_id and r.service_date <= date(2026, 9, 25)
        ]
        for original in self.rng.sample(pool, n):
            day = original.service_date + timedelta(days=self.rng.randint(1, 4))
            extra: dict[str, Any] = {}
            if original.systolic_bp is not None:
                nudge = self.rng.choice((0, 0, 2, -2, 4, -4))
                extra = {"systolic_bp": original.systolic_bp + nudge,
                         "diastolic_bp": original.diastolic_bp + self.rng.choice((0, 2, -2))}  # fmt: skip
            elif original.fasting_glucose is not None:
                extra = {"fasting_glucose": original.fasting_glucose}
            resident = self._resident(original.resident_id)
            [rid] = self.add_records([{"resident": resident, "doctor_id": original.doctor_id,
                                       "service_date": day, "type": original.type,
                                       "entered_at": datetime.combine(day, time(16, 5)), **extra}])  # fmt: skip
            self.cases.append(Case("re_entered", {rid}))

    def _resident(self, resident_id: int) -> Any:
        for rows in self.residents.values():
            for row in rows:
                if row.id == resident_id:
                    return row
        raise LookupError(resident_id)

    def copied_reading(self, n: int) -> None:
        from fdoctor.records.models import ServiceRecord

        last: dict[int, Any] = {}
        for r in self.db.session.scalars(
            sa.select(ServiceRecord)
            .where(
                ServiceRecord.type == "hypertension_followup", ServiceRecord.service_date <= Q3_END
            )
            .order_by(ServiceRecord.service_date, ServiceRecord.id)
        ):
            last[r.resident_id] = r
        pool = [r for r in last.values() if r.service_date <= date(2026, 9, 10) and r.systolic_bp]
        for previous in self.rng.sample(pool, n):
            day = max(previous.service_date + timedelta(days=self.rng.randint(14, 60)), Q3_START)
            day = min(day, Q3_END)
            [rid] = self.add_records([{"resident": self._resident(previous.resident_id),
                                       "doctor_id": previous.doctor_id, "service_date": day,
                                       "type": "hypertension_followup",
                                       "systolic_bp": previous.systolic_bp,
                                       "diastolic_bp": previous.diastolic_bp,
                                       "entered_at": datetime.combine(day, time(11, 20))}])  # fmt: skip
            self.cases.append(Case("copied_reading", {rid}))

    def made_up_readings(self, n: int) -> None:
        for _ in range(n):
            doc = self.doctor()
            rows = []
            for _i in range(25):
                day = self.weekday()
                rows.append({"resident": self.rng.choice(self.residents[doc.org_unit_id]),
                             "doctor_id": doc.id, "service_date": day,
                             "type": "hypertension_followup",
                             "systolic_bp": self.rng.choice((130, 135, 138, 136, 130, 128, 120)),
                             "diastolic_bp": self.rng.choice((80, 85, 80, 88, 78, 90 - 2)),
                             "entered_at": datetime.combine(day, time(self.rng.randint(9, 17), 10))})  # fmt: skip
            self.cases.append(Case("made_up_readings", set(self.add_records(rows))))

    def _household(self, doc: Any, phone: str, n: int) -> tuple[int, list[Any]]:
        from fdoctor.contracts.models import Contract, ContractMember
        from fdoctor.core import citizen_id as cid
        from fdoctor.households.models import Household, Resident
        from fdoctor.org.models import GridCell

        model = self.rng.choice(self.residents[doc.org_unit_id])
        grid = self.db.session.scalar(
            sa.select(GridCell.id).where(GridCell.team_id == doc.org_unit_id).order_by(GridCell.id)
        )
        number = self.rng.randint(100_000, 999_999)
        household = Household(code=f"FAKE-{number}", county_id=model.county_id,
                              institution_id=model.institution_id, team_id=doc.org_unit_id,
                              grid_cell_id=grid, address=f"新村{number % 500}号", phone=phone,
                              responsible_doctor_id=doc.id)  # fmt: skip
        self.db.session.add(household)
        self.db.session.flush()
        people = []
        for i in range(n):
            born = date(
                1950 + self.rng.randint(0, 30), self.rng.randint(1, 12), self.rng.randint(1, 28)
            )
            citizen = cid.make("411002", born, (number + i) % 1000)
            resident = Resident(household_id=household.id, county_id=model.county_id,
                                institution_id=model.institution_id, team_id=doc.org_unit_id,
                                name=f"新户{number}-{i}", citizen_id=citizen, id_tail=citizen[-6:],
                                sex=cid.parse(citizen).sex, birth_date=born, phone=phone,
                                is_head=i == 0, tag_hypertension=True)  # fmt: skip
            self.db.session.add(resident)
            people.append(resident)
        self.db.session.flush()
        start = date(2026, 3, 1) + timedelta(days=self.rng.randint(0, 136))
        self.last_start = start
        contract = Contract(code=f"QYF{number}", household_id=household.id, doctor_id=doc.id,
                            signed_on=start, start_date=start, end_date=date(2027, 2, 28),
                            status="active", county_id=model.county_id,
                            institution_id=model.institution_id, team_id=doc.org_unit_id)  # fmt: skip
        self.db.session.add(contract)
        self.db.session.flush()
        for person in people:
            self.db.session.add(ContractMember(contract_id=contract.id, resident_id=person.id,
                                               is_active=True, county_id=model.county_id,
                                               institution_id=model.institution_id,
                                               team_id=doc.org_unit_id))  # fmt: skip
        self.db.session.flush()
        return contract.id, people

    def _phone(self) -> str:
        return f"13{self.rng.randint(0, 9)}{self.rng.randint(10_000_000, 99_999_999)}"

    def phantom_household(self, n: int) -> None:
        for _ in range(n):
            doc = self.doctor()
            phone = self._phone()
            case = Case("phantom_household")
            for _h in range(3):
                contract_id, people = self._household(doc, phone, 2)
                case.contracts.add(contract_id)
                for person in people:
                    for _v in range(2):
                        day = self.weekday()
                        case.records |= set(self.add_records([{"resident": person, "doctor_id": doc.id,
                            "service_date": day, "type": "hypertension_followup",
                            "entered_at": datetime.combine(day, time(15, 0)),
                            **self.reading("hypertension_followup")}]))  # fmt: skip
            self.cases.append(case)

    def inflated_signing(self, n: int) -> None:
        for _ in range(n):
            doc = self.rng.choice(self.doctors)
            contract_id, _people = self._household(doc, self._phone(), self.rng.randint(1, 3))
            self.cases.append(
                Case("inflated_signing", contracts={contract_id}, note=f"签约于 {self.last_start}")
            )

    def clock_set_back(self, n: int) -> None:
        for _ in range(n):
            doc = self.rng.choice(self.doctors)
            day = self.weekday(Q3_START, date(2026, 9, 10))
            claimed = datetime.combine(day, time(self.rng.randint(9, 17), self.rng.randint(0, 59)))
            real = claimed + timedelta(
                days=self.rng.randint(8, 25), minutes=self.rng.randint(0, 600)
            )
            stype = self.rng.choice(VISIT)
            [rid] = self.add_records([{"resident": self.rng.choice(self.residents[doc.org_unit_id]),
                                       "doctor_id": doc.id, "service_date": day, "type": stype,
                                       "entered_at": claimed, "uploaded_at": real + timedelta(seconds=30),
                                       "skew": int((claimed - real).total_seconds()),
                                       **self.reading(stype)}])  # fmt: skip
            self.cases.append(Case("clock_set_back", {rid}))

    def burst(self, n: int) -> None:
        for _ in range(n):
            doc = self.doctor()
            day = self.weekday()
            at = datetime.combine(day, time(17, 30))
            rows = []
            for _i in range(8):
                at += timedelta(seconds=self.rng.randint(60, 150))
                stype = self.rng.choice(VISIT)
                rows.append({"resident": self.rng.choice(self.residents[doc.org_unit_id]),
                             "doctor_id": doc.id, "service_date": day, "type": stype,
                             "entered_at": at, **self.reading(stype)})  # fmt: skip
            self.cases.append(Case("burst", set(self.add_records(rows))))

    # --- genuine look-alikes

    def paper_typists(self, n: int) -> None:
        """A week of a doctor's genuine visits, typed up in one evening at the week's end."""
        by_doctor_week: dict[tuple[int, date], list[Any]] = defaultdict(list)
        for r in self.q3:
            if r.service_date.weekday() < 5 and r.doctor_id not in self.used_doctors:
                monday = r.service_date - timedelta(days=r.service_date.weekday())
                by_doctor_week[(r.doctor_id, monday)].append(r)
        weeks = sorted((k for k, v in by_doctor_week.items() if len(v) >= 10 and k[1] >= Q3_START
                        and k[1] + timedelta(days=5) <= Q3_END), key=lambda k: (k[1], k[0]))  # fmt: skip
        chosen: list[tuple[int, date]] = []
        for key in self.rng.sample(weeks, len(weeks)):
            if key[0] not in {c[0] for c in chosen}:
                chosen.append(key)
            if len(chosen) == n:
                break
        for doctor_id, monday in chosen:
            self.used_doctors.add(doctor_id)
            at = datetime.combine(monday + timedelta(days=4), time(18, 0))
            for record in sorted(
                by_doctor_week[(doctor_id, monday)], key=lambda r: (r.service_date, r.id)
            ):
                at += timedelta(seconds=self.rng.randint(60, 170))
                record.entered_at = at
                record.entered_by_id = doctor_id
                record.uploaded_at = at + timedelta(minutes=1)
                record.clock_skew_seconds = self.rng.randint(-20, 20)
                self.typist_records.add(record.id)
        self.db.session.flush()

    def busy_typists(self, n: int) -> None:
        """Honest doctors who served 5–9 visits a day for a week and typed the forms up on Friday
        evening, one to three minutes apart (genuine records, added)."""
        for _ in range(n):
            doc = self.doctor()
            monday = self.weekday(Q3_START, date(2026, 9, 21))
            monday -= timedelta(days=monday.weekday())
            monday = max(monday, Q3_START + timedelta(days=(7 - Q3_START.weekday()) % 7))
            at = datetime.combine(monday + timedelta(days=4), time(18, 30))
            rows = []
            # Distinct residents: a real week does not visit one person twice.
            people = self.rng.sample(self.residents[doc.org_unit_id],
                                     min(45, len(self.residents[doc.org_unit_id])))  # fmt: skip
            for d in range(5):
                for _i in range(self.rng.randint(5, 9)):
                    if not people:
                        break
                    at += timedelta(seconds=self.rng.randint(60, 170))
                    stype = self.rng.choice(VISIT)
                    rows.append({"resident": people.pop(),
                                 "doctor_id": doc.id, "service_date": monday + timedelta(days=d),
                                 "type": stype, "entered_at": at, **self.reading(stype)})  # fmt: skip
            self.typist_records |= set(self.add_records(rows))

    def offline_uploads(self, n: int) -> None:
        pool = [r for r in self.q3 if r.id not in self.typist_records]
        for record in self.rng.sample(pool, n):
            record.uploaded_at = record.entered_at + timedelta(days=self.rng.randint(1, 4))
            record.clock_skew_seconds = self.rng.randint(-30, 30)
            self.offline_records.add(record.id)
        self.db.session.flush()

    def skew_evidence(self) -> None:
        """Genuine tablet records carry a clock difference of seconds (the rest sent none)."""
        for record in self.q3:
            if record.id not in self.typist_records | self.offline_records and record.device_id:
                record.clock_skew_seconds = self.rng.randint(-25, 25)
        self.db.session.flush()


# ------------------------------------------------------------------ measuring


def measure(
    injector: Injector, seconds: float, verification: dict[str, Any] | None = None
) -> dict[str, Any]:
    from fdoctor.contracts.models import Contract
    from fdoctor.extensions import db
    from fdoctor.flags.models import SuspicionFlag
    from fdoctor.records.models import ServiceRecord

    flags = db.session.execute(
        sa.select(SuspicionFlag.kind, SuspicionFlag.service_record_id, SuspicionFlag.contract_id,
                  SuspicionFlag.subject_key)
    ).all()  # fmt: skip
    record_kinds: dict[int, set[str]] = defaultdict(set)
    contract_kinds: dict[int, set[str]] = defaultdict(set)
    for kind, record_id, contract_id, _key in flags:
        if record_id is not None:
            record_kinds[record_id].add(kind)
        if contract_id is not None:
            contract_kinds[contract_id].add(kind)

    fake_records = {r for c in injector.cases for r in c.records}
    fake_contracts = {c_id for c in injector.cases for c_id in c.contracts}
    # Records of the faked contracts (phantom residents) are fakes too.
    per_kind: dict[str, dict[str, Any]] = {}
    disputed = verification["disputed_by_call"] if verification else set()
    for case in injector.cases:
        stats = per_kind.setdefault(case.kind, {"cases": 0, "caught": 0, "records": 0,
                                                "records_flagged": 0, "by": Counter(),
                                                "verified": 0, "either": 0})  # fmt: skip
        kinds = set().union(*(record_kinds.get(r, set()) for r in case.records),
                            *(contract_kinds.get(c, set()) for c in case.contracts))  # fmt: skip
        by_call = bool(disputed & case.records)
        stats["cases"] += 1
        stats["caught"] += bool(kinds)
        stats["verified"] += by_call
        stats["either"] += bool(kinds) or by_call
        stats["records"] += len(case.records)
        stats["records_flagged"] += sum(1 for r in case.records if record_kinds.get(r))
        stats["by"].update(kinds)
    for stats in per_kind.values():
        stats["recall"] = round(stats["caught"] / stats["cases"], 3)
        stats["recall_either"] = round(stats["either"] / stats["cases"], 3)
        stats["by"] = dict(stats["by"].most_common())

    genuine = list(
        db.session.execute(
            sa.select(ServiceRecord.id, ServiceRecord.doctor_id, ServiceRecord.service_date).where(
                ServiceRecord.service_date >= Q3_START, ServiceRecord.service_date <= Q3_END
            )
        ).all()
    )
    genuine = [g for g in genuine if g.id not in fake_records]
    flagged_genuine = [g for g in genuine if record_kinds.get(g.id)]
    by_kind = Counter(k for g in flagged_genuine for k in record_kinds[g.id])
    # A doctor-day (volume) or doctor-window (digit preference) flag implicates every record of it.
    days = {(int(k.split(":")[1]), date.fromisoformat(k.split(":")[2])) for kind, _r, _c, k in flags
            if kind == "volume"}  # fmt: skip
    windows = {int(k.split(":")[1]) for kind, _r, _c, k in flags if kind == "digit_preference"}
    implicated = [g for g in genuine if (g.doctor_id, g.service_date) in days or g.doctor_id in windows
                  or record_kinds.get(g.id)]  # fmt: skip
    genuine_contracts = [
        c
        for c in db.session.scalars(sa.select(Contract.id).where(Contract.status == "active"))
        if c not in fake_contracts
    ]
    flagged_contracts = [c for c in genuine_contracts if contract_kinds.get(c)]
    contract_by_kind = Counter(k for c in flagged_contracts for k in contract_kinds[c])
    cases = len(injector.cases)
    caught = sum(s["caught"] for s in per_kind.values())
    missed = [
        {"kind": c.kind, "note": c.note, "records": len(c.records), "contracts": len(c.contracts)}
        for c in injector.cases
        if not any(record_kinds.get(r) for r in c.records)
        and not any(contract_kinds.get(k) for k in c.contracts)
    ]
    from fdoctor.flags.detectors import VOLUME_TYPES

    # How busy the genuine days are: visits per doctor and service day (days with a visit).
    visits = Counter(
        (d, day)
        for rid, d, day in db.session.execute(
            sa.select(ServiceRecord.id, ServiceRecord.doctor_id, ServiceRecord.service_date).where(
                ServiceRecord.service_date >= Q3_START,
                ServiceRecord.service_date <= Q3_END,
                ServiceRecord.type.in_(VOLUME_TYPES),
            )
        )
        if rid not in fake_records
    )
    per_day = sorted(visits.values())
    either = sum(s["either"] for s in per_kind.values())
    verified = sum(s["verified"] for s in per_kind.values())
    round_figures = {k: v for k, v in (verification or {}).items() if k != "disputed_by_call"}
    return {
        "recall": {
            "overall": round(caught / cases, 3),
            "cases": cases,
            "caught": caught,
            "verified": verified,
            "either": either,
            "overall_either": round(either / cases, 3),
            "per_kind": per_kind,
        },  # fmt: skip
        "verification": round_figures,
        "genuine_records": {
            "total": len(genuine),
            "flagged": len(flagged_genuine),
            "flagged_share": round(len(flagged_genuine) / len(genuine), 4),
            "flagged_by_kind": dict(by_kind.most_common()),
            "implicated": len(implicated),
            "implicated_share": round(len(implicated) / len(genuine), 4),
        },
        "paper_typist": {
            "records": len(injector.typist_records),
            "flagged": sum(1 for r in injector.typist_records if record_kinds.get(r)),
            "flagged_by_kind": dict(
                Counter(
                    k for r in injector.typist_records for k in record_kinds.get(r, ())
                ).most_common()
            ),  # fmt: skip
        },
        "offline_upload": {
            "records": len(injector.offline_records),
            "flagged_clock_skew": sum(
                1 for r in injector.offline_records if "clock_skew" in record_kinds.get(r, ())
            ),  # fmt: skip
        },
        "genuine_contracts": {
            "active": len(genuine_contracts),
            "flagged": len(flagged_contracts),
            "flagged_share": round(len(flagged_contracts) / max(1, len(genuine_contracts)), 4),
            "flagged_by_kind": dict(contract_by_kind.most_common()),
        },
        "missed": missed,
        "genuine_visits_per_doctor_day": {
            "median": per_day[len(per_day) // 2] if per_day else 0,
            "p95": per_day[int(len(per_day) * 0.95)] if per_day else 0,
            "max": per_day[-1] if per_day else 0,
        },
        "flags_total": len(flags),
        "detect_seconds": round(seconds, 2),
    }


# ------------------------------------------------------------------ report


KIND_LABELS = {
    "padded_day": "单日虚增上门/随访（10–22 次，全天分散录入）",
    "re_entered": "同一随访/体检 1–4 天后再录一次",
    "copied_reading": "照抄上次血压的随访",
    "made_up_readings": "医生未测量、凭空填写 25 次随访（整数、控制线下）",
    "phantom_household": "虚构居民：同一电话的 3 户，签约并有随访",
    "inflated_signing": "虚增签约：签约后从未服务",
    "clock_set_back": "调慢平板时钟补录（晚 8–25 天）",
    "burst": "一刻钟内“现场”录入 8 次虚构服务",
}


def markdown(result: dict[str, Any], meta: dict[str, Any]) -> str:
    r = result
    lines = [
        "# Fraud benchmark (issue 16, item 6): flags against realistic fakes",
        "",
        f"Command: `.venv/bin/python bench/fraud.py --db {meta['db']} --out {meta['out']}`  ",
        f"City: demo generator, scale `{meta['scale']}`, seed {meta['city_seed']}, anchor {ANCHOR}; "
        f"injection seed {meta['seed']}; window 2026-Q3; database {meta['db']}; "
        f"detection {r['detect_seconds']} s, {r['flags_total']} flags in all.",
        "",
        "Recall is per injected case: caught by flags when any flag names one of its records or "
        "contracts, by verification when a call-back disputed one of its records, and within the "
        "quarter when either did. Target of the issue: ≥ 90% caught (flags + verification), "
        "≤ 5% genuine flagged or disputed.",
        "",
        "## Recall per kind",
        "",
        "| kind | cases | by flags | by a call | flags + calls | fake records flagged | by flag kind |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind, s in r["recall"]["per_kind"].items():
        by = ", ".join(f"{k} {n}" for k, n in s["by"].items()) or "—"
        lines.append(
            f"| {kind} — {KIND_LABELS[kind]} | {s['cases']} | {s['caught']} ({s['recall']:.0%}) | "
            f"{s['verified']} | {s['either']} ({s['recall_either']:.0%}) | "
            f"{s['records_flagged']}/{s['records']} | {by} |"
        )
    rc = r["recall"]
    lines += [
        f"| **overall** | {rc['cases']} | {rc['caught']} ({rc['overall']:.0%}) | {rc['verified']} | "
        f"**{rc['either']} ({rc['overall_either']:.0%})** | | |",
        "",
        "Missed: "
        + ("; ".join(f"{m['kind']} {m['note']}".strip() for m in r["missed"]) or "none")
        + ". Genuine visits (volume types) per doctor and service day: median "
        f"{r['genuine_visits_per_doctor_day']['median']}, 95th percentile "
        f"{r['genuine_visits_per_doctor_day']['p95']}, max {r['genuine_visits_per_doctor_day']['max']}.",
        "",
        "## False alarms on genuine data",
        "",
    ]
    g, t, o, c = (
        r["genuine_records"],
        r["paper_typist"],
        r["offline_upload"],
        r["genuine_contracts"],
    )
    by = ", ".join(f"{k} {n}" for k, n in g["flagged_by_kind"].items()) or "—"
    cby = ", ".join(f"{k} {n}" for k, n in c["flagged_by_kind"].items()) or "—"
    tby = ", ".join(f"{k} {n}" for k, n in t["flagged_by_kind"].items()) or "—"
    lines += [
        "| what | count | of | share | by flag kind |",
        "|---|---:|---:|---:|---|",
        f"| genuine Q3 records the subject of a flag | {g['flagged']} | {g['total']} | "
        f"{g['flagged_share']:.2%} | {by} |",
        f"| genuine Q3 records implicated (their doctor-day or doctor-window flagged too) | "
        f"{g['implicated']} | {g['total']} | {g['implicated_share']:.2%} | |",
        f"| honest paper typists' records (a week typed in one evening) | {t['flagged']} | "
        f"{t['records']} | {t['flagged'] / max(1, t['records']):.0%} | {tby} |",
        f"| offline uploads (1–4 days late, clock right) flagged clock_skew | "
        f"{o['flagged_clock_skew']} | {o['records']} | "
        f"{o['flagged_clock_skew'] / max(1, o['records']):.0%} | |",
        f"| genuine active contracts flagged | {c['flagged']} | {c['active']} | "
        f"{c['flagged_share']:.2%} | {cby} |",
        "",
    ]
    v = r.get("verification") or {}
    if v:
        sample_share = v["sampled_with_fake"] / max(1, v["sampled"])
        candidate_share = v["candidates_with_fake"] / max(1, v["candidates"])
        lines += [
            "## The verification round",
            "",
            f"Every institution's 2026-Q3 sample: {v['sampled']} residents drawn of "
            f"{v['candidates']} signed; {v['calls']} calls answered, {v['unreachable']} "
            f"unreachable. Residents with a made-up record were {sample_share:.1%} of the sample "
            f"against {candidate_share:.1%} of the candidates (a uniform draw would spend the "
            f"latter): the risk weighting at work. Made-up records found false after review: "
            f"{v['found_false']}. Genuine records asked about: {v['genuine_records_asked']}, "
            f"denied by a resident who misremembered (then confirmed by the reviewer): "
            f"{v['genuine_records_denied']} "
            f"({v['genuine_records_denied'] / max(1, v['genuine_records_asked']):.1%}).",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=SEED, help="injection seed")
    parser.add_argument("--city-seed", type=int, default=SEED + 1, help="the city's seed")
    parser.add_argument("--scale", default="demo", help="demo generator scale (demo or small)")
    parser.add_argument("--out", type=Path, default=None, help="folder for fraud-<db>.json/.md")
    args = parser.parse_args()

    from bench.fraud_verification import verification_round
    from fdoctor import create_app
    from fdoctor.core import clock
    from fdoctor.demo.generator import load_demo
    from fdoctor.extensions import db
    from fdoctor.flags.services import detect_flags

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = _database(args.db, Path(tmp))
        try:
            app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                              "SECRET_KEY": secrets.token_urlsafe(32),
                              "AUDIT_KEY": secrets.token_urlsafe(32)})  # fmt: skip
            with app.app_context(), clock.frozen(datetime.combine(ANCHOR, time(3, 40))):
                db.create_all()
                load_demo(seed=args.city_seed, anchor=ANCHOR, scale=args.scale)
                db.session.commit()
                rng = random.Random(args.seed)
                inj = Injector(rng)
                inj.paper_typists(4)
                inj.busy_typists(4)
                inj.offline_uploads(150)
                inj.skew_evidence()
                inj.padded_day(8)
                inj.re_entered(20)
                inj.copied_reading(20)
                inj.made_up_readings(3)
                inj.phantom_household(4)
                inj.inflated_signing(12)
                inj.clock_set_back(20)
                inj.burst(4)
                db.session.commit()
                started = time_module.perf_counter()
                detect_flags(Q3_START, Q3_END)
                db.session.commit()
                seconds = time_module.perf_counter() - started
                verification = verification_round(inj, random.Random(args.seed + 2))
                db.session.commit()
                result = measure(inj, seconds, verification)
                db.session.remove()
                db.engine.dispose()
        finally:
            if drop is not None:
                drop()
    meta = {"db": args.db, "scale": args.scale, "seed": args.seed, "city_seed": args.city_seed,
            "out": str(args.out) if args.out else "-"}  # fmt: skip
    report = markdown(result, meta)
    print(report)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"fraud-{args.db}.json").write_text(
            json.dumps({**meta, **result}, ensure_ascii=False, indent=1, default=str) + "\n"
        )
        (args.out / f"fraud-{args.db}.md").write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
