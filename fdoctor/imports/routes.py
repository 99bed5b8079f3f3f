"""Roster import (导入): households, residents, contracts and population denominators.

Who: doctors, team leaders and centres import households, residents and contracts into their
teams; population denominators are imported by centres (their institution and stations).
Every upload is validated row by row; a file with any bad row imports nothing and shows a report
(行号, 列名, 问题) that can also be downloaded.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from fdoctor.core import menu
from fdoctor.core.access import roles_required
from fdoctor.core.roles import RECORDERS
from fdoctor.extensions import db
from fdoctor.imports.files import (
    build_report_xlsx,
    build_template_xlsx,
    iter_problem_rows,
    report_csv,
    template_csv,
)
from fdoctor.imports.forms import UploadForm
from fdoctor.imports.importers import IMPORTERS, Importer, Outcome, Problem, kinds_for
from fdoctor.imports.models import ImportRun
from fdoctor.imports.reader import MAX_UPLOAD_BYTES
from fdoctor.imports.runs import import_file, recent_runs, record_run

bp = Blueprint("imports", __name__, url_prefix="/imports")
menu.add(bp, "index", "导入", roles=RECORDERS, group=menu.RESIDENTS, order=30)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOO_BIG = f"文件超过{MAX_UPLOAD_BYTES // (1024 * 1024)}MB上限，请拆分后分批导入"


def _importer(kind: str) -> type[Importer]:
    cls = IMPORTERS.get(kind)
    if cls is None:
        abort(404)
    if current_user.role not in cls.roles:
        abort(403)
    return cls


@bp.route("/")
@roles_required(RECORDERS)
def index() -> Any:
    return render_template(
        "imports/index.html",
        kinds=kinds_for(current_user),
        runs=recent_runs(current_user),
        importers=IMPORTERS,
    )


@bp.route("/<kind>", methods=["GET", "POST"])
@roles_required(RECORDERS)
def upload(kind: str) -> Any:
    cls = _importer(kind)
    form = UploadForm()
    outcome: Outcome | None = None
    run: ImportRun | None = None
    status = 200
    if request.method == "POST" and (request.content_length or 0) > MAX_UPLOAD_BYTES + 1024 * 1024:
        outcome = Outcome(kind=kind, problems=[Problem(0, "", TOO_BIG)])
        status = 413
    elif form.validate_on_submit():
        storage = form.file.data
        content = storage.read(MAX_UPLOAD_BYTES + 1)
        filename = storage.filename or ""
        if len(content) > MAX_UPLOAD_BYTES:
            outcome = Outcome(kind=kind, problems=[Problem(0, "", TOO_BIG)])
            status = 413
        else:
            outcome = import_file(kind, filename, content, current_user)
            run = record_run(kind, filename, content, outcome, current_user)
            # Committed here, on purpose: a rejected file answers 422, which keeps nothing of the
            # request, but the run and its report of problems must stay.
            db.session.commit()
            if outcome.ok:
                flash(
                    f"导入成功：共{outcome.rows}行，新增{outcome.created}条，更新{outcome.updated}条，"
                    f"未变化{outcome.unchanged}条",
                    "success",
                )
                return redirect(url_for("imports.upload", kind=kind))
            status = 422
    elif request.method == "POST":
        status = 422
    runs = [r for r in recent_runs(current_user) if r.kind == kind]
    return (
        render_template(
            "imports/upload.html",
            importer=cls,
            form=form,
            outcome=outcome,
            report=list(iter_problem_rows((p.row, p.column, p.message) for p in outcome.problems))
            if outcome
            else [],
            run=run,
            runs=runs,
            importers=IMPORTERS,
        ),
        status,
    )


@bp.route("/<kind>/template.<any(xlsx, csv):fmt>")
@roles_required(RECORDERS)
def template(kind: str, fmt: str) -> Any:
    cls = _importer(kind)
    if fmt == "xlsx":
        data, mimetype = build_template_xlsx(cls), XLSX
    else:
        data, mimetype = template_csv(cls), "text/csv"
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"导入模板-{cls.label}.{fmt}",
    )


@bp.route("/runs/<int:run_id>/report.<any(xlsx, csv):fmt>")
@roles_required(RECORDERS)
def report(run_id: int, fmt: str) -> Any:
    """A run's problem report; only for the user who ran it."""
    run = db.session.scalar(
        select(ImportRun).where(ImportRun.id == run_id, ImportRun.user_id == current_user.id)
    )
    if run is None:
        abort(404)
    name = f"导入问题报告-{run.id}.{fmt}"
    if fmt == "xlsx":
        data, mimetype = build_report_xlsx(run.problems), XLSX
    else:
        data, mimetype = report_csv(run.problems), "text/csv"
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=name)
