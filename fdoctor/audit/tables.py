"""What the audit trail covers: the audited tables, those left out (each with its reason), and
the columns redacted or ignored in snapshots."""

from __future__ import annotations

from typing import Any

# Every table that decides money, points or access (SPEC: assessments, settlement, accounts).
# ``tests/app/test_audit_coverage.py`` checks every model table is here or in NOT_AUDITED.
AUDITED_TABLES = frozenset(
    {
        # residents, contracts and services: the denominators and numerators of the indicators
        "resident",
        "household",
        "pregnancy",
        "contract",
        "contract_member",
        "contract_package",
        "service_package",
        "service_record",
        "record_review",
        "complaint",
        # surveys and verification draws
        "survey_response",
        "survey_record_check",
        "verification_sample",
        "verification_sample_team",
        "verification_sample_doctor",
        "verification_sample_item",
        "resident_answer",
        # assessments and what follows them
        "assessment",
        "assessment_item",
        "assessment_appeal",
        "assessment_appeal_item",
        "rectification",
        "spot_check_draw",
        "spot_check_draw_item",
        "suspicion_flag",
        # money
        "settlement",
        "settlement_line",
        "settlement_correction",
        "settlement_correction_line",
        "settlement_simulation",
        "settlement_parameters",
        "pool_fund",
        "post_coefficient",
        "institution_split",
        "member_rating",
        "distribution_settings",
        "team_distribution",
        "distribution_objection",
        "workload_standard",
        "attendance_record",
        "point_value",
        "member_deduction",
        "fund_award",
        "leader_rule",
        "workload_report",
        "workload_report_row",
        "population_figure",
        # access
        "user_account",
        "api_token",
        "org_unit",
    }
)
# Tables left out, each with the reason (the coverage test requires one).
NOT_AUDITED: dict[str, str] = {
    "audit_entry": "the trail itself",
    "audit_head": "the trail's keyed end",
    "audit_checkpoint": "keyed checkpoints of the trail",
    "audit_baseline": "digests of bulk-loaded rows, summed in their keyed bulk_load entry",
    "notification": "messages derived from audited rows; deciding nothing",
    "import_run": "the record of an upload; the rows it writes are audited",
    "service_record_version": "sync history of a service record; the record itself is audited",
    "grid_cell": "map cells grouping households; scope follows the household's team",
    "service_tally": "derived counts of audited service records; rebuilt from them by a job",
    "signed_population": "derived counts of audited contracts; rebuilt from them by a job",
    "resident_link_hit": "the resident page's rate limit (a digest of the address and a time)",
}
# Columns whose value never enters the trail: a keyed digest of the value stands in for it, so a
# change (a password change, a raw rewrite of the hash) still shows without storing the secret.
REDACTED: dict[str, tuple[str, ...]] = {
    "user_account": ("password_hash",),
    "api_token": ("token_hash",),
}
# Columns left out of snapshots: token use is logged as ``token_use`` events, at most once per
# token and day, instead of an update entry per request.
IGNORED: dict[str, tuple[str, ...]] = {"api_token": ("last_used_at",)}
# Columns too large to copy into every entry: their SHA-256 (``sha256:<hex>`` of the UTF-8 text)
# stands in for the value, so a change to them still shows. A settlement sheet's inputs and
# outputs are each megabytes of canonical JSON at city scale, and the sheet's row is written
# (and so audited) several times in one build; the ``sha256`` column covers both as well.
DIGESTED: dict[str, tuple[str, ...]] = {"settlement": ("inputs_json", "outputs_json")}
DIGEST_PREFIX = "sha256:"


def audited_model_tables() -> list[Any]:
    """The model tables of ``AUDITED_TABLES``, by name."""
    from fdoctor.extensions import db

    return [t for name, t in sorted(db.metadata.tables.items()) if name in AUDITED_TABLES]
