"""The main menu each role sees: its links, their labels, groups and order.

The menu is declared by the areas (``fdoctor.core.menu``); this pins what every demo role sees
so that moving or adding an entry never changes another role's menu by accident.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask import Flask, url_for

from tests.app.access.base import ROLES
from tests.conftest import AuthActions

pytestmark = pytest.mark.db

# A menu item: (endpoint, label) for a link, (group label, [(endpoint, label), ...]) for a
# dropdown. Written down from the menu as it was before the areas declared their own entries,
# with the team split's pages (teamsplit) added when that area came.
Item = tuple[str, object]

BEFORE: dict[str, list[Item]] = {
    "admin": [
        ("home.index", "首页"),
        ("public.index", "结果公示"),
        ("管理", [("org.index", "机构"), ("admin.users", "用户管理")]),
    ],
    "centre": [
        ("home.index", "首页"),
        (
            "居民签约",
            [
                ("households.index", "居民与家庭"),
                ("contracts.index", "签约"),
                ("imports.index", "导入"),
            ],
        ),
        (
            "服务",
            [
                ("records.index", "服务记录"),
                ("records.referrals", "转诊接收"),
                ("records.conflicts", "修改冲突"),
            ],
        ),
        (
            "考核",
            [
                ("assessments.index", "考核"),
                ("surveys.index", "满意度与投诉"),
                ("flags.index", "疑点"),
                ("public.index", "结果公示"),
            ],
        ),
        (
            "结算",
            [
                ("settlement.index", "结算"),
                ("distribution.index", "二次分配"),
                ("teamsplit.attendance", "成员出勤"),
                ("teamsplit.leaders", "负责人分配"),
            ],
        ),
        ("管理", [("org.index", "机构"), ("admin.users", "用户管理")]),
    ],
    "city": [
        ("home.index", "首页"),
        ("居民签约", [("households.index", "居民与家庭"), ("contracts.index", "签约")]),
        ("records.index", "服务记录"),
        (
            "考核",
            [
                ("assessments.index", "考核"),
                ("surveys.index", "满意度与投诉"),
                ("flags.index", "疑点"),
                ("public.index", "结果公示"),
            ],
        ),
        ("settlement.index", "结算"),
        ("org.index", "机构"),
    ],
    "county": [
        ("home.index", "首页"),
        ("居民签约", [("households.index", "居民与家庭"), ("contracts.index", "签约")]),
        ("records.index", "服务记录"),
        (
            "考核",
            [
                ("assessments.index", "考核"),
                ("surveys.index", "满意度与投诉"),
                ("flags.index", "疑点"),
                ("public.index", "结果公示"),
            ],
        ),
        ("结算", [("settlement.index", "结算"), ("teamsplit.points", "工作量点数")]),
        ("org.index", "机构"),
    ],
    "doctor": [
        ("home.index", "首页"),
        ("worklist.index", "工作清单"),
        (
            "居民签约",
            [
                ("households.index", "居民与家庭"),
                ("contracts.index", "签约"),
                ("imports.index", "导入"),
            ],
        ),
        ("服务", [("records.tablet", "录入服务"), ("records.index", "服务记录")]),
        ("考核", [("assessments.notifications", "提醒"), ("public.index", "结果公示")]),
        (
            "结算",
            [
                ("distribution.index", "二次分配"),
                ("distribution.slips", "我的绩效"),
                ("teamsplit.fund", "部门基金"),
            ],
        ),
        ("org.index", "机构"),
    ],
    "finance": [
        ("home.index", "首页"),
        ("home.funds", "结算池资金"),
        ("public.index", "结果公示"),
        ("settlement.index", "结算"),
        ("org.index", "机构"),
    ],
    "leader": [
        ("home.index", "首页"),
        ("worklist.index", "工作清单"),
        (
            "居民签约",
            [
                ("households.index", "居民与家庭"),
                ("contracts.index", "签约"),
                ("imports.index", "导入"),
            ],
        ),
        (
            "服务",
            [
                ("records.tablet", "录入服务"),
                ("records.index", "服务记录"),
                ("records.referrals", "转诊接收"),
                ("records.conflicts", "修改冲突"),
            ],
        ),
        (
            "考核",
            [
                ("assessments.index", "考核"),
                ("surveys.index", "满意度与投诉"),
                ("public.index", "结果公示"),
            ],
        ),
        (
            "结算",
            [
                ("settlement.ratings", "成员系数"),
                ("distribution.index", "二次分配"),
                ("distribution.slips", "我的绩效"),
                ("teamsplit.deductions", "内部扣分"),
                ("teamsplit.fund", "部门基金"),
            ],
        ),
        ("org.index", "机构"),
    ],
}


class _MenuParser(HTMLParser):
    """The links of ``ul.fd-nav``: ("link", href, text), ("group", "", text), ("item", href, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # <ul> nesting inside the menu, 0 outside it
        self.anchor: tuple[str, str] | None = None
        self.text = ""
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        classes = (attr.get("class") or "").split()
        if tag == "ul" and (self.depth or "fd-nav" in classes):
            self.depth += 1
        elif tag == "a" and self.depth:
            if "dropdown-toggle" in classes:
                kind = "group"
            elif "dropdown-item" in classes:
                kind = "item"
            else:
                kind = "link"
            self.anchor = (kind, "" if kind == "group" else attr.get("href") or "")
            self.text = ""

    def handle_data(self, data: str) -> None:
        if self.anchor:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul" and self.depth:
            self.depth -= 1
        elif tag == "a" and self.anchor:
            self.found.append((*self.anchor, self.text.strip()))
            self.anchor = None


def rendered_menu(html: str) -> list[Item]:
    parser = _MenuParser()
    parser.feed(html)
    menu: list[Item] = []
    for kind, href, text in parser.found:
        if kind == "item":
            group = menu[-1][1]
            assert isinstance(group, list)
            group.append((href, text))
        else:
            menu.append((href, text) if kind == "link" else (text, []))
    return menu


def _as_urls(menu: list[Item]) -> list[Item]:
    return [
        (url_for(key), value)
        if isinstance(value, str)
        else (key, [(url_for(endpoint), label) for endpoint, label in value])  # type: ignore[attr-defined]
        for key, value in menu
    ]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_the_menu_it_saw_before(demo_app: Flask, role: str) -> None:
    client = demo_app.test_client()
    assert AuthActions(client).login(role).status_code == 302
    shown = rendered_menu(client.get("/").get_data(as_text=True))
    with demo_app.test_request_context():
        assert shown == _as_urls(BEFORE[role])


def test_a_page_in_a_group_marks_its_dropdown_active(demo_app: Flask) -> None:
    client = demo_app.test_client()
    assert AuthActions(client).login("leader").status_code == 302
    html = client.get("/services/").get_data(as_text=True)
    assert (
        'dropdown-toggle active" href="#" role="button" data-bs-toggle="dropdown" aria-expanded="false">服务<'
        in html
    )
    assert 'class="dropdown-item active" href="/services/">服务记录<' in html
