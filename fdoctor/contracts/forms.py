"""Contract forms: signing/renewal (members, team, doctor, packages, term), termination."""

from __future__ import annotations

from collections.abc import Sequence

from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from fdoctor.contracts.models import ServicePackage
from fdoctor.contracts.services import REASON_MAX
from fdoctor.households.forms import ChineseForm, MultiCheckboxField


class SignForm(ChineseForm):
    members = MultiCheckboxField("签约成员", coerce=int, validate_choice=False)
    team_id = SelectField("家庭医生团队", validate_choice=False)
    doctor_id = SelectField("签约责任医生", validate_choice=False)
    packages = MultiCheckboxField(
        "个性化服务包（基础包免费，自动包含）", coerce=int, validate_choice=False
    )
    start_date = DateField("服务开始日期", validators=[DataRequired("请填写服务开始日期")])
    years = SelectField(
        "服务期（年）",
        choices=[SelectChoice(str(n), f"{n}年") for n in range(1, 6)],
        validate_choice=False,
    )
    first_contact = BooleanField("约定基层首诊")
    submit = SubmitField("确认签约")

    def persons_field(self, package_id: int) -> IntegerField:
        return getattr(self, f"persons_{package_id}")  # type: ignore[no-any-return]


def sign_form_class(packages: Sequence[ServicePackage]) -> type[SignForm]:
    """A signing form with one persons field per personalised package (empty: every member)."""

    class Form(SignForm):
        pass

    for package in packages:
        setattr(
            Form,
            f"persons_{package.id}",
            IntegerField(
                "服务人数",
                validators=[Optional(), NumberRange(min=1, max=50, message="服务人数应为正整数")],
            ),
        )
    return Form


class TerminateForm(ChineseForm):
    reason = TextAreaField(
        "解约原因",
        validators=[
            DataRequired("请填写解约原因"),
            Length(min=2, max=REASON_MAX, message=f"解约原因应为2至{REASON_MAX}个字"),
        ],
    )
    submit = SubmitField("确认解约")


class CopiesForm(ChineseForm):
    submit = SubmitField("登记：两份协议均已签字")
