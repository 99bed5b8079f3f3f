"""Household and resident forms (WTForms). Choices are filled by the view from the user's scope."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    widgets,
)
from wtforms.meta import DefaultMeta
from wtforms.validators import DataRequired, Length, Optional

from fdoctor.households.models import STORED_TAGS
from fdoctor.households.services import RELATIONS


class ChineseForm(FlaskForm):
    """A Flask-WTF form whose built-in messages come from WTForms' own Chinese catalogue
    (the app has no Flask-Babel, so Flask-WTF would leave them in English)."""

    class Meta:
        locales = ["zh"]

        def get_translations(self, form: Any) -> Any:
            return DefaultMeta.get_translations(self, form)  # type: ignore[arg-type]


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (touch-friendly on a tablet)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class HouseholdForm(ChineseForm):
    team_id = SelectField("家庭医生团队", validate_choice=False)
    grid_cell_id = SelectField("网格（片区 › 小区/村 › 楼栋）", validate_choice=False)
    code = StringField(
        "户编号", validators=[Optional(), Length(max=40, message="户编号不能超过40位")]
    )
    address = StringField(
        "家庭地址",
        validators=[DataRequired("请填写家庭地址"), Length(max=200, message="地址不能超过200个字")],
    )
    phone = StringField("联系电话", validators=[Optional(), Length(max=20)])
    responsible_doctor_id = SelectField("责任医生", validate_choice=False)
    submit = SubmitField("保存")


class ResidentForm(ChineseForm):
    name = StringField(
        "姓名",
        validators=[DataRequired("请填写姓名"), Length(max=50, message="姓名不能超过50个字")],
    )
    citizen_id = StringField(
        "身份证号", validators=[DataRequired("请填写身份证号"), Length(max=24)]
    )
    sex = SelectField(
        "性别（按身份证号自动判断）",
        choices=[SelectChoice("", "按身份证号"), SelectChoice("M", "男"), SelectChoice("F", "女")],
        validate_choice=False,
    )
    birth_date = DateField("出生日期（按身份证号自动判断）", validators=[Optional()])
    phone = StringField("联系电话", validators=[Optional(), Length(max=20)])
    relation = StringField(
        "与户主关系",
        default="本人",
        validators=[DataRequired("请填写与户主关系"), Length(max=16, message="不能超过16个字")],
    )
    is_head = BooleanField("户主")
    tags = MultiCheckboxField(
        "人群标签",
        choices=[SelectChoice(k, v) for k, v in STORED_TAGS.items()],
        validate_choice=False,
    )
    lmp_date = DateField("末次月经日期（孕产妇）", validators=[Optional()])
    tb_treatment_start = DateField("肺结核治疗开始日期", validators=[Optional()])
    submit = SubmitField("保存")

    relations = RELATIONS
