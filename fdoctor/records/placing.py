"""Placing a parsed draft in the org tree against the batch's context (scope, contract term,
receiving institution, duplicates): where a valid record lands, or why it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from fdoctor.core import clock
from fdoctor.records.context import Context, ContractTerm, same_day_ids
from fdoctor.records.drafts import Draft
from fdoctor.records.models import SERVICE_TYPES


@dataclass
class Placement:
    """Where a valid draft lands: its contract and the org columns of the record."""

    contract_id: int | None
    county_id: int
    institution_id: int
    team_id: int | None
    station_id: int | None
    other_institution_name: str | None
    entered_at: datetime


def place(
    draft: Draft,
    ctx: Context,
    now: datetime | None = None,
    exclude_record_id: int | None = None,
) -> tuple[Placement | None, dict[str, str], list[str]]:
    """Check a parsed draft against the context: (placement or None, errors, warnings)."""
    now = now or clock.now()
    errors: dict[str, str] = {}
    warnings: list[str] = []
    contract_id = station_id = None
    if draft.resident_id is not None:
        info = ctx.residents.get(draft.resident_id)
        if info is None:
            # The same words whether the resident does not exist or is another team's.
            errors["resident_id"] = "居民不存在或不在您的管辖范围内"
            return None, errors, warnings
        county_id, institution_id, team_id = info.county_id, info.institution_id, info.team_id
        station_id = info.station_id
        contract_id = _contract_for(draft, ctx.contracts.get(info.id, []), errors)
        if same_day_ids(draft, ctx) - {exclude_record_id}:
            warnings.append(
                f"{info.name} 在 {draft.service_date.isoformat()} 已有一条“{draft.type_label}”记录，"
                "请确认不是重复录入"
            )
    else:
        team = ctx.teams.get(draft.team_id or ctx.user_team_id or 0)
        if team is None:
            errors["team_id"] = (
                "团队不存在或不在您的管辖范围内" if draft.team_id else "请选择开展活动的团队"
            )
            return None, errors, warnings
        county_id, institution_id, team_id = team.county_id, team.institution_id, team.id
        station_id = team.station_id
    other_name = draft.other_institution_name
    if draft.other_institution_id is not None:
        other_name = ctx.institutions.get(draft.other_institution_id)
        if other_name is None:
            errors["other_institution"] = "转诊接收机构不存在，请重新选择"
    entered_at = draft.entered_at or now
    if entered_at > now:
        entered_at = now  # a device clock ahead of the server: never record a future entry
    if entered_at < datetime.combine(draft.service_date, time.min):
        warnings.append("录入时间早于服务日期（平板时间可能有误），已按上传时间记录")
        entered_at = now
    if errors:
        return None, errors, warnings
    return (
        Placement(
            contract_id=contract_id,
            county_id=county_id,
            institution_id=institution_id,
            team_id=team_id,
            station_id=station_id,
            other_institution_name=other_name,
            entered_at=entered_at,
        ),
        errors,
        warnings,
    )


def _contract_for(draft: Draft, terms: list[ContractTerm], errors: dict[str, str]) -> int | None:
    """The contract whose term holds the service date, the active one first.

    Basic public-health services (基本公共卫生服务) are owed to every resident of the grid, signed
    or not: such a record outside any contract's term is kept with no contract. Basic medical
    services and referrals are contract services and need a contract covering the day.
    """
    covering = [t for t in terms if t.covers(draft.service_date)]
    if covering:
        covering.sort(key=lambda t: (t.status != "active", -t.start.toordinal()))
        return covering[0].id
    if SERVICE_TYPES[draft.type][0] == "public_health":
        return None
    if not terms:
        errors["resident_id"] = "该居民没有签约，不能记录签约服务"
        return None
    current = next((t for t in terms if t.status == "active"), None)
    if current is not None:
        errors["service_date"] = (
            f"服务日期 {draft.service_date.isoformat()} 不在签约期限内"
            f"（{current.start.isoformat()} 至 {current.end.isoformat()}）"
        )
    else:
        errors["service_date"] = (
            f"服务日期 {draft.service_date.isoformat()} 不在该居民任何签约期限内"
        )
    return None
