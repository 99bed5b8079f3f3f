"""Forms of the second distribution: the CSRF token and a text; the services check the rest."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField


class TextForm(FlaskForm):
    """A step with an optional or required text (note, reason, answer)."""

    text = TextAreaField("说明")


class SettingsForm(FlaskForm):
    representative_id = StringField("二次分配工作小组代表")
    publicity_days = StringField("公示天数（工作日）")
