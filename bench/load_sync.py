"""Load and crash test of the tablet sync API (issue: trust — load and faults).

Runs the app under gunicorn (several workers) on PostgreSQL, has N simulated tablets upload queued
visits in batches for a while, kills the whole server with SIGKILL once mid-run and restarts it.
Tablets retry every batch that got no answer (same client ids, as the real queue does). At the end
it checks that every record the tablets queued exists exactly once and that no other table
changed, and prints a JSON report (requests, errors, records sent, stored).

    python bench/load_sync.py --clients 50 --seconds 60            # the full run
    python bench/load_sync.py --clients 10 --seconds 12 --json out.json   # the short run (tests)

It creates and drops its own database ``fdoctor_load_<pid>`` on the server given by --pg-url.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 20
# Tables the upload path may write: everything else must be unchanged at the end.
# What an upload writes: the records, their audit entries and the chain's head, the day's first use
# of each token (marked and audited once a day), and the running figures of the records.
WRITTEN_TABLES = {"service_record", "audit_entry", "audit_head", "api_token", "service_tally"}


# One audit key for the whole run: the prepared data and the served app append to one chain.
BENCH_AUDIT_KEY = os.environ.get("AUDIT_KEY") or secrets.token_urlsafe(32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)  # client ids acknowledged by the server
    queued: set[str] = field(default_factory=set)  # client ids a tablet created
    invalid: int = 0

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1


class Server:
    def __init__(self, url: str, port: int, workers: int) -> None:
        self.url, self.port, self.workers = url, port, workers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "FDOCTOR_ENV": "development",
            "AUDIT_KEY": BENCH_AUDIT_KEY,
        }
        self.proc = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "30",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up")

    def kill(self) -> None:
        """SIGKILL the master and every worker (the whole process group): no graceful anything."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)


def tablet(
    port: int,
    token: str,
    residents: list[int],
    today: date,
    stop: threading.Event,
    stats: Stats,
    seed: int,
) -> None:
    rng = random.Random(seed)
    conn: http.client.HTTPConnection | None = None
    pending: list[dict[str, object]] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    while not stop.is_set() or pending:
        if not pending:
            for _ in range(BATCH):
                cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                day = today - timedelta(days=rng.randint(0, 20))
                pending.append(
                    {
                        "client_uuid": cid,
                        "resident_id": rng.choice(residents),
                        "type": rng.choice(["consultation", "home_visit"]),
                        "service_date": day.isoformat(),
                        "entered_at": f"{day.isoformat()}T10:00:00",
                    }
                )
                with stats.lock:
                    stats.queued.add(cid)
        body = json.dumps({"device_id": f"load-{seed}", "records": pending})
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("POST", "/api/v1/services/batch", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            with stats.lock:
                stats.requests += 1
            if response.status != 200:
                stats.error(f"http_{response.status}")
                time.sleep(0.2)
                continue
            results = json.loads(payload)["results"]
            with stats.lock:
                stats.ok += 1
                stats.latencies.append(time.perf_counter() - started)
                for r in results:
                    if r["status"] in {"created", "duplicate"}:
                        stats.sent.add(r["client_uuid"])
                    else:
                        stats.invalid += 1
            pending = []
        except (OSError, http.client.HTTPException):
            with stats.lock:
                stats.requests += 1
            stats.error("connection")
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.3 + rng.random() * 0.3)  # back off, then resend the same batch


def run(clients: int, seconds: float, workers: int, pg_admin: str, keep: bool) -> dict[str, object]:
    import sqlalchemy as sa

    from fdoctor import create_app
    from fdoctor.auth.models import User
    from fdoctor.auth.services import issue_api_token
    from fdoctor.backup.services import table_fingerprints
    from fdoctor.contracts.models import Contract, ContractMember
    from fdoctor.core import clock
    from fdoctor.demo.generator import load_demo
    from fdoctor.extensions import db
    from fdoctor.households.models import Resident

    name = f"fdoctor_load_{os.getpid()}"
    admin = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.rsplit("/", 1)[0] + "/" + name
    server = Server(url, free_port(), workers)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "AUDIT_KEY": BENCH_AUDIT_KEY})
        today = clock.today()
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            load_demo(seed=20260101, anchor=today, scale="small")
            doctors = db.session.scalars(
                sa.select(User)
                .where(User.role == "doctor", User.on_probation.is_(False))
                .order_by(User.id)
            ).all()
            tokens, residents = [], []
            for i in range(clients):
                doctor = doctors[i % len(doctors)]
                tokens.append(issue_api_token(doctor, f"load-{i}"))
                # Residents whose active contract covers the last three weeks (visits are dated there).
                signed = db.session.scalars(
                    sa.select(ContractMember.resident_id)
                    .join(Contract, Contract.id == ContractMember.contract_id)
                    .join(Resident, Resident.id == ContractMember.resident_id)
                    .where(
                        ContractMember.is_active,
                        ContractMember.team_id == doctor.org_unit_id,
                        Contract.start_date <= today - timedelta(days=21),
                        Contract.end_date >= today,
                        Resident.status == "active",
                    )
                ).all()
                if not signed:
                    raise RuntimeError(f"team of {doctor.username} has no suitable signed resident")
                residents.append(list(signed))
            db.session.commit()
            before = table_fingerprints(db.engine)
            base_records = before["service_record"][0]

        server.start()
        stats = Stats()
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=tablet, args=(server.port, tokens[i], residents[i], today, stop, stats, i)
            )
            for i in range(clients)
        ]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds / 2)
        server.kill()
        killed_at = time.perf_counter() - started
        time.sleep(1.0)
        server.start()
        time.sleep(max(0.0, seconds - (time.perf_counter() - started)))
        stop.set()
        for t in threads:
            t.join(timeout=60)
        elapsed = time.perf_counter() - started
        server.stop()

        with app.app_context():
            db.session.remove()
            after = table_fingerprints(db.engine)
            stored = (
                db.session.scalar(sa.text("SELECT COUNT(*) FROM service_record")) - base_records
            )
            doubled = db.session.scalar(
                sa.text(
                    "SELECT COUNT(*) FROM (SELECT client_uuid FROM service_record GROUP BY client_uuid HAVING COUNT(*) > 1) d"
                )
            )
            stored_ids = set(
                db.session.scalars(
                    sa.text("SELECT client_uuid FROM service_record WHERE device_id LIKE 'load-%'")
                ).all()
            )
            db.session.remove()
            db.engine.dispose()
        unchanged = {t for t in before if t not in WRITTEN_TABLES and before[t] == after[t]}
        changed = sorted(t for t in before if t not in WRITTEN_TABLES and before[t] != after[t])
        lat = sorted(stats.latencies)
        report = {
            "clients": clients,
            "workers": workers,
            "seconds": round(elapsed, 1),
            "killed_at_s": round(killed_at, 1),
            "requests": stats.requests,
            "ok_responses": stats.ok,
            "errors": stats.errors,
            "records_queued": len(stats.queued),
            "records_acknowledged": len(stats.sent),
            "records_stored": stored,
            "invalid": stats.invalid,
            "doubled_client_ids": doubled,
            "missing": len(stats.sent - stored_ids),
            "unexpected": len(stored_ids - stats.queued),
            "records_per_s": round(stored / elapsed, 1),
            "p50_batch_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p95_batch_ms": round(lat[int(len(lat) * 0.95) - 1] * 1000, 1) if lat else None,
            "other_tables_unchanged": len(unchanged),
            "other_tables_changed": changed,
        }
        report["passed"] = (
            report["doubled_client_ids"] == 0
            and report["missing"] == 0
            and report["unexpected"] == 0
            and not changed
            and stats.sent == stats.queued
            and stored == len(stats.sent)
            and stats.invalid == 0
        )
        return report
    finally:
        server.stop() if server.proc and server.proc.poll() is None else None
        if not keep:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pg-url", default=os.environ.get("FDOCTOR_TEST_PG_URL", PG_ADMIN))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    report = run(args.clients, args.seconds, args.workers, args.pg_url, args.keep_db)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
