"""generate_incidents beside a plain COPY of the rows it writes, in the same tables.

The baseline is what PostgreSQL needs to take in exactly the generated rows when nothing
has to be computed: the rows are dumped with COPY … TO, the tables emptied, and the rows
COPYed back FROM memory into the same tables (same indexes, constraints and triggers),
in one transaction whose commit is timed too. Rounds alternate generation and replay so
that whatever else the machine does falls on both.
"""

import re
import statistics
import subprocess
import time

import psycopg

from bench import config

DB = "bench_generation"
# Parents before children, so the replay satisfies every foreign key as it goes.
TABLES = (
    "incidents_actor",
    "incidents_location",
    "incidents_source",
    "incidents_incident",
    "incidents_incidentactor",
    "incidents_casualtyfigure",
    "incidents_incident_sources",
)


def _conninfo():
    return f"host={config.PG_HOST} port={config.PG_PORT} user={config.PG_USER} dbname={DB}"


def _manage(*args):
    env = config.django_env(0)
    env["DATABASE_URL"] = f"postgres://{config.PG_USER}@{config.PG_HOST}:{config.PG_PORT}/{DB}"
    return subprocess.run(
        [config.PYTHON, "manage.py", *args],
        cwd=config.CODE_DIR,
        env=env,
        check=True,
        text=True,
        capture_output=True,
    ).stdout


def _recreate():
    with psycopg.connect(config.conninfo_admin(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    _manage("migrate", "--no-input")


def _empty(conn):
    conn.execute("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE")
    conn.commit()


def _generate(count, seed):
    out = _manage("generate_incidents", "--count", str(count), "--seed", str(seed))
    match = re.search(r"rows in ([\d.]+) s", out)
    if not match:
        raise RuntimeError(f"unexpected generate_incidents output: {out!r}")
    return float(match.group(1))


def _dump(conn):
    data = {}
    for table in TABLES:
        buffer = bytearray()
        with conn.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                buffer += chunk
        data[table] = bytes(buffer)
    rows = sum(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES)
    conn.commit()
    return data, rows


def _replay(conn, data):
    started = time.perf_counter()
    for table in TABLES:
        with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
            copy.write(data[table])
    conn.commit()
    return time.perf_counter() - started


def measure(count, rounds=2, seed=config.SEED, log=print):
    """Median seconds of generating `count` incidents and of replaying the same rows with COPY.

    The generator's time is the one it reports: from its first query to its last commit,
    without Python's and Django's start-up (about a second), as the replay has no start-up.
    """
    _recreate()
    generated, replayed, rows = [], [], 0
    with psycopg.connect(_conninfo()) as conn:
        for _ in range(rounds):
            _empty(conn)
            generated.append(_generate(count, seed))
            data, rows = _dump(conn)
            _empty(conn)
            replayed.append(_replay(conn, data))
            log(
                f"generation of {count} incidents ({rows} rows): {generated[-1]:.2f} s; "
                f"COPY of the same rows: {replayed[-1]:.2f} s"
            )
    with psycopg.connect(config.conninfo_admin(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    generate_s, copy_s = statistics.median(generated), statistics.median(replayed)
    return {
        "incidents": count,
        "rows": rows,
        "generate_s": round(generate_s, 2),
        "copy_s": round(copy_s, 2),
        "generate_rows_per_s": round(rows / generate_s),
        "copy_rows_per_s": round(rows / copy_s),
        "share_of_copy": round(copy_s / generate_s, 3),
        "rounds": [
            {"generate_s": round(g, 2), "copy_s": round(c, 2)}
            for g, c in zip(generated, replayed, strict=True)
        ],
    }
