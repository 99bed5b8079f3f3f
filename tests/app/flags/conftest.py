"""Tests of the flags pages run on an app with the flags blueprint registered."""

from tests.app.worklist.wiring import _wired_app, app  # noqa: F401 - fixtures
