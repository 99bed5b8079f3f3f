"""Service records: public-health services inside the windows of ``assessments.care_schedule``
for every resident, and consultations, home visits, health education and referrals under a
contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from fdoctor.core import citizen_id as cid
from fdoctor.demo.dates import add_months, add_years
from fdoctor.demo.drawing import DrawingBase
from fdoctor.demo.entities import Home, Person, Team
from fdoctor.demo.settings import Row
from fdoctor.demo.vocabulary import (
    CHILD_CHECKS,
    CONSULT_NOTES,
    EDUCATION_TOPICS,
    HOME_VISIT_NOTES,
    MATERNAL_VISITS,
    MENTAL_NOTES,
    REFERRAL_DOWN_NOTES,
    REFERRAL_UP_NOTES,
    VACCINES,
)
from fdoctor.records.models import SERVICE_TYPES


class ServiceRecordSteps(DrawingBase):
    """Builds each team's service records."""

    def record(self, team: Team, type_: str, day: date, doctor_id: int, **fields: Any) -> Row:
        """One service record; entry is usually within hours, late for a team-specific share."""
        rng = self.rng
        served_at = self.at(day)
        roll = rng.random()
        # Timely entries stay within 48 h of the service date's midnight and late ones are past
        # 48 h from the service itself, so A5 reads the same whichever of the two it measures.
        if roll < team.traits.late:
            entered = served_at + timedelta(minutes=rng.randint(49 * 60, 10 * 24 * 60))
        elif roll < 0.72:
            entered = served_at + timedelta(minutes=rng.randint(5, 6 * 60))
        else:
            entered = self.at(day + timedelta(days=1), 8, 21)
        row: Row = {
            "id": self.next_id("service_record"),
            "client_uuid": self.uuid(),
            "resident_id": None,
            "contract_id": None,
            "doctor_id": doctor_id,
            "station_id": team.station_id,
            "service_date": day,
            "category": SERVICE_TYPES[type_][0],
            "type": type_,
            "systolic_bp": None,
            "diastolic_bp": None,
            "fasting_glucose": None,
            "attendance": None,
            "topic": None,
            "other_institution_id": None,
            "other_institution_name": None,
            "referral_received_at": None,
            "referral_received_by_id": None,
            "notes": None,
            "entered_at": min(entered, self.entry_limit),
            "entered_by_id": doctor_id,
            "device_id": f"PAD-{doctor_id:05d}" if rng.random() < 0.6 else None,
            "version": 1,
            "verification": "unverified",
            "county_id": team.county_id,
            "institution_id": team.institution.id,
            "team_id": team.id,
        }
        row.update(fields)
        return self.add("service_record", row)

    def serve(
        self, home: Home, person: Person, type_: str, day: date, doctor_id: int = 0, **fields: Any
    ) -> Row:
        """A service to one resident, by their own doctor unless given, under the contract in
        force that day (if any)."""
        if not doctor_id:
            doctor_id = (
                home.doctor_id
                if self.rng.random() < 0.75
                else self.rng.choice(home.team.member_ids)
            )
        row = self.record(
            home.team,
            type_,
            day,
            doctor_id,
            resident_id=person.id,
            contract_id=self.contract_on(person, day),
            station_id=home.cell.station_id,
            **fields,
        )
        self.records_by_resident[person.id].append(row)
        return row

    def notes(self, choices: tuple[str, ...]) -> dict[str, Any]:
        return {"notes": self.rng.choice(choices)}

    def blood_pressure(self, controlled: bool) -> dict[str, int]:
        rng = self.rng
        if rng.random() < 0.12:  # one reading in eight goes against the patient's usual state
            controlled = not controlled
        if controlled:
            systolic, diastolic = rng.triangular(108, 139, 128), rng.triangular(62, 89, 80)
        else:
            systolic, diastolic = rng.triangular(141, 182, 152), rng.triangular(78, 108, 94)
        return {"systolic_bp": int(systolic), "diastolic_bp": int(diastolic)}

    def glucose(self, controlled: bool) -> dict[str, Decimal]:
        rng = self.rng
        if rng.random() < 0.12:
            controlled = not controlled
        value = rng.triangular(4.6, 6.9, 6.1) if controlled else rng.triangular(7.1, 14.5, 8.6)
        return {"fasting_glucose": Decimal(f"{value:.1f}")}

    def build_services(self, team: Team) -> None:
        for home in team.homes:
            for person in home.people:
                self.public_health(home, person)
                if person.spans:
                    self.medical_services(home, person)
        self.education_events(team)
        self.referrals(team)

    def public_health(self, home: Home, person: Person) -> None:
        """基本公共卫生: due to every resident, signed or not, in the windows of
        assessments.care_schedule. Signed residents are served a little more reliably."""
        rng, traits = self.rng, home.team.traits
        engaged = 1.0 if person.spans else 0.85
        quarters = self.quarters()
        if "hypertension" in person.tags:
            rate = traits.followup * engaged
            bp = partial(self.blood_pressure, person.controlled_bp)
            self.periodic(home, person, "hypertension_followup", rate, quarters, bp)
        if "diabetes" in person.tags:
            rate = (traits.followup - 0.03) * engaged
            glucose = partial(self.glucose, person.controlled_glucose)
            self.periodic(home, person, "diabetes_followup", rate, quarters, glucose)
        if "mental_severe" in person.tags:
            rate = (traits.followup + 0.05) * engaged
            state = partial(self.notes, MENTAL_NOTES)
            self.periodic(home, person, "mental_followup", rate, quarters, state)
        sixty_five = add_years(person.born, 65)
        if sixty_five <= self.last_day:
            # One checkup per calendar year from the 65th birthday on.
            years = [
                (max(date(year, 1, 1), sixty_five), date(year, 12, 31))
                for year in range(self.window_start.year, self.last_day.year + 1)
            ]
            checkup = partial(self.notes, ("老年人年度健康体检",))
            self.periodic(home, person, "elderly_checkup", traits.checkup * engaged, years, checkup)
        if (self.anchor - person.born).days < 8 * 365:
            self.child_services(home, person, engaged)
        if person.pregnancy:
            self.maternal_services(home, person, engaged)
        if person.tb_start:
            for k in range(6):  # once in each month of the six-month course
                day = add_months(person.tb_start, k) + timedelta(days=rng.randint(0, 20))
                if self.in_window(day) and rng.random() < 0.93:
                    self.serve(home, person, "tb_followup", day, notes="督导服药，评估不良反应")

    def periodic(
        self,
        home: Home,
        person: Person,
        type_: str,
        rate: float,
        periods: list[tuple[date, date]],
        fields: Callable[[], Mapping[str, Any]],
    ) -> None:
        """One service per period (quarter or year), some missed; an uncontrolled reading
        brings a recheck within a month."""
        rng = self.rng
        for p_start, p_end in periods:
            lo, hi = max(p_start, self.window_start), min(p_end, self.last_day)
            if lo > hi:
                continue
            share = ((hi - lo).days + 1) / ((p_end - p_start).days + 1)
            # A period only partly inside the window had its service inside it in proportion.
            if rng.random() >= rate * min(1.0, 1.3 * share):
                continue
            day = self.day_between(lo, hi)
            row = self.serve(home, person, type_, day, **fields())
            uncontrolled = (row["systolic_bp"] or 0) >= 140 or (row["diastolic_bp"] or 0) >= 90
            uncontrolled |= (row["fasting_glucose"] or 0) >= 7
            recheck = day + timedelta(days=rng.randint(14, 28))
            if uncontrolled and rng.random() < 0.25 and self.in_window(recheck):
                self.serve(home, person, type_, recheck, row["doctor_id"], **fields())

    def child_services(self, home: Home, person: Person, engaged: float) -> None:
        rng = self.rng
        rate = min(0.98, home.team.traits.checkup + 0.12) * engaged
        for months, label in CHILD_CHECKS:
            # Inside the care-schedule windows: 28-30 days old for the neonatal check, within a
            # month of the target age (later ages: two or three) for the others.
            if months == 1:
                day = person.born + timedelta(days=rng.randint(28, 30))
            else:
                day = add_months(person.born, months) + timedelta(days=rng.randint(-10, 20))
            if self.in_window(day) and rng.random() < rate:
                self.serve(home, person, "child_checkup", day, notes=label)
        for months, vaccines in VACCINES:
            late = rng.randint(0, 20 if months else 1)
            day = add_months(person.born, months) + timedelta(days=late)
            # Vaccination reaches nearly every child; any team member may give it.
            if self.in_window(day) and rng.random() < 0.96:
                nurse = rng.choice(home.team.member_ids)
                self.serve(home, person, "vaccination", day, nurse, notes=vaccines)

    def maternal_services(self, home: Home, person: Person, engaged: float) -> None:
        rng = self.rng
        assert person.pregnancy is not None
        lmp, delivery = person.pregnancy
        rate = min(0.98, home.team.traits.checkup + 0.1) * engaged
        for first, last, label, after_delivery in MATERNAL_VISITS:
            since = delivery if after_delivery else lmp
            if since is None:
                continue  # not delivered yet
            day = since + timedelta(days=rng.randint(first, last))
            if not after_delivery and delivery is not None and day >= delivery:
                continue  # born before this antenatal visit
            if self.in_window(day) and rng.random() < rate:
                self.serve(home, person, "maternal_visit", day, notes=label)

    def medical_services(self, home: Home, person: Person) -> None:
        """Consultations, home visits and prescription reviews while signed, by need and by the
        team's volume."""
        segments = self.covered(person, self.window_start, self.last_day)
        share = sum((e - s).days + 1 for s, e, _ in segments) / 365
        if not share:
            return
        age = cid.age_on(person.born, self.anchor)
        chronic = bool(person.tags & {"hypertension", "diabetes"})
        base = 2.4 if chronic else 1.8 if age >= 65 else 1.1 if age <= 6 else 0.6
        housebound = age >= 75 or bool(person.tags & {"disabled", "mental_severe"})
        volume = home.team.traits.volume * self.spec.volume
        plan = (
            ("consultation", base * volume * share, CONSULT_NOTES),
            ("home_visit", (1.5 if housebound else 0.06) * volume * share, HOME_VISIT_NOTES),
            ("prescription_review", (1.4 if chronic else 0.0) * share, ("长处方续方，用药指导",)),
        )
        for type_, lam, notes in plan:
            for _ in range(self.poisson(lam)):
                day = self.pick_day(segments)
                assert day is not None
                self.serve(home, person, type_, day, notes=self.rng.choice(notes))

    def education_events(self, team: Team) -> None:
        """Monthly health-education sessions (健康教育活动), a few months skipped."""
        rng = self.rng
        place = "村委会大院" if team.rural else "社区党群服务中心"
        for lo, hi in self.months():
            if rng.random() < team.traits.education_skip:
                continue
            day = self.day_between(lo, hi)
            doctor = team.leader_id if rng.random() < 0.5 else rng.choice(team.member_ids)
            row = self.record(
                team,
                "health_education",
                day,
                doctor,
                attendance=rng.randint(12, 45 if team.rural else 60),
                topic=rng.choice(EDUCATION_TOPICS),
                notes=f"地点：{place}",
            )
            if rng.random() < 0.4:
                row["verification"] = "confirmed"  # the centre checked the sign-in sheet

    def referrals(self, team: Team) -> None:
        """Two-way referrals (双向转诊) each month; every team has made at least a couple."""
        rng = self.rng
        signed = [(h, p) for h in team.homes for p in h.people if p.spans]
        if not signed:
            return
        months = list(self.months())
        made = 0
        for attempt in range(len(months) + 60):
            if attempt < len(months):
                lo, hi = months[attempt]
                count = self.poisson(team.traits.referrals)
            elif made < 2:
                lo, hi = rng.choice(months)
                count = 1
            else:
                break
            for _ in range(count):
                home, person = rng.choice(signed)
                day = self.pick_day(self.covered(person, lo, hi))
                if day is not None:
                    self.referral(home, person, day)
                    made += 1

    def referral(self, home: Home, person: Person, day: date) -> None:
        rng, team = self.rng, home.team
        doctor = home.doctor_id
        receiver: int | None = doctor  # a referral down is received by the team itself
        if rng.random() < 0.65:
            type_, notes = "referral_up", rng.choice(REFERRAL_UP_NOTES)
            if team.station_id is not None and rng.random() < 0.5:
                # A village clinic or community station refers up to its own centre.
                other_id, other_name = team.institution.id, team.institution.name
                receiver = team.institution.admin_id
            else:
                other_id, other_name, receiver = None, rng.choice(team.county.hospitals), None
        else:
            type_, notes = "referral_down", rng.choice(REFERRAL_DOWN_NOTES)
            other_id, other_name = None, rng.choice(team.county.hospitals)
        received_at = None
        if rng.random() < team.traits.receipt:
            received_at = self.at(day) + timedelta(hours=rng.randint(2, 72))
            if received_at > self.entry_limit:
                received_at = None  # not confirmed yet
        self.serve(
            home,
            person,
            type_,
            day,
            doctor,
            other_institution_id=other_id,
            other_institution_name=other_name,
            referral_received_at=received_at,
            referral_received_by_id=receiver if received_at else None,
            notes=notes,
        )
