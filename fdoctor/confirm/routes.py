"""The resident's confirmation page: no login, opened from a signed link (a QR code)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, make_response, render_template, request

from fdoctor.confirm import services
from fdoctor.confirm.links import LinkError, link_url, read_token, receipt_token
from fdoctor.confirm.services import AnswerError
from fdoctor.core.access import roles_required
from fdoctor.core.roles import Role
from fdoctor.core.scope import get_scoped_or_404
from fdoctor.core.unit_of_work import discard
from fdoctor.extensions import db
from fdoctor.records.models import ServiceRecord
from fdoctor.reports.qr import qr_data_uri
from fdoctor.surveys.models import RECORD_CHECK_ANSWERS, SATISFACTION_GRADES

bp = Blueprint("confirm", __name__, url_prefix="/r")


def _page(template: str, status: int = 200, **context: Any) -> Any:
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"  # the resident's visits stay off the phone
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key: never pass it on
    return response


@bp.route("/<token>", methods=["GET", "POST"])
def page(token: str) -> Any:
    try:
        link = read_token(token)
        contract = services.contract_of(link)
        resident = services.member_of(link, contract, request.values.get("m", type=int))
    except LinkError as exc:
        return _page("confirm/invalid.html", 404, message=str(exc))
    context: dict[str, Any] = {
        "token": token,
        "contract": contract,
        "resident": resident,
        "mask": services.mask_name,
        "grades": SATISFACTION_GRADES,
        "answers": RECORD_CHECK_ANSWERS,
    }
    if resident is None:
        return _page("confirm/page.html", members=services.members(contract), **context)
    error, status = None, 200
    if request.method == "POST":
        try:
            services.count_hit(services.source_digest(request.remote_addr))
            # Committed here, on purpose: the hit counts even when the answer is refused (a
            # refusal keeps nothing of the request), or the rate limit could be walked around.
            db.session.commit()
            services.submit(
                contract,
                resident,
                checks={
                    int(key[6:]): value
                    for key, value in request.form.items()
                    if key.startswith("visit-") and key[6:].isdigit()
                },
                satisfaction=request.form.get("satisfaction", type=int),
                knows_doctor={"yes": True, "no": False}.get(request.form.get("knows", "")),
            )
        except AnswerError as exc:
            discard()  # the page below shows what the database holds
            error, status = str(exc), exc.status
    return _page(
        "confirm/page.html",
        status,
        visits=services.visits(resident),
        done=services.answered(resident),
        error=error,
        **context,
    )


@bp.route("/receipt/<int:record_id>")
@roles_required(Role.DOCTOR, Role.TEAM_LEADER, Role.CENTRE_ADMIN)
def receipt(record_id: int) -> Any:
    """A visit receipt with the resident's QR code, shown on the tablet or printed."""
    record = get_scoped_or_404(ServiceRecord, record_id)
    if record.contract_id is None:
        return _page(
            "confirm/invalid.html", 409, message="该服务记录不属于任何签约，无法生成居民确认码。"
        )
    url = link_url(receipt_token(record.contract_id, record.resident_id))
    return _page("confirm/receipt.html", record=record, url=url, qr=qr_data_uri(url))
