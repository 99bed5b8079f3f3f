"""fdoctor: family-doctor contract services, assessment and settlement for a city."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from config import INSTANCE_DIR, config_for


def create_app(config: str | dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` is a config name or a mapping of overrides (tests)."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    name = config if isinstance(config, str) else None
    app.config.from_object(config_for(name))
    if isinstance(config, dict):
        app.config.update(config)
    _init_secret_key(app)
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    init_extensions(app)
    init_blueprints(app)
    init_cli(app)
    from fdoctor.core import unit_of_work

    unit_of_work.init_app(app)  # every view registered above commits once or keeps nothing
    from fdoctor.audit import requests as audit_requests
    from fdoctor.auth import bearer
    from fdoctor.core import web

    bearer.init_app(app)  # first: a device's token is looked up before anything reads the input
    web.init_app(app)
    audit_requests.init_app(app)  # last: its after-request hook runs first
    from fdoctor.core import query

    query.init_app(app)
    init_signals()
    return app


def init_signals() -> None:
    """Connect the areas that listen to other areas' facts (``fdoctor.core.signals``)."""
    from fdoctor.corrections.services import connect_signals

    connect_signals()


def _init_secret_key(app: Flask) -> None:
    """The session key: production's own ``SECRET_KEY``, else this installation's key file;
    never one that is missing, short or public (written in the source tree)."""
    from fdoctor.core import secret_key

    if app.config.get("ENV_NAME") == "production":
        if not app.config.get("SECRET_KEY"):
            raise RuntimeError(
                "生产环境必须设置 SECRET_KEY 环境变量（production needs SECRET_KEY）"
            )
    elif not app.config.get("SECRET_KEY"):
        key, _created = secret_key.ensure_key_file(Path(app.config["SECRET_KEY_FILE"]))
        app.config["SECRET_KEY"] = key
    secret_key.check(app.config["SECRET_KEY"])


def init_extensions(app: Flask) -> None:
    from fdoctor import models  # noqa: F401 - register every table
    from fdoctor.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    _install_audit()
    from fdoctor.audit.keys import init_audit_key

    init_audit_key(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(app.root_path).parent / "migrations"),
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        from flask import flash, redirect, request, url_for

        if request.path.startswith("/api/"):
            return {"error": "未登录或登录已过期", "status": 401}, 401
        flash("请先登录", "warning")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @login_manager.request_loader
    def load_user_from_token(req: Any) -> Any:
        # Devices call /api/v1/ with "Authorization: Bearer <token>" instead of a session cookie.
        # The before_request hook (fdoctor.auth.bearer) normally logs them in already; either
        # way the token is looked up once per request.
        from fdoctor.auth.bearer import bearer_user
        from fdoctor.core.web import is_bearer_request

        return bearer_user() if is_bearer_request(req) else None

    @login_manager.user_loader
    def load_user(session_id: str) -> Any:
        from fdoctor.auth.services import user_for_session

        return user_for_session(session_id)


# Every area's blueprint: module path, each exporting ``bp``.
BLUEPRINT_MODULES = (
    "fdoctor.home.routes",
    "fdoctor.auth.routes",
    "fdoctor.org.routes",
    "fdoctor.households.routes",
    "fdoctor.contracts.routes",
    "fdoctor.records.routes",
    "fdoctor.surveys.routes",
    "fdoctor.imports.routes",
    "fdoctor.assessments.views",
    "fdoctor.assessments.public",
    "fdoctor.settlement.routes",
    "fdoctor.distribution.routes",
    "fdoctor.teamsplit.routes",
    "fdoctor.admin.routes",
    "fdoctor.api.routes",
    "fdoctor.worklist.routes",
    "fdoctor.flags.routes",
    "fdoctor.confirm.routes",
)
# Command groups: (module path, attribute).
CLI_GROUPS = (
    ("fdoctor.auth.cli", "users_cli"),
    ("fdoctor.demo.cli", "demo_cli"),
    ("fdoctor.scheduler.cli", "scheduler_cli"),
    ("fdoctor.scheduler.cli", "jobs_cli"),
    ("fdoctor.audit.cli", "audit_cli"),
    ("fdoctor.flags.cli", "flags_cli"),
    ("fdoctor.backup.cli", "backup_cli"),
    ("fdoctor.corrections.cli", "corrections_cli"),
)


_audit_installed = False


def _install_audit() -> None:
    """The audit listener is process-wide (every session), installed once."""
    global _audit_installed
    if not _audit_installed:
        from sqlalchemy.orm import Session

        from fdoctor.audit.listener import install

        install(Session)
        # The tallies follow ORM writes of service records in the same flush (fdoctor.tallies).
        from fdoctor.tallies.services import install as install_tallies

        install_tallies(Session)
        _audit_installed = True


def init_blueprints(app: Flask) -> None:
    from importlib import import_module

    for module in BLUEPRINT_MODULES:
        app.register_blueprint(import_module(module).bp)


def init_cli(app: Flask) -> None:
    from importlib import import_module

    for module, attr in CLI_GROUPS:
        app.cli.add_command(getattr(import_module(module), attr))
