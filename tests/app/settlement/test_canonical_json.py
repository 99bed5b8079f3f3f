"""The settlement's canonical JSON is, byte for byte, what the standard library writes: every
stored sheet was hashed with ``json.dumps(…, ensure_ascii=False, sort_keys=True,
separators=(",", ":"))``, and ``canonical_json`` now writes it with orjson."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fdoctor.settlement.cascade import canonical_json, sha256_of


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
    for value in ({"big": 2**64}, {"n": -(2**63) - 1}, ["\ud800 lone surrogate"]):
        assert canonical_json(value) == _standard(value)


def test_keys_sort_by_code_point_as_the_standard_library_sorts_them() -> None:
    value = {"b": 1, "a": 2, "中": 3, "\U0001f600": 4, "ｚ": 5, "Z": 6, "": 7}
    assert canonical_json(value) == _standard(value)
    assert sha256_of(value, [value]) == sha256_of(json.loads(_standard(value)), [value])
