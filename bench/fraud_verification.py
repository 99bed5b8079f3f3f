"""The simulated verification round of the fraud benchmark (issue 16, items 3 and 6).

After the quarter's detection, every institution draws its 2026-Q3 call-back sample the way the
app does (``draw_sample``: risk-weighted by each doctor's open flags, past false records and
disputes) and calls it with ``record_call``; each resident answers about the records the call
picks (``records_to_check``, weighted towards the riskiest doctor's records):

* a resident is unreachable with probability ``UNREACHABLE`` (15%);
* a made-up record about a real resident: "not received";
* a phantom household's record: its phone is the doctor's own, so the doctor answers "received"
  (verification cannot catch a phantom; the shared-phone flag must);
* a genuine record: "received", except that ``MISREMEMBER`` (2%) of residents misremember and
  deny a genuine visit — the honest look-alike of a dispute.

The reviewer then settles every disputed record (made-up ones found false, genuine ones
confirmed). A case is caught by verification when one of its records was disputed by a call.
Also reported: how much of the sample the risk weighting spent on residents with a made-up
record, against their share of the candidates (what a uniform draw would spend).
"""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

UNREACHABLE = 0.15
MISREMEMBER = 0.02


def _caller(institution: Any) -> Any:
    """The institution's centre admin (the demo has one; a bench user otherwise)."""
    from fdoctor.auth.models import User
    from fdoctor.extensions import db

    user = db.session.scalar(
        sa.select(User)
        .where(User.role == "centre_admin", User.org_unit_id == institution.id)
        .order_by(User.id)
        .limit(1)
    )
    if user is None:
        user = User(
            username=f"bench_centre_{institution.id}",
            display_name="抽查员",
            password_hash="!",
            role="centre_admin",
            org_unit_id=institution.id,
        )
        db.session.add(user)
        db.session.flush()
    return user


def verification_round(injector: Any, rng: random.Random) -> dict[str, Any]:
    from assessments.tiers import Level, Period
    from fdoctor.extensions import db
    from fdoctor.org.models import OrgUnit
    from fdoctor.records.models import ServiceRecord
    from fdoctor.surveys.calls import record_call, records_to_check
    from fdoctor.surveys.models import VerificationSampleItem
    from fdoctor.surveys.review import review_record
    from fdoctor.surveys.samples import draw_sample, period_candidates

    quarter = Period.parse("2026-Q3")
    fake_records = {r for c in injector.cases for r in c.records}
    phantom_records = {
        r for c in injector.cases if c.kind == "phantom_household" for r in c.records
    }
    fake_residents = set(
        db.session.scalars(
            sa.select(ServiceRecord.resident_id).where(ServiceRecord.id.in_(fake_records))
        )
    )
    disputed_by_call: set[int] = set()
    calls = unreachable = sampled = sampled_fake = candidates = candidates_fake = 0
    genuine_checked = genuine_denied = 0
    for institution in db.session.scalars(
        sa.select(OrgUnit).where(OrgUnit.kind == "institution").order_by(OrgUnit.id)
    ):
        user = _caller(institution)
        for residents in period_candidates(institution, Level.L2, quarter).values():
            candidates += len(residents)
            candidates_fake += sum(1 for r in residents if r in fake_residents)
        # A seed of the run's own, so both engines draw the same sample (the app draws a fresh one).
        sample, _ = draw_sample(
            institution, Level.L2, quarter, user, seed=rng.getrandbits(62) + institution.id
        )
        items = db.session.scalars(
            sa.select(VerificationSampleItem)
            .where(VerificationSampleItem.sample_id == sample.id)
            .order_by(VerificationSampleItem.team_id, VerificationSampleItem.draw_order)
        ).all()
        for item in items:
            sampled += 1
            sampled_fake += item.resident_id in fake_residents
            if rng.random() < UNREACHABLE:
                record_call(item, user, outcome="unreachable")
                unreachable += 1
                continue
            misremembers = rng.random() < MISREMEMBER
            answers = {}
            for record in records_to_check(item):
                if record.id in phantom_records:
                    answers[record.id] = "received"  # the doctor answers the phantom's phone
                elif record.id in fake_records:
                    answers[record.id] = "not_received"
                    disputed_by_call.add(record.id)
                else:
                    genuine_checked += 1
                    answers[record.id] = "not_received" if misremembers else "received"
                    genuine_denied += misremembers
            record_call(item, user, outcome="done", channel="phone", satisfaction=80,
                        knows_doctor=True, answers=answers)  # fmt: skip
            calls += 1
        db.session.flush()
        for record in db.session.scalars(
            sa.select(ServiceRecord).where(
                ServiceRecord.verification == "disputed",
                ServiceRecord.institution_id == institution.id,
            )
        ):
            if record.id in fake_records:
                review_record(record, "false", "回访居民称未接受该服务，核实为虚假记录", user)
            else:
                review_record(record, "confirmed", "复核属实：居民记错", user)
        db.session.flush()
    found_false = set(
        db.session.scalars(
            sa.select(ServiceRecord.id).where(
                ServiceRecord.id.in_(fake_records), ServiceRecord.verification == "false"
            )
        )
    )
    return {
        "disputed_by_call": disputed_by_call,
        "found_false": len(found_false),
        "calls": calls,
        "unreachable": unreachable,
        "sampled": sampled,
        "sampled_with_fake": sampled_fake,
        "candidates": candidates,
        "candidates_with_fake": candidates_fake,
        "genuine_records_asked": genuine_checked,
        "genuine_records_denied": genuine_denied,
    }
