"""The drill-down: the records behind one indicator's numerator."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, render_template, url_for

from fdoctor.assessments import reads
from fdoctor.assessments.errors import AssessmentError
from fdoctor.assessments.models import Assessment
from fdoctor.assessments.reads import item_records_query
from fdoctor.assessments.views.blueprint import ASSESSMENT_ROLES, back, bp
from fdoctor.core.access import roles_required
from fdoctor.core.scope import get_scoped_or_404

DRILL_LIMIT = 200

# Columns shown per kind of record behind a numerator: (header, attribute).
_DRILL_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "ServiceRecord": [
        ("编号", "id"),
        ("服务日期", "service_date"),
        ("服务类型", "type_label"),
        ("核实状态", "verification_label"),
        ("录入时间", "entered_at"),
    ],
    "Resident": [
        ("编号", "id"),
        ("姓名", "name"),
        ("身份证号", "citizen_id"),
        ("性别", "sex"),
        ("出生日期", "birth_date"),
    ],
    "Contract": [
        ("编号", "id"),
        ("协议编号", "code"),
        ("签约日期", "signed_on"),
        ("起始", "start_date"),
        ("截止", "end_date"),
        ("状态", "status_label"),
    ],
    "SurveyResponse": [
        ("编号", "id"),
        ("调查日期", "surveyed_on"),
        ("周期", "period"),
        ("方式", "channel"),
        ("满意度", "satisfaction"),
        ("知晓家庭医生", "knows_doctor"),
    ],
}


# A3's drill-down pairs each contract with the service that made it effective (or None).
_EFFECTIVE_SERVICE = "effective_service"


def _effective_cells(record: Any) -> list[tuple[str, Any, str | None]]:
    """The service that made a contract effective (A3): record, date, type, doctor; or none."""
    if record is None:
        return [
            ("使协议有效的服务", "无：协议期内没有本团队计入的服务", None),
            ("服务日期", None, None),
            ("服务类型", None, None),
            ("服务医生", None, None),
        ]
    return [
        ("使协议有效的服务", f"记录 {record.id}", _record_link("ServiceRecord", record)),
        ("服务日期", record.service_date, None),
        ("服务类型", record.type_label, None),
        ("服务医生", record.doctor.display_name if record.doctor else None, None),
    ]


def _cells(row: Any) -> list[tuple[str, Any, str | None]]:
    """(header, value, link) per shown column of a drill-down row."""
    from fdoctor.audit.requests import show_id as _show_id

    cells: list[tuple[str, Any, str | None]] = []
    for field, value in zip(row._fields, row, strict=True):
        if field == _EFFECTIVE_SERVICE:
            cells += _effective_cells(value)
            continue
        model = type(value).__name__
        columns = _DRILL_COLUMNS.get(model)
        if columns is None:
            cells.append(("值", value, None))
            continue
        link = _record_link(model, value)
        for header, attr in columns:
            shown = getattr(value, attr, None)
            if attr == "citizen_id":
                shown = _show_id(shown)
            elif attr == "sex":
                shown = {"M": "男", "F": "女"}.get(shown, shown)
            elif isinstance(shown, bool):
                shown = "是" if shown else "否"
            cells.append((header, shown, link if attr == "id" else None))
    return cells


def _record_link(model: str, obj: Any) -> str | None:
    endpoints = {
        "ServiceRecord": ("records.detail", "record_id"),
        "Contract": ("contracts.detail", "contract_id"),
        "Resident": ("households.resident", "resident_id"),
    }
    if model not in endpoints:
        return None
    endpoint, arg = endpoints[model]
    return url_for(endpoint, **{arg: obj.id})


@bp.route("/<int:assessment_id>/items/<code>/records")
@roles_required(*ASSESSMENT_ROLES)
def records(assessment_id: int, code: str) -> Any:
    assessment = get_scoped_or_404(Assessment, assessment_id)
    item = next((i for i in assessment.items if i.code == code), None)
    if item is None:
        abort(404)
    try:
        stmt = item_records_query(assessment, item)
    except (AssessmentError, ValueError) as exc:
        flash(f"无法列出该指标的记录：{exc}", "warning")
        return back(assessment.id)
    rows: list[list[tuple[str, Any, str | None]]] = []
    total = 0
    if stmt is not None:
        total, found = reads.drill_rows(stmt, DRILL_LIMIT)
        rows = [_cells(row) for row in found]
    headers = [label for label, _, _ in rows[0]] if rows else []
    drill = json.loads(item.drill) if item.drill else {}
    return render_template(
        "assessments/records.html",
        a=assessment,
        item=item,
        rows=rows,
        headers=headers,
        total=total,
        limit=DRILL_LIMIT,
        drill=drill,
        manual=stmt is None,
        heading=(
            "在约协议及使其有效的服务" if item.metric == "effective_contracts" else "分子对应的记录"
        ),
    )
