"""The settlement's canonical JSON is, byte for byte, what the standard library writes: every
stored sheet was hashed with ``json.dumps(…, ensure_ascii=False, sort_keys=True,
separators=(",", ":"))``, and ``canonical_json`` now writes it with orjson."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from fdoctor.settlement.build import build_settlement
from fdoctor.settlement.cascade import (
    _check_json_safe,
    _json_safe_quick,
    canonical_json,
    compute,
    sha256_of,
)
from fdoctor.settlement.queries import integrity_ok
from tests.factories.settlement import YEAR, build_world
from tests.factories.users import make_user


def _standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# Any text (controls, quotes, backslashes, CJK, astral characters, U+2028), integers well past
# 64 bits, and nesting as deep as a sheet's.
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=400)
@given(_json)
def test_canonical_json_is_the_standard_librarys_text(value: Any) -> None:
    text = canonical_json(value)
    assert text == _standard(value)
    assert json.loads(text) == value


def test_what_orjson_refuses_is_written_by_the_standard_library() -> None:
    for value in ({"big": 2**64}, {"n": -(2**63) - 1}):
        assert canonical_json(value) == _standard(value)
    # A lone surrogate has no UTF-8: refused, as hashing its text always refused it.
    with pytest.raises(UnicodeEncodeError):
        canonical_json(["\ud800 lone surrogate"])


def test_keys_sort_by_code_point_as_the_standard_library_sorts_them() -> None:
    value = {"b": 1, "a": 2, "中": 3, "\U0001f600": 4, "ｚ": 5, "Z": 6, "": 7}
    assert canonical_json(value) == _standard(value)
    assert sha256_of(value, [value]) == sha256_of(json.loads(_standard(value)), [value])


@pytest.mark.db
def test_a_built_sheets_outputs_hold_only_json_values_and_hash_as_stored(app: Flask) -> None:
    """The build does not walk the outputs for floats (they are ``line_json``'s by construction):
    a sheet's outputs pass the full check, its stored texts are the standard library's, and its
    SHA-256 is recomputed from them."""
    world = build_world()
    city = make_user("city-user", "city_admin", world["city"])
    settlement, _ = build_settlement(YEAR, "settlement", city)
    outputs = compute(json.loads(settlement.inputs_json))
    _check_json_safe(outputs)
    assert _json_safe_quick(outputs)
    assert settlement.outputs_json == _standard(outputs)
    assert settlement.inputs_json == _standard(json.loads(settlement.inputs_json))
    assert integrity_ok(settlement)
    assert settlement.sha256 == sha256_of(json.loads(settlement.inputs_json), outputs)
