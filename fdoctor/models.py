"""Every model, imported in one place so Alembic and the app see the whole metadata.

Each area keeps its models in ``fdoctor/<area>/models.py``; this module imports them all, then
every area's ``triggers.py`` (the rules the database enforces, see ``fdoctor.core.triggers``), so
``create_all`` and the migrations install them.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

_PACKAGE_DIR = Path(__file__).parent


def _import_area_models() -> list[str]:
    loaded = []
    for info in sorted(pkgutil.iter_modules([str(_PACKAGE_DIR)]), key=lambda i: i.name):
        if info.ispkg and (_PACKAGE_DIR / info.name / "models.py").is_file():
            importlib.import_module(f"fdoctor.{info.name}.models")
            loaded.append(info.name)
    return loaded


def _import_area_triggers() -> list[str]:
    loaded = []
    for info in sorted(pkgutil.iter_modules([str(_PACKAGE_DIR)]), key=lambda i: i.name):
        if info.ispkg and (_PACKAGE_DIR / info.name / "triggers.py").is_file():
            importlib.import_module(f"fdoctor.{info.name}.triggers")
            loaded.append(info.name)
    return loaded


AREAS_WITH_MODELS = _import_area_models()
AREAS_WITH_TRIGGERS = _import_area_triggers()
