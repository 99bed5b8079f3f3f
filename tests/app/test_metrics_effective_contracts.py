"""A3 有效签约率 on the contract's own term, counted by hand (SPEC 4, issue 14).

Period 2026-Q1, judged as of 2026-03-31: the 12 months are 2025-04-01..2026-03-31. Team T1 holds
every contract below; T2 is the other team of the same institution. Each contract covers one
resident of its own household.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask import Flask

from fdoctor.assessments.metrics import compute_metrics, metric_records_query
from fdoctor.contracts.models import Contract
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from tests.app.assessments import metrics_reference
from tests.factories.contracts import make_contract
from tests.factories.households import make_household, make_resident
from tests.factories.org import Tree, make_tree
from tests.factories.records import make_record

pytestmark = pytest.mark.db

START, END = date(2026, 1, 1), date(2026, 3, 31)


def _signed(
    team: OrgUnit, start: date, end: date, status: str = "active"
) -> tuple[Contract, Resident]:
    home = make_household(team)
    person = make_resident(home, date(1980, 1, 1))
    return make_contract(home, [person], start, end, status=status), person


def _renew(old: Contract, start: date, end: date) -> Contract:
    """A renewal of ``old`` for the same household and members (``old`` becomes renewed)."""
    old.status = "renewed"
    for member in old.members:
        member.is_active = False
    db.session.flush()
    new = make_contract(old.household, [m.resident for m in old.members], start, end)
    new.renewed_from_id = old.id
    db.session.flush()
    return new


def _world() -> tuple[Tree, dict[str, Contract], dict[str, ServiceRecord]]:
    t = make_tree()
    t1, t2 = t.team, t.team2
    c: dict[str, Contract] = {}
    r: dict[str, ServiceRecord] = {}

    # before: signed on 1 January 2026; served in November 2025, before the contract existed
    # (entered under no contract) and once entered under it with a date before its start
    # (a row the app would not accept): not effective.
    c["before"], p = _signed(t1, date(2026, 1, 1), date(2027, 12, 31))
    r["before"] = make_record("consultation", date(2025, 11, 10), p, team=t1)
    make_record("home_visit", date(2025, 12, 1), p, team=t1, contract=c["before"])

    # inside: a service inside its term: effective.
    c["inside"], p = _signed(t1, date(2025, 6, 1), date(2027, 5, 31))
    r["inside"] = make_record("home_visit", date(2026, 2, 1), p, team=t1)

    # renewal: served under the contract it renewed, inside that term (October 2025): effective.
    old, p = _signed(t1, date(2025, 1, 1), date(2025, 12, 31), status="renewed")
    r["renewal"] = make_record("hypertension_followup", date(2025, 10, 1), p, team=t1)
    c["renewal"] = _renew(old, date(2026, 1, 1), date(2026, 12, 31))

    # chain: served under the contract its predecessor renewed (two renewals back), in April
    # 2025, inside the 12 months: effective.
    first, p = _signed(t1, date(2024, 6, 1), date(2025, 5, 31), status="renewed")
    r["chain"] = make_record("consultation", date(2025, 4, 20), p, team=t1)
    second = _renew(first, date(2025, 5, 15), date(2025, 12, 31))
    c["chain"] = _renew(second, date(2026, 1, 1), date(2026, 12, 31))

    # old_renewal: the predecessor's only service is older than 12 months: not effective.
    old, p = _signed(t1, date(2024, 4, 1), date(2025, 12, 31), status="renewed")
    make_record("consultation", date(2025, 2, 1), p, team=t1)
    c["old_renewal"] = _renew(old, date(2026, 1, 1), date(2026, 12, 31))

    # other_team: served inside the term, but by team T2: not effective (and nothing for T2).
    c["other_team"], p = _signed(t1, date(2025, 6, 1), date(2027, 5, 31))
    r["other_team"] = make_record("consultation", date(2026, 2, 2), p, team=t2)

    # another_contract: an earlier contract of T1 that expired and was not renewed; the new one
    # was signed afresh. The service under the earlier one does not count for the new one.
    old, p = _signed(t1, date(2025, 1, 1), date(2025, 12, 31), status="expired")
    make_record("consultation", date(2025, 11, 1), p, team=t1)
    c["another_contract"] = make_contract(old.household, [p], date(2026, 2, 1), date(2028, 1, 31))

    # after_termination: follows a contract terminated on 1 September 2025; a record entered
    # under that one but dated after its termination (a row the app would not accept) does not
    # count, even though the new contract names it as the one it renewed.
    old, p = _signed(t1, date(2025, 1, 1), date(2026, 12, 31), status="terminated")
    old.terminated_on = date(2025, 9, 1)
    make_record("consultation", date(2025, 10, 1), p, team=t1, contract=old)
    c["after_termination"] = make_contract(old.household, [p], date(2025, 9, 2), date(2027, 9, 1))
    c["after_termination"].renewed_from_id = old.id

    # false / disputed: their only service is false, or disputed (not confirmed): not effective.
    c["false"], p = _signed(t1, date(2025, 6, 1), date(2027, 5, 31))
    make_record("consultation", date(2026, 3, 1), p, team=t1, verification="false")
    c["disputed"], p = _signed(t1, date(2025, 6, 1), date(2027, 5, 31))
    make_record("consultation", date(2026, 3, 1), p, team=t1, verification="disputed")

    # confirmed: a confirmed service after a later false one: effective, shown with the
    # confirmed one.
    c["confirmed"], p = _signed(t1, date(2025, 6, 1), date(2027, 5, 31))
    r["confirmed"] = make_record(
        "consultation", date(2026, 1, 5), p, team=t1, verification="confirmed"
    )
    make_record("consultation", date(2026, 3, 5), p, team=t1, verification="false")

    db.session.commit()
    return t, c, r


# In force on 31 March at T1: the eleven contracts of ``_world`` (the renewed, expired and
# terminated ones are not): effective ``inside``, ``renewal``, ``chain``, ``confirmed`` = 4/11.
EFFECTIVE = {"inside", "renewal", "chain", "confirmed"}


def test_a3_counts_only_services_inside_the_contract_or_its_renewed_terms(app: Flask) -> None:
    t, c, _ = _world()
    for compute in (compute_metrics, metrics_reference.compute_metrics):
        result = compute("team", START, END, metrics=["effective_contracts"])
        a3 = result[t.team.id]["effective_contracts"]
        assert (a3.numerator, a3.denominator, a3.value) == (
            Decimal(4),
            Decimal(11),
            Decimal("0.363636"),
        ), compute.__module__
        assert a3.detail == (
            "2025-04-01 至 2026-03-31 在协议期限内有签约团队计入服务的在约协议 4 份"
            " ÷ 在约协议 11 份 = 36.36%"
        )
        assert result[t.team2.id]["effective_contracts"].value is None  # no contract of T2
        # The institution and the station add up the same contracts.
        inst = compute("institution", START, END, metrics=["effective_contracts"])
        assert inst[t.institution.id]["effective_contracts"].numerator == Decimal(4)
    assert len(c) == 11


def test_a3_drill_down_names_the_service_that_made_each_contract_effective(app: Flask) -> None:
    t, c, r = _world()
    query = metric_records_query("effective_contracts", "team", t.team.id, START, END)
    assert query is not None
    shown = {contract.id: service for contract, service in db.session.execute(query)}
    assert set(shown) == {contract.id for contract in c.values()}
    for name, contract in c.items():
        service = shown[contract.id]
        if name in EFFECTIVE:
            assert service is not None and service.id == r[name].id, name
        else:
            assert service is None, name
