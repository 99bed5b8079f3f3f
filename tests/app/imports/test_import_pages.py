"""The import pages: templates, size limit, missing files, and who may read a report."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from fdoctor.extensions import db
from fdoctor.imports.models import ImportRun
from fdoctor.imports.reader import MAX_UPLOAD_BYTES
from tests.app.imports.helpers import csv_bytes, upload
from tests.conftest import AuthActions
from tests.factories.contracts import World

pytestmark = pytest.mark.db


def test_xlsx_template_has_the_chinese_headers(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    response = client.get("/imports/residents/template.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    headers = [c.value for c in book.worksheets[0][1]]
    assert headers[:4] == ["姓名", "身份证号", "户编号", "与户主关系"]
    assert book.worksheets[0]["B2"].number_format == "@"  # IDs stay text in Excel
    assert book.worksheets[1].title == "说明"


def test_csv_template_is_utf8_with_bom(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    response = client.get("/imports/households/template.csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert response.data.decode("utf-8-sig").strip() == "户编号,网格编码,地址,联系电话,责任医生账号"


def test_file_over_ten_megabytes_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    # Encode the body in memory: the test client would spool a big upload to an unclosed file.
    boundary, body = encode_multipart(
        {
            "csrf_token": token,
            "file": FileStorage(io.BytesIO(b"a" * (MAX_UPLOAD_BYTES + 10)), "大.csv"),
        }
    )
    response = client.post(
        "/imports/households",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert "文件超过10MB上限" in response.get_data(as_text=True)


def test_upload_without_a_file_is_refused(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    response = client.post("/imports/households", data={"csrf_token": token})
    assert response.status_code == 422
    assert "请选择要导入的文件" in response.get_data(as_text=True)


def test_unsupported_file_type_is_reported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    status, html = upload(client, token, "households", b"PK\x03\x04", "家庭.xls")
    assert status == 422
    assert "只支持 .xlsx 或 .csv 文件" in html


def test_report_belongs_to_the_user_who_imported(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    upload(client, token, "households", csv_bytes([["户编号"], ["X"]]), "家庭.csv")
    run = db.session.scalar(select(ImportRun))
    assert run is not None and run.status == "rejected"
    assert client.get(f"/imports/runs/{run.id}/report.xlsx").status_code == 200
    client.post("/logout", data={"csrf_token": token})
    auth.login_as(world.users["leader"])
    assert client.get(f"/imports/runs/{run.id}/report.xlsx").status_code == 404


def test_xlsx_report_lists_row_column_and_problem(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    token = auth.login_as(world.users["doctor"])
    upload(client, token, "households", csv_bytes([["户编号"], ["X"]]), "家庭.csv")
    run = db.session.scalar(select(ImportRun))
    assert run is not None
    book = load_workbook(io.BytesIO(client.get(f"/imports/runs/{run.id}/report.xlsx").data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == ("行号", "列名", "问题")
    assert ("1", "网格编码", "缺少必填列，请使用导入模板") in rows


def test_index_lists_only_the_kinds_the_role_may_import(
    client: FlaskClient, world: World, auth: AuthActions
) -> None:
    auth.login_as(world.users["doctor"])
    html = client.get("/imports/").get_data(as_text=True)
    assert "导入家庭（户）" in html and "导入签约协议" in html
    assert "人口数据" not in html


def test_unknown_kind_is_not_found(client: FlaskClient, world: World, auth: AuthActions) -> None:
    auth.login_as(world.users["doctor"])
    assert client.get("/imports/things").status_code == 404
