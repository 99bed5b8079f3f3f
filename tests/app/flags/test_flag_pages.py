"""Deciding flags (dismiss / confirm with a reason, never deleted) and the centre's flags page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fdoctor.contracts.models import Contract
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.flags.models import SuspicionFlag
from fdoctor.flags.services import FlagError, resolve_flag
from fdoctor.org.models import OrgUnit
from fdoctor.records.models import ServiceRecord
from tests.conftest import AuthActions
from tests.factories.contracts import make_contract
from tests.factories.households import make_household
from tests.factories.surveys import World, add_record, add_resident, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        world = make_world()
        db.session.commit()
        yield world


def _record_flag(world: World, team: OrgUnit | None = None) -> tuple[SuspicionFlag, ServiceRecord]:
    resident = add_resident(make_household(team or world.tree.team))
    record = add_record(resident, "home_visit", date(2026, 8, 5), world.users["doctor"])
    flag = SuspicionFlag(
        kind="duplicate",
        subject_key=f"record:{record.id}",
        service_record_id=record.id,
        user_id=world.users["doctor"].id,
        subject_date=record.service_date,
        detail="同日重复",
        status="open",
        detected_at=datetime(2026, 10, 1, 2),
        county_id=record.county_id,
        institution_id=record.institution_id,
        team_id=record.team_id,
    )
    db.session.add(flag)
    db.session.commit()
    return flag, record


def _contract_flag(world: World) -> tuple[SuspicionFlag, Contract]:
    household = make_household(world.tree.team)
    contract = make_contract(
        household, [add_resident(household)], date(2025, 1, 1), date(2027, 12, 31)
    )
    flag = SuspicionFlag(
        kind="signed_not_served",
        subject_key=f"contract:{contract.id}:2026",
        contract_id=contract.id,
        subject_date=date(2026, 9, 30),
        detail="一年无服务",
        status="open",
        detected_at=datetime(2026, 10, 1, 2),
        county_id=contract.county_id,
        institution_id=contract.institution_id,
        team_id=contract.team_id,
    )
    db.session.add(flag)
    db.session.commit()
    return flag, contract


# ------------------------------------------------------------------ the service


def test_dismissing_keeps_the_flag_with_who_when_and_why(world: World) -> None:
    flag, record = _record_flag(world)
    resolve_flag(flag, "dismissed", "居民确认当日上午、下午各来一次", world.users["centre"])
    db.session.commit()
    kept = db.session.get(SuspicionFlag, flag.id)
    assert kept is not None and kept.status == "dismissed"
    assert kept.resolution_reason == "居民确认当日上午、下午各来一次"
    assert (kept.resolved_by_id, kept.resolved_at) == (
        world.users["centre"].id,
        datetime(2026, 10, 10, 9, 0),
    )
    assert record.verification == "unverified"


def test_confirming_a_record_flag_sends_the_record_to_review(world: World) -> None:
    flag, record = _record_flag(world)
    resolve_flag(flag, "confirmed", "电话核实居民未接受服务", world.users["county"])
    assert (flag.status, record.verification) == ("confirmed", "disputed")


def test_confirming_a_flag_never_revives_a_false_record(world: World) -> None:
    flag, record = _record_flag(world)
    record.verification = "false"
    resolve_flag(flag, "confirmed", "已认定虚假", world.users["centre"])
    assert record.verification == "false"


def test_confirming_a_contract_flag_changes_no_record(world: World) -> None:
    flag, _ = _contract_flag(world)
    resolve_flag(flag, "confirmed", "签而不约属实，已约谈", world.users["centre"])
    assert flag.status == "confirmed"
    assert db.session.scalar(select(func.count(ServiceRecord.id))) == 0


def test_a_reason_is_required(world: World) -> None:
    flag, _ = _record_flag(world)
    with pytest.raises(FlagError, match="请填写处理理由"):
        resolve_flag(flag, "dismissed", "   ", world.users["centre"])
    assert flag.status == "open"


def test_a_decided_flag_is_not_decided_again(world: World) -> None:
    flag, _ = _record_flag(world)
    resolve_flag(flag, "dismissed", "正常", world.users["centre"])
    with pytest.raises(FlagError) as raised:
        resolve_flag(flag, "confirmed", "改判", world.users["county"])
    assert raised.value.status == 409 and flag.status == "dismissed"


# ------------------------------------------------------------------ the pages


def test_the_centre_sees_flags_and_open_counts_per_team(world: World, auth: AuthActions) -> None:
    first, _ = _record_flag(world)
    second, _ = _record_flag(world, world.tree.team2)
    _contract_flag(world)
    foreign, _ = _record_flag(world, world.tree.other_team)
    client = auth.client_for(world.users["centre"])
    html = client.get("/flags/").get_data(as_text=True)
    assert f'id="flag-{first.id}"' in html and f'id="flag-{second.id}"' in html
    assert f'id="flag-{foreign.id}"' not in html
    counts = html.split('id="flag-counts"', 1)[1].split("</table>", 1)[0]
    assert f'data-team="{world.tree.team.id}"' in counts and ">2</td>" in counts
    assert f'data-team="{world.tree.team2.id}"' in counts


def test_the_list_filters_by_kind_status_and_team(world: World, auth: AuthActions) -> None:
    record_flag, _ = _record_flag(world)
    contract_flag, _ = _contract_flag(world)
    other_team_flag, _ = _record_flag(world, world.tree.team2)
    resolve_flag(other_team_flag, "dismissed", "正常", world.users["centre"])
    db.session.commit()
    client = auth.client_for(world.users["county"])
    by_kind = client.get("/flags/?kind=signed_not_served").get_data(as_text=True)
    assert (
        f'id="flag-{contract_flag.id}"' in by_kind and f'id="flag-{record_flag.id}"' not in by_kind
    )
    dismissed = client.get("/flags/?status=dismissed").get_data(as_text=True)
    assert (
        f'id="flag-{other_team_flag.id}"' in dismissed
        and f'id="flag-{record_flag.id}"' not in dismissed
    )
    team2 = client.get(f"/flags/?status=all&team={world.tree.team2.id}").get_data(as_text=True)
    assert (
        f'id="flag-{other_team_flag.id}"' in team2 and f'id="flag-{contract_flag.id}"' not in team2
    )


def test_the_centre_dismisses_a_flag_from_the_page(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    flag, _ = _record_flag(world)
    token = auth.login_as(world.users["centre"])
    response = client.post(
        f"/flags/{flag.id}/resolve",
        data={
            "csrf_token": token,
            "decision": "dismissed",
            "reason": "核实无误",
            "next": "/flags/?kind=duplicate",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/flags/?kind=duplicate"
    db.session.expire_all()
    assert (flag.status, flag.resolution_reason) == ("dismissed", "核实无误")


def test_a_missing_reason_is_shown_and_nothing_changes(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    flag, _ = _record_flag(world)
    token = auth.login_as(world.users["centre"])
    response = client.post(
        f"/flags/{flag.id}/resolve",
        data={"csrf_token": token, "decision": "confirmed", "reason": ""},
        follow_redirects=True,
    )
    assert "请填写处理理由" in response.get_data(as_text=True)
    db.session.expire_all()
    assert flag.status == "open"


def test_the_redirect_never_leaves_the_flags_page(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    flag, _ = _record_flag(world)
    token = auth.login_as(world.users["centre"])
    response = client.post(
        f"/flags/{flag.id}/resolve",
        data={
            "csrf_token": token,
            "decision": "dismissed",
            "reason": "正常",
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/flags/"


@pytest.mark.parametrize(("who", "wanted"), [("doctor", 403), ("leader", 403), ("city", 403)])
def test_only_the_centre_and_county_decide(
    client: FlaskClient, world: World, who: str, wanted: int, auth: AuthActions
) -> None:
    flag, _ = _record_flag(world)
    token = auth.login_as(world.users[who])
    response = client.post(
        f"/flags/{flag.id}/resolve",
        data={"csrf_token": token, "decision": "dismissed", "reason": "x"},
    )
    assert response.status_code == wanted


@pytest.mark.parametrize("who", ["centre", "county"])
def test_a_flag_outside_the_scope_is_not_found(
    client: FlaskClient, world: World, who: str, auth: AuthActions
) -> None:
    flag, _ = _record_flag(world, world.tree.other_team)
    token = auth.login_as(world.users[who])
    response = client.post(
        f"/flags/{flag.id}/resolve",
        data={"csrf_token": token, "decision": "dismissed", "reason": "x"},
    )
    assert response.status_code == 404


def test_the_centre_runs_detection_for_its_institution(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    users = world.users
    mine = add_resident(make_household(world.tree.team, doctor=users["doctor"]))
    add_record(mine, "home_visit", date(2026, 8, 5), users["doctor2"])  # outside the grid
    theirs = add_resident(make_household(world.tree.other_team))
    add_record(theirs, "home_visit", date(2026, 8, 5), users["doctor"])  # another county
    db.session.commit()
    token = auth.login_as(users["centre"])
    response = client.post(
        "/flags/detect", data={"csrf_token": token, "period": "2026-Q3"}, follow_redirects=True
    )
    assert "新增 1 条" in response.get_data(as_text=True)
    assert db.session.scalars(select(SuspicionFlag.institution_id)).all() == [
        world.tree.institution.id
    ]
