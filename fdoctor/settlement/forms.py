"""Settlement forms. Numbers arrive as text and are parsed by the services (Chinese messages)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from fdoctor.settlement.models import SETTLEMENT_KINDS

YEAR_RANGE = NumberRange(2000, 2100, "年度须在 2000–2100 之间")


class BuildForm(FlaskForm):
    """Compute (or recompute) the year's draft."""

    year = IntegerField("年度", validators=[InputRequired("请填写年度"), YEAR_RANGE])
    kind = SelectField("类型", choices=[SelectChoice(k, v) for k, v in SETTLEMENT_KINDS.items()])
    submit = SubmitField("计算草稿")


class TransitionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired("缺少操作")])


class FundsForm(FlaskForm):
    """Pool funds of a year; one ``fund_<pool id>`` text field per pool is read by the view."""

    section = HiddenField(default="funds")
    year = IntegerField("年度", validators=[InputRequired("请填写年度"), YEAR_RANGE])


class ParametersForm(FlaskForm):
    section = HiddenField(default="parameters")
    year = IntegerField("年度", validators=[InputRequired("请填写年度"), YEAR_RANGE])
    reserve_pct = StringField("部门基金提取比例（%）", validators=[Length(max=20)])
    preallocation_pct = StringField("预拨比例（%）", validators=[Length(max=20)])
    attainment_cap = StringField("工作量达标系数 k 上限", validators=[Length(max=20)])


class SplitForm(FlaskForm):
    section = HiddenField(default="split")
    institution_id = SelectField("适用机构", choices=[], validate_choice=False)
    centre = StringField("中心（卫生院）部分", validators=[Length(max=20)])
    stations = StringField("站点（村卫生室）部分", validators=[Length(max=20)])


class PostForm(FlaskForm):
    section = HiddenField(default="post")
    post = StringField("岗位", validators=[Length(max=32)])
    coefficient = StringField("岗位系数 y", validators=[Length(max=20)])


class StandardForm(FlaskForm):
    section = HiddenField(default="standard")
    year = IntegerField("年度", validators=[InputRequired("请填写年度"), YEAR_RANGE])
    post = StringField("岗位（留空为全部岗位默认）", validators=[Length(max=32)])
    services = StringField("标准工作量（点/年）", validators=[Length(max=20)])


class DeleteForm(FlaskForm):
    """Remove one configuration row: ``section`` is split_delete, post_delete or standard_delete."""

    section = HiddenField()
    row_id = HiddenField()


class RatingsForm(FlaskForm):
    """The team leader's c and a per member; ``c_<user id>`` / ``a_<user id>`` are read by the view."""

    year = IntegerField("年度", validators=[InputRequired("请填写年度"), YEAR_RANGE])


class SimulationForm(FlaskForm):
    """A simulation step on a draft; the overrides' fields (``fund_<pool id>``, ``score_<county
    id>``, ``split_*_<n>``, ``reserve_pct``) are read by ``simulation.overrides_from_form``."""

    name = StringField(
        "方案名称（保存时填写）", validators=[Length(max=60, message="方案名称不能超过 60 个字")]
    )
    action = HiddenField(default="simulate")
