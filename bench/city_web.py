"""Measured path 5: the county and city dashboards and the household search through the real
Flask app (test client), with search terms drawn from the data."""

from __future__ import annotations

import math
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bench.city_harness import (
    BenchError,
    Settings,
    make_app,
)

DEMO_PASSWORD = "Demo2026"

# --------------------------------------------------------------------------- path 5: web


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


@dataclass(frozen=True)
class SearchTerm:
    kind: str
    term: str
    resident: str  # the resident the term was drawn from


def _address_part(address: str) -> str:
    """What a clerk types for an address: the community or village after the street/township."""
    match = re.search(r"(?:街道|镇|乡)([^\d]{2,8}?)(?:\d|$)", address or "")
    if match:
        return match.group(1)[:6]
    return (address or "")[-10:-4]


def search_terms(county_id: int | None, count: int, seed: int) -> list[SearchTerm]:
    """Terms drawn from random residents in scope, cycling name / ID tail / phone / address."""
    from sqlalchemy import func, select

    from fdoctor.extensions import db
    from fdoctor.households.models import Household, Resident

    rng = random.Random(seed)
    scope = [Resident.county_id == county_id] if county_id is not None else []
    low, high = db.session.execute(
        select(func.min(Resident.id), func.max(Resident.id)).where(*scope)
    ).one()
    if low is None:
        return []
    kinds = ("name", "id_tail", "phone", "address")
    terms: list[SearchTerm] = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        for _attempt in range(20):
            row = db.session.execute(
                select(Resident.name, Resident.id_tail, Resident.phone, Household.address)
                .join(Household, Household.id == Resident.household_id)
                .where(Resident.id >= rng.randint(low, high), *scope)
                .order_by(Resident.id)
                .limit(1)
            ).first()
            if row is None:
                continue
            name, id_tail, phone, address = row
            term = {
                "name": name,
                "id_tail": (id_tail or "")[-4:],
                "phone": phone or "",
                "address": _address_part(address),
            }[kind]
            if term:
                terms.append(SearchTerm(kind, term, name))
                break
    return terms


def _login(client: Any, username: str) -> None:
    html = client.get("/login").get_data(as_text=True)
    match = _CSRF.search(html)
    if not match:
        raise BenchError("登录页没有 CSRF 令牌")
    token = match.group(1) or match.group(2)
    response = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise BenchError(f"演示账号 {username} 登录失败（{response.status_code}）")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))  # nearest rank
    return ordered[min(rank, len(ordered)) - 1]


def _examples(terms: list[SearchTerm], skip: int) -> dict[str, str]:
    """The first timed term of each kind, for the report."""
    found: dict[str, str] = {}
    for term in terms[skip:]:
        found.setdefault(term.kind, term.term)
    return found


def work_web(s: Settings) -> dict[str, Any]:
    from sqlalchemy import select

    from fdoctor.auth.models import User
    from fdoctor.core import clock
    from fdoctor.extensions import db

    app = make_app(s)
    warmup = 2
    with clock.frozen(s.anchor):
        with app.app_context():
            county_id = db.session.scalar(select(User.org_unit_id).where(User.username == "county"))
            county_terms = search_terms(county_id, s.requests + warmup, s.seed)
            city_terms = search_terms(None, s.requests + warmup, s.seed + 1)
            db.session.remove()
        clients = {}
        for username in ("county", "city"):
            client = app.test_client()
            _login(client, username)
            clients[username] = client
        endpoints: list[tuple[str, str, Callable[[int], str], list[SearchTerm] | None]] = [
            ("county_dashboard", "county", lambda _n: "/assessments/dashboard", None),
            ("county_dashboard_json", "county", lambda _n: "/assessments/dashboard/data.json", None),
            ("city_dashboard", "city", lambda _n: "/assessments/dashboard", None),
            ("city_dashboard_json", "city", lambda _n: "/assessments/dashboard/data.json", None),
            ("county_search", "county",
             lambda n: f"/households/?q={quote(county_terms[n].term)}", county_terms),
            ("city_search", "city", lambda n: f"/households/?q={quote(city_terms[n].term)}", city_terms),
        ]  # fmt: skip
        results = {}
        for name, user, url_of, terms in endpoints:
            client = clients[user]
            timings: list[float] = []
            statuses: Counter[int] = Counter()
            found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            by_kind: dict[str, list[float]] = defaultdict(list)
            first_ms = None
            total = s.requests + warmup
            if terms is not None:
                total = min(total, len(terms))
            for n in range(total):
                started = time.perf_counter()
                response = client.get(url_of(n))
                body = response.get_data(as_text=True)
                elapsed = (time.perf_counter() - started) * 1000
                if n == 0:
                    first_ms = elapsed
                if n < warmup:
                    continue
                timings.append(elapsed)
                statuses[response.status_code] += 1
                if terms is not None:
                    term = terms[n]
                    found[term.kind][1] += 1
                    by_kind[term.kind].append(elapsed)
                    if term.resident in body:
                        found[term.kind][0] += 1
            results[name] = {
                "user": user,
                "requests": len(timings),
                "statuses": {str(k): v for k, v in statuses.items()},
                "p50_ms": round(_percentile(timings, 50), 2),
                "p95_ms": round(_percentile(timings, 95), 2),
                "max_ms": round(max(timings), 2) if timings else None,
                "mean_ms": round(statistics.fmean(timings), 2) if timings else None,
                "first_request_ms": round(first_ms or 0, 2),
                **({"examples": _examples(terms, warmup)} if terms is not None else {}),
                **({"by_kind": {k: {"requests": len(v), "p50_ms": round(_percentile(v, 50), 2),
                                    "p95_ms": round(_percentile(v, 95), 2)}
                                for k, v in by_kind.items()}}
                   if terms is not None else {}),
                **({"found": {k: {"found": v[0], "searched": v[1]} for k, v in found.items()}}
                   if terms is not None else {}),
            }  # fmt: skip
    return {"endpoints": results, "warmup_requests": warmup}
