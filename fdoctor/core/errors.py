"""The one base of the areas' refusals: a Chinese message for the user and the HTTP status.

Each area raises its own subclass (``AssessmentError``, ``SurveyError``, ``FlagError``, …) from its
services. A view may catch it to answer its own way (flash and redirect, show the form again);
one that does not gets the message with the error's status from the unit of work
(``fdoctor.core.unit_of_work``): a page for the browser, ``{"error", "status"}`` for the API.
"""

from __future__ import annotations


class UserFacingError(ValueError):
    """A refused operation. ``message`` is Chinese and meant for the user; ``status`` is the HTTP
    status a view answers with (each area's subclass sets its usual one)."""

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
