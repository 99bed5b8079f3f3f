"""The upload form."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField

from fdoctor.households.forms import ChineseForm


class UploadForm(ChineseForm):
    file = FileField("选择文件（.xlsx 或 .csv，UTF-8 或 GBK 编码，不超过10MB）",
                     validators=[FileRequired("请选择要导入的文件")])  # fmt: skip
    submit = SubmitField("校验并导入")
