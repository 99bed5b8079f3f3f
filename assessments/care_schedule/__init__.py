"""Which public-health services are due for a resident (国家基本公共卫生服务规范).

Used as the doctor's work list and as the "due" denominators of indicators B3 (chronic-disease
standard management), B4 (key-population services) and B6 (vaccination and special populations).

Every due service is a **window** ``[window_start, window_end]`` (both inclusive). A service of the
window's type dated inside the window satisfies it; one service satisfies one window only. Windows
of one type never overlap for one resident, so which windows a service satisfies does not depend on
the date range asked about. A window's status on ``today`` is ``done`` (satisfied), ``overdue``
(``today`` after its end), ``due`` (open today) or ``upcoming`` (not open yet).

The rules, and the windows chosen where the norms name only a target age
------------------------------------------------------------------------
* **Hypertension, type-2 diabetes** (``hypertension``, ``diabetes`` tags): one face-to-face
  follow-up per calendar quarter, each disease separately.
* **Severe mental disorder** (``mental_severe``): one follow-up per calendar quarter (≥ 4 a year).
* **Elderly 65+** (derived from the birth date): one health checkup per calendar year; in the year a
  resident turns 65 the window opens on the 65th birthday, so a checkup at 64 does not count.
* **Children 0–6** (derived from the birth date), checkups (儿童健康检查):
  neonatal (满月) at 28–30 days of age; 3, 6 and 8 months: from one month before the target age to
  the day before one month after it; 12, 18, 24, 30 and 36 months: ± 2 months likewise; 4, 5 and
  6 years: ± 3 months likewise.
* **Vaccination** (simplified): one vaccination visit due at each main age of the national
  immunisation schedule — birth, 1, 2, 3, 4, 5, 6, 8, 9, 18 and 24 months, 3, 4 and 6 years. A
  vaccine is never given before its age, so each window starts at the target age and lasts one
  month up to 9 months (birth: the first month of life), three months at 18 and 24 months, and six
  months at 3, 4 and 6 years. Which vaccines are given, and catch-up doses, are not modelled.
* **Maternal** (from ``pregnancy``; gestational age counted from the last menstrual period (LMP),
  or from the expected due date minus 280 days; "weeks a–b" runs from a weeks + 0 days to
  b weeks + 6 days): first visit before 13 weeks (from the LMP to 12 weeks + 6 days), then 16–20,
  21–24, 28–36 and 37–40 weeks. Once delivered, antenatal windows that have not started by the
  delivery date are dropped and one in progress ends the day before delivery; the postpartum
  visit is due 3–7 days after delivery and the postpartum check 42–56 days after delivery.
* **Tuberculosis** (from ``tb_treatment_start``): one follow-up in each of the six treatment months
  (month k runs from start + k months to the day before start + k+1 months).

Adding months clamps to the month's last day (31 January + 1 month = 28 February), and a resident
born on 29 February has a birthday on 28 February in other years. A chronic or mental-disorder
window that ends before ``tag_since[tag]`` (diagnosis or registration date) is not due; a tag with
no date applies from the start. The ``elderly65`` and ``child0_6`` tags are derived from the birth
date and ignored in ``tags``; the maternal and TB schedules need their dates, so a ``maternal`` or
``tuberculosis`` tag without them gives no windows.

The modules
-----------
* ``model``: service types, statuses, a resident's profile, a pregnancy, a service done, a due
  item; population tags; the schedule's error.
* ``dates``: months that clamp, ages, calendar quarters.
* ``windows``: the rules above, as the windows of one resident's profile.
* ``due``: due items with their status, the doctor's work list, an indicator's due and done
  counts, B3's standard management.
* ``windows_ending``: the windows ending within a range without a resident (anchor runs and
  quarters), for a database to reckon in bulk.
"""
