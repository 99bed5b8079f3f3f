"""Forms of the assessment pages. Per-indicator fields (``points-A4``, ``reason-A4`` …) are read
from the request by the views, since the indicators come from the index file; every form carries
the CSRF token through Flask-WTF."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from assessments.tiers import ASSESSMENT_LEVEL_LABELS, Level

LEVEL_CHOICES = [SelectChoice(level.value, ASSESSMENT_LEVEL_LABELS[level.value]) for level in Level]


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class OpenForm(FlaskForm):
    level = SelectField(
        "考核层级", choices=LEVEL_CHOICES, validators=[DataRequired("请选择考核层级")]
    )
    period = StringField(
        "考核周期",
        validators=[DataRequired("请填写考核周期"), Length(max=10)],
        description="如 2026-03（月）、2026-Q1（季度）、2026-H2（下半年/年终）、2026（年度）",
    )


class ScoreForm(FlaskForm):
    """Manual points and reasons (fields per indicator are read from the request)."""


class AppealForm(FlaskForm):
    """Appeal reasons per indicator (fields per indicator are read from the request)."""


class AnswerForm(FlaskForm):
    """Decisions per appealed indicator (fields per indicator are read from the request)."""


class CorrectForm(FlaskForm):
    reason = TextAreaField(
        "修订理由", validators=[DataRequired("请填写修订理由"), Length(max=2000)]
    )


class EvidenceForm(FlaskForm):
    evidence = TextAreaField(
        "整改措施与佐证",
        validators=[DataRequired("请填写整改措施与佐证材料说明"), Length(max=4000)],
    )


class VerifyForm(FlaskForm):
    decision = HiddenField(default="accept")
    note = TextAreaField("核验意见", validators=[Optional(), Length(max=2000)])


class DrawForm(FlaskForm):
    seed = IntegerField(
        "随机种子（留空自动生成）",
        validators=[
            Optional(),
            NumberRange(min=0, max=2**63 - 1, message="随机种子应为 0 到 2^63-1 的整数"),
        ],
    )
