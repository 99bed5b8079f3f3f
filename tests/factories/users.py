"""Users: the one ``make_user`` of the tests, and the password every test user signs in with."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from fdoctor.auth.models import User
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit

PASSWORD = "Kestrel-2041"


@cache
def _shared_hash() -> str:
    # The production method (scrypt) costs a quarter of a second per hash and per sign-in; these
    # tests create and sign in many users, so they share one cheap hash of PASSWORD.
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def make_user(
    username: str,
    role: str,
    unit: OrgUnit | None,
    *,
    post: str | None = None,
    probation: bool = False,
    display_name: str | None = None,
    real_hash: bool = False,
) -> User:
    """A user of ``role`` in ``unit`` who signs in with ``PASSWORD``.

    The hash is shared and cheap; ``real_hash`` hashes PASSWORD afresh the production way (its
    own salt, the default method), for the tests about password hashes themselves.
    """
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=generate_password_hash(PASSWORD) if real_hash else _shared_hash(),
        role=role,
        org_unit_id=unit.id if unit is not None else None,
        post=post,
        on_probation=probation,
    )
    db.session.add(user)
    db.session.flush()
    return user


def team_doctor(team: OrgUnit) -> User:
    """The team's first user, or a new doctor of the team if it has none."""
    user = db.session.scalar(select(User).where(User.org_unit_id == team.id).order_by(User.id))
    return user or make_user(f"doctor-{team.code}", "doctor", team, display_name="医生")
