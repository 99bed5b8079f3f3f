"""Building upload files and posting them."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import func, select

from fdoctor.extensions import db


def csv_bytes(rows: list[list[object]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(
    client: FlaskClient, token: str, kind: str, content: bytes, filename: str
) -> tuple[int, str]:
    response = client.post(
        f"/imports/{kind}",
        data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_data(as_text=True)


def count(model: object) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]
