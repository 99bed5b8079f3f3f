"""The outcome of each record of a tablet upload (``ItemResult``), and the helpers reading the
ids an item carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fdoctor.records.drafts import is_uuid

STATUSES = ("created", "updated", "duplicate", "conflict", "invalid")


@dataclass
class ItemResult:
    """The outcome of one record of a batch."""

    status: str
    client_uuid: str | None
    id: int | None = None
    version: int | None = None
    edit_uuid: str | None = None
    conflict_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "client_uuid": self.client_uuid,
            "status": self.status,
            "id": self.id,
            "version": self.version,
            "errors": self.errors,
            "warnings": self.warnings,
        }
        if self.edit_uuid is not None:
            out["edit_uuid"] = self.edit_uuid
        if self.conflict_id is not None:
            out["conflict_id"] = self.conflict_id
        return out


def lower_uuid(value: Any) -> Any:
    """A well-formed UUID in lower case; anything else as it is."""
    return value.lower() if is_uuid(value) else value


def text_or_none(value: Any) -> str | None:
    """A text value as it is; anything else as None (to echo an id back)."""
    return value if isinstance(value, str) else None
