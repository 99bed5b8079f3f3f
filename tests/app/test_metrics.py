"""Metrics of the 100-point index from the records, against a hand-counted world (SPEC 4).

The world (period 2026-Q1, as of 2026-03-31): county A (410001) holds institution I with station S,
team T1 (under S, every household and record of T1 at S) and team T2 (under I); county B holds
team T3. Every expected value below is counted by hand in its comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from assessments.index_files import default_index_path, load_index
from assessments.scoring import score
from fdoctor.assessments.metrics import METRICS, compute_metrics, metric_records_query
from fdoctor.extensions import db
from fdoctor.org.models import OrgUnit
from fdoctor.org.services import add_unit
from fdoctor.records.models import ServiceRecord
from tests.factories.contracts import make_contract
from tests.factories.households import make_household, make_pregnancy, make_resident
from tests.factories.org import Tree, make_figure, make_tree
from tests.factories.records import late, make_record
from tests.factories.surveys import make_complaint, make_survey

pytestmark = pytest.mark.db

START, END = date(2026, 1, 1), date(2026, 3, 31)
D = Decimal


@dataclass
class World:
    tree: Tree
    people: dict[str, Any]
    records: dict[int, ServiceRecord]

    def unit(self, label: str) -> OrgUnit:
        t = self.tree
        return {
            "T1": t.team,
            "T2": t.team2,
            "T3": t.other_team,
            "S": t.station,
            "I": t.institution,
            "A": t.county,
            "B": t.other_county,
            "city": t.city,
        }[label]


@pytest.fixture()
def world(app: Flask) -> World:
    t = make_tree()
    t1, t2, t3, s = t.team, t.team2, t.other_team, t.station
    p: dict[str, Any] = {}

    # ---- T1 (all households at station S)
    h1 = make_household(t1, station=s)
    p["r1"] = make_resident(h1, date(1950, 5, 1), "hypertension")  # 75: elderly
    p["r2"] = make_resident(h1, date(1958, 2, 10), "diabetes")  # 68: elderly
    make_contract(h1, [p["r1"], p["r2"]], date(2025, 6, 1), date(2026, 5, 31))  # C1 active
    h2 = make_household(t1, station=s)
    p["r3"] = make_resident(h2, date(1990, 7, 1))
    p["r5"] = make_resident(h2, date(2025, 10, 1))  # a child of 6 months
    p["r11"] = make_resident(h2, date(2000, 1, 1))  # left C2: not signed
    make_contract(h2, [p["r3"], p["r5"]], date(2024, 1, 1), date(2026, 12, 31), removed=[p["r11"]])
    h3 = make_household(t1, station=s)
    p["r6"] = make_resident(h3, date(1995, 4, 4), "maternal")
    p["r7"] = make_resident(h3, date(1970, 1, 1), "mental_severe")
    p["r8"] = make_resident(h3, date(1980, 6, 6), "tuberculosis", tb_start=date(2025, 12, 15))
    trio = [p["r6"], p["r7"], p["r8"]]
    # C3 was in force on 31 March (renewed since); its renewal starts on 1 April.
    make_contract(h3, trio, date(2025, 4, 1), date(2026, 3, 31), status="renewed")
    make_contract(h3, trio, date(2026, 4, 1), date(2027, 3, 31))
    make_pregnancy(p["r6"], date(2025, 9, 1))
    h4 = make_household(t1, station=s)
    p["r9"] = make_resident(h4, date(1975, 5, 5), "disabled")
    make_contract(
        h4,
        [p["r9"]],
        date(2025, 1, 1),
        date(2027, 12, 31),
        status="terminated",
        terminated_on=date(2026, 2, 1),
    )  # C4: terminated before 31 March
    h5 = make_household(t1, station=s)
    p["r4"] = make_resident(h5, date(1985, 3, 3), "hypertension", "diabetes")
    p["r10"] = make_resident(h5, date(1980, 1, 1), "poverty", status="moved")  # never counts
    make_contract(h5, [p["r4"]], date(2023, 1, 1), date(2025, 12, 31), status="expired")  # C5
    h6 = make_household(t1, station=s)
    p["r12"] = make_resident(h6, date(1988, 8, 8))
    make_contract(h6, [p["r12"]], date(2025, 9, 1), date(2028, 8, 31))  # C8: only a false record

    # ---- T2 (no station)
    g1 = make_household(t2)
    p["s1"] = make_resident(g1, date(1955, 1, 1), "hypertension")
    p["s2"] = make_resident(g1, date(1960, 6, 1))  # 65
    p["s3"] = make_resident(g1, date(1961, 4, 1))  # turns 65 on 1 April: not elderly yet
    make_contract(g1, [p["s1"], p["s2"], p["s3"]], date(2025, 1, 1), date(2027, 12, 31))
    g2 = make_household(t2)
    p["s4"] = make_resident(g2, date(1961, 3, 31))  # 65 on 31 March, not signed

    # ---- T3 (county B)
    k1 = make_household(t3)
    p["t1"] = make_resident(k1, date(1940, 2, 2), "hypertension", "diabetes")
    make_contract(k1, [p["t1"]], date(2025, 3, 1), date(2026, 12, 31))
    k2 = make_household(t3)
    p["t2"] = make_resident(k2, date(1990, 9, 9))
    p["t3"] = make_resident(k2, date(2024, 1, 15))  # a child, not signed

    # ---- population figures (registered)
    make_figure(t1, 2026, 20)
    make_figure(t1, 2025, 999)  # another year: ignored
    make_figure(t2, 2026, 10)
    make_figure(t.county, 2026, 100)
    make_figure(t3, 2025, 50)  # only last year: T3, J and county B have none for 2026

    # ---- service records (numbered as in the counts below)
    r = p
    rec: dict[int, ServiceRecord] = {}
    rec[1] = make_record(
        "hypertension_followup", date(2026, 1, 10), r["r1"], team=t1, systolic=130, diastolic=80
    )
    rec[2] = make_record(
        "hypertension_followup", date(2025, 11, 5), r["r1"], team=t1, systolic=150, diastolic=95
    )
    rec[3] = make_record(
        "diabetes_followup",
        date(2026, 2, 15),
        r["r2"],
        team=t1,
        glucose="7.5",
        entered=late(date(2026, 2, 15), 3),  # exactly 48 h after the day ended: late
    )
    rec[4] = make_record(
        "diabetes_followup",
        date(2026, 3, 20),
        r["r2"],
        team=t1,
        glucose="6.5",
        verification="disputed",
    )
    rec[5] = make_record(
        "consultation",
        date(2026, 1, 20),
        r["r3"],
        team=t1,
        entered=datetime(2026, 1, 22, 23, 59, 59),
    )
    rec[6] = make_record("home_visit", date(2026, 3, 1), r["r3"], team=t1)
    rec[7] = make_record("child_checkup", date(2026, 1, 10), r["r5"], team=t1)
    rec[8] = make_record("vaccination", date(2026, 1, 15), r["r5"], team=t1)
    rec[9] = make_record(
        "vaccination", date(2026, 2, 10), r["r5"], team=t1, verification="disputed"
    )
    rec[10] = make_record("maternal_visit", date(2026, 1, 5), r["r6"], team=t1)
    rec[11] = make_record("mental_followup", date(2026, 2, 1), r["r7"], team=t1)
    rec[12] = make_record("tb_followup", date(2026, 1, 10), r["r8"], team=t1)
    rec[13] = make_record(
        "tb_followup", date(2026, 2, 20), r["r8"], team=t1, entered=datetime(2026, 3, 5, 9, 0)
    )
    rec[14] = make_record("health_education", date(2026, 2, 10), team=t1, station=s)  # an event
    rec[15] = make_record(
        "health_education", date(2026, 2, 11), r["r3"], team=t1
    )  # individual advice
    rec[16] = make_record(
        "referral_up", date(2026, 3, 10), r["r4"], team=t1, received=datetime(2026, 3, 12, 9, 0)
    )
    rec[17] = make_record("referral_down", date(2026, 3, 15), r["r3"], team=t1)
    rec[18] = make_record("consultation", date(2026, 3, 5), r["r12"], team=t1, verification="false")
    rec[19] = make_record("elderly_checkup", date(2025, 6, 10), r["r1"], team=t1)
    rec[20] = make_record(
        "hypertension_followup", date(2026, 2, 2), r["r4"], team=t1, systolic=145, diastolic=85
    )
    rec[21] = make_record(
        "hypertension_followup", date(2026, 3, 25), r["s1"], team=t2, systolic=120, diastolic=70
    )
    rec[22] = make_record("elderly_checkup", date(2025, 12, 1), r["s2"], team=t2)
    rec[23] = make_record("consultation", date(2026, 2, 10), r["s1"], team=t2)
    rec[24] = make_record("health_education", date(2026, 1, 20), team=t2)
    rec[25] = make_record("health_education", date(2026, 3, 20), team=t2)
    rec[26] = make_record(
        "hypertension_followup", date(2026, 1, 15), r["t1"], team=t3, systolic=135, diastolic=85
    )
    rec[27] = make_record("diabetes_followup", date(2026, 1, 15), r["t1"], team=t3, glucose="6.8")
    rec[28] = make_record(
        "referral_up", date(2026, 2, 1), r["t1"], team=t3, received=datetime(2026, 2, 3, 9, 0)
    )
    rec[29] = make_record(
        "consultation", date(2026, 2, 2), r["t1"], team=t3, entered=datetime(2026, 2, 10, 9, 0)
    )

    # ---- surveys and complaints
    make_survey(r["r1"], date(2026, 3, 10), 100, True)
    make_survey(r["r3"], date(2026, 3, 11), 80, False)
    make_survey(r["r2"], date(2026, 3, 12), 60, None)
    make_survey(r["r6"], date(2025, 12, 15), 20, False)  # before the period
    make_survey(r["t1"], date(2026, 2, 5), 20, True)
    make_complaint(t1, date(2026, 2, 1))
    make_complaint(t1, date(2026, 2, 2), status="open")
    make_complaint(t1, date(2025, 12, 20))  # before the period
    make_complaint(t3, date(2026, 3, 1))
    db.session.commit()
    return World(t, p, rec)


# Hand counts. Columns: T1, T2, T3, institution I (= T1 + T2), county A (= I), county B (= T3), city.
#
# Signed on 31 March: T1 8 (r1 r2 of C1; r3 r5 of C2 — r11 left it; r6 r7 r8 of the renewed C3;
# r12 of C8; not r9, terminated 1 Feb; not r4, expired), T2 3 (s1 s2 s3), T3 1 (t1).
# Counting records of the period (not false, not disputed): T1 15 (1 3 5 6 7 8 10–17 20),
# T2 4 (21 23 24 25), T3 4 (26–29).
EXPECTED: dict[str, tuple[object, ...]] = {
    # T1 8/20; T2 3/10; T3 no 2026 figure; I 11/(20+10 from its teams); A 11/100 (own figure);
    # B none below it; city 12/(100 + B none).
    "signing_coverage": (D("0.4"), D("0.3"), None, D("0.366667"), D("0.11"), None, D("0.12")),
    # key: T1 r1 r2 r4 r5 r6 r7 r8 r9 = 8, signed 6 (not r4 r9); T2 s1 s2 s4 = 3, signed 2;
    # T3 t1 t3 = 2, signed 1. I 8/11; city 9/13.
    "key_population_signing": (
        D("0.75"),
        D("0.666667"),
        D("0.5"),
        D("0.727273"),
        D("0.727273"),
        D("0.5"),
        D("0.692308"),
    ),
    # in force: T1 C1 C2 C3 C8 = 4, served 3 (C8 has only a false record); T2 1/1; T3 1/1.
    "effective_contracts": (D("0.75"), D(1), D(1), D("0.8"), D("0.8"), D(1), D("0.833333")),
    # timely: T1 15 − #3 (48 h) − #13 = 13/15; T2 4/4; T3 3/4 (#29 late); I 17/19; city 20/23.
    "timely_entry": (
        D("0.866667"),
        D(1),
        D("0.75"),
        D("0.894737"),
        D("0.894737"),
        D("0.75"),
        D("0.869565"),
    ),
    # visits ×100 ÷ (signed × 3): T1 2 (#5 #6) → 200/24; T2 1 → 100/9; T3 1 → 100/3;
    # I 300/33; city 400/36.
    "basic_medical_volume": (
        D("8.333333"),
        D("11.111111"),
        D("33.333333"),
        D("9.090909"),
        D("9.090909"),
        D("33.333333"),
        D("11.111111"),
    ),
    # Q1 2026 judged: T1 r1 (#1) yes, r2 (#3) yes, r4 (no diabetes follow-up) no = 2/3;
    # T2 s1 1/1; T3 t1 1/1; I 3/4; city 4/5.
    "chronic_standard_management": (
        D("0.666667"),
        D(1),
        D(1),
        D("0.75"),
        D("0.75"),
        D(1),
        D("0.8"),
    ),
    # T1: elderly r1 done (#19) r2 not = 1/2, child r5 3-month checkup 1/1, maternal r6
    # 16–20 weeks done, 21–24 weeks not = 1/2 → 3/5; T2: elderly s1 not, s2 done (#22) = 1/2;
    # T3: elderly t1 0/1; I 4/7; city 4/8.
    "key_population_services": (
        D("0.6"),
        D("0.5"),
        D(0),
        D("0.571429"),
        D("0.571429"),
        D(0),
        D("0.5"),
    ),
    # events ÷ 3 months: T1 1 (#14; #15 is individual); T2 2; T3 0; I and city 3.
    "health_education_sessions": (
        D("0.333333"),
        D("0.666667"),
        D(0),
        D(1),
        D(1),
        D(0),
        D(1),
    ),
    # T1: vaccination r5 3 windows, 1 done (#9 disputed); mental r7 1/1; TB r8 3 months, 2 done
    # → 4/7; nothing due in T2 and T3.
    "vaccination_special_care": (
        D("0.571429"),
        None,
        None,
        D("0.571429"),
        D("0.571429"),
        None,
        D("0.571429"),
    ),
    # T1 #16 received, #17 not = 1/2; T2 none made; T3 1/1; city 2/3.
    "referral_receipt": (D("0.5"), None, D(1), D("0.5"), D("0.5"), D(1), D("0.666667")),
    # verified complaints in the period; false records (#18).
    "ethics_deductions": (
        {"complaints": 1, "false_records": 1},
        {"complaints": 0, "false_records": 0},
        {"complaints": 1, "false_records": 0},
        {"complaints": 1, "false_records": 1},
        {"complaints": 1, "false_records": 1},
        {"complaints": 1, "false_records": 0},
        {"complaints": 2, "false_records": 1},
    ),
    # T1 knows: yes, no (third did not answer) = 1/2; T3 1/1; city 2/3.
    "awareness": (D("0.5"), None, D(1), D("0.5"), D("0.5"), D(1), D("0.666667")),
    # T1 (100 + 80 + 60)/3; T3 20; city 260/4.
    "satisfaction": (D(80), None, D(20), D(80), D(80), D(20), D(65)),
    # T1 bp: r1 latest #1 130/80 yes, r4 145/85 no; glucose: r2 latest counting #3 7.5 no → 1/3;
    # T2 s1 1/1; T3 t1 bp yes, glucose yes 2/2; I 2/4; city 4/6.
    "health_improvement": (
        D("0.333333"),
        D(1),
        D(1),
        D("0.5"),
        D("0.5"),
        D(1),
        D("0.666667"),
    ),
}
COLUMNS = ("T1", "T2", "T3", "I", "A", "B", "city")
GRAIN_OF = {
    "T1": "team",
    "T2": "team",
    "T3": "team",
    "I": "institution",
    "A": "county",
    "B": "county",
    "city": "city",
}


def _values(world: World, label: str, **kwargs: Any) -> dict[str, Any]:
    unit = world.unit(label)
    result = compute_metrics(GRAIN_OF.get(label, "station"), START, END, **kwargs)
    return {metric: mv.value for metric, mv in result[unit.id].items()}


def _expected(label: str) -> dict[str, object]:
    column = COLUMNS.index(label)
    return {metric: values[column] for metric, values in EXPECTED.items()}


def test_every_known_metric_is_counted_by_hand() -> None:
    assert sorted(EXPECTED) == sorted(METRICS)


@pytest.mark.parametrize("label", ["T1", "T2", "T3"])
def test_team_metrics_match_hand_count(world: World, label: str) -> None:
    assert _values(world, label) == _expected(label)


def test_institution_metrics_match_hand_count(world: World) -> None:
    assert _values(world, "I") == _expected("I")


@pytest.mark.parametrize("label", ["A", "B"])
def test_county_metrics_match_hand_count(world: World, label: str) -> None:
    assert _values(world, label) == _expected(label)


def test_city_metrics_match_hand_count(world: World) -> None:
    assert _values(world, "city") == _expected("city")


def test_station_counts_what_lies_at_the_station(world: World) -> None:
    # Every household and record of T1 is at S (and T1 sits under S): S counts exactly as T1.
    assert _values(world, "S") == _expected("T1")


def test_every_unit_of_the_grain_is_returned(world: World) -> None:
    teams = compute_metrics("team", START, END)
    t = world.tree
    assert set(teams) == {t.team.id, t.team2.id, t.other_team.id}
    assert all(set(values) == set(METRICS) for values in teams.values())


def test_numerators_denominators_and_detail(world: World) -> None:
    values = compute_metrics("team", START, END, unit_ids=[world.tree.team.id])[world.tree.team.id]
    a1, b1, c1 = (
        values["signing_coverage"],
        values["basic_medical_volume"],
        values["ethics_deductions"],
    )
    assert (a1.numerator, a1.denominator) == (D(8), D(20))
    assert a1.detail == "签约居民 8 人 ÷ 常住人口 20 人 = 40.00%"
    assert (b1.numerator, b1.denominator) == (D(200), D(24))
    assert b1.detail == "诊疗与上门服务 2 人次 × 100 ÷（签约居民 8 人 × 3 个月）= 8.33 人次/百人·月"
    assert b1.drill["type"] == "consultation,home_visit"
    assert (b1.drill["start"], b1.drill["end"], b1.drill["team_id"]) == (
        "2026-01-01",
        "2026-03-31",
        str(world.tree.team.id),
    )
    assert c1.numerator is None and c1.detail == "经核实的投诉 1 起，经核查虚假的服务记录 1 条"


def test_population_summed_from_parts_says_so(world: World) -> None:
    values = compute_metrics("institution", START, END, metrics=["signing_coverage"])
    a1 = values[world.tree.institution.id]["signing_coverage"]
    assert a1.detail == "签约居民 11 人 ÷ 常住人口 30 人（2026 年，由下级 2/2 个单位合计） = 36.67%"


def test_signed_is_judged_as_of_the_day(world: World) -> None:
    # On 31 January C4 was not yet terminated: r9 is signed too (8 + 1); C5 had expired.
    values = compute_metrics(
        "team", date(2026, 1, 1), date(2026, 1, 31), metrics=["signing_coverage"]
    )
    assert values[world.tree.team.id]["signing_coverage"].numerator == D(9)


def test_false_records_never_count(world: World) -> None:
    world.records[5].verification = "false"  # r3's consultation
    db.session.commit()
    values = compute_metrics("team", START, END, unit_ids=[world.tree.team.id])[world.tree.team.id]
    assert values["basic_medical_volume"].numerator == D(100)  # one visit left (#6)
    assert values["timely_entry"].denominator == D(14)
    assert values["ethics_deductions"].value == {"complaints": 1, "false_records": 2}


def test_disputed_record_counts_only_once_confirmed(world: World) -> None:
    team = world.tree.team.id
    before = compute_metrics("team", START, END, unit_ids=[team])[team]
    assert before["health_improvement"].value == D("0.333333")
    world.records[4].verification = "confirmed"  # r2's glucose 6.5 becomes the latest reading
    db.session.commit()
    after = compute_metrics("team", START, END, unit_ids=[team])[team]
    assert after["health_improvement"].value == D("0.666667")  # 2/3
    assert after["timely_entry"].denominator == D(16)


def test_b3_in_january_judges_last_years_quarters(app: Flask) -> None:
    tree = make_tree()
    home = make_household(tree.team)
    steady = make_resident(home, date(1950, 1, 1), "hypertension")
    gap = make_resident(home, date(1951, 1, 1), "hypertension")
    for month in (2, 5, 8, 11):  # one follow-up in each quarter of 2025
        make_record("hypertension_followup", date(2025, month, 3), steady, team=tree.team)
    for month in (2, 5, 8):  # none in 2025-Q4
        make_record("hypertension_followup", date(2025, month, 3), gap, team=tree.team)
    make_record("hypertension_followup", date(2026, 1, 10), gap, team=tree.team)
    db.session.commit()
    values = compute_metrics(
        "team",
        date(2026, 1, 1),
        date(2026, 1, 31),
        metrics=["chronic_standard_management"],
    )
    b3 = values[tree.team.id]["chronic_standard_management"]
    # 2025 Q1–Q4: steady 4/4 quarters, gap 3/4 → 1/2.
    assert b3.value == D("0.5")
    assert b3.detail.startswith("按 2025 年第 1–4 季度判断（本年尚无完整季度，按上一年度）")


def test_period_without_events_gives_none_and_b7_scores_half(world: World) -> None:
    team = world.tree.team.id
    values = compute_metrics("team", date(2030, 1, 1), date(2030, 3, 31), unit_ids=[team])[team]
    empty = {m for m, mv in values.items() if mv.value is None}
    assert empty == {
        "signing_coverage",  # no 2030 figure
        "effective_contracts",  # no contract in force
        "timely_entry",
        "basic_medical_volume",  # no signed residents
        "key_population_services",
        "vaccination_special_care",
        "referral_receipt",
        "awareness",
        "satisfaction",
        "health_improvement",
    }
    assert values["referral_receipt"].detail == "考核期内没有发起转诊"

    index = load_index(default_index_path(2026))
    raw: dict[str, object] = {}
    for indicator in index.indicators:
        if indicator.metric is None:
            raw[indicator.code] = indicator.max_points
        elif indicator.metric == "ethics_deductions":
            raw[indicator.code] = values["ethics_deductions"].value
        elif indicator.metric == "referral_receipt":
            raw[indicator.code] = values["referral_receipt"].value
        else:
            raw[indicator.code] = D(1) if indicator.metric != "satisfaction" else D(100)
    b7 = score(index, raw).get("B7")
    assert b7 is not None and b7.points == D("3.00")  # when_empty: half of 6


def _populate(team: OrgUnit, day: date) -> None:
    """Data of every kind a metric reads, for one team."""
    home = make_household(team)
    old = make_resident(home, date(1950, 1, 1), "hypertension", "diabetes")
    child = make_resident(home, date(2025, 10, 1))
    mother = make_resident(home, date(1995, 1, 1), "maternal", "mental_severe")
    sick = make_resident(home, date(1980, 1, 1), "tuberculosis", tb_start=date(2025, 12, 15))
    make_contract(home, [old, child, mother, sick], date(2025, 1, 1), date(2027, 12, 31))
    make_pregnancy(mother, date(2025, 9, 1))
    make_figure(team, 2026, 30)
    for type_, person in (
        ("hypertension_followup", old),
        ("diabetes_followup", old),
        ("elderly_checkup", old),
        ("child_checkup", child),
        ("vaccination", child),
        ("maternal_visit", mother),
        ("mental_followup", mother),
        ("tb_followup", sick),
        ("consultation", old),
        ("referral_up", old),
    ):
        make_record(type_, day, person, team=team, systolic=130, diastolic=80, glucose="6.0")
    make_record("health_education", day, team=team)
    make_survey(old, day, 80, True)
    make_complaint(team, day)


def test_query_count_does_not_grow_with_teams(app: Flask, count_queries: Any) -> None:
    tree = make_tree()
    for team in (tree.team, tree.team2):
        _populate(team, date(2026, 1, 20))
    db.session.commit()
    with count_queries() as few:
        compute_metrics("team", START, END)
    for k in range(5):
        team = add_unit(f"410001-01-T{k + 3}", f"新团队{k}", "team", tree.institution)
        _populate(team, date(2026, 2, 10))
    db.session.commit()
    with count_queries() as many:
        result = compute_metrics("team", START, END)
    assert len(result) == 8  # 2 + 5 + the other county's team
    assert many.count == few.count == 11


def test_drill_query_lists_the_numerator_rows(world: World) -> None:
    team = world.tree.team.id
    values = compute_metrics("team", START, END, unit_ids=[team])[team]
    rec = world.records
    for metric in METRICS:
        query = metric_records_query(metric, "team", team, START, END)
        assert query is not None
        mv = values[metric]
        if metric == "effective_contracts":
            # Every contract in force (the denominator), with the service that made it effective.
            pairs = db.session.execute(query).all()
            assert len(pairs) == mv.denominator
            assert len([p for p in pairs if p[1] is not None]) == mv.numerator
            continue
        rows = db.session.scalars(query).all()
        if metric == "basic_medical_volume":
            assert {r.id for r in rows} == {rec[5].id, rec[6].id}  # numerator is visits × 100
        elif metric == "ethics_deductions":
            assert [r.id for r in rows] == [rec[18].id]
        elif metric == "satisfaction":
            assert len(rows) == 3 and sum(r.satisfaction for r in rows) == mv.numerator
        else:
            assert len(rows) == mv.numerator, metric
    b6 = db.session.scalars(
        metric_records_query("vaccination_special_care", "team", team, START, END)
    ).all()
    assert {r.id for r in b6} == {rec[8].id, rec[11].id, rec[12].id, rec[13].id}
    b4 = db.session.scalars(
        metric_records_query("key_population_services", "team", team, START, END)
    ).all()
    assert {r.id for r in b4} == {rec[19].id, rec[7].id, rec[10].id}


def test_drill_query_at_city_grain(world: World) -> None:
    query = metric_records_query("signing_coverage", "city", world.tree.city.id, START, END)
    assert query is not None
    assert len(db.session.scalars(query).all()) == 12


def test_unknown_grain_metric_or_unit_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="统计层级"):
        compute_metrics("village", START, END)
    with pytest.raises(ValueError, match="未知的指标"):
        compute_metrics("team", START, END, metrics=["coverage"])
    with pytest.raises(ValueError, match="不是团队"):
        compute_metrics("team", START, END, unit_ids=[world.tree.institution.id])
    with pytest.raises(ValueError, match="晚于"):
        compute_metrics("team", END, START)


def test_only_the_metrics_asked_are_computed(world: World, count_queries: Any) -> None:
    with count_queries() as counter:
        values = compute_metrics("county", START, END, metrics=["awareness", "satisfaction"])
    assert set(values[world.tree.county.id]) == {"awareness", "satisfaction"}
    assert counter.count == 2  # the units, then one grouped query over the survey responses


def test_inactive_units_are_left_out_unless_asked(world: World) -> None:
    db.session.execute(
        update(OrgUnit).where(OrgUnit.id == world.tree.team2.id).values(active=False)
    )
    db.session.commit()
    t = world.tree
    assert set(compute_metrics("team", START, END, metrics=["awareness"])) == {
        t.team.id,
        t.other_team.id,
    }
    asked = compute_metrics("team", START, END, unit_ids=[t.team2.id], metrics=["timely_entry"])
    assert asked[t.team2.id]["timely_entry"].value == D(1)
