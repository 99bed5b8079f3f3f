"""Tests of the work list run on an app with the work-list blueprint registered."""

from tests.app.worklist.wiring import _wired_app, app  # noqa: F401 - fixtures
