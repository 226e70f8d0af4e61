"""Sustained mixed load against gunicorn + PostgreSQL, optionally through a database restart.

    python -m ops.loadtest [--seconds 60] [--clients 8] [--incidents 20000] [--restart-at 20]

Everything runs on 127.0.0.1: a database `incidents_load` (created and filled on first
use), gunicorn with the production settings, and a threaded client. It prints the
throughput, latency percentiles and status codes; with --restart-at it restarts
PostgreSQL during the load and reports how requests failed while it was down, how
long the service took to answer again, and whether any write was lost or half-applied.
"""

import argparse
import collections
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DB_NAME = "incidents_load"
DB_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
SECRET = "loadtest-" + "x7Qp2Lm9Rv4Tn8Wk3Zs6Yb1Hc5Jd0Fg"

READS = [
    "/api/v1/incidents/?page_size=50",
    "/api/v1/incidents/?country=TJ&date_from=2000-01-01&date_to=2020-12-31&page_size=50",
    "/api/v1/incidents/gorno-badakhshan-fighting-2012-07-24/",
    "/api/v1/incidents/?search=clash&page_size=20",
    "/api/v1/incidents/?cursor=&ordering=-killed&page_size=50",
    "/api/v1/casualties/?outcome=killed&page_size=50",
    "/api/v1/stats/casualties/?group_by=country",
    "/api/v1/actors/?page_size=50",
    "/healthz",
]


def env(**extra):
    return {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "DEBUG": "false",
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "CONN_MAX_AGE": "60",
        "THROTTLE_ANON_RATE": "1000000/minute",
        "THROTTLE_USER_RATE": "1000000/minute",
        **extra,
    }


def manage(*args, **kwargs):
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env(), check=True, **kwargs)


def prepare_database(incidents):
    exists = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Atc",
            f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    manage("migrate", "--no-input", "-v0")
    manage("load_seeds", "-v0")
    manage("generate_incidents", "--count", str(incidents), "--seed", "7", stdout=subprocess.DEVNULL)
    script = (
        "from django.contrib.auth.models import Group, User;"
        "from rest_framework.authtoken.models import Token;"
        "u, _ = User.objects.get_or_create(username='loadtest-editor');"
        "u.groups.add(Group.objects.get(name='editors'));"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    return manage("shell", "--no-imports", "-c", script, capture_output=True, text=True).stdout.strip()


def start_server():
    manage("collectstatic", "--no-input", "-v0")
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2"],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(BASE + "/healthz", timeout=2)
            return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def request(path, data=None, token=None):
    headers = {"Accept": "application/json"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    req = urllib.request.Request(BASE + path, data=body, headers=headers, method="POST" if body else "GET")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        error.read()
        status = error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        status = 0  # no HTTP answer at all
    return status, time.monotonic() - started


def write_payload(slug):
    return {
        "slug": slug,
        "title": f"Load test write {slug}",
        "event_type": "battles",
        "sub_event_type": "armed_clash",
        "start_date": "2012-07-24",
        "end_date": "2012-07-24",
        "date_precision": "day",
        "location": "tj-khorugh",
        "sources": ["rferl-2012-07-25-government-ends-operations-in-eastern-tajikistan"],
        "actors": [{"actor": "military-of-tajikistan", "role": "side_a"}],
        "casualty_figures": [
            {
                "outcome": "killed",
                "group": "civilians",
                "low": 30,
                "qualifier": "at_least",
                "claimed_by": "rferl-tajik-service",
                "source": "rferl-2012-07-25-government-ends-operations-in-eastern-tajikistan",
                "quote": "at least 30 civilians were killed in Khorugh",
            }
        ],
    }


class Load:
    def __init__(self, seconds, clients, token):
        self.seconds, self.clients, self.token = seconds, clients, token
        self.samples = []  # (time since start, kind, status, latency)
        self.writes = {}  # slug -> status
        self.lock = threading.Lock()
        self.started = None
        self.run_id = int(time.time())  # slugs stay unique across runs on the same database

    def client(self, number):
        rng = random.Random(number)
        sequence = 0
        while (now := time.monotonic() - self.started) < self.seconds:
            if rng.random() < 0.05:
                sequence += 1
                slug = f"load-{self.run_id}-{number}-{sequence}"
                status, latency = request("/api/v1/incidents/", write_payload(slug), self.token)
                with self.lock:
                    self.writes[slug] = status
                    self.samples.append((now, "write", status, latency))
            else:
                status, latency = request(rng.choice(READS))
                with self.lock:
                    self.samples.append((now, "read", status, latency))

    def run(self):
        self.started = time.monotonic()
        threads = [threading.Thread(target=self.client, args=(n,)) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        return threads


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None


def restart_postgres(log):
    cluster = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True).stdout.split()[0]
    log["down_at"] = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "stop", "-m", "fast"], check=True
    )
    time.sleep(log["down_for"])
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "start"], check=True)
    log["up_at"] = time.monotonic()


def check_writes(writes):
    """Every write answered 201 is whole in the database; no other one left a trace."""
    script = (
        "import json, sys;"
        "from incidents.models import Incident;"
        "slugs = json.loads(sys.stdin.read());"
        "rows = {i.slug: (i.incident_actors.count(), i.casualty_figures.count(), i.killed_low)"
        " for i in Incident.objects.filter(slug__in=slugs)};"
        "print(json.dumps(rows))"
    )
    out = manage(
        "shell", "--no-imports", "-c", script, input=json.dumps(list(writes)), capture_output=True, text=True
    ).stdout
    stored = json.loads(out)
    lost = [s for s, status in writes.items() if status == 201 and s not in stored]
    partial = [s for s, row in stored.items() if tuple(row) != (1, 1, 30)]
    unacknowledged = [s for s, status in writes.items() if status != 201 and s in stored]
    return {
        "acknowledged": sum(1 for s in writes.values() if s == 201),
        "lost": lost,
        "half_applied": partial,
        "stored_without_201": unacknowledged,
    }


def report(load, fault):
    samples = load.samples
    codes = collections.Counter(status for _, _, status, _ in samples)
    ok = [lat for _, _, status, lat in samples if 200 <= status < 300]
    result = {
        "seconds": load.seconds,
        "clients": load.clients,
        "requests": len(samples),
        "requests_per_second": round(len(samples) / load.seconds, 1),
        "status_codes": dict(sorted(codes.items())),
        "error_rate": round(sum(n for s, n in codes.items() if not 200 <= s < 300) / max(1, len(samples)), 4),
        "latency_ms": {
            "p50": round(1000 * percentile(ok, 0.50), 1) if ok else None,
            "p95": round(1000 * percentile(ok, 0.95), 1) if ok else None,
            "p99": round(1000 * percentile(ok, 0.99), 1) if ok else None,
            "mean": round(1000 * statistics.mean(ok), 1) if ok else None,
        },
    }
    if fault:
        down, up = fault["down_at"] - load.started, fault["up_at"] - load.started
        during = [(t, s, lat) for t, _, s, lat in samples if down <= t < up]
        failed = [lat for _, s, lat in during if not 200 <= s < 300]
        after_ok = [t for t, _, s, _ in samples if t >= up and 200 <= s < 300]
        result["fault"] = {
            "postgres_down_seconds": round(up - down, 1),
            "requests_while_down": len(during),
            "codes_while_down": dict(collections.Counter(s for _, s, _ in during)),
            "failed_request_p99_ms": round(1000 * percentile(failed, 0.99), 1) if failed else None,
            "recovered_after_seconds": round(min(after_ok) - up, 2) if after_ok else None,
            "errors_after_recovery": sum(
                1 for t, _, s, _ in samples if after_ok and t >= min(after_ok) + 1 and not 200 <= s < 300
            ),
        }
    result["writes"] = check_writes(load.writes)
    return result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--incidents", type=int, default=20000)
    parser.add_argument("--restart-at", type=float, help="restart PostgreSQL this many seconds into the load")
    parser.add_argument("--down-for", type=float, default=5, help="seconds PostgreSQL stays stopped")
    parser.add_argument("--output", type=Path, default=ROOT / "ops" / "results" / "loadtest.json")
    args = parser.parse_args()

    token = prepare_database(args.incidents)
    server = start_server()
    try:
        load = Load(args.seconds, args.clients, token)
        threads = load.run()
        fault = None
        if args.restart_at is not None:
            time.sleep(args.restart_at)
            fault = {"down_for": args.down_for}
            restart_postgres(fault)
        for thread in threads:
            thread.join()
        result = report(load, fault)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
