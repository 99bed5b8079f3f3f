"""The configuration page's one form per year and its spreadsheet (city): enter or import the
rates, pool funds, splits, post coefficients and workload standards of a year at once."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired

from fdoctor.audit.services import record_event
from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.core.unit_of_work import discard
from fdoctor.households.forms import ChineseForm
from fdoctor.imports.reader import MAX_UPLOAD_BYTES
from fdoctor.settlement.errors import SettlementError
from fdoctor.settlement.figures import check_year
from fdoctor.settlement.forms import YEAR_RANGE, DeleteForm
from fdoctor.settlement.routes import bp
from fdoctor.settlement.workbook import build_template, file_entries, row_messages
from fdoctor.settlement.yearly import YearConfigInvalid, form_entries, save_year, year_page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class YearForm(ChineseForm):
    """CSRF and the year; the values (named as in ``yearly.year_page``) are read by the service."""

    year = IntegerField("年度", validators=[InputRequired("请填写年度"), YEAR_RANGE])


class YearUploadForm(ChineseForm):
    year = IntegerField("年度", validators=[InputRequired("请填写年度"), YEAR_RANGE])
    file = FileField("结算配置表（.xlsx）", validators=[FileRequired("请选择要导入的文件")])
    section = HiddenField(default="import")


def render_config(
    year: int,
    submitted: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    import_errors: list[str] | None = None,
    status: int = 200,
) -> Any:
    page = year_page(year, submitted)
    return render_template(
        "settlement/config.html",
        year=year,
        page=page,
        errors=errors or {},
        import_errors=import_errors or [],
        form=YearForm(year=year),
        upload_form=YearUploadForm(year=year),
        delete_form=DeleteForm(),
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    ), status


def _form_errors(form: Any) -> str:
    return "；".join(e for errors in form.errors.values() for e in errors)


@bp.route("/config/year", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def config_year() -> Any:
    form = YearForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "danger")
        return redirect(url_for("settlement.config"))
    year = form.year.data
    submitted = request.form.to_dict()
    try:
        saved = save_year(year, form_entries(year_page(year), submitted), current_user)
    except YearConfigInvalid as exc:
        discard(f"未保存：{len(exc.errors)} 项有误，请按提示修改后重新保存")
        errors = {e.where: e.message for e in exc.errors}
        return render_config(year, submitted, errors=errors, status=422)
    flash(f"已保存 {year} 年度结算配置：{saved.text}", "success")
    return redirect(url_for("settlement.config", year=year))


@bp.route("/config/<int:year>/template.xlsx")
@roles_required(Role.CITY_ADMIN)
def config_template(year: int) -> Any:
    try:
        check_year(year)
    except SettlementError:
        return redirect(url_for("settlement.config"))
    return send_file(
        io.BytesIO(build_template(year)),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"结算配置表-{year}.xlsx",
    )


@bp.route("/config/import", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def config_import() -> Any:
    form = YearUploadForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "danger")
        return redirect(url_for("settlement.config", year=request.form.get("year", type=int)))
    year = form.year.data
    storage = form.file.data
    content = storage.read(MAX_UPLOAD_BYTES + 1)
    filename = storage.filename or ""
    try:
        saved = save_year(year, file_entries(filename, content, year), current_user)
    except YearConfigInvalid as exc:
        discard(f"未导入：文件中有 {len(exc.errors)} 处错误，整份文件未导入")
        return render_config(year, import_errors=row_messages(exc.errors), status=422)
    record_event(
        "config_import",
        "settlement_parameters",
        str(year),
        {"filename": filename[-255:], "sha256": hashlib.sha256(content).hexdigest()},
    )
    flash(f"已从“{filename}”导入 {year} 年度结算配置：{saved.text}", "success")
    return redirect(url_for("settlement.config", year=year))
