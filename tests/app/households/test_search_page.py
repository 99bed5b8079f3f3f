"""The search page at city scale: the filter cascade (units › team › grid, one level at a time),
the result summary and the pager (fdoctor/households/search.py, templates/households/index.html)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from fdoctor.extensions import db
from fdoctor.households import search
from tests.conftest import AuthActions
from tests.factories.contracts import World
from tests.factories.households import make_household, make_resident
from tests.factories.org import make_cell

pytestmark = pytest.mark.db


def _levels(world: World, who: str, units: list[Any], cell: int | None = None) -> list[Any]:
    where = search.resolve_filter(world.users[who], units, cell)
    return search.filter_levels(where)


def _options(level: Any) -> list[str]:
    return [label for _id, label in level.options]


def test_the_city_starts_with_its_counties(world: World) -> None:
    levels = _levels(world, "city", [])
    assert [lv.label for lv in levels] == ["县（市、区）"]
    assert _options(levels[0]) == ["甲区", "乙县"]


def test_each_choice_opens_the_next_level(world: World) -> None:
    tree = world.tree
    levels = _levels(world, "city", [tree.county.id, tree.institution.id])
    assert [lv.selected for lv in levels] == [tree.county.id, tree.institution.id, None]
    assert _options(levels[2]) == ["东街一队", "东街二队"]
    levels = _levels(world, "city", [tree.county.id, tree.institution.id, tree.team.id])
    assert [lv.name for lv in levels] == ["unit", "unit", "unit", "cell"]
    assert _options(levels[3]) == [
        "东街片区",
        "东街片区 › 东关村",
        "东街片区 › 幸福小区",
        "东街片区 › 幸福小区 › 幸福小区1号楼",
    ]


def test_a_cell_alone_selects_its_whole_chain(world: World) -> None:
    tree = world.tree
    levels = _levels(world, "county", [], world.cells["C2"].id)
    assert [lv.selected for lv in levels] == [
        tree.institution.id,
        tree.team.id,
        world.cells["C2"].id,
    ]


def test_a_changed_upper_level_drops_the_stale_lower_ones(world: World) -> None:
    tree = world.tree
    where = search.resolve_filter(
        world.users["city"], [tree.other_county.id, tree.institution.id], None
    )
    assert where.unit is not None and where.unit.id == tree.other_county.id
    where = search.resolve_filter(world.users["city"], [None, tree.institution.id], None)
    assert where.unit is None  # "all counties" chosen above it
    where = search.resolve_filter(world.users["city"], [tree.other_county.id], world.cells["C2"].id)
    assert where.cell is None and where.unit is not None


def test_units_and_cells_outside_the_scope_are_ignored(world: World) -> None:
    tree = world.tree
    where = search.resolve_filter(world.users["centre"], [tree.other_team.id], world.cells["C4"].id)
    assert where.unit is None and where.cell is None
    where = search.resolve_filter(world.users["centre"], [tree.institution.id], None)
    assert where.unit is None  # the user's own unit is no filter
    where = search.resolve_filter(world.users["doctor"], [tree.team2.id], world.cells["C3"].id)
    assert where.unit is None and where.cell is None


def test_a_team_or_cell_filter_narrows_the_search(world: World) -> None:
    tree = world.tree
    where = search.resolve_filter(world.users["county"], [tree.institution.id, tree.team2.id], None)
    assert [p.name for p in search.find_residents("", where).items] == ["赵强"]
    where = search.resolve_filter(world.users["county"], [], world.cells["C1"].id)
    names = {p.name for p in search.find_residents("", where).items}
    assert names == {"张建国", "李秀英", "张小明"}  # B1 lies below C1
    assert search.find_residents("王", where).items == []


def _page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _filter(html: str) -> str:
    start = html.index('id="resident-search"')
    return html[start : html.index("</form>", start)]


def test_the_page_lists_the_next_level_not_the_whole_grid(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["centre"])
    form = _filter(_page(client, "/households/"))
    assert "东街一队" in form and "东街二队" in form
    assert "幸福小区" not in form  # no grid before a team is chosen
    form = _filter(_page(client, f"/households/?unit={world.tree.team.id}"))
    assert "东街片区 › 幸福小区" in form and "和平小区" not in form


def test_the_summary_names_what_was_searched(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    html = _page(client, "/households/?q=" + quote(world.people["wife"].citizen_id[-4:]))
    assert "按身份证号后几位查找" in html and "共 1 人" in html
    html = _page(client, "/households/?q=" + quote("张"))
    assert "按姓名（开头）" in html and "共 2 人" in html


def test_a_broad_search_says_it_is_cut(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch, auth: AuthActions
) -> None:
    monkeypatch.setattr(search, "SEARCH_LIMIT", 3)
    auth.login_as(world.users["doctor"])
    html = _page(client, "/households/")
    assert "超过 3 人，只列出前 3 人" in html
    assert len(re.findall(r"/households/residents/\d+", html)) == 3


def test_the_pager_keeps_the_term_and_the_filter(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch, auth: AuthActions
) -> None:
    monkeypatch.setattr(search, "PER_PAGE", 2)
    auth.login_as(world.users["county"])
    team = world.tree.team.id
    html = _page(client, f"/households/?unit={world.tree.institution.id}&unit={team}")
    assert "第 1 / 2 页" in html and "共 4 人" in html
    links = re.findall(r'href="(/households/\?[^"]*page=2[^"]*)"', html)
    assert links and f"unit={team}" in links[0]
    second = _page(client, links[0].replace("&amp;", "&"))
    assert "第 2 / 2 页" in second
    assert len(re.findall(r"/households/residents/\d+", second)) == 2
    # A page past the end shows the last one.
    assert "第 2 / 2 页" in _page(client, f"/households/?unit={team}&page=9")


def test_page_queries_do_not_grow_with_the_grid(
    client: FlaskClient, world: World, count_queries: Any, auth: AuthActions
) -> None:
    auth.login_as(world.users["centre"])
    with count_queries() as few:
        client.get("/households/?q=" + quote("东关村"))
    for i in range(30):
        area = make_cell(world.tree.team2, f"G-T2-X{i}", f"新片区{i}", "area")
        home = make_household(world.tree.team2, cell=area, code=f"H-T2-X{i}", address=f"新村{i}号")
        make_resident(home, date(1970 + i, 1, 1), name=f"新人{i}", sex="M", head=True)
    db.session.commit()
    with count_queries() as many:
        client.get("/households/?q=" + quote("东关村"))
    assert many.count == few.count


@pytest.mark.parametrize("who", ["doctor", "centre", "county", "city"])
def test_every_reader_can_search(
    client: FlaskClient, world: World, who: str, auth: AuthActions
) -> None:
    auth.login_as(world.users[who])
    for q in ("", "张", "13800001111", world.people["wife"].citizen_id[-4:], "东关村", "%"):
        assert client.get("/households/?q=" + quote(q)).status_code == 200
    assert client.get("/households/?unit=abc&cell=x&page=-1").status_code == 200
