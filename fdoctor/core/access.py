"""Route guards: who may open a page (403), on top of the data scope (404)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required

from fdoctor.core.roles import FULL_ID_ROLES, Role


def roles_required(
    *roles: Role | Iterable[Role],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow only the given roles; others get 403. Implies login."""
    allowed: set[str] = set()
    for r in roles:
        if isinstance(r, Role):
            allowed.add(r.value)
        else:
            allowed.update(x.value for x in r)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return wrapped

    return decorator


def sees_full_id(user: Any | None = None) -> bool:
    user = current_user if user is None else user
    return getattr(user, "role", None) in {r.value for r in FULL_ID_ROLES}
