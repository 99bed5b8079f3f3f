"""``flask flags detect``: the same detection from the command line, idempotent."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select

from fdoctor.core import clock
from fdoctor.extensions import db
from fdoctor.flags.cli import flags_cli
from fdoctor.flags.models import SuspicionFlag
from tests.factories.households import make_household
from tests.factories.surveys import add_record, add_resident, make_world

pytestmark = pytest.mark.db


def test_detect_command_raises_flags_once(app: Flask) -> None:
    with clock.frozen(date(2026, 10, 10)):
        world = make_world()
        resident = add_resident(make_household(world.tree.team, doctor=world.users["doctor"]))
        add_record(resident, "home_visit", date(2026, 8, 5), world.users["doctor2"])
        db.session.commit()
        runner = app.test_cli_runner()
        first = runner.invoke(flags_cli, ["detect", "--period", "2026-Q3", "--county", "410001"])
        second = runner.invoke(flags_cli, ["detect", "--period", "2026-Q3"])
    assert first.exit_code == 0 and "新增 1 条" in first.output
    assert second.exit_code == 0 and "新增 0 条" in second.output
    assert db.session.scalar(select(func.count(SuspicionFlag.id))) == 1


def test_detect_command_refuses_a_month(app: Flask) -> None:
    result = app.test_cli_runner().invoke(flags_cli, ["detect", "--period", "2026-08"])
    assert result.exit_code != 0 and "需要季度周期" in result.output
