"""Benchmark 4 of issue #7: the tablet sync API beside a bare Flask endpoint, same server, same run.

Both are served by gunicorn (same worker count and class) and driven by the same client: N
simulated tablets (threads, spread over a few client processes) upload batches of visits to
``POST /api/v1/services/batch``. Four phases, each with a warm-up that is not counted:

* ``bare`` / ``app`` **saturated**: every tablet sends its next batch as soon as the last one is
  answered (closed loop) — the most records per second the server takes;
* ``bare`` / ``app`` **paced**: the tablets together offer a fixed rate (default 1,000 records/s,
  the target) on a fixed schedule (open loop; latency counts from the scheduled send, so a server
  that falls behind is not flattered) — the batch latency at the target rate.

The app runs on its own PostgreSQL database (``fdoctor_bench_sync_<pid>``, dropped at the end)
loaded with the demo city (``flask demo load --anchor 2026-11-20 --seed 20260101``); each tablet is
a doctor with a bearer token uploading realistic visits for signed residents of the doctor's own
team. At the end every acknowledged record must be stored exactly once, nothing the tablets did not
send may be stored, and the audit chain must verify.

    .venv/bin/python bench/sync_api.py --clients 50 --batch 50 --seconds 60 --workers 4 \\
        --json bench/results/sync_api-$(date +%F).json
    .venv/bin/python bench/sync_api.py --seconds 8 --paced-seconds 6     # a quick look
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import platform
import random
import resource
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load_sync import free_port  # noqa: E402  (the helper of the crash test)

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_PREFIX = "fdoctor_bench_sync_"
ANCHOR = "2026-11-20"
SEED = 20260101
PATH = "/api/v1/services/batch"
WINDOW_DAYS = 20  # visits are dated within the last three weeks
TARGET_RECORDS_PER_S = 1000.0
TARGET_P95_MS = 500.0
NOTES = ("", "", "", "血压控制尚可，嘱低盐饮食", "已测血糖，按时服药", "家属陪同", "电话预约后上门")


# --- payloads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id: int
    age: int
    hypertension: bool
    diabetes: bool


# One audit key for the whole run: the prepared data and the served app append to one chain.
BENCH_AUDIT_KEY = os.environ.get("AUDIT_KEY") or secrets.token_urlsafe(32)


def _visit(rng: random.Random, person: Person | None, day: date) -> dict[str, Any]:
    """One realistic visit, valid for fdoctor/records/drafts.py and placing.py."""
    at = f"{day.isoformat()}T{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00"
    if person is None:  # a health-education talk: a team's event, no single resident
        return {
            "type": "health_education",
            "service_date": day.isoformat(),
            "entered_at": at,
            "attendance": rng.randint(8, 60),
            "topic": "高血压防治知识讲座",
        }
    rec: dict[str, Any] = {
        "resident_id": person.id,
        "service_date": day.isoformat(),
        "entered_at": at,
    }
    roll = rng.random()
    if person.hypertension and roll < 0.5:
        sbp = rng.randint(105, 175)
        rec.update(
            type="hypertension_followup",
            systolic_bp=sbp,
            diastolic_bp=rng.randint(60, min(105, sbp - 20)),
        )
    elif person.diabetes and roll < 0.5:
        rec.update(type="diabetes_followup", fasting_glucose=round(rng.uniform(4.2, 13.5), 1))
    elif person.age >= 65 and roll < 0.15:
        rec["type"] = "elderly_checkup"
    else:
        rec["type"] = rng.choices(["consultation", "home_visit", "prescription_review"], [5, 3, 2])[
            0
        ]
    note = rng.choice(NOTES)
    if note:
        rec["notes"] = note
    return rec


SEQ = b"@SEQ@SEQ@SEQ"  # 12 bytes, replaced by the batch number (hex) to make the ids unique


def batch_templates(
    rng: random.Random, people: list[Person], today: date, batch: int, count: int, tag: str
) -> list[bytes]:
    """``count`` request bodies of ``batch`` visits; their client ids end in a placeholder.

    The client swaps the placeholder for its batch counter (one ``bytes.replace``), so every batch
    it sends has fresh ids while the body costs nothing to build during the run.
    """
    out = []
    for _ in range(count):
        records = []
        for k in range(batch):
            person = None if rng.random() < 0.01 else rng.choice(people)
            day = today - timedelta(days=rng.randint(0, WINDOW_DAYS))
            rec = _visit(rng, person, day)
            rec["client_uuid"] = f"{tag}-4{k:03x}-8{rng.getrandbits(12):03x}-@SEQ@SEQ@SEQ"
            records.append(rec)
        body = json.dumps(
            {"device_id": f"bench-sync-{tag}", "records": records},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        out.append(body.encode("utf-8"))
    return out


# --- the client -------------------------------------------------------------------------------


@dataclass
class ClientSpec:
    index: int
    token: str
    templates: list[bytes]
    seq0: int = 0  # each phase counts its batches from its own base: ids never repeat


def _tablet(
    spec: ClientSpec,
    port: int,
    start: float,
    end: float,
    interval: float | None,
    offset: float,
    out: list[tuple[float, float, float, int, int, int, int]],
    acked: set[str],
) -> None:
    """One tablet: closed loop (interval None) or one batch every ``interval`` seconds.

    Each sample is (scheduled, sent, answered, http status or -1, created, duplicate, invalid).
    A batch that got no answer is sent again with the same ids, as the real queue does.
    """
    headers = {"Authorization": f"Bearer {spec.token}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    seq = spec.seq0
    due = start + offset
    body: bytes | None = None
    while True:
        if body is None:
            if due >= end or time.monotonic() >= end:
                break  # a backlog left at the end is not sent: the phase ends on time
            template = spec.templates[(seq - spec.seq0) % len(spec.templates)]
            body = template.replace(SEQ, b"%012x" % seq)
            seq += 1
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        scheduled = due if interval is not None else time.monotonic()
        sent = time.monotonic()
        try:
            conn.request("POST", PATH, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            out.append((scheduled, sent, time.monotonic(), -1, 0, 0, 0))
            conn.close()
            time.sleep(0.2)
            continue  # same body, same ids
        answered = time.monotonic()
        created = duplicate = invalid = 0
        if response.status == 200:
            for r in json.loads(payload)["results"]:
                status = r["status"]
                if status == "created":
                    created += 1
                    acked.add(r["client_uuid"])
                elif status == "duplicate":
                    duplicate += 1
                    acked.add(r["client_uuid"])
                else:
                    invalid += 1
            body = None
        else:
            time.sleep(0.2)  # an error answer: resend the same batch
        out.append((scheduled, sent, answered, response.status, created, duplicate, invalid))
        if interval is not None:
            # Open loop: the schedule does not wait for a slow server (a backlog shows as latency).
            due = due + interval if body is None else due
        else:
            due = time.monotonic()
    conn.close()


def _client_process(
    specs: list[ClientSpec],
    port: int,
    start: float,
    end: float,
    interval: float | None,
    clients: int,
    queue: Any,
) -> None:
    samples: list[tuple[float, float, float, int, int, int, int]] = []
    acked: set[str] = set()
    threads = []
    for spec in specs:
        offset = (spec.index / clients) * interval if interval else 0.0
        t = threading.Thread(
            target=_tablet,
            args=(spec, port, start, end, interval, offset, samples, acked),
            daemon=True,
        )
        threads.append(t)
        t.start()
    for t in threads:
        t.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((samples, sorted(acked), usage.ru_utime + usage.ru_stime))


# --- the server -------------------------------------------------------------------------------


class Gunicorn:
    def __init__(
        self,
        target: str,
        env: dict[str, str],
        workers: int,
        worker_class: str,
        threads: int,
        log: Path,
    ) -> None:
        self.target, self.env, self.workers = target, env, workers
        self.worker_class, self.threads, self.log = worker_class, threads, log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            str(ROOT / ".venv/bin/gunicorn"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--timeout",
            "60",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            "--pythonpath",
            str(ROOT / "bench"),
        ]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*args, self.target],
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=log,
                stderr=log,
            )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn ({self.target}) did not come up; see {self.log}")

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            kids = [int(p) for p in children.read_text().split()]
        except OSError:
            kids = []
        return [self.proc.pid, *kids]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.proc = None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    tick = os.sysconf("SC_CLK_TCK")
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + values[4]
    return (sum(values) - idle) / tick, sum(values) / tick


# --- one phase --------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))  # nearest rank
    return sorted_values[k]


def run_phase(
    name: str,
    server: Gunicorn,
    specs: list[ClientSpec],
    procs: int,
    seconds: float,
    warmup: float,
    rate: float | None,
    batch: int,
    pg_pids: Any,
) -> tuple[dict[str, Any], set[str]]:
    clients = len(specs)
    interval = clients * batch / rate if rate else None
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start = time.monotonic() + 1.0
    counted_from, end = start + warmup, start + warmup + seconds
    groups = [specs[i::procs] for i in range(procs)]
    workers = [
        ctx.Process(
            target=_client_process, args=(group, server.port, start, end, interval, clients, queue)
        )
        for group in groups
        if group
    ]
    for w in workers:
        w.start()
    time.sleep(max(0.0, counted_from - time.monotonic()))
    server_cpu0, pg_cpu0, busy0 = cpu_seconds(server.pids()), cpu_seconds(pg_pids()), machine_busy()
    time.sleep(max(0.0, end - time.monotonic()))
    server_cpu1, pg_cpu1, busy1 = cpu_seconds(server.pids()), cpu_seconds(pg_pids()), machine_busy()
    samples: list[tuple[float, float, float, int, int, int, int]] = []
    acked: set[str] = set()
    client_cpu = 0.0
    for _ in workers:
        s, a, cpu = queue.get(timeout=seconds + warmup + 300)
        samples.extend(s)
        acked.update(a)
        client_cpu += cpu
    for w in workers:
        w.join()

    window = [s for s in samples if counted_from <= s[2] <= end]
    ok = [s for s in window if s[3] == 200]
    latencies = sorted(s[2] - s[0] for s in ok)
    service = sorted(s[2] - s[1] for s in ok)
    errors: dict[str, int] = {}
    for s in window:
        if s[3] != 200:
            key = "connection" if s[3] < 0 else f"http_{s[3]}"
            errors[key] = errors.get(key, 0) + 1
    records = sum(s[4] + s[5] for s in ok)
    busy = busy1[0] - busy0[0]
    wall = busy1[1] - busy0[1]

    def ms(v: float | None) -> float | None:
        return round(v * 1000, 1) if v is not None else None

    report: dict[str, Any] = {
        "phase": name,
        "mode": "paced" if rate else "saturated",
        "offered_records_per_s": rate,
        "seconds": seconds,
        "warmup_s": warmup,
        "batches": len(ok),
        "records": records,
        "records_per_s": round(records / seconds, 1),
        "batches_per_s": round(len(ok) / seconds, 2),
        "latency_ms": {
            "p50": ms(percentile(latencies, 0.50)),
            "p95": ms(percentile(latencies, 0.95)),
            "p99": ms(percentile(latencies, 0.99)),
            "max": ms(latencies[-1] if latencies else None),
            "mean": ms(sum(latencies) / len(latencies) if latencies else None),
        },
        # From the moment the batch left the client (the paced latency counts from its schedule).
        "service_ms": {"p50": ms(percentile(service, 0.50)), "p95": ms(percentile(service, 0.95))},
        "errors": errors,
        "invalid_records": sum(s[6] for s in window),
        "duplicate_records": sum(s[5] for s in window),
        "cpu": {
            # CPU seconds per second of the counted window (2.0 = both cores of a 2-core machine).
            "machine_cores_busy": round(busy / (wall / (os.cpu_count() or 1)), 2) if wall else None,
            "server_cores": round((server_cpu1 - server_cpu0) / seconds, 2),
            "postgres_cores": round((pg_cpu1 - pg_cpu0) / seconds, 2),
            # Whole client processes (warm-up and tail included), per second of the phase.
            "client_cores": round(client_cpu / (seconds + warmup), 2),
        },
        # CPU milliseconds one batch costs (counted window): less sensitive to a busy machine
        # than the rates, as long as the cores are not oversubscribed by the phase itself.
        "cpu_ms_per_batch": {
            "server": round((server_cpu1 - server_cpu0) / len(ok) * 1000, 2) if ok else None,
            "postgres": round((pg_cpu1 - pg_cpu0) / len(ok) * 1000, 2) if ok else None,
            "client": round(client_cpu / len(samples) * 1000, 2) if samples else None,
        },
        "all_samples": len(samples),
    }
    cpu = report["cpu"]
    if cpu["machine_cores_busy"] is not None:
        # What the rest of the machine (other users' processes) took meanwhile.
        cpu["other_cores"] = round(
            max(
                0.0,
                cpu["machine_cores_busy"]
                - cpu["server_cores"]
                - cpu["postgres_cores"]
                - cpu["client_cores"],
            ),
            2,
        )
    return report, acked


# --- set-up and checks --------------------------------------------------------------------------


def flask_cli(url: str, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FLASK_APP": "wsgi",
        "FDOCTOR_ENV": "development",
        "AUDIT_KEY": BENCH_AUDIT_KEY,
    }
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/flask"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def prepare(url: str, clients: int, batch: int, pool: int, scale: str | None) -> dict[str, Any]:
    """Schema, demo city, one doctor and token per tablet, and each tablet's request bodies."""
    import sqlalchemy as sa

    from fdoctor import create_app
    from fdoctor.auth.models import User
    from fdoctor.auth.services import issue_api_token
    from fdoctor.contracts.models import Contract, ContractMember
    from fdoctor.core import citizen_id, clock
    from fdoctor.extensions import db
    from fdoctor.households.models import Resident
    from fdoctor.org.models import OrgUnit

    t0 = time.perf_counter()
    flask_cli(url, "db", "upgrade")
    load = ["demo", "load", "--anchor", ANCHOR, "--seed", str(SEED)]
    flask_cli(url, *load, *(["--scale", scale] if scale else []))
    loaded_s = time.perf_counter() - t0

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUDIT_KEY": BENCH_AUDIT_KEY})
    today = clock.today()
    run_tag = random.SystemRandom().getrandbits(32)
    specs, teams = [], set()
    with app.app_context():
        # One doctor per team first (round robin over teams), so the tablets spread over the city.
        rows = db.session.execute(
            sa.select(User, OrgUnit.id)
            .join(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(User.role == "doctor", User.active, OrgUnit.kind == "team")
            .order_by(User.id)
        ).all()
        by_team: dict[int, list[Any]] = {}
        for user, team_id in rows:
            by_team.setdefault(team_id, []).append(user)
        order = [
            users[i]
            for i in range(max(map(len, by_team.values())))
            for users in by_team.values()
            if i < len(users)
        ]
        for i in range(clients):
            doctor = order[i % len(order)]
            teams.add(doctor.org_unit_id)
            signed = db.session.execute(
                sa.select(
                    Resident.id,
                    Resident.birth_date,
                    Resident.tag_hypertension,
                    Resident.tag_diabetes,
                )
                .join(ContractMember, ContractMember.resident_id == Resident.id)
                .join(Contract, Contract.id == ContractMember.contract_id)
                .where(
                    ContractMember.is_active,
                    ContractMember.team_id == doctor.org_unit_id,
                    Contract.status == "active",
                    Contract.start_date <= today - timedelta(days=WINDOW_DAYS),
                    Contract.end_date >= today,
                    Resident.status == "active",
                )
            ).all()
            if not signed:
                raise RuntimeError(f"team of {doctor.username} has no suitable signed resident")
            people = [Person(r[0], citizen_id.age_on(r[1], today), r[2], r[3]) for r in signed]
            rng = random.Random(SEED + i)
            tag = f"{run_tag:08x}-{i:04x}"
            specs.append(
                ClientSpec(
                    i,
                    issue_api_token(doctor, f"bench-sync-{i}"),
                    batch_templates(rng, people, today, batch, pool, tag),
                )
            )
        db.session.commit()
        counts = {
            "service_record": db.session.scalar(sa.text("SELECT COUNT(*) FROM service_record")),
            "resident": db.session.scalar(sa.text("SELECT COUNT(*) FROM resident")),
            "audit_entry": db.session.scalar(sa.text("SELECT COUNT(*) FROM audit_entry")),
        }
        db.session.remove()
        db.engine.dispose()
    return {
        "app": app,
        "specs": specs,
        "teams": len(teams),
        "counts": counts,
        "load_s": round(loaded_s, 1),
        "run_tag": f"{run_tag:08x}",
    }


def check_stored(app: Any, sent_tag: str, acked: set[str], verify_audit: bool) -> dict[str, Any]:
    import sqlalchemy as sa

    from fdoctor.audit.verify import verify
    from fdoctor.extensions import db

    with app.app_context():
        like = f"{sent_tag}-%"
        db.session.execute(sa.text("ANALYZE service_record"))
        db.session.execute(sa.text("ANALYZE audit_entry"))
        rows = db.session.execute(
            sa.text(
                "SELECT client_uuid, MIN(id), COUNT(*) FROM service_record "
                "WHERE client_uuid LIKE :p GROUP BY client_uuid"
            ),
            {"p": like},
        ).all()
        stored = {r[0] for r in rows}
        ids = {str(r[1]) for r in rows}
        audited_ids = set(
            db.session.scalars(
                sa.text(
                    "SELECT row_id FROM audit_entry "
                    "WHERE table_name = 'service_record' AND action = 'create'"
                )
            )
        )
        audited = len(ids & audited_ids)
        out: dict[str, Any] = {
            "acknowledged": len(acked),
            "stored": len(stored),
            "doubled": sum(1 for r in rows if r[2] > 1),
            "missing": len(acked - stored),
            "unacknowledged_stored": len(stored - acked),
            "audit_create_entries": audited,
        }
        if verify_audit:
            t0 = time.perf_counter()
            result = verify(db.session())
            out["audit_verify"] = {
                "ok": result.ok,
                "entries": result.entries,
                "problems": result.problems[:5],
                "seconds": round(time.perf_counter() - t0, 1),
            }
        db.session.remove()
        db.engine.dispose()
    # Every batch is sent until it is answered (a lost answer is resent with the same ids), so the
    # acknowledged and the stored ids must be the same set, each stored once and audited once.
    out["exactly_once"] = (
        out["doubled"] == 0
        and out["missing"] == 0
        and out["unacknowledged_stored"] == 0
        and audited == len(stored)
        and (not verify_audit or out["audit_verify"]["ok"])
    )
    return out


def machine_info(url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    engine = sa.create_engine(url)
    with engine.connect() as c:
        pg = c.scalar(sa.text("SHOW server_version"))
        settings = {
            k: c.scalar(sa.text(f"SHOW {k}"))
            for k in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
        }
    engine.dispose()
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg,
        "postgresql_settings": settings,
        "gunicorn": version("gunicorn"),
        "flask": version("flask"),
        "sqlalchemy": version("sqlalchemy"),
        "psycopg": version("psycopg"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    import sqlalchemy as sa

    name = f"{DB_PREFIX}{os.getpid()}"
    admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = args.pg_url.rsplit("/", 1)[0] + "/" + name
    log = Path(args.log or f"/tmp/{name}.gunicorn.log")
    servers: list[Gunicorn] = []
    try:
        info = machine_info(url)
        print(
            f"preparing {name}: demo city, {args.clients} doctors, tokens, payloads…",
            file=sys.stderr,
        )
        prep = prepare(url, args.clients, args.batch, args.pool, args.scale)
        specs: list[ClientSpec] = prep["specs"]
        # The production setup (README "Production"): production config, its own secret key.
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "FDOCTOR_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "AUDIT_KEY": BENCH_AUDIT_KEY,
        }
        common = (args.workers, args.worker_class, args.threads, log)

        def pg_pids() -> list[int]:
            with admin.connect() as c:
                return list(
                    c.scalars(
                        sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": name}
                    )
                )

        phases: dict[str, dict[str, Any]] = {}
        acked_all: set[str] = set()
        plan = [("saturated", None, args.seconds)]
        if args.pace:
            plan.append(("paced", args.pace, args.paced_seconds or args.seconds))
        for label, target in (("bare", "bare_app:app"), ("app", "wsgi:app")):
            if label not in args.servers:
                continue
            server = Gunicorn(target, env, *common)
            servers.append(server)
            server.start()
            for mode, rate, seconds in plan:
                key = f"{label}_{mode}"
                print(f"phase {key}: {seconds:g} s (+{args.warmup:g} s warm-up)…", file=sys.stderr)
                # Every phase sends its own ids (a different placeholder counter range).
                phase_specs = [
                    ClientSpec(s.index, s.token, s.templates, seq0=(len(phases) + 1) << 40)
                    for s in specs
                ]
                report, acked = run_phase(
                    key,
                    server,
                    phase_specs,
                    args.client_procs,
                    seconds,
                    args.warmup,
                    rate,
                    args.batch,
                    pg_pids if label == "app" else (lambda: []),
                )
                phases[key] = report
                if label == "app":
                    acked_all |= acked
                print(_line(report), file=sys.stderr)
            server.stop()

        print("checking every acknowledged record is stored exactly once…", file=sys.stderr)
        check = check_stored(prep["app"], prep["run_tag"], acked_all, not args.no_audit_verify)
        info["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        report = {
            "benchmark": "sync_api",
            "issue": 7,
            "date": date.today().isoformat(),
            "command": " ".join([".venv/bin/python", "bench/sync_api.py", *sys.argv[1:]]),
            "config": {
                "clients": args.clients,
                "batch": args.batch,
                "seconds": args.seconds,
                "paced_seconds": args.paced_seconds or args.seconds,
                "warmup_s": args.warmup,
                "pace_records_per_s": args.pace,
                "workers": args.workers,
                "worker_class": args.worker_class,
                "client_processes": args.client_procs,
                "payload_pool_per_client": args.pool,
            },
            "data": {
                "demo": f"flask demo load --anchor {ANCHOR} --seed {SEED}"
                + (f" --scale {args.scale}" if args.scale else ""),
                "load_s": prep["load_s"],
                "teams_uploading": prep["teams"],
                "rows_before": prep["counts"],
            },
            "phases": phases,
            "ratios": _ratios(phases),
            "exactly_once": check,
            "targets": _targets(phases),
            "machine": info,
        }
        report["passed"] = bool(check["exactly_once"]) and all(
            p["invalid_records"] == 0 for p in phases.values()
        )
        return report
    finally:
        for server in servers:
            server.stop()
        if not args.keep_db:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _ratios(phases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("saturated", "paced"):
        bare, app = phases.get(f"bare_{mode}"), phases.get(f"app_{mode}")
        if not bare or not app:
            continue
        entry: dict[str, Any] = {}
        if bare["records_per_s"]:
            entry["throughput_app_over_bare"] = round(
                app["records_per_s"] / bare["records_per_s"], 3
            )
        for q in ("p50", "p95", "p99"):
            b, a = bare["latency_ms"][q], app["latency_ms"][q]
            if a is not None and b:
                entry[f"{q}_latency_app_over_bare"] = round(a / b, 2)
        out[mode] = entry
    return out


def _targets(phases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sat, paced = phases.get("app_saturated"), phases.get("app_paced")
    out: dict[str, Any] = {"records_per_s_min": TARGET_RECORDS_PER_S, "p95_ms_max": TARGET_P95_MS}
    if sat:
        out["saturated_records_per_s"] = sat["records_per_s"]
        out["saturated_p95_ms"] = sat["latency_ms"]["p95"]
        out["throughput_met"] = sat["records_per_s"] >= TARGET_RECORDS_PER_S
        out["saturated_p95_met"] = (sat["latency_ms"]["p95"] or 1e9) < TARGET_P95_MS
    if paced:
        out["paced_records_per_s"] = paced["records_per_s"]
        out["paced_p95_ms"] = paced["latency_ms"]["p95"]
        out["paced_p95_met"] = (paced["latency_ms"]["p95"] or 1e9) < TARGET_P95_MS
    return out


def _line(p: dict[str, Any]) -> str:
    lat = p["latency_ms"]
    return (
        f"  {p['phase']:<15} {p['records_per_s']:>9,.0f} rec/s {p['batches_per_s']:>8,.1f} b/s"
        f"  p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} ms  errors {p['errors'] or 0}"
    )


def _others(cpu: dict[str, Any]) -> float:
    if "other_cores" in cpu:
        return float(cpu["other_cores"])
    own = cpu["server_cores"] + cpu["postgres_cores"] + cpu["client_cores"]
    return float(max(0.0, (cpu["machine_cores_busy"] or 0.0) - own))


def table(report: dict[str, Any]) -> str:
    cfg = report["config"]
    lines = [
        f"sync API benchmark — {cfg['clients']} tablets × {report['config']['batch']} visits/batch, "
        f"gunicorn {cfg['workers']} × {cfg['worker_class']}, PostgreSQL {report['machine']['postgresql']}, "
        f"{report['machine']['cpus']} CPUs ({report['machine']['cpu_model']})",
        "",
        f"{'phase':<16}{'records/s':>10}{'batches/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'server':>8}{'pg':>6}{'client':>8}{'others':>8}{'ms/batch app+pg':>17}",
    ]
    for p in report["phases"].values():
        lat, cpu = p["latency_ms"], p["cpu"]
        lines.append(
            f"{p['phase']:<16}{p['records_per_s']:>10,.0f}{p['batches_per_s']:>10,.1f}"
            f"{lat['p50'] or 0:>9,.1f}{lat['p95'] or 0:>9,.1f}{lat['p99'] or 0:>9,.1f}"
            f"{sum(p['errors'].values()):>8}{cpu['server_cores']:>8.2f}{cpu['postgres_cores']:>6.2f}"
            f"{cpu['client_cores']:>8.2f}{_others(cpu):>8.2f}"
            f"{p['cpu_ms_per_batch']['server'] or 0:>10.1f}+{p['cpu_ms_per_batch']['postgres'] or 0:<6.1f}"
        )
    lines.append(
        "(server/pg/client/others: cores used during the counted window; others = everything else "
        "on the machine; ms/batch: CPU ms per answered batch in gunicorn and in PostgreSQL)"
    )
    lines.append("")
    for mode, r in report["ratios"].items():
        parts = ", ".join(f"{k} {v}" for k, v in r.items())
        lines.append(f"app / bare ({mode}): {parts}")
    t = report["targets"]
    lines.append(
        f"targets: ≥ {t['records_per_s_min']:,.0f} records/s → "
        f"{t.get('saturated_records_per_s')} ({'met' if t.get('throughput_met') else 'MISSED'}); "
        f"p95 < {t['p95_ms_max']:.0f} ms → saturated {t.get('saturated_p95_ms')} "
        f"({'met' if t.get('saturated_p95_met') else 'MISSED'})"
        + (
            f", paced at {report['config']['pace_records_per_s']:g}/s {t.get('paced_p95_ms')} "
            f"({'met' if t.get('paced_p95_met') else 'MISSED'})"
            if "paced_p95_ms" in t
            else ""
        )
    )
    e = report["exactly_once"]
    lines.append(
        f"exactly once: acknowledged {e['acknowledged']:,}, stored {e['stored']:,}, doubled "
        f"{e['doubled']}, missing {e['missing']}, stored unacknowledged {e['unacknowledged_stored']}, "
        f"audit entries {e['audit_create_entries']:,}"
        + (
            f", chain {'verified' if e['audit_verify']['ok'] else 'BROKEN'}"
            if "audit_verify" in e
            else ""
        )
        + f" → {'OK' if e['exactly_once'] else 'FAILED'}"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="counted seconds per phase")
    parser.add_argument(
        "--paced-seconds",
        type=float,
        default=None,
        help="counted seconds of the paced phases (default: --seconds)",
    )
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument(
        "--pace",
        type=float,
        default=TARGET_RECORDS_PER_S,
        help="records/s offered in the paced phases (0: skip them)",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=4, help="per worker, gthread only")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--pool", type=int, default=64, help="request bodies built per tablet")
    parser.add_argument("--scale", default=None, help="demo scale passed to flask demo load")
    parser.add_argument("--pg-url", default=os.environ.get("FDOCTOR_TEST_PG_URL", PG_ADMIN))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--log", default=None, help="gunicorn log file")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--servers", default="bare,app", help="which servers to run (development)")
    parser.add_argument("--no-audit-verify", action="store_true")
    parser.add_argument("--show", type=Path, default=None, help="print the table of a JSON report")
    args = parser.parse_args()
    if args.show:
        print(table(json.loads(args.show.read_text(encoding="utf-8"))))
        return 0
    report = run(args)
    print(table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
