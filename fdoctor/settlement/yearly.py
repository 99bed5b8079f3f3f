"""A year's settlement configuration entered in one go (一年一表): the rates, every pool's fund,
the centre/station splits, the post coefficients and the workload standards, from the one form of
the configuration page or from the spreadsheet the city keeps (``workbook.py``).

``save_year`` writes every entry through the configuration services (``parameters.py``), so the
rules and the Chinese messages are those of the single forms. It collects the error of every
entry before it gives up: on any error it raises ``YearConfigInvalid`` listing them all (each
names its field, or its spreadsheet row), and the caller rolls the transaction back, so nothing of
a bad form or file is kept. An entry whose values are all empty leaves its row unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assessments.money import yuan
from fdoctor.org.models import OrgUnit
from fdoctor.settlement import parameters
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import check_year, dtext

PARAMETER_FIELDS = ("preallocation_pct", "reserve_pct", "attainment_cap")
# Posts of the form: the configured and known ones, plus this many blank rows for new posts.
NEW_POST_ROWS = 2
POST_ROW_FIELD = re.compile(r"(?:post|coef|std)_(\d{1,4})")


@dataclass(frozen=True)
class Entry:
    """One thing to set: ``kind`` parameters, fund, split, post or standard (or duplicate, a post
    named twice), ``key`` the pool or institution id (None: the city
    default split) or the post name ("" for the default standard), ``values`` the texts typed."""

    kind: str
    key: int | str | None
    values: tuple[str, ...]
    where: str  # the form field or the spreadsheet row(s) an error points at

    @property
    def empty(self) -> bool:
        return not any((v or "").strip() for v in self.values)


@dataclass(frozen=True)
class FieldError:
    where: str
    message: str


class YearConfigInvalid(SettlementError):
    """Some entries are wrong; ``errors`` names each one. Nothing may be kept: roll back."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            "；".join(e.message for e in errors[:5]) + ("……" if len(errors) > 5 else "")
        )
        self.errors = errors


@dataclass
class Saved:
    parameters: bool = False
    funds: int = 0
    splits: int = 0
    posts: int = 0
    standards: int = 0

    @property
    def text(self) -> str:
        parts = [f"{self.funds} 个结算池资金", f"{self.splits} 项拆分比例",
                 f"{self.posts} 个岗位系数", f"{self.standards} 项标准工作量"]  # fmt: skip
        return ("比例参数、" if self.parameters else "") + "、".join(parts)


def _save(entry: Entry, year: int, user: Any, saved: Saved) -> None:
    if entry.kind == "parameters":
        given = dict(zip(PARAMETER_FIELDS, entry.values, strict=True))
        parameters.save_parameters(
            year, given["reserve_pct"], given["preallocation_pct"], given["attainment_cap"], user
        )
        saved.parameters = True
    elif entry.kind == "fund":
        assert isinstance(entry.key, int)
        saved.funds += parameters.save_funds(year, {entry.key: entry.values[0]}, user)
    elif entry.kind == "split":
        assert entry.key is None or isinstance(entry.key, int)
        parameters.save_split(entry.key, entry.values[0], entry.values[1], user)
        saved.splits += 1
    elif entry.kind == "post":
        parameters.save_post(str(entry.key), entry.values[0], user)
        saved.posts += 1
    elif entry.kind == "standard":
        parameters.save_standard(year, str(entry.key or ""), entry.values[0], user)
        saved.standards += 1
    elif entry.kind == "duplicate":
        raise SettlementError(f"岗位「{entry.key}」填写了两行，请只保留一行")
    else:  # pragma: no cover - the entries are built by this module and workbook.py
        raise SettlementError(f"未知的配置项：{entry.kind}")


def save_year(year: int, entries: Iterable[Entry], user: Any) -> Saved:
    """Set everything the entries give for ``year``; flushes. Raises ``YearConfigInvalid``
    naming every bad entry (the caller rolls back: nothing of the form or file may stay)."""
    check_year(year)
    saved = Saved()
    errors: list[FieldError] = []
    for entry in entries:
        if entry.empty:
            continue
        try:
            _save(entry, year, user, saved)
        except SettlementError as exc:
            errors.append(FieldError(entry.where, str(exc)))
    if errors:
        raise YearConfigInvalid(errors)
    return saved


# --------------------------------------------------------------------------- the one form


@dataclass(frozen=True)
class PostRow:
    index: int
    post: str  # "" for a blank row (a new post) and for the default standard
    coefficient: str
    standard: str
    is_new: bool = False
    is_default: bool = False


@dataclass
class YearPage:
    """What the year form shows: the current values, or the values just submitted."""

    year: int
    values: dict[str, str]
    pools: list[OrgUnit]
    institutions: list[OrgUnit]
    posts: list[PostRow]
    rates_configured: bool = False  # False: the rates shown are the defaults of SPEC 7
    split_ids: dict[str, int] = field(default_factory=dict)  # field suffix → split row id
    post_ids: dict[str, int] = field(default_factory=dict)
    standard_ids: dict[str, int] = field(default_factory=dict)


def split_suffix(institution_id: int | None) -> str:
    return "default" if institution_id is None else str(institution_id)


def current_values(year: int) -> dict[str, str]:
    """The year's configuration as the form's field values (field name → text)."""
    params = parameters.parameters_for(year)
    values = {
        "reserve_pct": dtext(params.reserve_rate * 100),
        "preallocation_pct": dtext(params.preallocation_rate * 100),
        "attainment_cap": dtext(params.attainment_cap),
    }
    values |= {f"fund_{pool.id}": "" for pool in parameters.pools()}
    for suffix in ["default", *(str(i.id) for i in parameters.institutions())]:
        values |= {f"split_centre_{suffix}": "", f"split_stations_{suffix}": ""}
    for pool_id, fund in parameters.funds_for(year).items():
        values[f"fund_{pool_id}"] = yuan(fund.fund_fen)
    for split in parameters.splits():
        suffix = split_suffix(split.institution_id)
        values[f"split_centre_{suffix}"] = dtext(split.centre_ratio)
        values[f"split_stations_{suffix}"] = dtext(split.stations_ratio)
    return values


def year_page(year: int, submitted: Mapping[str, str] | None = None) -> YearPage:
    coefficients = {p.post: p for p in parameters.post_coefficients()}
    standards = {s.post: s for s in parameters.workload_standards(year)}
    names = sorted(set(coefficients) | set(parameters.known_posts()) | (set(standards) - {""}))
    rows = [PostRow(0, "", "", dtext(standards[""].standard_points) if "" in standards else "",
                    is_default=True)]  # fmt: skip
    for i, name in enumerate(names, start=1):
        coef = coefficients.get(name)
        std = standards.get(name)
        rows.append(PostRow(i, name, dtext(coef.coefficient) if coef else "",
                            dtext(std.standard_points) if std else ""))  # fmt: skip
    for i in range(len(rows), len(rows) + NEW_POST_ROWS):
        rows.append(PostRow(i, "", "", "", is_new=True))
    values = current_values(year)
    for row in rows:
        values[f"post_{row.index}"] = row.post
        values[f"coef_{row.index}"] = row.coefficient
        values[f"std_{row.index}"] = row.standard
    if submitted is not None:
        values = {**values, **{k: v for k, v in submitted.items() if k in values}}
    return YearPage(
        year=year,
        values=values,
        pools=parameters.pools(),
        institutions=parameters.institutions(),
        posts=rows,
        rates_configured=parameters.parameters_for(year).configured,
        split_ids={split_suffix(s.institution_id): s.id for s in parameters.splits()},
        post_ids={name: p.id for name, p in coefficients.items()},
        standard_ids={name: s.id for name, s in standards.items()},
    )


def form_entries(page: YearPage, form: Mapping[str, str]) -> list[Entry]:
    """The entries of a submitted year form (``page`` lists the fields it showed)."""

    def value(name: str) -> str:
        return (form.get(name) or "").strip()

    entries = [
        Entry("parameters", None, tuple(value(f) for f in PARAMETER_FIELDS), "parameters"),
    ]
    entries += [
        Entry("fund", pool.id, (value(f"fund_{pool.id}"),), f"fund_{pool.id}")
        for pool in page.pools
    ]
    for institution_id in [None, *(i.id for i in page.institutions)]:
        suffix = split_suffix(institution_id)
        entries.append(Entry("split", institution_id,
                             (value(f"split_centre_{suffix}"), value(f"split_stations_{suffix}")),
                             f"split_{suffix}"))  # fmt: skip
    # Post rows by the indices the form sent, each with its post's name (hidden on the rows of
    # known posts), so a post added or removed meanwhile cannot shift values onto another post.
    indices = sorted({int(m[1]) for key in form if (m := POST_ROW_FIELD.fullmatch(key))})
    named: dict[str, int] = {}
    for i in indices:
        coefficient, standard = value(f"coef_{i}"), value(f"std_{i}")
        if i == 0:  # the default standard of every post
            entries.append(Entry("standard", "", (standard,), "std_0"))
            continue
        name = value(f"post_{i}")
        if not name:
            if coefficient or standard:  # save_post asks for the name
                entries.append(Entry("post", "", (coefficient or standard,), f"post_{i}"))
            continue
        if name in named:
            entries.append(Entry("duplicate", name, (name,), f"post_{i}"))
            continue
        named[name] = i
        entries.append(Entry("post", name, (coefficient,), f"coef_{i}"))
        entries.append(Entry("standard", name, (standard,), f"std_{i}"))
    return entries
