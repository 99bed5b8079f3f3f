"""The builder's shared state and the random draws and calendar every step of it reads.

Everything comes from one ``random.Random(seed)``, so the order of the draws is part of the
output: a step must not draw more, fewer or in another order than it did, or the city changes.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta

from fdoctor.core import citizen_id as cid
from fdoctor.demo.dates import add_months, history_start, quarter_start
from fdoctor.demo.entities import Person, Place, Team
from fdoctor.demo.settings import DEMO_PASSWORD, SCALES, TABLE_LABELS, Row
from fdoctor.demo.vocabulary import (
    CN_NUM,
    GIVEN,
    PHONE_PREFIXES,
    ROADS,
    SALT_CHARS,
    SURNAME_WEIGHTS,
    SURNAMES,
    VILLAGE_PREFIXES,
    VILLAGE_SUFFIXES,
)


class DrawingBase:
    """State, row plumbing and random draws shared by every step of the builder."""

    def __init__(self, seed: int, anchor: date, scale: str) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.scale = scale
        self.spec = SCALES[scale]
        # Activity ends the day before the anchor so that nothing is dated later than "now".
        self.last_day = anchor - timedelta(days=1)
        # From 1 January of the last settled year: the city lives through all of that year.
        self.window_start = (
            history_start(anchor) if self.spec.whole_last_year else anchor - timedelta(days=365)
        )
        # Nothing is entered later than the morning of the anchor day.
        self.entry_limit = datetime.combine(anchor, time(8, 0))
        # Units, packages and households predate the earliest contract (a three-year term
        # renewed into the window began up to three years before it).
        self.stamp = datetime.combine(date(self.window_start.year - 4, 1, 1), time(9, 0))
        self.rows: dict[str, list[Row]] = {table: [] for table in TABLE_LABELS}
        self._ids: dict[str, int] = defaultdict(int)
        self._used_ids: set[str] = set()
        self._used_names: set[str] = set()
        self.teams: list[Team] = []
        self.institutions: list[Place] = []
        self.counties: list[Place] = []
        self.stations: list[Place] = []
        self.users_by_name: dict[str, Row] = {}
        self.packages: dict[str, Row] = {}
        self.records_by_resident: dict[int, list[Row]] = defaultdict(list)
        self.team_stations: dict[int, list[Place]] = {}
        self.contract_numbers: dict[str, int] = defaultdict(int)
        self.password_hash = self._password_hash()
        self.unit_names: dict[int, str] = {}
        self._county_of: dict[int, int] = {}

    # --- ids, rows and random draws ---

    def next_id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def add(self, table: str, row: Row) -> Row:
        self.rows[table].append(row)
        return row

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def day_between(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.rng.randint(0, (hi - lo).days))

    def at(self, day: date, lo_hour: int = 8, hi_hour: int = 17) -> datetime:
        minutes = self.rng.randint(lo_hour * 60, hi_hour * 60 - 1)
        return datetime.combine(day, time(minutes // 60, minutes % 60))

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def phone(self) -> str:
        return self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def surname(self) -> str:
        return self.rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]

    def given(self, sex: str, born_year: int) -> str:
        era = "old" if born_year < 1966 else "mid" if born_year < 1996 else "young"
        return self.rng.choice(GIVEN[(sex, era)])

    def person_name(self, sex: str, born_year: int, surname: str | None = None) -> str:
        return (surname or self.surname()) + self.given(sex, born_year)

    def unique_name(self, make: Callable[[], str]) -> str:
        """Draw names from ``make()`` until one is new (villages, estates, roads)."""
        for attempt in range(50):
            name = make()
            if attempt > 20:
                name += CN_NUM[attempt % 10] + "区"
            if name not in self._used_names:
                self._used_names.add(name)
                return name
        # Only the benchmark scales get here: number the name (阳光花园二区, 三区, …).
        base, n = make(), 2
        while f"{base}{n}区" in self._used_names:
            n += 1
        self._used_names.add(f"{base}{n}区")
        return f"{base}{n}区"

    def place_name(self, urban: bool) -> str:
        """A further street (街道) or town (镇/乡) for counties with more institutions."""
        if urban:
            return self.unique_name(lambda: self.rng.choice(ROADS).removesuffix("路") + "街道")
        return self.unique_name(
            lambda: (
                self.rng.choice(VILLAGE_PREFIXES[3:])
                + self.rng.choice(SURNAMES[:40])
                + self.rng.choice(VILLAGE_SUFFIXES)
                + self.rng.choice(("镇", "镇", "乡"))
            )
        )

    def village_name(self) -> str:
        return self.unique_name(
            lambda: (
                self.rng.choice(VILLAGE_PREFIXES)
                + self.rng.choice(SURNAMES[:40])
                + self.rng.choice(VILLAGE_SUFFIXES)
                + "村"
            )
        )

    def _password_hash(self) -> str:
        """One werkzeug-format scrypt hash with a seeded salt: deterministic, and hashed once."""
        salt = "".join(self.rng.choice(SALT_CHARS) for _ in range(16))
        n, r, p = 2**15, 8, 1
        digest = hashlib.scrypt(
            DEMO_PASSWORD.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
        ).hex()
        return f"scrypt:{n}:{r}:{p}${salt}${digest}"

    # --- a person on a given day, and the service calendar ---

    def tags_on(self, person: Person, day: date) -> set[str]:
        tags = set(cid.derived_tags(person.born, day))
        tags |= person.tags - {"maternal", "tuberculosis"}
        if self.maternal_on(person, day):
            tags.add("maternal")
        if "tuberculosis" in person.tags and person.tb_start and person.tb_start <= day:
            tags.add("tuberculosis")
        return tags

    @staticmethod
    def maternal_on(person: Person, day: date) -> bool:
        if person.pregnancy is None:
            return False
        lmp, delivery = person.pregnancy
        if lmp > day:
            return False
        return delivery is None or day <= delivery + timedelta(days=42)

    def in_window(self, day: date) -> bool:
        return self.window_start <= day <= self.last_day

    def covered(self, person: Person, lo: date, hi: date) -> list[tuple[date, date, int]]:
        """The person's contract spans clipped to [lo, hi] and to the service window."""
        lo, hi = max(lo, self.window_start), min(hi, self.last_day)
        return [(max(s, lo), min(e, hi), c) for s, e, c in person.spans if max(s, lo) <= min(e, hi)]

    def pick_day(self, segments: list[tuple[date, date, int]]) -> date | None:
        """A day drawn evenly from the union of the segments."""
        total = sum((e - s).days + 1 for s, e, _ in segments)
        if not total:
            return None
        k = self.rng.randrange(total)
        for s, e, _ in segments:
            days = (e - s).days + 1
            if k < days:
                return s + timedelta(days=k)
            k -= days
        raise AssertionError("unreachable")

    def contract_on(self, person: Person, day: date) -> int | None:
        return next((c for s, e, c in person.spans if s <= day <= e), None)

    def quarters(self) -> list[tuple[date, date]]:
        result, start = [], quarter_start(self.window_start)
        while start <= self.last_day:
            end = add_months(start, 3) - timedelta(days=1)
            result.append((start, end))
            start = end + timedelta(days=1)
        return result

    def months(self) -> Iterator[tuple[date, date]]:
        """The calendar months of the service window, the last one clipped to it."""
        start = self.window_start.replace(day=1)
        while start <= self.last_day:
            lo = max(start, self.window_start)
            hi = min(add_months(start, 1) - timedelta(days=1), self.last_day)
            yield lo, hi
            start = add_months(start, 1)
