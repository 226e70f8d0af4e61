"""The tier databases: PostgreSQL `bench_<size>` built with the project's own commands, and a
SQLite copy of the same rows for Datasette.

A tier is reused when its database holds exactly the generated incidents asked for
(gen-1-1 … gen-1-N); a smaller one is extended (generate_incidents adds only what is
missing), a larger one is dropped and rebuilt.
"""

import json
import re
import sqlite3
import subprocess
import time

import psycopg

from bench import config

META_FILE = config.DATA_DIR / "tiers.json"


def _log(message):
    print(f"[tiers] {message}", flush=True)


def _meta():
    if META_FILE.exists():
        return json.loads(META_FILE.read_text())
    return {}


def _save_meta(meta):
    config.DATA_DIR.mkdir(parents=True, exist_ok=True)
    META_FILE.write_text(json.dumps(meta, indent=2, sort_keys=True))


def _admin_conn():
    return psycopg.connect(
        f"host={config.PG_HOST} port={config.PG_PORT} user={config.PG_USER} dbname=postgres",
        autocommit=True,
    )


def _db_exists(name):
    with _admin_conn() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _generated_count(count):
    with psycopg.connect(config.conninfo(count)) as conn:
        exists = conn.execute("SELECT to_regclass('incidents_incident')").fetchone()[0]
        if exists is None:
            return 0
        return conn.execute(
            "SELECT count(*) FROM incidents_incident WHERE slug LIKE %s", [f"gen-{config.SEED}-%"]
        ).fetchone()[0]


def manage(count, *args, capture=True):
    return subprocess.run(
        [config.PYTHON, "manage.py", *args],
        cwd=config.CODE_DIR,
        env=config.django_env(count),
        check=True,
        text=True,
        capture_output=capture,
    )


def wait_for_postgres(timeout=120):
    """Wait until PostgreSQL accepts connections (it may be restarted by something else)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with _admin_conn() as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def django_side(count, command, payload=None, attempts=2):
    for attempt in range(attempts):
        result = subprocess.run(
            [config.PYTHON, "-m", "bench.django_side", command],
            cwd=config.CODE_DIR,
            env=config.django_env(count),
            input=json.dumps(payload) if payload is not None else None,
            text=True,
            capture_output=True,
        )
        if result.returncode == 0:
            return json.loads(result.stdout)
        last = result.stderr.strip().splitlines()[-1:] or ["(no output)"]
        _log(f"django_side {command} failed: {last[0]}")
        if attempt + 1 < attempts:
            wait_for_postgres()
    raise RuntimeError(f"bench.django_side {command} failed: {result.stderr[-2000:]}")


GENERATED = re.compile(r"Generated (\d+) incidents .*?: (\d+) rows in ([\d.]+) s, ([\d,]+) rows/s")


def ensure_tier(count):
    """Build or reuse the PostgreSQL database of `count` incidents; return what was done."""
    name = config.db_name(count)
    meta = _meta()
    info = {"db": name, "count": count}
    if _db_exists(name):
        have = _generated_count(count)
        if have > count:
            _log(f"{name} holds {have} generated incidents, more than {count}: rebuilding")
            with _admin_conn() as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            meta.pop(name, None)
    if not _db_exists(name):
        _log(f"createdb {name}")
        subprocess.run(
            ["createdb", "-h", config.PG_HOST, "-p", str(config.PG_PORT), "-U", config.PG_USER, name],
            check=True,
        )
    started = time.perf_counter()
    migrated = manage(count, "migrate", "--no-input").stdout
    info["migrate_s"] = round(time.perf_counter() - started, 2)
    if "Applying" in migrated:
        # A migration may have added columns or indexes the planner has no statistics for,
        # or rewritten the table, which clears the visibility map index-only scans rely on.
        with psycopg.connect(config.conninfo(count), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    have = _generated_count(count)
    if have == count and name in meta and "generation" in meta[name]:
        _log(f"{name}: reusing {count} incidents")
        info["reused"] = True
        info["generation"] = meta[name]["generation"]
    else:
        _log(f"{name}: generate_incidents --count {count} --seed {config.SEED} (have {have})")
        out = manage(count, "generate_incidents", "--count", str(count), "--seed", str(config.SEED)).stdout
        match = GENERATED.search(out)
        if not match:
            raise RuntimeError(f"unexpected generate_incidents output: {out!r}")
        incidents, rows, seconds, rate = match.groups()
        generation = {
            "incidents_added": int(incidents),
            "rows": int(rows),
            "seconds": float(seconds),
            "rows_per_s": int(rate.replace(",", "")),
            "complete_build": have == 0,
        }
        _log(f"{name}: {out.strip()}")
        started = time.perf_counter()
        with psycopg.connect(config.conninfo(count), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        generation["vacuum_analyze_s"] = round(time.perf_counter() - started, 2)
        info["reused"] = False
        info["generation"] = generation
        meta[name] = {"generation": generation, "count": count}
        meta.pop(name + ":sqlite", None)
        _save_meta(meta)
    cleanup_writes(count)
    info.update(django_side(count, "setup"))
    with psycopg.connect(config.conninfo(count)) as conn:
        info["incidents_total"] = conn.execute("SELECT count(*) FROM incidents_incident").fetchone()[0]
        info["published"] = conn.execute(
            "SELECT count(*) FROM incidents_incident WHERE status = 'published'"
        ).fetchone()[0]
        info["rows"] = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "incidents_incidentactor",
                "incidents_casualtyfigure",
                "incidents_location",
                "incidents_actor",
            )
        }
        info["db_size"] = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]
    return info


def cleanup_writes(count):
    deleted = django_side(count, "cleanup")["deleted"]
    if deleted:
        _log(f"{config.db_name(count)}: deleted {deleted} incidents left by the write workload")
    return deleted


# -- SQLite copy for Datasette ------------------------------------------------------------------

# (table, PostgreSQL SELECT, SQLite columns). Timestamps are written as the API spells them
# (ISO 8601, UTC, "Z"), decimals as REAL, booleans as 0/1, so the canned queries can build
# the API's JSON without conversions.
TS = "to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
SQLITE_TABLES = [
    (
        "incidents_location",
        "SELECT id, slug, name, country_code, admin1, admin2, latitude::float8, longitude::float8, "
        "geo_precision FROM incidents_location",
        "id INTEGER PRIMARY KEY, slug TEXT UNIQUE, name TEXT, country_code TEXT, admin1 TEXT, admin2 TEXT, "
        "latitude REAL, longitude REAL, geo_precision TEXT",
    ),
    (
        "incidents_actor",
        "SELECT id, slug, name, kind, country, aliases::text FROM incidents_actor",
        "id INTEGER PRIMARY KEY, slug TEXT UNIQUE, name TEXT, kind TEXT, country TEXT, aliases TEXT",
    ),
    (
        "incidents_source",
        "SELECT id, slug, title, publisher, url, published_on::text FROM incidents_source",
        "id INTEGER PRIMARY KEY, slug TEXT UNIQUE, title TEXT, publisher TEXT, url TEXT, published_on TEXT",
    ),
    (
        "incidents_incident",
        "SELECT id, slug, title, event_type, sub_event_type, start_date::text, end_date::text, date_precision, "
        "location_id, parent_id, summary, status, "
        + TS.format(c="reviewed_at")
        + ", retraction_reason, search_document, "
        + ", ".join(
            f"{o}_{b}" for o in ("killed", "wounded", "detained", "missing") for b in ("low", "best", "high")
        )
        + ", "
        + TS.format(c="created_at")
        + ", "
        + TS.format(c="updated_at")
        + " FROM incidents_incident",
        "id INTEGER PRIMARY KEY, slug TEXT UNIQUE, title TEXT, event_type TEXT, sub_event_type TEXT, "
        "start_date TEXT, end_date TEXT, date_precision TEXT, location_id INTEGER, parent_id INTEGER, "
        "summary TEXT, status TEXT, reviewed_at TEXT, retraction_reason TEXT, search_document TEXT, "
        + ", ".join(
            f"{o}_{b} INTEGER"
            for o in ("killed", "wounded", "detained", "missing")
            for b in ("low", "best", "high")
        )
        + ", created_at TEXT, updated_at TEXT",
    ),
    (
        "incidents_incidentactor",
        "SELECT id, incident_id, actor_id, role, claimed_by_id, quote, note FROM incidents_incidentactor",
        "id INTEGER PRIMARY KEY, incident_id INTEGER, actor_id INTEGER, role TEXT, claimed_by_id INTEGER, "
        "quote TEXT, note TEXT",
    ),
    (
        "incidents_casualtyfigure",
        'SELECT id, uid::text, incident_id, outcome, "group", actor_id, low, best, high, qualifier, wording, '
        "claimed_by_id, source_id, quote, is_preferred::int, counts_in_total::int, notes FROM incidents_casualtyfigure",
        'id INTEGER PRIMARY KEY, uid TEXT, incident_id INTEGER, outcome TEXT, "group" TEXT, actor_id INTEGER, '
        "low INTEGER, best INTEGER, high INTEGER, qualifier TEXT, wording TEXT, claimed_by_id INTEGER, "
        "source_id INTEGER, quote TEXT, is_preferred INTEGER, counts_in_total INTEGER, notes TEXT",
    ),
    (
        "incidents_incident_sources",
        "SELECT id, incident_id, source_id FROM incidents_incident_sources",
        "id INTEGER PRIMARY KEY, incident_id INTEGER, source_id INTEGER",
    ),
]
SQLITE_INDEXES = [
    "CREATE INDEX incident_newest_first ON incidents_incident (start_date DESC, id DESC)",
    "CREATE INDEX incident_location ON incidents_incident (location_id)",
    "CREATE INDEX incident_parent ON incidents_incident (parent_id)",
    "CREATE INDEX incident_end_date ON incidents_incident (end_date)",
    "CREATE INDEX location_country ON incidents_location (country_code)",
    "CREATE INDEX incidentactor_incident ON incidents_incidentactor (incident_id)",
    "CREATE INDEX casualtyfigure_incident ON incidents_casualtyfigure (incident_id)",
    "CREATE INDEX incident_sources_incident ON incidents_incident_sources (incident_id)",
    # Full text over the same stored document PostgreSQL searches, stemmed like 'english'.
    "CREATE VIRTUAL TABLE incident_fts USING fts5(search_document, content='incidents_incident', "
    "content_rowid='id', tokenize='porter unicode61')",
    "INSERT INTO incident_fts (rowid, search_document) SELECT id, search_document FROM incidents_incident",
    "ANALYZE",
]


def ensure_sqlite(count):
    """Export the tier's tables to SQLite (reused while the PostgreSQL tier is unchanged)."""
    path = config.sqlite_path(count)
    meta = _meta()
    key = config.db_name(count) + ":sqlite"
    if path.exists() and meta.get(key, {}).get("count") == count:
        _log(f"{path.name}: reusing")
        return {"path": str(path), "reused": True, **meta[key]}
    _log(f"{path.name}: exporting from PostgreSQL")
    config.DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    started = time.perf_counter()
    rows_total = 0
    lite = sqlite3.connect(tmp)
    lite.execute("PRAGMA journal_mode = OFF")
    lite.execute("PRAGMA synchronous = OFF")
    with psycopg.connect(config.conninfo(count)) as pg:
        for table, select, columns in SQLITE_TABLES:
            lite.execute(f"CREATE TABLE {table} ({columns})")
            width = columns.count(",") + 1
            insert = f"INSERT INTO {table} VALUES ({', '.join('?' * width)})"
            with pg.cursor(name=f"export_{table}") as cursor:
                cursor.itersize = 20_000
                cursor.execute(select)
                while batch := cursor.fetchmany(20_000):
                    lite.executemany(insert, batch)
                    rows_total += len(batch)
    for statement in SQLITE_INDEXES:
        lite.execute(statement)
    lite.commit()
    lite.close()
    tmp.rename(path)
    info = {
        "count": count,
        "rows": rows_total,
        "seconds": round(time.perf_counter() - started, 1),
        "bytes": path.stat().st_size,
    }
    meta = _meta()
    meta[key] = info
    _save_meta(meta)
    _log(f"{path.name}: {rows_total} rows in {info['seconds']} s")
    return {"path": str(path), "reused": False, **info}
