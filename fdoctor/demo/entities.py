"""The builder's own view of the city: places, grid cells, teams, households and people as it
draws them, before they become rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fdoctor.demo.vocabulary import CountySpec


@dataclass(slots=True)
class Traits:
    """How well a team works; drawn once per team so that teams score differently."""

    sign_key: float
    sign_other: float
    followup: float
    control: float
    checkup: float
    volume: float
    late: float
    education_skip: float
    referrals: float  # per month
    receipt: float
    knows: float
    quality: float
    bad: float  # sampled records the resident says never happened


@dataclass(slots=True)
class Place:
    """A county, institution or station as the builder needs it."""

    id: int
    code: str
    name: str
    short: str
    county: CountySpec
    county_id: int
    institution_id: int | None = None
    home_name: str = ""  # a station's village or community, reused for its grid
    admin_id: int = 0  # the centre_admin of an institution


@dataclass(slots=True)
class Cell:
    id: int
    station_id: int | None
    address: str  # prefix; a household adds its own number
    registered_extra: float  # 常住 but not (yet) in the system, as a share of residents
    rural: bool
    group_count: int = 0


@dataclass(slots=True)
class Team:
    id: int
    code: str
    name: str
    county: CountySpec
    county_id: int
    institution: Place
    station_id: int | None
    rural: bool
    traits: Traits
    leader_id: int = 0
    member_ids: list[int] = field(default_factory=list)  # leader first
    responsible_ids: list[int] = field(default_factory=list)  # who may hold households
    leaves: list[Cell] = field(default_factory=list)
    homes: list[Home] = field(default_factory=list)


@dataclass(slots=True)
class Person:
    id: int
    name: str
    sex: str
    born: date
    relation: str
    tags: set[str]
    phone: str | None
    pregnancy: tuple[date, date | None] | None = None
    tb_start: date | None = None
    controlled_bp: bool = True
    controlled_glucose: bool = True
    spans: list[tuple[date, date, int]] = field(default_factory=list)  # (from, to, contract id)


@dataclass(slots=True)
class Home:
    id: int
    team: Team
    cell: Cell
    address: str
    doctor_id: int
    people: list[Person]
    must_sign: bool = False


@dataclass(slots=True)
class Sample:
    """One quarter's verification draw of one institution."""

    id: int
    institution: Place
    period: str
    q_start: date
    q_end: date
    drawn_on: date
