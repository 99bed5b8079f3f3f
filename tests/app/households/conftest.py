"""Fixtures shared with the other household/contract/import tests."""

from tests.factories.contracts import world  # noqa: F401 - a pytest fixture
