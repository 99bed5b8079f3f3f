"""What a resident sees and answers on the confirmation page.

The page lists the visits recorded for the resident in the last ``VISIT_DAYS`` days (records not
found false, newest first, at most ``MAX_VISITS``); the resident confirms or denies each (or says
they are not sure), says whether they know their family doctor and rates the service on the four
grades. The answer is one ``survey_response`` (channel ``self``, so it counts in C2/C3 like any
survey) with one ``survey_record_check`` per visit, and it moves the records as a verification
call does: a denied visit goes to the review queue (``disputed``), a confirmed one that was
unverified becomes ``confirmed``. One answer per resident per quarter (``resident_answer``'s
unique key), and at most ``HITS_PER_HOUR`` answers per hour from one address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from assessments.periods import Period, PeriodKind
from fdoctor.confirm.links import Link, LinkError
from fdoctor.confirm.models import ResidentAnswer, ResidentLinkHit
from fdoctor.contracts.models import Contract, ContractMember
from fdoctor.core import clock
from fdoctor.core.errors import UserFacingError
from fdoctor.extensions import db
from fdoctor.households.models import Resident
from fdoctor.records.models import ServiceRecord
from fdoctor.surveys.models import (
    RECORD_CHECK_ANSWERS,
    SATISFACTION_GRADES,
    SurveyRecordCheck,
    SurveyResponse,
)

VISIT_DAYS = 90
MAX_VISITS = 20
HITS_PER_HOUR = 20


class AnswerError(UserFacingError):
    """The answer cannot be taken; ``status`` is the HTTP status, the message is Chinese."""


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: enough for a resident to recognise, little for a stranger."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def contract_of(link: Link) -> Contract:
    contract = db.session.get(Contract, link.contract_id)
    if contract is None:
        raise LinkError("链接无效：签约记录不存在。")
    return contract


def members(contract: Contract) -> list[Resident]:
    """The contract's members, in id order."""
    return list(
        db.session.scalars(
            select(Resident)
            .join(ContractMember, ContractMember.resident_id == Resident.id)
            .where(ContractMember.contract_id == contract.id)
            .order_by(Resident.id)
        )
    )


def member_of(link: Link, contract: Contract, resident_id: int | None) -> Resident | None:
    """The resident the page is for: the link's own, or one the visitor picked among the
    contract's members (anyone else: ``LinkError``); None while none is picked."""
    wanted = link.resident_id if link.resident_id is not None else resident_id
    if wanted is None:
        return None
    for resident in members(contract):
        if resident.id == wanted:
            return resident
    raise LinkError("链接无效：该居民不在此签约中。")


def visits(resident: Resident) -> list[ServiceRecord]:
    """The visits recorded for the resident lately (see the module docstring)."""
    since = clock.today() - timedelta(days=VISIT_DAYS)
    return list(
        db.session.scalars(
            select(ServiceRecord)
            .where(
                ServiceRecord.resident_id == resident.id,
                ServiceRecord.service_date >= since,
                ServiceRecord.verification != "false",
            )
            .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
            .limit(MAX_VISITS)
        )
    )


def current_period() -> str:
    return str(Period.containing(PeriodKind.QUARTER, clock.today()))


def answered(resident: Resident) -> ResidentAnswer | None:
    return db.session.scalar(
        select(ResidentAnswer).where(
            ResidentAnswer.resident_id == resident.id, ResidentAnswer.period == current_period()
        )
    )


def source_digest(address: str | None) -> str:
    return hashlib.sha256((address or "").encode("utf-8")).hexdigest()


def count_hit(source: str) -> None:
    """Count one answer from ``source`` and refuse (429) beyond ``HITS_PER_HOUR`` in an hour.

    The caller commits the hit before it handles the answer, so refused and failed answers count
    too."""
    since = clock.now() - timedelta(hours=1)
    hits = db.session.scalar(
        select(func.count(ResidentLinkHit.id)).where(
            ResidentLinkHit.source == source, ResidentLinkHit.at >= since
        )
    )
    if (hits or 0) >= HITS_PER_HOUR:
        raise AnswerError("提交过于频繁，请一小时后再试。", status=429)
    db.session.add(ResidentLinkHit(source=source, at=clock.now()))


def submit(
    contract: Contract,
    resident: Resident,
    *,
    checks: Mapping[int, str],
    satisfaction: int | None,
    knows_doctor: bool | None,
) -> SurveyResponse:
    """Take the resident's answer (see the module docstring); flushes, the caller commits."""
    if answered(resident) is not None:
        raise AnswerError("本季度您已提交过确认和评价，感谢您的参与。", status=409)
    if satisfaction not in SATISFACTION_GRADES:
        raise AnswerError("请选择对家庭医生服务的评价：满意、较满意、一般或不满意")
    if knows_doctor is None:
        raise AnswerError("请选择您是否知道自己的家庭医生")
    shown = {record.id: record for record in visits(resident)}
    if set(checks) != set(shown):
        raise AnswerError("请逐条确认列出的服务记录（记录如有变化，请刷新页面后重试）")
    if any(answer not in RECORD_CHECK_ANSWERS for answer in checks.values()):
        raise AnswerError("服务记录的回答无效：应为已接受、未接受或不确定")
    team_id = resident.team_id or contract.team_id
    response = SurveyResponse(
        resident_id=resident.id,
        period=current_period(),
        surveyed_on=clock.today(),
        channel="self",
        satisfaction=satisfaction,
        knows_doctor=knows_doctor,
        comment="居民通过确认链接自助提交",
        created_at=clock.now(),
        county_id=resident.county_id,
        institution_id=resident.institution_id,
        team_id=team_id,
    )
    db.session.add(response)
    db.session.flush()
    for record_id, answer in sorted(checks.items()):
        record = shown[record_id]
        db.session.add(
            SurveyRecordCheck(response_id=response.id, service_record_id=record.id, answer=answer)
        )
        if answer == "not_received" and record.verification in ("unverified", "confirmed"):
            record.verification = "disputed"
        elif answer == "received" and record.verification == "unverified":
            record.verification = "confirmed"
    db.session.add(
        ResidentAnswer(
            resident_id=resident.id,
            contract_id=contract.id,
            period=response.period,
            response_id=response.id,
            answered_at=clock.now(),
        )
    )
    try:
        db.session.flush()
    except IntegrityError:  # a second answer raced this one: the key lets one through
        db.session.rollback()
        raise AnswerError("本季度您已提交过确认和评价，感谢您的参与。", status=409) from None
    return response
