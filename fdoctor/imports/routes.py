"""Roster import (导入): households, residents, contracts and population denominators."""

from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")
