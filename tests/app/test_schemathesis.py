"""Schemathesis against the app's own OpenAPI description: generated requests to every /api/v1/
operation, authenticated with a doctor's bearer token, never get a 500 and never break the
database's invariants (checked once the generated cases have run)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from fdoctor.extensions import db

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def _token_world(_migrated_app: Flask) -> Iterator[tuple[Flask, str]]:
    from sqlalchemy import select

    from fdoctor.auth.models import User
    from fdoctor.auth.services import issue_api_token
    from fdoctor.demo.generator import load_demo
    from tests.conftest import empty_all_tables

    with _migrated_app.app_context():
        load_demo(seed=11, anchor=date(2026, 11, 20), scale="small")
        doctor = db.session.scalar(select(User).where(User.username == "doctor"))
        token = issue_api_token(doctor, "schemathesis")
        db.session.commit()
    yield _migrated_app, token
    empty_all_tables(_migrated_app)


def test_api_never_crashes(_token_world: tuple[Flask, str]) -> None:
    # Schemathesis' own pytest plugin does not support this pytest yet: drive its Hypothesis
    # strategies directly, one operation at a time.
    app, token = _token_world
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 6
    failures: list[str] = []
    answered: dict[int, int] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            answered[response.status_code] = answered.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} → {response.status_code}")

        run()
    assert not failures, failures[:5]
    assert sum(answered.values()) > 5 * len(operations), answered
    assert 200 in answered  # some generated requests were valid and got through


def test_api_data_stays_consistent_after_fuzzing(_token_world: tuple[Flask, str]) -> None:
    from fdoctor.audit.verify import verify

    app, _token = _token_world
    with app.app_context():
        result = verify(db.session)
        assert result.ok, result.problems[:3]
