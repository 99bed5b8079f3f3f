"""The demo city lives through its last completed year and this year so far (演示城市的一年).

After the bulk load the city has records but no assessments. ``live_through`` runs the app's own
services under a frozen clock, day by day, as the users would have: each completed month, quarter,
half-year and year is opened the day after it ends, its manual indicators scored, submitted,
published, acknowledged (each year a few appealed: one accepted, one rejected), rectification
items rectified and verified. Each year's settlement configuration is entered on 2 January; the
first year's pre-allocation is locked in January; last year's settlement is built, reviewed,
approved and locked once its L4 is published, and the following year's pre-allocation locked;
this year's pre-allocation is built and reviewed by the city, waiting for the finance officer to
approve, lock and export it. Everything goes through the services, so the audit trail records it.

The records start on 1 January of the last settled year (``dates.history_start``: last year, or
the year before in the first fortnight of January); a period is lived through when the records
cover at least 85% of it and it ended before the anchor. Steps that would fall after the anchor
are left undone (the newest period is still in progress, as it would be).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from sqlalchemy import select

from assessments.periods import Period, first_judgeable_day
from assessments.tiers import Level
from fdoctor.assessments import appeals, marking, rectification, steps
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.l4 import draw_l4_spot_check
from fdoctor.assessments.levels import ASSESSEE_ROLE, ASSESSOR_ROLE
from fdoctor.assessments.models import Appeal, Assessment, Rectification
from fdoctor.assessments.opening import open_assessments
from fdoctor.assessments.reads import unit_leader
from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.core.roles import Role
from fdoctor.demo.dates import SETTLEMENT_DAYS_AFTER_YEAR, history_start
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.settlement.approval import transition
from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.parameters import (
    known_posts,
    pools,
    post_coefficients,
    save_funds,
    save_parameters,
    save_post,
    save_split,
    save_standard,
    splits,
    workload_standards,
)
from fdoctor.settlement.ratings import save_ratings, team_members
from fdoctor.teamsplit.leaders import leader_rule, save_leader_rule
from fdoctor.teamsplit.models import AttendanceRecord

# Days after a period's first judgeable day on which each step happens.
SCORE_DAY, PUBLISH_DAY, APPEAL_DAY, ANSWER_DAY, ACK_DAY = 2, 4, 6, 9, 12
RECTIFY_DAY, VERIFY_DAY = 20, 26
COVERAGE = Decimal("0.85")  # share of a period the records must cover
# Only the demo scale: "small" (tests) has as many teams, so it would cost as much; the
# benchmark scales have their own preparation.
LIVED_SCALES = ("demo",)
LEVELS = (Level.L1, Level.L2, Level.L3, Level.L4)


@dataclass
class YearSummary:
    """What the demo city lived through (for the CLI's report and the tests)."""

    periods: dict[str, list[str]] = field(default_factory=dict)  # level → periods
    published: int = 0
    appeals: int = 0
    rectifications: int = 0
    settlements: list[str] = field(default_factory=list)


def lived_periods(anchor: date) -> dict[str, list[Period]]:
    """The periods of each level that ended before ``anchor`` and that the records cover."""
    window_start = history_start(anchor)
    result: dict[str, list[Period]] = {}
    for level in LEVELS:
        kind = level.period_kind
        periods: list[Period] = []
        period = Period.containing(kind, anchor).previous()
        while period.end >= window_start:
            start = max(period.start, window_start)
            covered = Decimal((period.end - start).days + 1) / (
                (period.end - period.start).days + 1
            )
            if covered >= COVERAGE and first_judgeable_day(period) <= anchor:
                periods.append(period)
            period = period.previous()
        result[level.value] = sorted(periods)
    if result["L4"]:
        # The year's L4 needs both of its half-years' L3.
        halves = {str(p) for p in result["L3"]}
        result["L4"] = [p for p in result["L4"] if {f"{p.year}-H1", f"{p.year}-H2"} <= halves]
    return result


class _Life:
    def __init__(self, seed: int, anchor: date) -> None:
        self.seed = seed
        self.anchor = anchor
        self.summary = YearSummary()
        self.appealed: set[tuple[int, str]] = set()  # (year, "accepted" / "rejected") once done
        self._leaders: dict[tuple[int, Role], User | None] = {}

    def leader(self, unit_id: int, role: Role) -> User | None:
        """``unit_leader``, looked up once per unit and role (no user changes while living)."""
        key = (unit_id, role)
        if key not in self._leaders:
            self._leaders[key] = unit_leader(unit_id, role)
        return self._leaders[key]

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(map(str, (self.seed, *parts))))

    def on(self, day: date, step: Callable[[], None]) -> None:
        """Run ``step`` with the clock frozen on ``day`` (skipped when after the anchor)."""
        if day > self.anchor:
            return
        with clock.frozen(day):
            step()

    # ----------------------------------------------------------------------- assessments

    def assessments(self, level: str, period: Period) -> list[Assessment]:
        return list(
            db.session.scalars(
                select(Assessment)
                .where(
                    Assessment.level == level,
                    Assessment.period == str(period),
                    Assessment.is_current.is_(True),
                )
                .order_by(Assessment.unit_id)
            )
        )

    def assessor(self, assessment: Assessment) -> User | None:
        unit = assessment.assessor_unit_id
        return self.leader(unit, ASSESSOR_ROLE[assessment.level]) if unit else None

    def assessee(self, assessment: Assessment) -> User | None:
        return self.leader(assessment.unit_id, ASSESSEE_ROLE[assessment.level])

    def score(self, assessment: Assessment) -> None:
        rng = self.rng(assessment.level, assessment.period, assessment.unit_id)
        user = self.assessor(assessment)
        if user is None:
            return
        weak = rng.random() < 0.15  # one indicator clearly short: a rectification item
        entries: dict[str, tuple[object, str | None]] = {}
        manual = [i for i in assessment.items if i.source == "manual"]
        for n, item in enumerate(manual):
            share = Decimal("0.5") if weak and n == 0 else Decimal(rng.choice(_SHARES))
            points = (item.max_points * share * 2).quantize(Decimal(1), ROUND_HALF_UP) / 2
            reason = None if points >= item.max_points else rng.choice(_REASONS)
            entries[item.code] = (points, reason)
        try:
            marking.score_manual(assessment, user, entries)
            steps.submit(assessment, user)
        except AssessmentError:
            return  # e.g. an indicator the records cannot score: left as a draft

    def publish(self, assessment: Assessment) -> None:
        user = self.assessor(assessment)
        if user is not None and assessment.status == "submitted":
            steps.publish(assessment, user)
            self.summary.published += 1

    def appeal(self, assessment: Assessment, outcome: str) -> Appeal | None:
        user = self.assessee(assessment)
        lowest = min(
            (i for i in assessment.items if i.source == "manual" and i.points is not None),
            key=lambda i: i.points / i.max_points if i.max_points else Decimal(1),
            default=None,
        )
        if user is None or lowest is None or lowest.points == lowest.max_points:
            return None
        record = appeals.appeal(
            assessment,
            user,
            {lowest.code: ("已按要求完成，佐证材料附后，请复核。", lowest.max_points)},
        )
        self.appealed.add((int(assessment.period[:4]), outcome))
        self.summary.appeals += 1
        return record

    def answer(self, record: Appeal, outcome: str) -> None:
        user = self.assessor(record.assessment)
        if user is None:
            return
        decisions: dict[str, tuple[str, object, str | None]] = {}
        for item in record.items:
            if outcome == "accepted":
                decisions[item.code] = ("accepted", item.requested_points, "经复核，佐证材料属实。")
            else:
                decisions[item.code] = ("rejected", None, "佐证材料不足以证明已完成，维持原评分。")
        appeals.answer_appeal(record, user, decisions)

    def acknowledge(self, assessment: Assessment) -> None:
        user = self.assessee(assessment)
        if user is not None and assessment.status == "published":
            created = steps.acknowledge(assessment, user)
            self.summary.rectifications += len(created)

    def live_period(self, level: str, period: Period, is_last: bool) -> None:
        first = first_judgeable_day(period)
        if level == "L4":
            self.on(first, lambda: draw_l4_spot_check(period.year, seed=self.seed))
            self.on(first, lambda: self._spot_checks(period))
        self.on(first, lambda: open_assessments(level, period))
        for assessment in self.assessments(level, period):
            self.on(first + timedelta(days=SCORE_DAY), lambda a=assessment: self.score(a))
            self.on(first + timedelta(days=PUBLISH_DAY), lambda a=assessment: self.publish(a))
        # Appeals (none for the L1 self-check): in each year's last lived quarter or half-year.
        records: list[tuple[Appeal, str]] = []
        if level in {"L2", "L3"} and is_last:
            published = [a for a in self.assessments(level, period) if a.status == "published"]
            for outcome in ("accepted", "rejected"):
                if (period.year, outcome) in self.appealed or not published:
                    continue
                target = published.pop(self.rng(level, period, outcome).randrange(len(published)))

                def file(a: Assessment = target, o: str = outcome) -> None:
                    record = self.appeal(a, o)
                    if record is not None:
                        records.append((record, o))

                self.on(first + timedelta(days=APPEAL_DAY), file)
        for record, outcome in records:
            self.on(
                first + timedelta(days=ANSWER_DAY), lambda r=record, o=outcome: self.answer(r, o)
            )
        acknowledged = self.assessments(level, period)
        if level == "L4":
            acknowledged += self.assessments("L4S", period)
        for assessment in acknowledged:
            self.on(first + timedelta(days=ACK_DAY), lambda a=assessment: self.acknowledge(a))
        self.on(first + timedelta(days=RECTIFY_DAY), lambda: self.rectify(level, period))
        self.on(first + timedelta(days=VERIFY_DAY), lambda: self.verify(level, period))
        db.session.flush()

    def _spot_checks(self, period: Period) -> None:
        """The drawn institutions' L4S spot checks: scored and published like the others."""
        for assessment in self.assessments("L4S", period):
            self.score(assessment)
            self.publish(assessment)

    def rectifications(self, level: str, period: Period) -> list[Rectification]:
        return list(
            db.session.scalars(
                select(Rectification)
                .join(Assessment, Rectification.assessment_id == Assessment.id)
                .where(Assessment.level == level, Assessment.period == str(period))
                .order_by(Rectification.id)
            )
        )

    def rectify(self, level: str, period: Period) -> None:
        for rect in self.rectifications(level, period):
            if rect.status != "open" or self.rng("rectify", rect.id).random() < 0.25:
                continue  # a quarter are still being worked on
            owner = self.leader(rect.owner_unit_id, ASSESSEE_ROLE[level])
            if owner is not None:
                rectification.rectify(
                    rect, owner, "已组织团队对照指标逐项整改，相关记录已补录并复核。"
                )

    def verify(self, level: str, period: Period) -> None:
        for rect in self.rectifications(level, period):
            if rect.status != "rectified" or self.rng("verify", rect.id).random() < 0.2:
                continue
            assessor = self.assessor(rect.assessment)
            if assessor is not None:
                rectification.verify_rectification(rect, assessor, "现场核查，整改到位。")

    # ----------------------------------------------------------------------- settlement

    def configure(self, year: int) -> None:
        """The year's pool funds, parameters, ratings and standards; splits and posts once."""
        finance = _user("finance", Role.FINANCE)
        city = _user("city", Role.CITY_ADMIN)
        rng = self.rng("funds", year)
        funds = {pool.id: str(rng.randrange(1200, 2400) * 1000) for pool in pools()}
        save_funds(year, funds, finance)
        save_parameters(year, "5", "70", "1.2", finance)
        if not splits():
            save_split(None, "3", "7", city)
        have = {p.post for p in post_coefficients()}
        standards = {s.post for s in workload_standards(year)}
        for post in known_posts():
            coefficient, services = _POSTS.get(post, ("1.0", "1200"))
            if post not in have:
                save_post(post, coefficient, city)
            if post not in standards:
                save_standard(year, post, services, city)
        teams = db.session.scalars(
            select(OrgUnit).where(OrgUnit.kind == "team").order_by(OrgUnit.id)
        )
        for team in teams:
            leader = self.leader(team.id, Role.TEAM_LEADER)
            values = {}
            for member in team_members(team.id):
                r = self.rng("rating", year, member.id)
                c = Decimal("0.9") + Decimal(r.randrange(0, 21)) / 100
                values[member.id] = str(c)
                self._attendance(year, team, member.id, r)
            if leader is not None and values:
                save_ratings(team, year, values, leader)
        for inst in db.session.scalars(
            select(OrgUnit).where(OrgUnit.kind == "institution").order_by(OrgUnit.id)
        ):
            if leader_rule(inst) is None:
                # The seed's rule: leaders outside the team split, a 5% management share.
                save_leader_rule(inst, "management", "5", city)

    def _attendance(self, year: int, team: OrgUnit, user_id: int, r: random.Random) -> None:
        """Twelve months of attendance: 21 days due, now and then a few days of sick leave."""
        have = set(
            db.session.scalars(
                select(AttendanceRecord.month).where(AttendanceRecord.user_id == user_id)
            )
        )
        for month in (f"{year}-{m:02d}" for m in range(1, 13)):
            if month in have:
                continue
            sick = r.choice((0, 0, 0, 0, 1, 2))
            db.session.add(
                AttendanceRecord(
                    user_id=user_id, month=month, days_due=21, days_worked=21 - sick,
                    sick_days=sick, personal_days=0, maternity_days=0, annual_days=0,
                    marriage_days=0, entered_at=clock.now(), county_id=team.county_id,
                    institution_id=team.institution_id, team_id=team.id,
                )
            )  # fmt: skip

    def settle(self, year: int, kind: str, lock: bool) -> None:
        city = _user("city", Role.CITY_ADMIN)
        finance = _user("finance", Role.FINANCE)
        try:
            sheet, _changed = build_settlement(year, kind, city)
        except SettlementError:
            return  # inputs missing: the finance page lists them
        self.summary.settlements.append(f"{year} {kind} draft")
        transition(sheet, "review", city)
        self.summary.settlements[-1] = f"{year} {kind} reviewed"
        if lock:
            transition(sheet, "approve", finance)
            transition(sheet, "lock", finance)
            self.summary.settlements[-1] = f"{year} {kind} locked"


_SHARES = ("1", "1", "1", "0.95", "0.9", "0.9", "0.85", "0.8", "0.75")
_REASONS = (
    "部分记录内容不完整",
    "抽查中发现个别记录未按规范填写",
    "宣传资料发放不及时",
    "例会记录缺少签到",
    "部分居民对随访时间安排不满意",
)
# Post → (coefficient, standard workload points per year) for the demo's posts.
_POSTS = {
    "全科医生": ("1.2", "1500"),
    "团队长": ("1.3", "1200"),
    "护士": ("1.0", "1500"),
    "公卫医师": ("1.1", "1400"),
    "乡村医生": ("0.9", "1200"),
}


def _user(username: str, role: Role) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        user = db.session.scalar(select(User).where(User.role == role.value).order_by(User.id))
    assert user is not None, f"no {role.value} user"
    return user


def live_through(seed: int, anchor: date) -> YearSummary:
    """Run the lived-through periods before ``anchor`` through the services. Flushes."""
    life = _Life(seed, anchor)
    periods = lived_periods(anchor)
    events: list[tuple[date, int, str, Period]] = []
    for order, level in enumerate(("L1", "L2", "L3", "L4")):
        for period in periods[level]:
            events.append((first_judgeable_day(period), order, level, period))
    events.sort()
    first_year = history_start(anchor).year
    # The first year's configuration and pre-allocation, entered and locked early in January.
    life.on(date(first_year, 1, 2), lambda: life.configure(first_year))
    life.on(date(first_year, 1, 10), lambda: life.settle(first_year, "preallocation", lock=True))
    for _day, _order, level, period in events:
        last = max(p for p in periods[level] if p.year == period.year)
        life.live_period(level, period, is_last=period == last)
        life.summary.periods.setdefault(level, []).append(str(period))
    # Each later year: configured on 2 January; the year before settled once its L4 results
    # are published, locked by the finance officer; then the year's pre-allocation.
    settled = {p.year for p in periods["L4"]}
    for year in range(first_year + 1, anchor.year + 1):
        life.on(date(year, 1, 2), partial(life.configure, year))
        settle_day = date(year, 1, 1) + timedelta(days=SETTLEMENT_DAYS_AFTER_YEAR)
        if year - 1 in settled:
            life.on(settle_day, partial(life.settle, year - 1, "settlement", lock=True))
        if year < anchor.year:
            day = settle_day + timedelta(days=1)
            life.on(day, partial(life.settle, year, "preallocation", lock=True))
        else:
            # This year's: built and reviewed by the city; the finance officer approves, locks
            # and exports it.
            life.on(anchor, partial(life.settle, year, "preallocation", lock=False))
    db.session.flush()
    return life.summary
