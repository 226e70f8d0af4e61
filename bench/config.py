"""Where things are and how the servers under test are started: one place for every constant."""

import os
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
# Where the project's code is served from: the working tree, or a frozen copy (bench.snapshot).
CODE_DIR = PROJECT_DIR
DATA_DIR = BENCH_DIR / "data"  # SQLite copies, logs, wrk scratch files (git-ignored)
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable
BIN = Path(PYTHON).parent

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
SEED = 1

HOST = "127.0.0.1"
PORTS = {"django": 8101, "floor": 8102, "datasette": 8103, "baseline": 8104}
WORKERS = 2  # gunicorn sync workers, for the project and for the floor alike
# Long enough for a whole 1M-incident export on one sync worker (gunicorn's default, 30 s,
# kills a sync worker that is busy streaming for longer).
WORKER_TIMEOUT_S = 900

EDITOR_USERNAME = "bench-editor"
WRITE_SLUG_PREFIX = "bench-w-"  # incidents the write workload creates; deleted after each tier


def tier_name(count):
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)


def db_name(count):
    return f"bench_{tier_name(count)}"


def database_url(count):
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db_name(count)}"


def conninfo(count):
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={db_name(count)}"


def django_env(count, code_dir=None, with_bench=True):
    """The production-like environment the project is served with.

    `code_dir` is the code served (default CODE_DIR); `with_bench=False` leaves the project
    directory off the path, so an older revision (--baseline) imports only its own code.
    """
    code_dir = code_dir or CODE_DIR
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY="bench-secret-key-not-for-production-0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=database_url(count),
        CONN_MAX_AGE="60",
        LOG_LEVEL="ERROR",
        # The throttles stay on (their cost is part of every request) but cannot refuse the
        # load generator. A per-second period keeps each client's request history short.
        THROTTLE_ANON_RATE="1000000/second",
        THROTTLE_USER_RATE="1000000/second",
        # The served code first; bench itself is found in the project directory.
        PYTHONPATH=f"{code_dir}:{PROJECT_DIR}" if with_bench else str(code_dir),
        # No shared cache of anonymous reads (every request does its work) and no replicas.
        API_CACHE_SECONDS="0",
        DATABASE_REPLICA_URLS="",
    )
    return env


def sqlite_path(count):
    return DATA_DIR / f"{db_name(count)}.sqlite"


def conninfo_admin():
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
