"""The metrics of the 100-point index (SPEC 4), computed from the records by grouped SQL.

``compute_metrics(grain, start, end)`` gives every metric for every unit of a grain (team, station,
institution, county, city) in a fixed number of queries, whatever the number of units: 13 for all
fourteen metrics (the units; the population figures; signed residents; key-population residents
with the elderly checkups; contracts; one pass over the period's service records for A5, B1, B5,
B7 and C1; chronic follow-ups; the care-schedule windows of residents; those of pregnancies;
complaints; survey responses; latest blood pressure; latest glucose), fewer when only some metrics
are asked. Every query returns aggregated rows only (a few per unit), so the work stays in the
database and grows with the records, not with Python. ``start..end`` is the period's covered range
(``Period.covers``); ``as_of`` (default ``end``) is the day contract status, ages and the rolling
12-month windows are judged on. ``metric_records_query`` gives the rows behind a numerator for the
drill-down page.

Performance at city scale (issue #7)
------------------------------------
Per-resident facts are probes, not sets: whether a resident is signed (``EXISTS`` over
``ix_contract_member_resident_id``), a contract served, a patient followed up each quarter, a
patient's latest reading, a care-schedule window satisfied: each reads the partial index of
counting records ``ix_service_record_counting`` (resident, type, date; on PostgreSQL it carries the
readings, so the probes never touch the table; A3's then read each record's contract and team,
and stop at the first that counts). Never ``id IN (subquery)`` inside an expression: when the
subquery does not fit in ``work_mem`` PostgreSQL rescans it for every row. Constants the partial
index is defined with are written into the SQL (``_counting``), not bound. The care
schedules (B4, B6) are reckoned in SQL from rules that ``assessments.care_schedule`` derives for
the period (see ``care_schedule``). JIT compilation is best switched off for
the app's PostgreSQL connections (``jit = off``): on statements this size it costs more than it
saves.

Counting records
----------------
A service record counts when its verification state is ``unverified`` or ``confirmed``: ``false``
never counts and ``disputed`` counts only once confirmed (SPEC 4, 6). Events of the period are those
whose date (service date, survey date, complaint date) lies in ``start..end``, both inclusive.

Who belongs to a unit (the grain)
---------------------------------
Every query groups by one column. Team, institution and county: the row's own denormalised
``team_id`` / ``institution_id`` / ``county_id`` (service records, contracts, residents, survey
responses, complaints). City: the county column, summed per city in Python (every aggregate is a
count or a sum, so counties add up exactly). Station: service records carry ``station_id``;
residents through their household (``household.station_id``), contracts through the contract's
household, survey responses through the resident's household, complaints through their team when
the team sits under a station. Signed residents (A1, B1) belong to the unit of the contract that
covers them; everything else about residents (A2, B3, B4, B6, C4) to the resident's own unit
(A2's numerator also requires the contract to be the unit's own).
Residents count only while their status is ``active`` (在册).

Signed (签约) as of ``as_of``
-----------------------------
A resident is signed when a contract covering them was in force on ``as_of``: its term contains
``as_of`` (``start_date <= as_of <= end_date``) and it is ``active`` with the member still active,
or it has since become ``renewed`` or ``expired`` (it was in force during its term), or it was
``terminated`` after ``as_of``. This reads past days correctly from the contract rows alone; the
one thing not kept is a member removed from a contract that has since been renewed or expired.
Residents are counted once (``COUNT(DISTINCT resident_id)``) even if two contracts overlap.
Contracts in force (A3) use the same rule at contract level.

Which records belong where
--------------------------
Records of the period, of the unit (A5, B1, B5, B7, C1): the record's own unit columns (the team
that gave the service), never the resident's current contract. Records about residents judged per
resident (B3, B4, B6, C4): the resident's own unit, and the resident's counting records of the
window, whoever gave them — these measure the resident's care (a patient who moved teams keeps
the follow-ups already done); in the app a record of a resident is always placed with the
resident's team. Contract-bound (A3): only the contract's own records as defined above.

The metrics
-----------
* **A1 signing_coverage** 签约覆盖率: signed residents ÷ registered population (``PopulationFigure``
  ``registered`` of the unit for the year of ``end``). A unit without a figure takes the sum of its
  parts' figures, recursively: city ← counties, county ← institutions, institution ← teams,
  station ← the teams under it (stations do not partition an institution, so institutions sum
  teams). No figure anywhere → value None.
* **A2 key_population_signing** 重点人群签约率: key-population residents signed by a contract of
  the same unit ÷ key-population residents: residents with any stored key tag (maternal,
  hypertension, diabetes, mental_severe, tuberculosis, disabled, poverty, special_family) or aged
  65+ or 0–6 on ``as_of`` (birth-date cut-offs computed in Python with
  ``care_schedule.dates.age_on`` and passed as parameters). A resident signed by another unit's
  contract (a centre may sign a household for any of its teams; a household may move to another
  team) counts for A1 with the contract's unit and is not signed for A2 of the resident's unit:
  one signing, one unit.
* **A3 effective_contracts** 有效签约率: contracts in force on ``as_of`` made effective by a service
  ÷ contracts in force. A service makes contract C effective when it is a counting record of the
  12 months up to ``as_of`` (``add_months(as_of, -12)`` exclusive .. ``as_of``) for a resident C
  covers, given by C's team, entered under C or under a contract C renewed (``renewed_from_id``,
  followed up to three renewals back; ``service_record.contract_id``), and dated inside the
  term of the contract it was entered under (start..end, before the termination day if it was
  terminated). Services before the contract existed (entered under no contract), by another
  team, or under an unrelated contract (an earlier one that was not renewed into C) never count.
* **A5 timely_entry** 及时录入率: counting records of the period entered within 48 hours after the
  service day ended, i.e. ``entered_at`` before 00:00 of the third day after the service date
  (service on 3 March → entered before 6 March 00:00) ÷ counting records of the period. The
  service time of day is not recorded, so the 48 hours run from the end of the service day.
* **B1 basic_medical_volume** 基本医疗服务量: counting ``consultation`` + ``home_visit`` records of
  the unit in the period × 100 ÷ (signed residents × months covered); months are the calendar
  months ``start..end`` touches (3 for a quarter, 12 for the year-end H2). None without signed
  residents.
* **B3 chronic_standard_management** 慢病规范管理率: active residents of the unit tagged hypertension
  or diabetes (all such residents, signed or not — the patients the unit manages; diagnosis dates
  are not recorded, so every completed quarter is judged) whose every disease has a counting
  follow-up of that disease (``hypertension_followup`` / ``diabetes_followup``) in every completed
  calendar quarter of ``as_of``'s year (quarters ending on or before ``as_of``) ÷ those patients.
  When no quarter of the year has completed yet (``as_of`` before 31 March: periods in January and
  February), the previous calendar year's four quarters are judged instead, so the metric always
  has data. The quarter of a follow-up is found with a CASE on the quarter end dates (portable).
* **B4 key_population_services** 重点人群服务率: done ÷ due, summed over three parts:
  elderly checkups — due: signed residents aged 65+ on ``as_of`` (one checkup a year); done: those
  of them with a counting ``elderly_checkup`` in the 12 months up to ``as_of``;
  child checkups and maternal visits — the windows of ``assessments.care_schedule`` that end within
  the period are due, and done when satisfied by a counting record inside the window, for signed
  residents who are children (0–6 at some time in the period) or have a pregnancy whose LMP lies in
  the 430 days before ``end``. Signed residents only, as for the elderly part: these are contract
  services. None when nothing is due.
* **B5 health_education_sessions** 健康教育: counting ``health_education`` records without a
  resident (events, not individual advice) in the period ÷ months covered.
* **B6 vaccination_special_care** 预防接种与特殊人群保健: done ÷ due, like B4, over vaccination
  windows of signed children, quarterly follow-ups of signed ``mental_severe`` residents, and the six
  monthly follow-ups from ``tb_treatment_start`` of signed residents under TB treatment.
* **B7 referral_receipt** 双向转诊: counting ``referral_up`` + ``referral_down`` records of the period
  with ``referral_received_at`` set ÷ those records; None when none were made (the index's
  ``when_empty`` gives half the points).
* **C1 ethics_deductions** 医德医风: ``{"complaints": verified complaints received in the period,
  "false_records": records of the period whose verification is false}``; numerator and denominator
  are None.
* **C2 awareness** 居民知晓率: survey responses of the period with ``knows_doctor`` true ÷ responses
  that answered it; None when none did.
* **C3 satisfaction** 满意度: mean of the four-grade answers (100/80/60/20) of the period's responses;
  None when there are none (the index has no ``when_empty`` for C3: the workflow decides).
* **C4 health_improvement** 健康改善: hypertension patients whose latest counting blood-pressure
  reading (systolic and diastolic) in the 12 months up to ``as_of`` is below 140/90 plus diabetes
  patients whose latest fasting glucose in those 12 months is below 7.0 mmol/L ÷ hypertension
  patients with a reading plus diabetes patients with a reading (a patient with both diseases
  counts once for each). Twelve months rather than the period, so that a monthly self-check judges
  every patient on their latest follow-up. Latest = the last service date, then the highest id,
  found with ``ROW_NUMBER()`` (SQLite ≥ 3.25 and PostgreSQL). All tagged patients, as B3.

Values are ``Decimal`` rounded half-up to 6 places (ratios 0..1, B1 per 100 signed residents per
month, B5 per month, C3 a 0–100 mean); numerators and denominators are ``Decimal`` (B1's numerator
is visits × 100 and its denominator signed residents × months, as the index describes it).
``detail`` says in Chinese how the value was counted. ``drill`` always holds ``metric``, ``grain``,
``unit_id``, ``start``, ``end``, ``as_of`` and (except for the city) ``{grain}_id`` — the arguments
of ``metric_records_query`` — plus filters describing the rows, where they apply: ``type``
(comma-separated service types), ``verification`` (states that count), ``service_start`` /
``service_end`` (a record window other than the period), ``entered=timely``, ``received=yes``,
``resident=none`` (events), ``tag``, ``knows_doctor=yes``, ``satisfaction=any``.

The package
-----------
``predicates`` what counts (constants and SQL predicates); ``units`` who belongs to a unit at each
grain, and the argument checks; ``collector`` the grouped statements and ``compute_metrics``;
``care_schedule`` the schedule-window SQL of B4 and B6; ``display`` values, Chinese details and
drill-down filters; ``drilldown`` ``metric_records_query``. Each query's definition is the comment
block right above it.
"""

from fdoctor.assessments.metrics.collector import compute_metrics
from fdoctor.assessments.metrics.display import MetricValue
from fdoctor.assessments.metrics.drilldown import metric_records_query
from fdoctor.assessments.metrics.predicates import GRAINS, METRICS

__all__ = ["GRAINS", "METRICS", "MetricValue", "compute_metrics", "metric_records_query"]
