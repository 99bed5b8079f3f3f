"""JSON API ``/api/v1/`` (tablet sync and more)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
