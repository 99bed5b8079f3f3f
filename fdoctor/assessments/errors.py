"""The assessments' one refusal: ``AssessmentError``, a Chinese message and an HTTP status."""

from __future__ import annotations

from fdoctor.core.errors import UserFacingError


class AssessmentError(UserFacingError):
    """A refused assessment operation; the message is Chinese. ``status`` is for JSON answers."""

    status = 409
