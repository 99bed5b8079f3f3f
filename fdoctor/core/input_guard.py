"""Text no database can store, refused at the door with the same answer on every database.

A NUL character is stored by SQLite and refused by PostgreSQL; a lone surrogate (``"\\ud800"``
in JSON) cannot be encoded for either. Both are refused in every input — query strings, form
fields, upload names and JSON bodies — before any view runs, with one Chinese 400. JSON bodies
are also refused when nested too deeply (Python's parser would overflow its stack on 100,000
levels, and no request of this app nests more than a few).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

MAX_JSON_DEPTH = 32
BAD_TEXT_MESSAGE = "输入中含有无效字符（空字符或无法识别的字符），请删除后重新提交。"
DEEP_JSON_MESSAGE = f"请求的 JSON 嵌套过深（最多 {MAX_JSON_DEPTH} 层）。"
BAD_JSON_MESSAGE = "请求体不是有效的 JSON。"

_BAD = re.compile("[\x00\ud800-\udfff]")


class BadInput(BadRequest):
    """A 400 whose description is the Chinese message shown to the user."""


def has_bad_text(text: str) -> bool:
    """NUL or a lone surrogate: nothing a person typed, and nothing a database stores alike."""
    return _BAD.search(text) is not None


def _check_json(value: Any) -> None:
    """Walk a parsed body without recursion: its depth and every key and string in it."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if has_bad_text(item):
                raise BadInput(BAD_TEXT_MESSAGE)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadInput(DEEP_JSON_MESSAGE)
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def _json_body() -> Any:
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return json.loads(data)
    except RecursionError:
        raise BadInput(DEEP_JSON_MESSAGE) from None
    except ValueError:  # not JSON (or not UTF-8): the view answers that in its own words
        return None


def check_request() -> None:
    """``before_request``: refuse bad text anywhere in the request (raises :class:`BadInput`)."""
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            if has_bad_text(key) or has_bad_text(value):
                raise BadInput(BAD_TEXT_MESSAGE)
    for key, upload in request.files.items(multi=True):
        if has_bad_text(key) or has_bad_text(upload.filename or ""):
            raise BadInput(BAD_TEXT_MESSAGE)
    if request.is_json:
        _check_json(_json_body())
