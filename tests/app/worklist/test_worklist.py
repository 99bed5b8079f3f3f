"""The doctor's work list on a frozen clock: overdue follow-ups, due checkups, scope, queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.households.models import Pregnancy, Resident
from fdoctor.worklist.services import WorkItem, team_work_list
from tests.conftest import AuthActions
from tests.factories.households import make_household
from tests.factories.surveys import World, add_record, add_resident, make_world

pytestmark = pytest.mark.db

TODAY = date(2026, 10, 10)
Q3_FOLLOW_UP = "高血压患者随访（2026年第3季度）"


@dataclass
class Patients:
    world: World
    overdue: Resident  # hypertension, no follow-up in Q3
    followed: Resident  # hypertension, followed up in Q3
    elderly: Resident  # 76, no checkup this year
    checked: Resident  # 70, checked up in April
    faked: Resident  # hypertension, Q3 follow-up found false
    neighbour: Resident  # hypertension, a household the doctor is not responsible for


@pytest.fixture()
def patients(app: Flask) -> Iterator[Patients]:
    with clock.frozen(TODAY):
        world = make_world()
        doctor = world.users["doctor"]
        home = make_household(world.tree.team, doctor=doctor)
        overdue = add_resident(home, date(1960, 5, 1), "高血压甲", hypertension=True)
        add_record(overdue, "hypertension_followup", date(2026, 5, 10), doctor)
        followed = add_resident(home, date(1961, 5, 1), "高血压乙", hypertension=True)
        add_record(followed, "hypertension_followup", date(2026, 8, 10), doctor)
        elderly = add_resident(home, date(1950, 3, 1), "老人丙")
        checked = add_resident(home, date(1956, 3, 1), "老人丁")
        add_record(checked, "elderly_checkup", date(2026, 4, 1), doctor)
        faked = add_resident(home, date(1962, 5, 1), "高血压戊", hypertension=True)
        add_record(faked, "hypertension_followup", date(2026, 8, 1), doctor, verification="false")
        other_home = make_household(world.tree.team)
        neighbour = add_resident(other_home, date(1963, 5, 1), "高血压己", hypertension=True)
        db.session.commit()
        yield Patients(world, overdue, followed, elderly, checked, faked, neighbour)


def _labels(items: list[WorkItem], resident: Resident) -> set[str]:
    return {item.label for item in items if item.resident_id == resident.id}


def _mine(patients: Patients) -> Any:
    return team_work_list(
        patients.world.tree.team.id, TODAY, doctor_id=patients.world.users["doctor"].id
    )


def _page(app: Flask, patients: Patients, who: str = "doctor", query: str = "") -> str:
    client = app.test_client()
    AuthActions(client).login_as(patients.world.users[who])
    response = client.get(f"/worklist/{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(html: str, section: str) -> str:
    return html.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]


def test_a_hypertension_patient_without_a_q3_follow_up_is_overdue(patients: Patients) -> None:
    work = _mine(patients)
    assert Q3_FOLLOW_UP in _labels(work.overdue, patients.overdue)
    (item,) = [i for i in work.overdue if i.resident_id == patients.overdue.id]
    assert (item.window_start, item.window_end) == (date(2026, 7, 1), date(2026, 9, 30))


def test_the_overdue_follow_up_is_shown_under_overdue_on_the_page(
    app: Flask, patients: Patients
) -> None:
    overdue = _section(_page(app, patients), "overdue")
    assert "高血压甲" in overdue and Q3_FOLLOW_UP in overdue
    assert "高血压乙" not in overdue


def test_a_follow_up_in_the_quarter_clears_it(patients: Patients) -> None:
    work = _mine(patients)
    assert Q3_FOLLOW_UP not in _labels(work.overdue, patients.followed)
    assert "高血压患者随访（2026年第4季度）" in _labels(work.due, patients.followed)


def test_an_elderly_residents_yearly_checkup_shows_as_due(app: Flask, patients: Patients) -> None:
    work = _mine(patients)
    (item,) = [i for i in work.due if i.resident_id == patients.elderly.id]
    assert (item.label, item.status) == ("老年人健康体检（2026年）", "due")
    assert (item.window_start, item.window_end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert _labels(work.due + work.overdue, patients.checked) == set()
    due = _section(_page(app, patients), "due")
    assert "老人丙" in due and "老年人健康体检（2026年）" in due


def test_a_follow_up_found_false_does_not_count(patients: Patients) -> None:
    assert Q3_FOLLOW_UP in _labels(_mine(patients).overdue, patients.faked)


def test_a_pregnancy_schedules_the_first_antenatal_visit(patients: Patients) -> None:
    home = make_household(patients.world.tree.team, doctor=patients.world.users["doctor"])
    mother = add_resident(home, date(1996, 2, 1), "孕妇庚", maternal=True)
    db.session.add(
        Pregnancy(resident_id=mother.id, county_id=mother.county_id, lmp_date=date(2026, 9, 1))
    )
    db.session.flush()
    labels = _labels(_mine(patients).due, mother)
    assert "孕早期检查（孕13周前）" in labels


def test_a_doctor_sees_own_households_by_default_and_the_team_on_request(
    app: Flask, patients: Patients
) -> None:
    assert "高血压己" not in _page(app, patients)
    assert "高血压己" in _page(app, patients, query="?who=team")


def test_a_team_leader_sees_the_whole_team(app: Flask, patients: Patients) -> None:
    html = _page(app, patients, who="leader")
    assert "高血压甲" in html and "高血压己" in html


def test_the_record_button_opens_the_tablet_entry_for_that_service(
    app: Flask, patients: Patients
) -> None:
    html = _page(app, patients)
    link = f"/services/tablet?resident={patients.overdue.id}&amp;type=hypertension_followup"
    assert link in _section(html, "overdue")


def test_the_list_is_also_served_as_json(patients: Patients, auth: AuthActions) -> None:
    client = auth.client_for(patients.world.users["doctor"])
    data = client.get("/worklist/items.json").get_json()
    assert data["today"] == "2026-10-10" and data["who"] == "mine"
    overdue = {(i["resident_id"], i["label"]) for i in data["overdue"]}
    assert (patients.overdue.id, Q3_FOLLOW_UP) in overdue


def test_the_centre_has_no_work_list(patients: Patients, auth: AuthActions) -> None:
    client = auth.client_for(patients.world.users["centre"])
    assert client.get("/worklist/").status_code == 403


def _queries(client: FlaskClient, count_queries: Any) -> int:
    client.get("/worklist/?who=team")  # reloads the logged-in user expired by a commit
    with count_queries() as counter:
        assert client.get("/worklist/?who=team").status_code == 200
    return int(counter.count)


def test_the_page_takes_the_same_queries_for_more_residents(
    patients: Patients, count_queries: Any, auth: AuthActions
) -> None:
    client = auth.client_for(patients.world.users["leader"])
    before = _queries(client, count_queries)
    home = make_household(patients.world.tree.team)
    for n in range(12):
        resident = add_resident(
            home, date(1955, 1, 1 + n), f"新增{n}", hypertension=True, diabetes=True
        )
        add_record(resident, "diabetes_followup", date(2026, 7, 2), patients.world.users["leader"])
    db.session.commit()
    assert _queries(client, count_queries) == before
