"""Referrals: made by one institution, confirmed as received by the other (and only by it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fdoctor.auth.models import User
from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.org.services import add_unit
from fdoctor.records.models import ServiceRecord
from fdoctor.records.sync import upload_batch
from tests.conftest import AuthActions, csrf_token
from tests.factories.records import TERM, TODAY, World, make_world, record
from tests.factories.users import make_user

pytestmark = pytest.mark.db


@pytest.fixture()
def world(app: Flask) -> Iterator[World]:
    with clock.frozen(TODAY):
        yield make_world()


@pytest.fixture()
def referral(world: World) -> ServiceRecord:
    """A doctor of another county refers a resident up to the first county's centre."""
    with clock.frozen(TODAY):
        [got] = upload_batch(
            world.foreign_doctor,
            "pad",
            [record(world.foreign_home.residents[0], "referral_up", other_institution_id=world.tree.institution.id, notes="血压控制不佳")],
        )  # fmt: skip
        db.session.commit()
    assert got.status == "created", got.errors
    found = db.session.get(ServiceRecord, got.id)
    assert found is not None
    return found


def _receive(client: FlaskClient, record_id: int) -> Any:
    token = csrf_token(client, "/")
    return client.post(f"/services/referrals/{record_id}/receive", data={"csrf_token": token})


def _received(referral: ServiceRecord) -> tuple[Any, Any]:
    db.session.expire_all()
    found = db.session.get(ServiceRecord, referral.id)
    assert found is not None
    return found.referral_received_at, found.referral_received_by_id


def test_receiving_centre_sees_the_referral_addressed_to_it(
    world: World, referral: ServiceRecord, auth: AuthActions
) -> None:
    html = auth.client_for("centre1").get("/services/referrals").get_data(as_text=True)
    assert f'data-record-id="{referral.id}"' in html
    assert "血压控制不佳" in html and world.tree.other_team.name in html
    assert "确认接收" in html


def test_receiving_centre_confirms_receipt(
    world: World, referral: ServiceRecord, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        response = _receive(auth.client_for("centre1"), referral.id)
    assert response.status_code == 302
    at, by = _received(referral)
    assert at is not None and by == world.centre.id


def test_leader_of_another_team_of_the_receiving_institution_may_confirm(
    world: World, referral: ServiceRecord, auth: AuthActions
) -> None:
    assert _receive(auth.client_for("lead1"), referral.id).status_code == 302
    assert _received(referral)[1] == world.leader.id


def test_sending_side_may_not_confirm(
    world: World, referral: ServiceRecord, auth: AuthActions
) -> None:
    make_user("lead9", "team_leader", world.tree.other_team)
    db.session.commit()
    assert _receive(auth.client_for("lead9"), referral.id).status_code == 403
    assert _received(referral) == (None, None)


def test_leader_may_not_confirm_a_referral_sent_by_own_team(
    world: World, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        [got] = upload_batch(
            world.doctor,
            "pad",
            [record(world.resident, "referral_up", other_institution_id=world.tree.institution.id)],
        )
        db.session.commit()
    client = auth.client_for("lead1")
    assert f'data-record-id="{got.id}"' not in client.get("/services/referrals").get_data(
        as_text=True
    )
    assert _receive(client, got.id).status_code == 403


def test_an_unrelated_institution_gets_404(
    world: World, referral: ServiceRecord, auth: AuthActions
) -> None:
    with clock.frozen(TODAY):
        inst = add_unit("410002-09", "乙县第九卫生院", "institution", world.tree.other_county)
        make_user("centre9", "centre_admin", inst)
        db.session.commit()
    client = auth.client_for("centre9")
    assert f'data-record-id="{referral.id}"' not in client.get("/services/referrals").get_data(
        as_text=True
    )
    assert _receive(client, referral.id).status_code == 404
    assert _received(referral) == (None, None)


def test_doctor_may_not_open_the_referral_inbox(referral: ServiceRecord, auth: AuthActions) -> None:
    client = auth.client_for("doc1")
    assert client.get("/services/referrals").status_code == 403
    assert _receive(client, referral.id).status_code == 403


def test_confirming_twice_keeps_the_first_receipt(
    world: World, referral: ServiceRecord, auth: AuthActions
) -> None:
    _receive(auth.client_for("centre1"), referral.id)
    first = _received(referral)
    client = auth.client_for("lead1")
    assert _receive(client, referral.id).status_code == 302
    assert _received(referral) == first
    assert "该转诊已确认接收" in client.get("/services/referrals").get_data(as_text=True)


def test_received_tab_lists_the_confirmed_referral(
    referral: ServiceRecord, auth: AuthActions
) -> None:
    client = auth.client_for("centre1")
    _receive(client, referral.id)
    pending = client.get("/services/referrals").get_data(as_text=True)
    received = client.get("/services/referrals?state=received").get_data(as_text=True)
    assert f'data-record-id="{referral.id}"' not in pending
    assert f'data-record-id="{referral.id}"' in received


def test_referral_inbox_query_count_does_not_grow_with_rows(
    app: Flask, world: World, count_queries: Any, auth: AuthActions
) -> None:
    from tests.factories.contracts import signed_household

    target = world.tree.institution.id
    other_team = world.tree.other_team.id
    sender_id = world.foreign_doctor.id

    def refer(people: list[Any], type_: str) -> None:
        with clock.frozen(TODAY):
            sender = db.session.get(User, sender_id)
            upload_batch(sender, "pad", [
                record(p, type_, other_institution_id=target) for p in people
            ])  # fmt: skip
            db.session.commit()

    refer(world.foreign_home.residents, "referral_up")
    client = auth.client_for("centre1")
    db.session.expunge_all()  # the test shares the app's session: start each count cold
    with count_queries() as few:
        client.get("/services/referrals")
    with clock.frozen(TODAY):
        home = signed_household(db.session.get(OrgUnit, other_team), 6, *TERM)
    refer(home.residents, "referral_down")
    db.session.expunge_all()
    with count_queries() as many:
        html = client.get("/services/referrals").get_data(as_text=True)
    assert html.count("data-record-id=") == 8
    assert many.count == few.count
