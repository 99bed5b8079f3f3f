"""Clients that keep their own login (see ``tests.app.records.factories.Device``)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.app.records.factories import Device, device


@pytest.fixture()
def client(app: Flask) -> Device:
    return device(app)
