"""Service-record refusals: a ``ServiceError`` whose message is Chinese and meant for the user."""

from __future__ import annotations

from fdoctor.core.errors import UserFacingError


class ServiceError(UserFacingError):
    """A user-facing error in Chinese; ``status`` is the HTTP status a view should answer."""

    status = 409
