"""The seven roles of SPEC 1 and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DOCTOR = "doctor"
    TEAM_LEADER = "team_leader"
    CENTRE_ADMIN = "centre_admin"
    COUNTY_AUDITOR = "county_auditor"
    CITY_ADMIN = "city_admin"
    FINANCE = "finance"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[Role, str] = {
    Role.DOCTOR: "家庭医生/村医",
    Role.TEAM_LEADER: "团队长",
    Role.CENTRE_ADMIN: "社区卫生服务中心/乡镇卫生院",
    Role.COUNTY_AUDITOR: "县区卫健局",
    Role.CITY_ADMIN: "市卫健委",
    Role.FINANCE: "市财政局",
    Role.ADMIN: "系统管理员",
}

# The org-unit kind each role is attached to (admin: none, the top of the tree).
ROLE_UNIT_KINDS: dict[Role, set[str]] = {
    Role.DOCTOR: {"team"},
    Role.TEAM_LEADER: {"team"},
    Role.CENTRE_ADMIN: {"institution"},
    Role.COUNTY_AUDITOR: {"county"},
    Role.CITY_ADMIN: {"city"},
    Role.FINANCE: {"city"},
    Role.ADMIN: {"city"},
}

# Roles that record services and need the full citizen ID to identify residents face to face.
FULL_ID_ROLES = frozenset({Role.DOCTOR, Role.TEAM_LEADER, Role.CENTRE_ADMIN})

# Who may write which records (reads follow scope).
RECORDERS = frozenset({Role.DOCTOR, Role.TEAM_LEADER, Role.CENTRE_ADMIN})
HEALTH_DATA_READERS = frozenset(
    {Role.DOCTOR, Role.TEAM_LEADER, Role.CENTRE_ADMIN, Role.COUNTY_AUDITOR, Role.CITY_ADMIN}
)
ORG_MANAGERS = frozenset({Role.ADMIN, Role.CENTRE_ADMIN})
