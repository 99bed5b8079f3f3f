"""The settlement sheet's stored form: the gathered inputs and the output lines as JSON.

The cascade itself is in the pure core (``assessments.cascade``). ``compute(inputs)`` turns the
inputs gathered by ``services.gather_inputs`` (JSON-ready dicts, stored beside the sheet) into the
core's dataclasses, runs the cascade and writes its lines back as JSON-ready dicts.

Inputs and outputs hold only ints, strings, lists, dicts and None (never floats), so their
canonical JSON (``canonical_json``) and its SHA-256 are the same on every machine.

The explanations of the member, team, leader and fund lines store no ``steps`` (they were most
of the outputs at city scale): ``explanation_steps`` writes them when the line is shown, with the
core's ``line_steps``, from the line's columns and its ``factors`` or ``figures``. Those are in
the outputs, so the SHA-256 still covers every figure and every text of the sheet. Sheets stored
before keep their stored steps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson

from assessments.attendance import AttendanceTotals
from assessments.cascade import (
    AttendanceInput,
    CountyInput,
    Explanation,
    InstitutionInput,
    Line,
    MemberFactors,
    MemberInput,
    PoolInput,
    PreallocationCounty,
    PreallocationInputs,
    PreallocationPool,
    PublishedScore,
    SettlementInputs,
    SettlementParameters,
    SplitInput,
    TeamInput,
    preallocation,
    settle,
)
from assessments.cascade.steps import WRITTEN_WHEN_SHOWN, line_steps
from assessments.cascade.text import exact_text, parse_frac
from assessments.memo import Memo

JsonLine = dict[str, Any]


# --------------------------------------------------------------------------- hashing


def _check_json_safe(value: Any, where: str = "$") -> None:
    """Refuse floats (and anything JSON cannot hold exactly) anywhere in the structure."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: non-string key {key!r}")
            _check_json_safe(item, f"{where}.{key}")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_safe(item, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: {type(value).__name__} is not allowed in settlement JSON")


def _json_safe_quick(value: Any) -> bool:
    """True when the structure holds only exact str/int/bool/None, str-keyed dicts and lists.

    A fast, non-recursive pass for the common case; anything else (floats, but also subclasses
    such as an ``IntEnum``) is left to ``_check_json_safe`` to accept or name.
    """
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            extend(item.values())
        elif kind is list:
            extend(item)
        else:
            return False
    return True


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json_bytes(value: Any, *, checked: bool = False) -> bytes:
    """Sorted keys, no spaces, no floats, as UTF-8: the same bytes on every machine.

    The text is the standard library's ``json.dumps(value, ensure_ascii=False, sort_keys=True,
    separators=(",", ":"))``, which every stored sheet was hashed with. ``orjson`` writes exactly
    that for these structures (str keys sorted by code point, the same escapes) several times
    faster; what it refuses (an integer beyond 64 bits, a lone surrogate) is written by the
    standard library as before. ``tests/app/settlement/test_canonical_json.py`` holds them equal.

    ``checked``: the value is part of a structure already checked (e.g. a line of outputs whose
    canonical JSON was just made), so the check is not repeated.
    """
    if not checked and not _json_safe_quick(value):
        _check_json_safe(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError included
        return _CANONICAL.encode(value).encode("utf-8")


def canonical_json(value: Any, *, checked: bool = False) -> str:
    """``canonical_json_bytes`` as text (what the sheet stores)."""
    return canonical_json_bytes(value, checked=checked).decode("utf-8")


def sha256_of(inputs: Any, outputs: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``{"inputs": …, "outputs": …}``."""
    return hashlib.sha256(canonical_json_bytes({"inputs": inputs, "outputs": outputs})).hexdigest()


def sha256_of_canonical(inputs_json: bytes, outputs_json: bytes) -> str:
    """``sha256_of`` from the canonical JSON (UTF-8) of the inputs and of the outputs, already
    made.

    The canonical JSON of ``{"inputs": i, "outputs": o}`` is exactly the two texts in that frame
    (keys sorted, no spaces), so the structures need not be walked and encoded a second time,
    nor the texts copied into one.
    """
    digest = hashlib.sha256(b'{"inputs":')
    digest.update(inputs_json)
    digest.update(b',"outputs":')
    digest.update(outputs_json)
    digest.update(b"}")
    return digest.hexdigest()


# --------------------------------------------------------------------------- inputs


def _dec(value: Any) -> Decimal | None:
    return None if value is None else _decimal(value)


def _decimal(value: Any) -> Decimal:
    """``Decimal(value)``; a text is converted once and its Decimal (immutable) reused.

    A city's members and scores hold a few thousand distinct texts ("0.9", "1.00", "87.25"):
    each is read once, and the cascade's look-ups by these values then meet the same objects.
    """
    if type(value) is not str:
        return Decimal(value)
    known = _DECIMALS.get(value)
    if known is None:
        known = Decimal(value)
        if known.is_finite():  # what a text that is no number gives is the context's to say
            _DECIMALS.keep(value, known)
    return known


_DECIMALS: Memo[str, Decimal] = Memo()


def _published(score: Mapping[str, Any] | None) -> PublishedScore | None:
    if score is None:
        return None
    return PublishedScore(
        level=score["level"],
        period=score["period"],
        assessment_id=score["assessment_id"],
        revision=score["revision"],
        value=_decimal(score["value"]),
        status=score.get("status"),
    )


def _member(m: Mapping[str, Any]) -> MemberInput:
    return MemberInput(
        user_id=m["user_id"],
        username=m["username"],
        name=m["name"],
        post=m.get("post") or "",
        probation=bool(m["probation"]),
        services=m["services"],
        standard=m.get("standard"),
        y=_dec(m.get("y")),
        c=_dec(m.get("c")),
        a=_dec(m.get("a")),
        rating_id=m.get("rating_id"),
        points=_dec(m.get("points")),
        standard_points=_dec(m.get("standard_points")),
        point_table=m.get("point_table") or "",
        attendance=(
            None
            if m.get("attendance") is None
            else tuple(
                # (month, days due, days worked, leave days by kind): some 80,000 at city scale
                AttendanceInput(
                    r["month"], r["days_due"], r["days_worked"], dict(r.get("leave_days") or ())
                )
                for r in m["attendance"]
            )
        ),
        deduction_points=_decimal(m.get("deduction_points") or "0"),
        deduction_count=m.get("deduction_count") or 0,
        leader=bool(m.get("leader", False)),
        attendance_totals=_attendance_totals(m.get("attendance_totals")),
    )


def _attendance_totals(t: Mapping[str, Any] | None) -> AttendanceTotals | None:
    """A member's attendance summed over the year's months (sheets gathered since the sums;
    earlier sheets hold the monthly records in ``attendance``)."""
    if t is None:
        return None
    return AttendanceTotals(
        t["months"], t["days_due"], t["days_worked"], dict(t.get("leave_days") or ())
    )


def _team(t: Mapping[str, Any]) -> TeamInput:
    scores = tuple(s for s in (_published(s) for s in t["l2"]) if s is not None)
    return TeamInput(
        unit_id=t["unit_id"],
        code=t["code"],
        name=t["name"],
        part=t["part"],
        signed_population=t["signed_population"],
        l2=scores,
        members=tuple(_member(m) for m in t["members"]),
    )


def _institution(i: Mapping[str, Any]) -> InstitutionInput:
    split = i["split"]
    return InstitutionInput(
        unit_id=i["unit_id"],
        code=i["code"],
        name=i["name"],
        subtype=i.get("subtype"),
        signed_population=i["signed_population"],
        score=_published(i.get("score")),
        split=SplitInput(Decimal(split["centre"]), Decimal(split["stations"]), split["source"]),
        teams=tuple(_team(t) for t in i["teams"]),
        # Sheets gathered before the leader rule kept leaders in the team split.
        leaders_in_split=bool(i.get("leaders_in_split", True)),
        management_rate=_dec(i.get("management_rate")),
    )


def _county(c: Mapping[str, Any]) -> CountyInput:
    return CountyInput(
        unit_id=c["unit_id"],
        code=c["code"],
        name=c["name"],
        signed_population=c["signed_population"],
        score=_published(c.get("score")),
        preallocated_fen=c["preallocated_fen"],
        preallocation_note=c.get("preallocation_note"),
        institutions=tuple(_institution(i) for i in c["institutions"]),
    )


def settlement_inputs(inputs: Mapping[str, Any]) -> SettlementInputs:
    """The core's inputs of a settlement from the gathered (stored) inputs."""
    params = inputs["parameters"]
    return SettlementInputs(
        year=inputs["year"],
        as_of=inputs["as_of"],
        parameters=SettlementParameters(
            reserve_rate=Decimal(params["reserve_rate"]),
            preallocation_rate=Decimal(params["preallocation_rate"]),
            attainment_cap=Decimal(params["attainment_cap"]),
        ),
        pools=tuple(
            PoolInput(
                unit_id=p["unit_id"],
                code=p["code"],
                name=p["name"],
                fund_fen=p["fund_fen"],
                counties=tuple(_county(c) for c in p["counties"]),
            )
            for p in inputs["pools"]
        ),
    )


def preallocation_inputs(inputs: Mapping[str, Any]) -> PreallocationInputs:
    """The core's inputs of a pre-allocation from the gathered (stored) inputs."""
    return PreallocationInputs(
        year=inputs["year"],
        as_of=inputs["as_of"],
        preallocation_rate=Decimal(inputs["parameters"]["preallocation_rate"]),
        pools=tuple(
            PreallocationPool(
                unit_id=p["unit_id"],
                code=p["code"],
                name=p["name"],
                fund_fen=p["fund_fen"],
                counties=tuple(
                    PreallocationCounty(
                        unit_id=c["unit_id"],
                        code=c["code"],
                        name=c["name"],
                        signed_population=c["signed_population"],
                        last_year_entitled_fen=c["last_year_entitled_fen"],
                    )
                    for c in p["counties"]
                ),
            )
            for p in inputs["pools"]
        ),
    )


# --------------------------------------------------------------------------- outputs


def _source(score: PublishedScore) -> dict[str, Any]:
    return {
        "level": score.level,
        "period": score.period,
        "assessment_id": score.assessment_id,
        "revision": score.revision,
        "value": str(score.value),
    }


def _explanation(e: Explanation, level: str) -> dict[str, Any]:
    """The stored explanation: ``formula``, ``steps``, ``notes``, ``sources``, and ``figures``
    or ``factors``. A line whose steps are written when shown (``WRITTEN_WHEN_SHOWN``: members,
    teams, leaders, funds) has no ``steps`` key: see ``explanation_steps``."""
    sources = e.sources
    out: dict[str, Any] = {
        "formula": e.formula,
        "notes": list(e.notes),
        "sources": [_source(s) for s in sources] if sources else [],
    }
    if e.steps or level not in WRITTEN_WHEN_SHOWN:
        out["steps"] = list(e.steps)
    if e.figures is not None:
        out["figures"] = dict(e.figures)
    if e.factors is not None:
        out["factors"] = factors_json(e.factors)
    return out


def factors_json(f: MemberFactors) -> dict[str, Any]:
    """A member line's ``explanation["factors"]``: the member's factors, their sources and pay.

    The keys are stable (pay slips and exports read them):

    * ``k``, ``y``, ``c``, ``a`` — the four factors as exact decimals (text);
    * ``k_source`` — ``"points"`` (``points`` ÷ ``standard_points`` by ``point_table``, capped)
      or ``"records"`` (``services`` ÷ ``standard``, sheets from before the point tables);
    * ``points``, ``standard_points`` (text or None), ``point_table`` (its name), ``services``
      (counting records), ``standard`` (records, None when points are used);
    * ``a_source`` — ``"days"`` (``days_worked`` ÷ ``days_due`` over ``attendance_months``
      monthly records; ``leave_days`` by kind: sick, personal, maternity, annual, marriage) or
      ``"typed"`` (entered as a number, older sheets);
    * ``post``, ``probation``, ``rating_id`` (the row holding c), ``leader``, ``in_split``,
      ``paid_by_management`` (a leader paid on the ``leader`` line of the management share);
    * ``gross_fen`` (the part of the split), ``deduction_points`` (text),
      ``deduction_count`` (records), ``deducted_fen`` (to the team fund), ``amount_fen`` (paid,
      equal to the line's ``entitled_fen``);
    * ``cap`` (text: the attainment cap of k), ``total_weight`` (the team's Σ weights, exact
      text), ``distributed_fen`` (what the team shared by weight) — with the line's ``weight``
      and ``share``, what ``member_steps`` writes the steps from (sheets from before they were
      kept have none of the three, and their steps stored).
    """
    return {
        "k": str(f.k),
        "y": str(f.y),
        "c": str(f.c),
        "a": str(f.a),
        "post": f.post,
        "services": f.services,
        "standard": f.standard,
        "probation": f.probation,
        "rating_id": f.rating_id,
        "k_source": f.k_source,
        "points": None if f.points is None else str(f.points),
        "standard_points": None if f.standard_points is None else str(f.standard_points),
        "point_table": f.point_table,
        "a_source": f.a_source,
        "days_due": f.days_due,
        "days_worked": f.days_worked,
        "leave_days": None if f.leave_days is None else dict(f.leave_days),
        "attendance_months": f.attendance_months,
        "leader": f.leader,
        "in_split": f.in_split,
        "paid_by_management": f.paid_by_management,
        "gross_fen": f.gross_fen,
        "deduction_points": str(f.deduction_points),
        "deduction_count": f.deduction_count,
        "deducted_fen": f.deducted_fen,
        "amount_fen": f.amount_fen,
        "cap": None if f.cap is None else str(f.cap),
        "total_weight": exact_text(f.total_weight),
        "distributed_fen": f.distributed_fen,
    }


def factors_from_json(data: Mapping[str, Any]) -> MemberFactors:
    """The ``MemberFactors`` of a stored ``factors`` (the inverse of ``factors_json``); keys a
    sheet of an earlier version lacks take the dataclass's defaults."""
    leave = data.get("leave_days")
    return MemberFactors(
        k=Decimal(data["k"]),
        y=Decimal(data["y"]),
        c=Decimal(data["c"]),
        a=Decimal(data["a"]),
        post=data.get("post") or "",
        services=data.get("services") or 0,
        standard=data.get("standard"),
        probation=bool(data.get("probation")),
        rating_id=data.get("rating_id"),
        k_source=data.get("k_source") or "records",
        points=_dec(data.get("points")),
        standard_points=_dec(data.get("standard_points")),
        point_table=data.get("point_table") or "",
        a_source=data.get("a_source") or "typed",
        days_due=data.get("days_due"),
        days_worked=data.get("days_worked"),
        leave_days=None if leave is None else dict(leave),
        attendance_months=data.get("attendance_months") or 0,
        leader=bool(data.get("leader")),
        in_split=bool(data.get("in_split", True)),
        paid_by_management=bool(data.get("paid_by_management")),
        gross_fen=data.get("gross_fen") or 0,
        deduction_points=Decimal(data.get("deduction_points") or "0"),
        deduction_count=data.get("deduction_count") or 0,
        deducted_fen=data.get("deducted_fen") or 0,
        amount_fen=data.get("amount_fen") or 0,
        cap=_dec(data.get("cap")),
        total_weight=parse_frac(data.get("total_weight")) or Fraction(0),
        distributed_fen=data.get("distributed_fen") or 0,
    )


def explanation_steps(line: Mapping[str, Any], explanation: Mapping[str, Any]) -> list[str]:
    """The steps a line shows: those stored, else (a line of a level whose steps are written
    when shown, in a sheet that keeps what they are written from) those the core's
    ``line_steps`` writes from the line's stored columns and explanation. ``line`` holds the
    line's ``level``, ``name``, ``signed_population``, ``weight``, ``share``, ``exact_fen``,
    ``entitled_fen`` and ``rounding_adjustment`` as stored. The one place a line's steps are
    decided."""
    stored = explanation.get("steps")
    if stored:
        return [str(step) for step in stored]
    level = line["level"]
    if level not in WRITTEN_WHEN_SHOWN:
        return []
    factors = explanation.get("factors")
    if level == "member" and (not factors or "total_weight" not in factors):
        return []  # an older sheet's member line: its factors lack the team's figures
    return list(line_steps(stored_line(line, explanation)))


def stored_line(line: Mapping[str, Any], explanation: Mapping[str, Any]) -> Line:
    """A stored line (its columns as text, its explanation as stored) as the core's ``Line``,
    as far as its steps need it."""
    factors = explanation.get("factors")
    weight = line.get("weight")
    return Line(
        key=line.get("key") or "",
        level=line["level"],
        name=line.get("name") or "",
        signed_population=line.get("signed_population"),
        weight=None if weight is None else (Fraction(weight) if "/" in weight else Decimal(weight)),
        share=parse_frac(line.get("share")),
        exact_fen=parse_frac(line.get("exact_fen")),
        entitled_fen=line.get("entitled_fen"),
        rounding_adjustment=parse_frac(line.get("rounding_adjustment")),
        explanation=Explanation(
            formula=str(explanation.get("formula", "")),
            steps=(),
            sources=tuple(
                score
                for s in explanation.get("sources") or ()
                if (score := _published(s)) is not None
            ),
            figures=explanation.get("figures"),
            factors=factors_from_json(factors) if factors else None,
        ),
    )


def _frac(value: Fraction | None) -> str | None:
    """``frac(value)`` (inlined: three of every line's columns), or None."""
    if value is None:
        return None
    numerator, denominator = value.numerator, value.denominator
    return str(numerator) if denominator == 1 else f"{numerator}/{denominator}"


def _weight(value: Decimal | Fraction | None) -> str | None:
    if value is None:
        return None
    return str(value) if isinstance(value, Decimal) else exact_text(value)


def line_json(line: Line) -> JsonLine:
    """A line of the core as the JSON-ready dict stored in the sheet's outputs."""
    return {
        "key": line.key,
        "parent": line.parent,
        "level": line.level,
        "name": line.name,
        "unit_id": line.unit_id,
        "user_id": line.user_id,
        "county_id": line.county_id,
        "institution_id": line.institution_id,
        "team_id": line.team_id,
        "signed_population": line.signed_population,
        "score": None if line.score is None else str(line.score),
        "source": None if line.source is None else _source(line.source),
        "weight": _weight(line.weight),
        "share": _frac(line.share),
        "share_display": None if line.share_display is None else str(line.share_display),
        "exact_fen": _frac(line.exact_fen),
        "entitled_fen": line.entitled_fen,
        "preallocated_fen": line.preallocated_fen,
        "balance_fen": line.balance_fen,
        "rounding_adjustment": _frac(line.rounding_adjustment),
        "explanation": _explanation(line.explanation, line.level),
    }


# --------------------------------------------------------------------------- entry point


def compute(inputs: Mapping[str, Any]) -> list[JsonLine]:
    """The lines of the sheet, depth-first; raises ``SettlementInputError`` (Chinese) on bad input."""
    if inputs["kind"] == "preallocation":
        lines = preallocation(preallocation_inputs(inputs))
    else:
        lines = settle(settlement_inputs(inputs))
    return [line_json(line) for line in lines]
