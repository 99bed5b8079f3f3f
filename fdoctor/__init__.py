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
    _check_production(app)
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)

    init_extensions(app)
    init_blueprints(app)
    init_cli(app)
    from fdoctor.core import web

    web.init_app(app)
    return app


def _check_production(app: Flask) -> None:
    if app.config.get("ENV_NAME") == "production" and not app.config.get("SECRET_KEY"):
        raise RuntimeError("生产环境必须设置 SECRET_KEY 环境变量（production needs SECRET_KEY）")


def init_extensions(app: Flask) -> None:
    from fdoctor import models  # noqa: F401 - register every table
    from fdoctor.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
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

    @login_manager.user_loader
    def load_user(user_id: str) -> Any:
        from fdoctor.auth.models import User

        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None


def init_blueprints(app: Flask) -> None:
    from fdoctor.admin.routes import bp as admin_bp
    from fdoctor.assessments.routes import bp as assessments_bp
    from fdoctor.auth.routes import bp as auth_bp
    from fdoctor.contracts.routes import bp as contracts_bp
    from fdoctor.core.home import bp as home_bp
    from fdoctor.households.routes import bp as households_bp
    from fdoctor.org.routes import bp as org_bp
    from fdoctor.services.routes import bp as services_bp
    from fdoctor.settlement.routes import bp as settlement_bp
    from fdoctor.surveys.routes import bp as surveys_bp

    for bp in (
        home_bp,
        auth_bp,
        org_bp,
        households_bp,
        contracts_bp,
        services_bp,
        surveys_bp,
        assessments_bp,
        settlement_bp,
        admin_bp,
    ):
        app.register_blueprint(bp)


def init_cli(app: Flask) -> None:
    from fdoctor.auth.cli import users_cli
    from fdoctor.demo.cli import demo_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
