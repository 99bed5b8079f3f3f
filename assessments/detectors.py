"""Detectors that know the field (疑点规则): pure rules over plain rows, no database.

Each rule takes the rows ``fdoctor.flags.detectors`` reads and returns findings that say, in
Chinese, why they were raised and on which evidence. Every threshold is a field of
:class:`DetectorSettings`, whose values come from the configuration (``FLAG_RULES`` in
``config.py``); ``docs/flags.md`` describes each rule and its honest look-alike.

Rules (the kind names are the flag kinds):

* ``volume`` — visits a doctor *served on one day* (by service date, not entry time: typing up a
  week of paper forms at once spreads over the days they were served) against the doctor's own
  history and the team's: flagged when the day reaches ``volume_ceiling`` (a pace no doctor keeps),
  or when it reaches ``volume_floor`` and exceeds both ``volume_own_factor`` × the doctor's median
  day and ``volume_team_factor`` × the median day of the team's other doctors over the previous
  ``volume_history_days`` (a baseline needs ``volume_min_history_days`` days; without one, the
  other baseline alone decides).
* ``near_duplicate`` — the same resident and scheduled service type again within
  ``near_duplicate_days`` days (same-day repeats are the older ``duplicate`` rule).
* ``copied_reading`` — a blood-pressure follow-up whose reading equals the resident's previous
  follow-up exactly; a glucose reading equal to each of the previous two (glucose repeats by chance
  far more often at one decimal).
* ``implausible_reading`` — inside the entry bounds but not physiological together: pulse pressure
  below ``pulse_pressure_min`` or above ``pulse_pressure_max``, systolic from ``systolic_max``,
  glucose below ``glucose_min`` or from ``glucose_max``.
* ``threshold_cluster`` — a doctor with at least ``threshold_min_readings`` readings in the window
  whose share just below the control threshold (systolic in
  ``[threshold_systolic - threshold_band, threshold_systolic)``, glucose in
  ``[glucose_threshold - glucose_band, glucose_threshold)``) reaches ``threshold_peer_factor`` ×
  the median share of the other doctors (at least ``threshold_share_floor``; with no other doctor
  to compare, ``threshold_share``): each reading in the band is flagged.
* ``digit_preference`` — a doctor with at least ``digit_min_readings`` blood-pressure readings whose
  values end in 0 at ``digit_peer_factor`` × the other doctors' median share or more (at least
  ``digit_zero_floor``; alone, ``digit_zero_share``): one flag for the doctor and window.
* ``shared_phone`` — a phone number given for at least ``shared_phone_households`` households.
* ``unaware_resident`` — a signed resident answered a survey that they do not know a family doctor
  and had no service in the ``unaware_unserved_days`` before it (served but unaware of the
  doctor's name is a matter for the team, not a suspicion).
* ``unreachable`` — a signed resident not reached in at least ``unreachable_min`` verification
  calls and never surveyed.
* ``no_first_service`` — a contract in force for ``first_service_days`` days with no service since
  it began: a call is due, not a penalty.
* ``clock_skew`` — the tablet's clock differed from the server's by ``clock_skew_seconds`` or more
  when the record was uploaded.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

__all__ = [
    "BpReading",
    "DetectorSettings",
    "DoctorDay",
    "Finding",
    "GlucoseReading",
    "Visit",
    "clock_disagreement",
    "copied_readings",
    "digit_preference",
    "first_call_due",
    "implausible_readings",
    "near_duplicates",
    "normalise_phone",
    "shared_phones",
    "threshold_clusters",
    "volume_outliers",
]


@dataclass(frozen=True)
class DetectorSettings:
    """The parameters of every rule; ``from_mapping`` reads them from the configuration."""

    volume_history_days: int = 90
    volume_min_history_days: int = 10
    volume_own_factor: Decimal = Decimal("2.5")
    volume_team_factor: Decimal = Decimal("2.5")
    volume_floor: int = 12
    volume_ceiling: int = 30
    near_duplicate_days: int = 5
    pulse_pressure_min: int = 15
    pulse_pressure_max: int = 140
    systolic_max: int = 230
    glucose_min: Decimal = Decimal("2.5")
    glucose_max: Decimal = Decimal("30.0")
    threshold_systolic: int = 140
    threshold_band: int = 5
    glucose_threshold: Decimal = Decimal("7.0")
    glucose_band: Decimal = Decimal("0.5")
    threshold_min_readings: int = 20
    threshold_share: Decimal = Decimal("0.4")
    threshold_share_floor: Decimal = Decimal("0.25")
    threshold_peer_factor: Decimal = Decimal("2.5")
    digit_min_readings: int = 30
    digit_zero_share: Decimal = Decimal("0.5")
    digit_zero_floor: Decimal = Decimal("0.3")
    digit_peer_factor: Decimal = Decimal("2")
    shared_phone_households: int = 3
    unaware_unserved_days: int = 180
    unreachable_min: int = 2
    first_service_days: int = 90
    clock_skew_seconds: int = 600

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DetectorSettings:
        """Settings from a mapping of field names to values; unknown or bad values are refused."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"未知的疑点规则参数：{', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, raw in values.items():
            default = getattr(cls, name)
            try:
                value: Any = Decimal(str(raw)) if isinstance(default, Decimal) else int(raw)
            except (ArithmeticError, ValueError, TypeError):
                raise ValueError(f"疑点规则参数 {name} 的值 {raw!r} 无效") from None
            if value < 0 or (isinstance(value, Decimal) and not value.is_finite()):
                raise ValueError(f"疑点规则参数 {name} 不能为负数")
            kwargs[name] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class Finding:
    """One suspicion: on a record (``record_id``) or a contract (``contract_id``)."""

    kind: str
    reason: str
    record_id: int | None = None
    contract_id: int | None = None
    key: str | None = None  # the subject key when it is not the record's or contract's own


# ------------------------------------------------------------------ volume


@dataclass(frozen=True)
class DoctorDay:
    """Visits a doctor served on one day (by service date); ``last_record_id`` carries the flag."""

    doctor_id: int
    team_id: int | None
    day: date
    visits: int
    last_record_id: int


def _num(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 4, 4.5, 40."""
    return format(value.normalize(), "f")


def _baseline(counts: Iterable[int], minimum: int) -> Decimal | None:
    values = list(counts)
    return Decimal(str(median(values))) if len(values) >= minimum else None


def volume_outliers(
    days: Sequence[DoctorDay], start: date, end: date, settings: DetectorSettings
) -> list[Finding]:
    """Doctor-days in ``[start, end]`` whose visits are out of line (see the module's rule).

    ``days`` holds the window and the ``volume_history_days`` before it.
    """
    by_doctor: dict[int, list[DoctorDay]] = defaultdict(list)
    by_team: dict[int | None, list[DoctorDay]] = defaultdict(list)
    for d in days:
        by_doctor[d.doctor_id].append(d)
        by_team[d.team_id].append(d)
    history = timedelta(days=settings.volume_history_days)
    findings = []
    for d in sorted(days, key=lambda x: (x.day, x.doctor_id)):
        if not start <= d.day <= end or d.visits < settings.volume_floor:
            continue
        since = d.day - history
        own = _baseline(
            (h.visits for h in by_doctor[d.doctor_id] if since <= h.day < d.day),
            settings.volume_min_history_days,
        )
        team = _baseline(
            (
                h.visits
                for h in by_team[d.team_id]
                if h.doctor_id != d.doctor_id and since <= h.day < d.day
            ),
            settings.volume_min_history_days,
        )
        own_limit = own * settings.volume_own_factor if own is not None else None
        team_limit = team * settings.volume_team_factor if team is not None else None
        ceiling = d.visits >= settings.volume_ceiling
        limits = [x for x in (own_limit, team_limit) if x is not None]
        spike = bool(limits) and all(d.visits > x for x in limits)
        if not (ceiling or spike):
            continue
        parts = [f"{d.day.isoformat()} 服务日期记有上门/随访类服务 {d.visits} 次"]
        if own is not None:
            parts.append(f"本人近 {settings.volume_history_days} 天日中位数 {_num(own)} 次")
        if team is not None:
            parts.append(f"团队其他医生日中位数 {_num(team)} 次")
        if ceiling:
            parts.append(f"达到单日上限 {settings.volume_ceiling} 次")
        else:
            parts.append(
                f"超过本人的 {_num(settings.volume_own_factor)} 倍及团队的 "
                f"{_num(settings.volume_team_factor)} 倍"
            )
        findings.append(
            Finding(
                "volume",
                "；".join(parts),
                record_id=d.last_record_id,
                key=f"doctor:{d.doctor_id}:{d.day.isoformat()}",
            )
        )
    return findings


# ------------------------------------------------------------------ near-duplicates


@dataclass(frozen=True)
class Visit:
    id: int
    resident_id: int
    type: str
    service_date: date
    type_label: str = ""


def near_duplicates(
    visits: Sequence[Visit], start: date, end: date, settings: DetectorSettings
) -> list[Finding]:
    """Later visits of the same resident and type within ``near_duplicate_days`` (not same day).

    ``visits`` may reach back before ``start`` so a repeat early in the window is seen; only
    records served within ``[start, end]`` are flagged.
    """
    series: dict[tuple[int, str], list[Visit]] = defaultdict(list)
    for v in visits:
        series[(v.resident_id, v.type)].append(v)
    findings = []
    for items in series.values():
        items.sort(key=lambda v: (v.service_date, v.id))
        for previous, current in zip(items, items[1:], strict=False):
            gap = (current.service_date - previous.service_date).days
            if 0 < gap <= settings.near_duplicate_days and start <= current.service_date <= end:
                findings.append(
                    Finding(
                        "near_duplicate",
                        f"{current.type_label}：{current.service_date.isoformat()} 与 "
                        f"{previous.service_date.isoformat()} 的同一居民同类服务（记录 #{previous.id}）"
                        f"仅隔 {gap} 天（规则：{settings.near_duplicate_days} 天内）",
                        record_id=current.id,
                    )
                )
    return sorted(findings, key=lambda f: f.record_id or 0)


# ------------------------------------------------------------------ readings


@dataclass(frozen=True)
class BpReading:
    id: int
    doctor_id: int
    resident_id: int
    service_date: date
    systolic: int
    diastolic: int


@dataclass(frozen=True)
class GlucoseReading:
    id: int
    doctor_id: int
    resident_id: int
    service_date: date
    glucose: Decimal


def _in(day: date, start: date, end: date) -> bool:
    return start <= day <= end


def copied_readings(
    bp: Sequence[BpReading], glucose: Sequence[GlucoseReading], start: date, end: date
) -> list[Finding]:
    """Readings copied from the resident's previous visit(s); earlier readings give the history."""
    findings = []
    by_resident: dict[int, list[BpReading]] = defaultdict(list)
    for r in bp:
        by_resident[r.resident_id].append(r)
    for items in by_resident.values():
        items.sort(key=lambda r: (r.service_date, r.id))
        for previous, current in zip(items, items[1:], strict=False):
            same = (previous.systolic, previous.diastolic) == (current.systolic, current.diastolic)
            if same and _in(current.service_date, start, end):
                findings.append(
                    Finding(
                        "copied_reading",
                        f"高血压随访 {current.service_date.isoformat()} 的血压 "
                        f"{current.systolic}/{current.diastolic} mmHg 与上次随访"
                        f"（{previous.service_date.isoformat()}，记录 #{previous.id}）完全相同",
                        record_id=current.id,
                    )
                )
    by_glucose: dict[int, list[GlucoseReading]] = defaultdict(list)
    for g in glucose:
        by_glucose[g.resident_id].append(g)
    for series in by_glucose.values():
        series.sort(key=lambda r: (r.service_date, r.id))
        for first, second, latest in zip(series, series[1:], series[2:], strict=False):
            same = first.glucose == second.glucose == latest.glucose
            if same and _in(latest.service_date, start, end):
                findings.append(
                    Finding(
                        "copied_reading",
                        f"糖尿病随访 {latest.service_date.isoformat()} 的空腹血糖 "
                        f"{latest.glucose} mmol/L 与前两次随访（{first.service_date.isoformat()}、"
                        f"{second.service_date.isoformat()}）完全相同",
                        record_id=latest.id,
                    )
                )
    return sorted(findings, key=lambda f: f.record_id or 0)


def implausible_readings(
    bp: Sequence[BpReading],
    glucose: Sequence[GlucoseReading],
    start: date,
    end: date,
    settings: DetectorSettings,
) -> list[Finding]:
    """Readings within the entry bounds that are not physiological together."""
    s = settings
    findings = []
    for r in bp:
        if not _in(r.service_date, start, end):
            continue
        pulse = r.systolic - r.diastolic
        why = None
        if pulse < s.pulse_pressure_min:
            why = f"脉压仅 {pulse} mmHg（低于 {s.pulse_pressure_min}）"
        elif pulse > s.pulse_pressure_max:
            why = f"脉压达 {pulse} mmHg（高于 {s.pulse_pressure_max}）"
        elif r.systolic >= s.systolic_max:
            why = f"收缩压 {r.systolic} mmHg（不低于 {s.systolic_max} 应即时转诊）"
        if why:
            findings.append(
                Finding(
                    "implausible_reading",
                    f"高血压随访 {r.service_date.isoformat()} 血压 {r.systolic}/{r.diastolic} mmHg："
                    f"{why}，读数不合常理",
                    record_id=r.id,
                )
            )
    for gr in glucose:
        if not _in(gr.service_date, start, end):
            continue
        if gr.glucose < s.glucose_min or gr.glucose >= s.glucose_max:
            findings.append(
                Finding(
                    "implausible_reading",
                    f"糖尿病随访 {gr.service_date.isoformat()} 空腹血糖 {gr.glucose} mmol/L："
                    f"不在 {s.glucose_min}–{s.glucose_max} mmol/L 的合理范围内",
                    record_id=gr.id,
                )
            )
    return sorted(findings, key=lambda f: f.record_id or 0)


def _share(part: int, whole: int) -> Decimal:
    return Decimal(part) / Decimal(whole) if whole else Decimal(0)


def _percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('1'))}%"


def _peer_limits(
    shares: Mapping[int, Decimal], floor: Decimal, factor: Decimal, alone: Decimal
) -> dict[int, Decimal]:
    """Each doctor's limit: ``factor`` × the median share of the *other* doctors, at least
    ``floor``; ``alone`` when no other doctor has enough readings to compare with."""
    limits = {}
    for doctor_id in shares:
        others = [v for k, v in shares.items() if k != doctor_id]
        limits[doctor_id] = max(floor, factor * Decimal(str(median(others)))) if others else alone
    return limits


def _limit_text(limit: Decimal, peers: bool) -> str:
    basis = "其他医生中位数的倍数" if peers else "规则上限"
    return f"{basis} {_percent(limit)}"


def _clusters(
    by_doctor: Mapping[int, Sequence[Any]],
    in_band: Any,
    s: DetectorSettings,
) -> list[tuple[Any, list[Any], Decimal, Decimal, bool]]:
    """(doctor's readings, those in the band, share, limit, compared with peers) per flagged doctor."""
    counted = {d: items for d, items in by_doctor.items() if len(items) >= s.threshold_min_readings}
    bands = {d: [r for r in items if in_band(r)] for d, items in counted.items()}
    shares = {d: _share(len(bands[d]), len(items)) for d, items in counted.items()}
    limits = _peer_limits(
        shares, s.threshold_share_floor, s.threshold_peer_factor, s.threshold_share
    )
    return [
        (counted[d], bands[d], shares[d], limits[d], len(shares) > 1)
        for d in sorted(counted)
        if shares[d] >= limits[d]
    ]


def threshold_clusters(
    bp: Sequence[BpReading],
    glucose: Sequence[GlucoseReading],
    start: date,
    end: date,
    settings: DetectorSettings,
) -> list[Finding]:
    """Readings just below the control threshold, for doctors where they cluster there."""
    s = settings
    findings = []
    low_bp = s.threshold_systolic - s.threshold_band
    bp_by_doctor: dict[int, list[BpReading]] = defaultdict(list)
    for r in bp:
        if _in(r.service_date, start, end):
            bp_by_doctor[r.doctor_id].append(r)
    for items, band, share, limit, peers in _clusters(
        bp_by_doctor, lambda r: low_bp <= r.systolic < s.threshold_systolic, s
    ):
        for r in band:
            findings.append(
                Finding(
                    "threshold_cluster",
                    f"收缩压 {r.systolic} mmHg 恰在控制线 {s.threshold_systolic} 之下；"
                    f"该医生本期 {len(items)} 次血压中 {len(band)} 次（{_percent(share)}）"
                    f"落在 {low_bp}–{s.threshold_systolic - 1} mmHg，"
                    f"超过{_limit_text(limit, peers)}",
                    record_id=r.id,
                )
            )
    low_g = s.glucose_threshold - s.glucose_band
    g_by_doctor: dict[int, list[GlucoseReading]] = defaultdict(list)
    for g in glucose:
        if _in(g.service_date, start, end):
            g_by_doctor[g.doctor_id].append(g)
    for series, band_g, share, limit, peers in _clusters(
        g_by_doctor, lambda g: low_g <= g.glucose < s.glucose_threshold, s
    ):
        for g in band_g:
            findings.append(
                Finding(
                    "threshold_cluster",
                    f"空腹血糖 {g.glucose} mmol/L 恰在控制线 {s.glucose_threshold} 之下；"
                    f"该医生本期 {len(series)} 次血糖中 {len(band_g)} 次（{_percent(share)}）"
                    f"落在 {low_g}–{s.glucose_threshold} mmol/L 之间，"
                    f"超过{_limit_text(limit, peers)}",
                    record_id=g.id,
                )
            )
    return sorted(findings, key=lambda f: f.record_id or 0)


def digit_preference(
    bp: Sequence[BpReading], start: date, end: date, settings: DetectorSettings
) -> list[Finding]:
    """One finding per doctor whose blood-pressure values end in 0 far more than their peers'."""
    s = settings
    by_doctor: dict[int, list[BpReading]] = defaultdict(list)
    for r in bp:
        if _in(r.service_date, start, end):
            by_doctor[r.doctor_id].append(r)
    counted = {d: items for d, items in by_doctor.items() if len(items) >= s.digit_min_readings}
    zeros = {
        d: sum(1 for r in items for v in (r.systolic, r.diastolic) if v % 10 == 0)
        for d, items in counted.items()
    }
    shares = {d: _share(zeros[d], 2 * len(items)) for d, items in counted.items()}
    limits = _peer_limits(shares, s.digit_zero_floor, s.digit_peer_factor, s.digit_zero_share)
    findings = []
    for doctor_id, items in sorted(counted.items()):
        if shares[doctor_id] < limits[doctor_id]:
            continue
        latest = max(items, key=lambda r: (r.service_date, r.id))
        findings.append(
            Finding(
                "digit_preference",
                f"{start.isoformat()} 至 {end.isoformat()} 该医生 {len(items)} 次血压的 "
                f"{2 * len(items)} 个数值中 {zeros[doctor_id]} 个（{_percent(shares[doctor_id])}）"
                f"尾数为 0，如实读数约为 10%–20%，超过"
                f"{_limit_text(limits[doctor_id], len(shares) > 1)}：尾数偏好，读数可能并非实测",
                record_id=latest.id,
                key=f"doctor:{doctor_id}:{start.isoformat()}",
            )
        )
    return findings


# ------------------------------------------------------------------ residents


_NOT_DIGITS = re.compile(r"\D")


def normalise_phone(phone: str | None) -> str | None:
    """The digits of a phone number (a leading +86 or 86 dropped); ``None`` if too short to tell."""
    if not phone:
        return None
    digits = _NOT_DIGITS.sub("", phone)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if len(digits) >= 7 else None


@dataclass(frozen=True)
class PhoneUse:
    phone: str | None
    household_id: int


@dataclass(frozen=True)
class SharedPhone:
    phone: str
    household_ids: frozenset[int] = field(default_factory=frozenset)

    def reason(self) -> str:
        masked = self.phone[:3] + "****" + self.phone[-4:]
        return f"电话 {masked} 登记在 {len(self.household_ids)} 个不同的家庭户，居民可能并不存在"


def shared_phones(uses: Iterable[PhoneUse], settings: DetectorSettings) -> list[SharedPhone]:
    """Phones given for at least ``shared_phone_households`` different households."""
    households: dict[str, set[int]] = defaultdict(set)
    for use in uses:
        phone = normalise_phone(use.phone)
        if phone is not None:
            households[phone].add(use.household_id)
    return [
        SharedPhone(phone, frozenset(ids))
        for phone, ids in sorted(households.items())
        if len(ids) >= settings.shared_phone_households
    ]


def first_call_due(
    start_date: date, first_service: date | None, end: date, settings: DetectorSettings
) -> bool:
    """A contract in force ``first_service_days`` by ``end`` with no service since it began."""
    in_force = (end - start_date).days >= settings.first_service_days
    return in_force and (first_service is None or first_service > end)


def clock_disagreement(skew_seconds: int | None, settings: DetectorSettings) -> str | None:
    """Why a record's clock evidence is suspicious, or ``None``."""
    if skew_seconds is None or abs(skew_seconds) < settings.clock_skew_seconds:
        return None
    direction = "慢" if skew_seconds < 0 else "快"
    amount = abs(skew_seconds)
    days, rest = divmod(amount, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = (f"{days} 天 " if days else "") + (f"{hours} 小时 " if hours or days else "")
    text += f"{minutes} 分"
    return (
        f"上传时平板时钟比服务器{direction} {text.strip()}（规则：相差 "
        f"{settings.clock_skew_seconds // 60} 分钟以上），录入时间可能被改动"
    )
