"""Resident search: name, last digits of the ID, phone, address, grid cell name and filter."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient

from fdoctor.extensions import db
from fdoctor.households.services import search_residents
from tests.conftest import AuthActions
from tests.factories.contracts import World
from tests.factories.households import make_household, make_resident

pytestmark = pytest.mark.db


def _names(world: World, q: str, cell: int | None = None, who: str = "centre") -> set[str]:
    stmt = search_residents(q, world.users[who], grid_cell_id=cell)
    return {p.name for p in db.session.scalars(stmt)}


def test_search_by_name(world: World) -> None:
    assert _names(world, "张") == {"张建国", "张小明"}


def test_search_by_last_digits_of_the_id(world: World) -> None:
    wife = world.people["wife"]
    assert "李秀英" in _names(world, wife.citizen_id[-4:])


def test_search_by_phone(world: World) -> None:
    assert _names(world, "13800001111") == {"王芳"}


def test_search_by_address(world: World) -> None:
    assert _names(world, "东关村") == {"王芳"}


def test_search_by_grid_cell_name(world: World) -> None:
    assert _names(world, "幸福小区") == {"张建国", "李秀英", "张小明"}


def test_grid_cell_filter_includes_cells_below(world: World) -> None:
    area = world.cells["A1"].id
    assert _names(world, "", area) == {"张建国", "李秀英", "张小明", "王芳"}
    assert _names(world, "", world.cells["C2"].id) == {"王芳"}


def test_search_never_leaves_the_scope(world: World) -> None:
    assert _names(world, "", who="doctor") == {"张建国", "李秀英", "张小明", "王芳"}
    assert "孙丽" not in _names(world, "孙")


def test_search_page_filters_by_grid_cell(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    html = client.get(f"/households/?cell={world.cells['C2'].id}").get_data(as_text=True)
    assert "王芳" in html and "张建国" not in html
    assert "东街片区 › 东关村" in html  # the dropdown offers the cells in scope


def test_search_page_lists_no_foreign_grid_cells(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    html = client.get("/households/").get_data(as_text=True)
    assert "东关村" in html and "城关村" not in html and "和平小区" not in html


def test_search_page_queries_do_not_grow_with_residents(
    client: FlaskClient, world: World, count_queries: Any, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    with count_queries() as few:
        client.get("/households/")
    for i in range(8):
        home = make_household(
            world.tree.team, cell=world.cells["C2"], code=f"H-NEW-{i}", address=f"东关村{40 + i}号"
        )
        make_resident(home, date(1980 + i, 1, 1), name=f"新成员{i}", sex="F", head=True)
    db.session.commit()
    with count_queries() as many:
        client.get("/households/")
    assert many.count == few.count
