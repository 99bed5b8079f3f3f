"""Citizen ID: MOD 11-2 check digit, date check, sex, derived tags, masking."""

from __future__ import annotations

from datetime import date

import pytest

from fdoctor.core import citizen_id as cid

# A number whose check digit is X: 11010519491231002X is the standard's worked example.
EXAMPLE = "11010519491231002X"


def test_standard_example_has_check_character_x() -> None:
    assert cid.check_char(EXAMPLE[:17]) == "X"
    assert cid.is_valid(EXAMPLE)


def test_parse_decodes_birth_date_sex_and_region() -> None:
    parsed = cid.parse(EXAMPLE)
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "F"  # 17th digit 2 is even
    assert parsed.region == "110105"


def test_lowercase_x_and_spaces_are_normalised() -> None:
    assert cid.parse(" 11010519491231002x ").number == EXAMPLE


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1101051949123100", "18位"),
        ("11010519491231002A", "最后一位"),
        ("110105194913310021", "出生日期"),
        ("110105194902300021", "出生日期"),
        ("110105194912310021", "校验位"),
    ],
)
def test_invalid_numbers_are_rejected_with_a_chinese_reason(raw: str, message: str) -> None:
    with pytest.raises(cid.CitizenIdError, match=message):
        cid.parse(raw)


def test_birth_date_in_the_future_is_rejected() -> None:
    number = cid.make("411002", date(2030, 1, 1), 11)
    with pytest.raises(cid.CitizenIdError, match="不合理"):
        cid.parse(number, today=date(2026, 1, 1))


def test_make_builds_numbers_that_validate_with_the_given_sex() -> None:
    male = cid.parse(cid.make("411002", date(1960, 5, 17), 13))
    female = cid.parse(cid.make("411002", date(1960, 5, 17), 14))
    assert (male.sex, female.sex) == ("M", "F")


def test_mask_keeps_first_four_and_last_four() -> None:
    assert cid.mask(EXAMPLE) == "1101**********002X"
    assert cid.mask(None) == ""


def test_age_counts_birthdays_exactly() -> None:
    born = date(1961, 11, 23)
    assert cid.age_on(born, date(2026, 11, 22)) == 64
    assert cid.age_on(born, date(2026, 11, 23)) == 65


def test_derived_tags_elderly_and_child() -> None:
    assert cid.derived_tags(date(1961, 1, 1), date(2026, 6, 1)) == {"elderly65"}
    assert cid.derived_tags(date(2020, 1, 1), date(2026, 6, 1)) == {"child0_6"}
    assert cid.derived_tags(date(2019, 1, 1), date(2026, 6, 1)) == set()
