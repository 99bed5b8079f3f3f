"""The floor of the sync API: a bare Flask endpoint with the same request and response shape.

``POST /api/v1/services/batch`` takes the tablet's JSON body (``device_id``, ``records``) and
answers one result per record in the shape of the real API (``client_uuid``, ``status``, ``id``,
``version``, ``errors``, ``warnings``) plus ``server_time``. No database, no login, no validation:
it measures what gunicorn, Flask and JSON cost on their own, so ``bench/sync_api.py`` can put the
app's figures beside it. Served the same way as the app:

    gunicorn --pythonpath bench --workers 4 bare_app:app
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime
from typing import Any

from flask import Flask, request

app = Flask(__name__)
# Ids unique within a worker (pid in the high bits), like the database's sequence would give.
_ids = itertools.count((os.getpid() % 100_000) * 1_000_000_000)


@app.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}


@app.post("/api/v1/services/batch")
def services_batch() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        return {"error": "请求体应为 JSON 对象", "status": 400}, 400
    results: list[dict[str, Any]] = [
        {
            "client_uuid": item.get("client_uuid") if isinstance(item, dict) else None,
            "status": "created",
            "id": next(_ids),
            "version": 1,
            "errors": {},
            "warnings": [],
        }
        for item in body["records"]
    ]
    return {"results": results, "server_time": datetime.now().replace(microsecond=0).isoformat()}
