"""The public results board (考核结果公示): published scores, no personal data, no login."""

from flask import Blueprint

bp = Blueprint("public", __name__, url_prefix="/public")
