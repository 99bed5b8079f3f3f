"""Resident search: what a term is recognised as, and what each kind finds (fdoctor/households/
search.py). The older behaviour tests are in test_search.py."""

from __future__ import annotations

from datetime import date

import pytest

from fdoctor.core import citizen_id as cid
from fdoctor.extensions import db
from fdoctor.households import search
from fdoctor.households.search import Term, classify
from tests.factories.contracts import World
from tests.factories.households import make_household, make_resident

pytestmark = pytest.mark.db


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        ("", "", ""),
        ("   ", "", ""),
        ("1234", "id_tail", "1234"),
        (" 12 34 ", "id_tail", "1234"),
        ("12345x", "id_tail", "12345X"),
        ("7", "id_tail", "7"),
        ("1380000", "phone", "1380000"),
        ("138 0000 1111", "phone", "13800001111"),
        ("0374-1234567", "phone", "0374-1234567"),
        ("41100219900405002x", "citizen_id", "41100219900405002X"),
        ("张", "text", "张"),
        ("王 芳", "text", "王 芳"),
        ("3号楼", "text", "3号楼"),
        ("H-T1-002", "text", "H-T1-002"),
        ("X", "text", "X"),
    ],
)
def test_what_a_term_is_recognised_as(typed: str, kind: str, value: str) -> None:
    assert classify(typed) == Term(kind, value)


def _names(world: World, q: str, who: str = "centre", **kw: object) -> set[str]:
    stmt = search.search_residents(q, world.users[who], **kw)  # type: ignore[arg-type]
    return {p.name for p in db.session.scalars(stmt)}


def test_id_tails_of_every_length(world: World) -> None:
    wife = world.people["wife"]
    for width in (2, 3, 4, 5, 6):
        assert "李秀英" in _names(world, wife.citizen_id[-width:]), width
    other = {p.citizen_id[-4:] for k, p in world.people.items() if k != "wife"}
    assert wife.citizen_id[-4:] not in other  # the factory's IDs differ in the last four
    assert _names(world, wife.citizen_id[-4:]) == {"李秀英"}


def test_an_id_tail_ending_in_x(world: World) -> None:
    number = next(
        n
        for n in (cid.make("410001", date(1988, 8, 8), seq) for seq in range(1000))
        if n.endswith("X")
    )
    make_resident(world.households["h2"], date(1988, 8, 8), name="陈晓", sex="M", number=number)
    db.session.commit()
    assert "陈晓" in _names(world, number[-4:].lower())
    assert "陈晓" in _names(world, number[-6:])


def test_a_whole_citizen_id_finds_only_that_person(world: World) -> None:
    wife = world.people["wife"]
    assert _names(world, wife.citizen_id) == {"李秀英"}
    assert (
        _names(world, wife.citizen_id[:-1] + ("0" if wife.citizen_id[-1] != "0" else "1")) == set()
    )


def test_phone_by_its_start_on_residents_and_households(world: World) -> None:
    assert _names(world, "1380000") == {"王芳"}
    assert _names(world, "13800001111") == {"王芳"}
    world.households["h1"].phone = "0374-1234567"
    db.session.commit()
    family = {"张建国", "李秀英", "张小明"}
    assert _names(world, "0374-1234567") == family
    assert _names(world, "0374-123") == family
    assert _names(world, "13900001111") == set()


def test_digits_are_never_looked_up_in_addresses(world: World) -> None:
    # Intentional since the city-scale search: "12" is an ID tail, not part of "东关村12号".
    assert "王芳" not in _names(world, "12")


def test_names_match_from_their_start(world: World) -> None:
    assert _names(world, "张小") == {"张小明"}
    assert _names(world, "张小明") == {"张小明"}
    # Intentional since the city-scale search: the middle of a name is not looked up.
    assert _names(world, "小明") == set()


def test_an_address_needs_three_characters(world: World) -> None:
    home = make_household(
        world.tree.team, cell=world.cells["C2"], code="H-T1-009", address="北关路5号"
    )
    make_resident(home, date(1991, 3, 3), name="周敏", sex="F", head=True)
    db.session.commit()
    assert "周敏" in _names(world, "北关路")
    assert "周敏" in _names(world, "关路5号")
    assert "周敏" not in _names(world, "北关")
    # A grid cell's name is looked up from one character on.
    assert "周敏" in _names(world, "东关")


def test_household_code(world: World) -> None:
    assert _names(world, "H-T1-002") == {"王芳"}
    assert _names(world, "H-X-001") == set()  # another county's household


def test_wildcards_are_plain_characters(world: World) -> None:
    assert _names(world, "%") == set()
    assert _names(world, "张%") == set()
    assert _names(world, "___") == set()


def test_households_without_residents_are_skipped(world: World) -> None:
    make_household(world.tree.team, cell=world.cells["C2"], code="H-T1-010", address="东关村99号")
    db.session.commit()
    assert _names(world, "东关村") == {"王芳"}


def test_every_kind_stays_in_the_scope(world: World) -> None:
    foreign = world.people["foreign"]  # 孙丽, the other county
    world.households["h4"].phone = "13911112222"
    db.session.commit()
    for term in ("孙", "城关村", foreign.citizen_id, foreign.citizen_id[-4:], "1391111", "H-X-001"):
        assert "孙丽" not in _names(world, term, who="county"), term
        assert "孙丽" in _names(world, term, who="city"), term
    assert _names(world, "", who="doctor2") == {"赵强"}


def test_a_broad_term_is_cut_at_the_limit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    where = search.resolve_filter(world.users["city"], [], None)
    everyone = search.match_keys(classify(""), where)
    assert len(everyone.keys) == 6 and not everyone.more
    monkeypatch.setattr(search, "SEARCH_LIMIT", 4)
    for term in ("", "张", "东关村"):
        limited = search.match_keys(classify(term), where)
        assert len(limited.keys) <= 4
    limited = search.match_keys(classify(""), where)
    assert limited.more and limited.keys == sorted(limited.keys)
    # Households found by address count their residents towards the limit too.
    small = search.match_keys(classify("幸福小区"), where, limit=2)
    assert small.more and len(small.keys) == 2


def test_results_keep_families_together(world: World) -> None:
    where = search.resolve_filter(world.users["centre"], [], None)
    page = search.find_residents("", where)
    households = [p.household_id for p in page.items]
    assert households == sorted(households)
    assert page.total == 5 and not page.more
