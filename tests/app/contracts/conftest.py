"""Fixtures shared with the other household/contract/import tests."""

from tests.contracts_factories import world  # noqa: F401 - a pytest fixture
