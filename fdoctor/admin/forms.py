"""Forms of user administration; values are checked by ``fdoctor.auth.services`` (Chinese)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from fdoctor.core.roles import ROLE_LABELS

ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]


class UserFieldsForm(FlaskForm):
    display_name = StringField(
        "姓名",
        validators=[DataRequired("请输入姓名"), Length(max=64, message="姓名不能超过64个字")],
    )
    role = SelectField("角色", choices=ROLE_CHOICES, validate_choice=False)
    unit_code = StringField(
        "所属机构编码", validators=[Length(max=64, message="机构编码不能超过64个字符")]
    )
    post = StringField("岗位", validators=[Length(max=32, message="岗位不能超过32个字")])
    on_probation = BooleanField("试用期（不参与二次分配）")


class UserCreateForm(UserFieldsForm):
    username = StringField(
        "用户名",
        validators=[DataRequired("请输入用户名"), Length(max=64, message="用户名不能超过64个字符")],
    )
    password = PasswordField(
        "初始密码",
        validators=[DataRequired("请输入初始密码"), Length(max=128, message="密码不能超过128位")],
    )
    confirm = PasswordField("再次输入密码", validators=[DataRequired("请再次输入密码")])
    submit = SubmitField("创建用户")


class UserEditForm(UserFieldsForm):
    submit = SubmitField("保存")
