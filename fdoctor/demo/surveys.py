"""The quarterly verification draws and calls (抽查复核), walk-in satisfaction surveys and
complaints."""

from __future__ import annotations

from datetime import date, timedelta

from assessments import sampling
from fdoctor.demo.dates import add_months, quarter_label, quarter_start
from fdoctor.demo.drawing import DrawingBase
from fdoctor.demo.entities import Person, Place, Sample, Team
from fdoctor.demo.settings import Row
from fdoctor.demo.vocabulary import COMPLAINT_CHANNELS, COMPLAINTS, SURVEY_COMMENTS


class SurveySteps(DrawingBase):
    """Builds verification samples and calls, surveys and complaints."""

    def verification_quarters(self) -> list[tuple[date, date]]:
        """The quarters of the service window that ended at least a week before the anchor."""
        result: list[tuple[date, date]] = []
        start = quarter_start(self.window_start)
        while (end := add_months(start, 3) - timedelta(days=1)) <= self.anchor - timedelta(days=7):
            result.append((start, end))
            start = add_months(start, 3)
        return result

    def grade(self, team: Team) -> int:
        q = team.traits.quality
        weights = (0.45 + 0.4 * q, 0.32 - 0.12 * q, 0.2 - 0.18 * q, 0.1 - 0.1 * q)
        return self.rng.choices((100, 80, 60, 20), weights=weights)[0]

    def response(
        self,
        team: Team,
        person: Person,
        period: str,
        day: date,
        channel: str,
        surveyor: int | None,
        item_id: int | None,
    ) -> Row:
        rng = self.rng
        satisfaction = self.grade(team)
        comment = rng.choice(SURVEY_COMMENTS) if rng.random() < 0.15 else None
        return self.add(
            "survey_response",
            {
                "id": self.next_id("survey_response"),
                "client_uuid": self.uuid(),
                "resident_id": person.id,
                "period": period,
                "surveyed_on": day,
                "channel": channel,
                "surveyor_id": surveyor,
                "sample_item_id": item_id,
                "satisfaction": satisfaction,
                "knows_doctor": rng.random() < team.traits.knows,
                "comment": comment,
                "created_at": self.at(day, 9, 18),
                "county_id": team.county_id,
                "institution_id": team.institution.id,
                "team_id": team.id,
            },
        )

    def build_surveys(
        self, institutions: list[Place] | None = None, teams: list[Team] | None = None
    ) -> None:
        """Each quarter each centre draws residents per team and calls them (抽查复核)."""
        rng = self.rng
        for q_start, q_end in self.verification_quarters():
            for institution in self.institutions if institutions is None else institutions:
                drawn_on = q_end + timedelta(days=rng.randint(1, 6))
                sample = Sample(
                    self.next_id("verification_sample"),
                    institution,
                    quarter_label(q_start),
                    q_start,
                    q_end,
                    drawn_on,
                )
                seed = rng.getrandbits(63)  # like assessments.sampling.new_seed, but seeded
                self.add(
                    "verification_sample",
                    {
                        "id": sample.id,
                        "org_unit_id": institution.id,
                        "county_id": institution.county_id,
                        "level": "L2",
                        "period": sample.period,
                        "seed": seed,
                        "rate": "0.05",
                        "minimum": 20,
                        "drawn_at": self.at(drawn_on, 9, 11),
                        "drawn_by_id": institution.admin_id,
                    },
                )
                # Drawn with the app's own sampler, so the recorded seed replays this very draw.
                drawn_teams = [t for t in self.teams if t.institution is institution]
                signed = {
                    team.id: {
                        p.id: p
                        for h in team.homes
                        for p in h.people
                        if any(s <= q_end and e >= q_start for s, e, _ in p.spans)
                    }
                    for team in drawn_teams
                }
                drawn = sampling.draw_residents_per_team(
                    {team_id: list(people) for team_id, people in signed.items()}, seed
                )
                order = 0
                for team in drawn_teams:
                    for resident_id in drawn[team.id]:
                        order += 1
                        self.sample_call(sample, team, signed[team.id][resident_id], order)
        for team in self.teams if teams is None else teams:
            self.walk_in_surveys(team)

    def sample_call(self, sample: Sample, team: Team, person: Person, order: int) -> None:
        """One sampled resident: the call, their ratings and what they say about their records."""
        rng = self.rng
        done = rng.random() < 0.9
        item_id = self.next_id("verification_sample_item")
        self.add(
            "verification_sample_item",
            {
                "id": item_id,
                "sample_id": sample.id,
                "team_id": team.id,
                "resident_id": person.id,
                "draw_order": order,
                "status": "done" if done else "unreachable",
            },
        )
        if not done:
            return
        day = min(sample.drawn_on + timedelta(days=rng.randint(0, 10)), self.last_day)
        channel = "phone" if rng.random() < 0.9 else "visit"
        surveyor = sample.institution.admin_id
        response = self.response(team, person, sample.period, day, channel, surveyor, item_id)
        records = [
            r
            for r in self.records_by_resident[person.id]
            if sample.q_start <= r["service_date"] <= sample.q_end
        ]
        for record in rng.sample(records, min(2, len(records))):
            roll = rng.random()
            if roll < team.traits.bad:
                answer = "not_received"
                # Followed up by the centre: some turn out false, the rest stay disputed.
                record["verification"] = "false" if rng.random() < 0.35 else "disputed"
            elif roll < team.traits.bad + 0.06:
                answer = "unsure"
            else:
                answer = "received"
                record["verification"] = "confirmed"
            self.add(
                "survey_record_check",
                {
                    "id": self.next_id("survey_record_check"),
                    "response_id": response["id"],
                    "service_record_id": record["id"],
                    "answer": answer,
                },
            )

    def walk_in_surveys(self, team: Team) -> None:
        """Self-service (扫码) and home-visit questionnaires, spread over the year."""
        rng = self.rng
        signed = [p for h in team.homes for p in h.people if p.spans]
        if not signed:
            return
        for lo, hi in self.months():
            for _ in range(self.poisson(1.5)):
                person = rng.choice(signed)
                day = self.day_between(lo, hi)
                if self.contract_on(person, day) is None:
                    continue
                if rng.random() < 0.7:
                    channel, surveyor = "self", None
                else:
                    channel, surveyor = "visit", team.institution.admin_id
                self.response(team, person, quarter_label(day), day, channel, surveyor, None)

    def build_complaints(self) -> None:
        rng = self.rng
        count = max(6, len(self.teams) // 3) + rng.randint(0, 4)
        statuses = ["verified", "rejected", "open"] * 2
        statuses += rng.choices(("verified", "rejected", "open"), weights=(4, 4, 2), k=count - 6)
        for status in statuses:
            team = rng.choice(self.teams)
            institution = team.institution
            if status == "open":
                received = self.last_day - timedelta(days=rng.randint(0, 25))
            else:
                received = self.day_between(self.window_start, self.last_day - timedelta(days=20))
            resolved_on = min(received + timedelta(days=rng.randint(3, 20)), self.last_day)
            resolution = {
                "verified": "经核实情况属实，已对责任医生批评教育并责令整改，向投诉人反馈",
                "rejected": "经调查核实，投诉情况不属实，已向投诉人解释说明",
                "open": None,
            }[status]
            sex = rng.choice(("先生", "女士"))
            self.add(
                "complaint",
                {
                    "id": self.next_id("complaint"),
                    "doctor_id": rng.choice(team.member_ids) if rng.random() < 0.7 else None,
                    "received_on": received,
                    "channel": rng.choice(COMPLAINT_CHANNELS),
                    "complainant": self.surname() + sex,
                    "content": rng.choice(COMPLAINTS),
                    "status": status,
                    "resolution": resolution,
                    "resolved_by_id": institution.admin_id if resolution else None,
                    "resolved_at": self.at(resolved_on) if resolution else None,
                    "recorded_by_id": institution.admin_id,
                    "created_at": self.at(received),
                    "county_id": team.county_id,
                    "institution_id": institution.id,
                    "team_id": team.id,
                },
            )
