"""A team's page lists its members with role and post."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from fdoctor.extensions import db
from tests.conftest import AuthActions
from tests.factories.org import make_tree
from tests.factories.users import PASSWORD, make_user

pytestmark = pytest.mark.db


def test_the_team_page_lists_its_active_members(client: FlaskClient, auth: AuthActions) -> None:
    tree = make_tree()
    make_user("centre", "centre_admin", tree.institution)
    make_user("lead", "team_leader", tree.team).display_name = "王队长"
    doctor = make_user("doc", "doctor", tree.team)
    doctor.display_name, doctor.post = "李医生", "全科医生"
    make_user("gone", "doctor", tree.team).active = False
    make_user("elsewhere", "doctor", tree.team2)
    db.session.commit()
    auth.login("centre", PASSWORD)
    page = client.get(f"/org/{tree.team.id}").get_data(as_text=True)
    members = page.split('id="unit-members"')[1].split("</table>")[0]
    assert "王队长" in members and "团队长" in members
    assert "李医生" in members and "全科医生" in members and "家庭医生" in members
    assert "gone" not in members and "elsewhere" not in members
    assert members.index("王队长") < members.index("李医生")
