"""An ``app`` with the work-list and flags blueprints, until ``fdoctor.BLUEPRINT_MODULES`` lists them.

Import ``app`` and ``_wired_app`` into a conftest (or a test module) to override the shared
``app`` fixture; ``client``, ``count_queries`` and ``live_server`` then use it. Once the modules are
registered by ``create_app`` this is the shared app itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

import pytest
from flask import Flask

from tests.conftest import TestDatabase, empty_all_tables, make_app

EXTRA_BLUEPRINTS = ("fdoctor.worklist.routes", "fdoctor.flags.routes")


@pytest.fixture(scope="session")
def _wired_app(_empty_db: TestDatabase, _migrated_app: Flask) -> Iterator[Flask]:
    import fdoctor
    from fdoctor.extensions import db

    missing = [m for m in EXTRA_BLUEPRINTS if m not in fdoctor.BLUEPRINT_MODULES]
    if not missing:
        yield _migrated_app
        return
    wired = make_app(_empty_db.url)  # same database, schema already built by _migrated_app
    for module in missing:
        wired.register_blueprint(import_module(module).bp)
    yield wired
    with wired.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def app(_wired_app: Flask) -> Iterator[Flask]:
    with _wired_app.app_context():
        yield _wired_app
    empty_all_tables(_wired_app)
