"""Settlement refusals: every one is a ``SettlementError`` whose message is Chinese and meant for
the user."""

from __future__ import annotations

from fdoctor.core.errors import UserFacingError


class SettlementError(UserFacingError):
    """A user-facing refusal (Chinese message)."""


class SettlementIncomplete(SettlementError):
    """The settlement cannot be computed; ``missing`` lists what is missing, in Chinese."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("无法计算：" + "；".join(missing[:5]) + ("……" if len(missing) > 5 else ""))
        self.missing = missing


class SettlementStateError(SettlementError):
    """A transition or change the sheet's status does not allow."""
