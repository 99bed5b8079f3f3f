"""The municipal check (市级考核, L4): the city's spot-check draw and the county's combined score.

The city draws the spot check (``draw_l4_spot_check``); each drawn institution gets an ``L4S``
assessment that the city scores with the same index as the county's L3 (so the two are comparable).
The county's L4 total is ``0.4 × reported + 0.6 × spot check`` (weights configurable), where
reported is the signed-population-weighted mean of its institutions' current year-end (H2) L3 totals
and spot check is the mean of the sampled institutions' L4S totals. A county is flagged when a
sampled institution's L3 total exceeds its L4S total by more than 10 points. The arithmetic is the
core's ``assessments.l4.combine_l4``; this module reads the rows and stores the result. The L4 items
(the index at county grain) are scored too: they feed the county's rectification items, but not its
total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from assessments.l4 import L4Combination, L4Rules, ReportedResult, SampleCheck, combine_l4
from assessments.sampling import SamplingError, draw_spot_check, new_seed
from assessments.tiers import Period
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.levels import SPOT_LEVEL, ensure_judgeable
from fdoctor.assessments.models import Assessment, SpotCheckDraw, SpotCheckDrawItem
from fdoctor.assessments.opening import open_assessments
from fdoctor.assessments.settings import setting
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

# Statuses whose scores count as reported (submitted or later, not superseded).
REPORTED_STATUSES = ("submitted", "published", "acknowledged", "appealed")

# --------------------------------------------------------------------------- the spot check


def _candidates() -> dict[int, list[int]]:
    """Active institutions per active county, in code order."""
    rows = db.session.execute(
        select(OrgUnit.county_id, OrgUnit.id)
        .where(
            OrgUnit.kind == "institution", OrgUnit.active.is_(True), OrgUnit.county_id.is_not(None)
        )
        .order_by(OrgUnit.code)
    ).all()
    counties = set(
        db.session.scalars(
            select(OrgUnit.id).where(OrgUnit.kind == "county", OrgUnit.active.is_(True))
        )
    )
    grouped: dict[int, list[int]] = {county: [] for county in counties}
    for county_id, inst_id in rows:
        if county_id in grouped:
            grouped[county_id].append(inst_id)
    return grouped


def draw_for(year: int) -> SpotCheckDraw | None:
    return db.session.scalar(select(SpotCheckDraw).where(SpotCheckDraw.year == year))


def draw_l4_spot_check(
    year: int, seed: int | None = None, user: Any | None = None
) -> SpotCheckDraw:
    """Draw (once per year) at least 2 institutions per county for the municipal spot check.

    The seed and every candidate are stored; a second call returns the stored draw. The drawn
    institutions get their L4S assessments opened (idempotent). Flushes. Refused before the
    year has ended (by the clock's today).
    """
    period = Period.of_year(year)
    ensure_judgeable(period, "抽取市级抽查机构")
    draw = draw_for(year)
    if draw is not None:
        if seed is not None and seed != draw.seed:
            raise AssessmentError(f"{year} 年度已抽取（随机种子 {draw.seed}），不能换种子重抽", 409)
    else:
        per_county = int(setting("ASSESSMENT_L4_PER_COUNTY"))
        candidates = _candidates()
        chosen_seed = new_seed() if seed is None else seed
        try:
            drawn = draw_spot_check(candidates, chosen_seed, per_county)
        except SamplingError as exc:
            raise AssessmentError(str(exc), 422) from None
        draw = SpotCheckDraw(
            year=year,
            seed=chosen_seed,
            per_county=per_county,
            drawn_at=clock.now(),
            drawn_by_id=getattr(user, "id", None),
        )
        db.session.add(draw)
        db.session.flush()
        for county_id, institutions in candidates.items():
            order = {inst: n for n, inst in enumerate(drawn[county_id], start=1)}
            for inst in institutions:
                db.session.add(
                    SpotCheckDrawItem(
                        draw_id=draw.id,
                        county_id=county_id,
                        institution_id=inst,
                        selected=inst in order,
                        draw_order=order.get(inst),
                    )
                )
        db.session.flush()
    selected = [item.institution_id for item in draw.items if item.selected]
    if selected:
        open_assessments(SPOT_LEVEL, period, unit_ids=selected)
    return draw


def redraw(draw: SpotCheckDraw) -> dict[int, list[int]]:
    """Recompute the draw from its stored seed and candidates (for the audit)."""
    candidates: dict[int, list[int]] = defaultdict(list)
    for item in draw.items:
        candidates[item.county_id].append(item.institution_id)
    return draw_spot_check(candidates, draw.seed, draw.per_county)


def stored_selection(draw: SpotCheckDraw) -> dict[int, list[int]]:
    """The drawn institutions per county in draw order, as stored."""
    selection: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for item in draw.items:
        selection.setdefault(item.county_id, [])
        if item.selected and item.draw_order is not None:
            selection[item.county_id].append((item.draw_order, item.institution_id))
    return {county: [inst for _, inst in sorted(rows)] for county, rows in selection.items()}


def draw_is_reproducible(draw: SpotCheckDraw) -> bool:
    return redraw(draw) == stored_selection(draw)


@dataclass(frozen=True)
class L4Breakdown:
    reported: Decimal
    spot: Decimal
    total: Decimal
    flagged: list[str]
    lines: list[str]


def _current(level: str, period: str, unit_ids: Iterable[int]) -> dict[int, Assessment]:
    ids = list(unit_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Assessment).where(
            Assessment.level == level,
            Assessment.period == period,
            Assessment.unit_id.in_(ids),
            Assessment.is_current.is_(True),
        )
    )
    return {a.unit_id: a for a in rows}


def _signed_population(assessment: Assessment) -> Decimal:
    """Signed residents of the assessee: the numerator of its signing-coverage item."""
    for item in assessment.items:
        if item.metric == "signing_coverage" and item.numerator is not None:
            return Decimal(item.numerator)
    return Decimal(0)


# --------------------------------------------------------------------------- the county's score


def compute_l4(assessment: Assessment) -> L4Breakdown:
    """Combine a county's reported L3 year-end results with the city's spot check. Flushes."""
    if assessment.level != "L4":
        raise AssessmentError("只有市级年度考核需要合成县区得分", 409)
    year = int(assessment.period)
    county = assessment.unit
    names = {
        inst.id: inst.name
        for inst in db.session.scalars(
            select(OrgUnit).where(OrgUnit.kind == "institution", OrgUnit.county_id == county.id)
        )
    }
    l3 = _current("L3", f"{year}-H2", names)
    reported = _reported(l3, county, year)
    sampled = _sampled(county, year)
    spots = _spot_checks(sampled, names, year)
    rules = L4Rules(
        reported_weight=setting("ASSESSMENT_L4_REPORTED_WEIGHT"),
        spot_weight=setting("ASSESSMENT_L4_SPOT_WEIGHT"),
        flag_points=setting("ASSESSMENT_L4_FLAG_POINTS"),
    )
    checks = [
        SampleCheck(
            name=str(names.get(item.institution_id)),
            spot_total=spots[item.institution_id],
            reported_total=_reported_total(l3.get(item.institution_id)),
        )
        for item in sampled
    ]
    result = combine_l4(reported, checks, rules)
    _store(assessment, sampled, result, rules)
    return L4Breakdown(
        reported=result.reported,
        spot=result.spot,
        total=result.total,
        flagged=list(result.flagged),
        lines=list(result.lines),
    )


def _reported_total(assessment: Assessment | None) -> Decimal | None:
    """An institution's L3 total if it is reported (submitted or later), else None."""
    if assessment is None or assessment.status not in REPORTED_STATUSES:
        return None
    return assessment.total


def _reported(l3: dict[int, Assessment], county: OrgUnit, year: int) -> list[ReportedResult]:
    """The county's reported year-end L3 results; refused when there is none."""
    reported = [a for a in l3.values() if _reported_total(a) is not None]
    if not reported:
        raise AssessmentError(
            f"{county.name}尚无已提交的 {year} 年终（H2）三级考核结果，不能合成市级得分", 409
        )
    return [ReportedResult(_signed_population(a), a.total) for a in reported if a.total is not None]


def _sampled(county: OrgUnit, year: int) -> list[SpotCheckDrawItem]:
    """The county's institutions drawn for the year's spot check; refused when there is none."""
    draw = draw_for(year)
    if draw is None:
        raise AssessmentError(f"{year} 年度尚未抽取市级抽查机构", 409)
    sampled = [item for item in draw.items if item.selected and item.county_id == county.id]
    if not sampled:
        raise AssessmentError(f"{county.name}没有被抽中的机构", 409)
    return sampled


def _spot_checks(
    sampled: list[SpotCheckDrawItem], names: dict[int, str], year: int
) -> dict[int, Decimal]:
    """The spot-check (L4S) total of each sampled institution; refused until all are reported."""
    spots = _current(SPOT_LEVEL, str(year), [item.institution_id for item in sampled])
    totals = {unit_id: _reported_total(a) for unit_id, a in spots.items()}
    not_ready = [
        names.get(item.institution_id, str(item.institution_id))
        for item in sampled
        if totals.get(item.institution_id) is None
    ]
    if not_ready:
        raise AssessmentError(
            f"抽查机构{'、'.join(not_ready)}的市级评分尚未提交，不能合成市级得分", 409
        )
    return {unit_id: total for unit_id, total in totals.items() if total is not None}


def _store(
    assessment: Assessment,
    sampled: list[SpotCheckDrawItem],
    result: L4Combination,
    rules: L4Rules,
) -> None:
    """The samples' comparison and the county's scores, total and flag, flushed."""
    for item, sample in zip(sampled, result.samples, strict=True):
        item.spot_score = sample.spot_total
        item.reported_score = sample.reported_total
        item.flagged = sample.flagged
    assessment.reported_score = result.reported
    assessment.spot_check_score = result.spot
    assessment.total = result.total
    assessment.flagged = bool(result.flagged)
    assessment.flag_reason = result.flag_reason(rules)
    db.session.flush()
