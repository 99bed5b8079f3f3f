"""The surveys' one refusal (``SurveyError``), and the longest free text a form may carry."""

from __future__ import annotations

from fdoctor.core.errors import UserFacingError

MAX_TEXT = 2000


class SurveyError(UserFacingError):
    """A user-facing error in Chinese; ``status`` is the HTTP status a view should answer."""
