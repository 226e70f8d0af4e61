"""The benchmark suite: `python -m bench.run [--quick] [--tiers 10000,100000,1000000] [--baseline REV]`.

For each tier: build or reuse the PostgreSQL database and its SQLite copy, serve the
project (gunicorn, 2 sync workers, production-like settings), the floor (bench/floor.py)
and Datasette side by side, drive every workload at a fixed concurrency with wrk,
alternating the servers round by round (A/B/C/A/B/C), count each workload's queries
in-process, time the stats against their hand-written GROUP BY, and stream the whole-set
exports against a plain COPY. With --baseline REV the project's code as of git revision REV
is served too, in the same rounds, and every workload gets the ratio project/baseline.
Results go to bench/results/latest.json and latest.md (git-ignored); --update-docs also
rewrites the results block of docs/benchmarks.md.

All load goes to 127.0.0.1; every run is bounded by --duration.
"""

import argparse
import base64
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import psycopg

from bench import baseline as old_code
from bench import config, export_bench, generation, load, report, snapshot, tiers
from bench import datasette_queries as dq
from bench.floor import stats_sql
from bench.servers import RSSSampler, Server

LIST_COUNTRIES = ("UA", "SY", "NG", "CO")
LIST_DATES = ("2000-01-01", "2019-12-31")
SEARCH = "militia checkpoint"
DEEP_PAGE = 1000
DETAIL_SAMPLE = 200


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- Workloads --------------------------------------------------------------------------------


def _token_for_row(start_date, pk):
    raw = json.dumps([start_date.isoformat(), pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def deep_cursor(django, count, published):
    """Walk the API's cursors to the start of page DEEP_PAGE (or the last page of a small tier).

    Page p (50 rows) starts after row (p - 1) * 50. The walk follows `next` with page_size=500,
    which reaches the same keyset position in a tenth of the requests, then checks the token
    against the row PostgreSQL puts there.
    """
    pages = max(1, -(-published // 50))
    page = min(DEEP_PAGE, pages)
    skip = (page - 1) * 50
    started = time.perf_counter()
    token, walked, requests = "", 0, 0
    while walked < skip:
        size = min(500, skip - walked)
        status, _, body = load.get(django.port, f"/api/v1/incidents/?cursor={token}&page_size={size}")
        if status != 200:
            raise RuntimeError(f"cursor walk answered {status}")
        data = json.loads(body)
        token = parse_qs(urlsplit(data["next"]).query)["cursor"][0]
        walked += size
        requests += 1
    with psycopg.connect(config.conninfo(count)) as conn:
        row = conn.execute(
            "SELECT start_date, id FROM incidents_incident WHERE status = 'published' "
            "ORDER BY start_date DESC, id DESC OFFSET %s LIMIT 1",
            [max(skip - 1, 0)],
        ).fetchone()
    if skip and token != _token_for_row(*row):
        raise RuntimeError("the cursor walk ended somewhere else than the keyset says")
    walk = {
        "page": page,
        "rows_skipped": skip,
        "walk_requests": requests,
        "walk_s": round(time.perf_counter() - started, 1),
    }
    if skip:
        walk["cursor"] = token
        walk["after"] = [row[0].isoformat(), row[1]]
    return walk


def workloads(count, tier, django):
    """Per workload: the paths each server answers, and what it means."""
    with psycopg.connect(config.conninfo(count)) as conn:
        slugs = [
            r[0]
            for r in conn.execute(
                "SELECT slug FROM incidents_incident WHERE status = 'published' AND slug LIKE %s "
                "ORDER BY md5(slug) LIMIT %s",
                [f"gen-{config.SEED}-%", DETAIL_SAMPLE],
            )
        ]
    list_paths = [
        f"/api/v1/incidents/?country={c}&date_from={LIST_DATES[0]}&date_to={LIST_DATES[1]}"
        for c in LIST_COUNTRIES
    ]
    search_q = SEARCH.replace(" ", "+")
    walk = deep_cursor(django, count, tier["published"])
    cursor_path = f"/api/v1/incidents/?cursor={walk.get('cursor', '')}"
    if "after" in walk:
        deep_datasette = [dq.url(count, "incident_after", d=walk["after"][0], i=walk["after"][1])]
    else:
        deep_datasette = [dq.url(count, "incident_after", d="9999-12-31", i=2**62)]
    body = {
        "slug": config.WRITE_SLUG_PREFIX + "__N__",
        "title": "Clash written by the benchmark",
        "event_type": "battles",
        "sub_event_type": "armed_clash",
        "start_date": "2020-05-01",
        "end_date": "2020-05-02",
        "date_precision": "day",
        "location": tier["location"],
        "summary": "Written by the benchmark's editor workload.",
        "sources": [tier["source"]],
        "actors": [
            {"actor": tier["actors"][0], "role": "side_a"},
            {"actor": tier["actors"][1], "role": "side_b"},
        ],
        "casualty_figures": [
            {
                "outcome": "killed",
                "group": "civilians",
                "low": 3,
                "best": 4,
                "high": 6,
                "qualifier": "about",
                "wording": "about 4",
                "source": tier["source"],
                "quote": "about 4 civilians were killed",
                "is_preferred": True,
            },
            {
                "outcome": "wounded",
                "group": "total",
                "low": 10,
                "qualifier": "at_least",
                "wording": "at least 10",
                "claimed_by": tier["actors"][2],
                "source": tier["source"],
                "quote": "at least 10 people were wounded",
            },
        ],
    }
    return {
        "list": {
            "what": f"country (one of {', '.join(LIST_COUNTRIES)}) + date range {LIST_DATES[0]}..{LIST_DATES[1]}, page 1 of 50, newest first",
            "django": list_paths,
            "floor": list_paths,
            "datasette": [
                dq.url(count, "incident_list", country=c, date_from=LIST_DATES[0], date_to=LIST_DATES[1])
                for c in LIST_COUNTRIES
            ],
        },
        "detail": {
            "what": f"one incident by slug, {len(slugs)} published slugs in turn",
            "django": [f"/api/v1/incidents/{s}/" for s in slugs],
            "floor": [f"/api/v1/incidents/{s}/" for s in slugs],
            "datasette": [dq.url(count, "incident_detail", slug=s) for s in slugs],
        },
        "search": {
            "what": f"full text `search={SEARCH}`, page 1 of 50, best match first",
            "django": [f"/api/v1/incidents/?search={search_q}"],
            "floor": [f"/api/v1/incidents/?search={search_q}"],
            "datasette": [dq.url(count, "incident_search", q=SEARCH)],
        },
        "stats_country": {
            "what": "killed totals summed per country (group_by=country)",
            "django": ["/api/v1/stats/casualties/?group_by=country"],
            "floor": ["/api/v1/stats/casualties/?group_by=country"],
            "datasette": [dq.url(count, "stats_country")],
        },
        "stats_year": {
            "what": "killed totals summed per year (group_by=year)",
            "django": ["/api/v1/stats/casualties/?group_by=year"],
            "floor": ["/api/v1/stats/casualties/?group_by=year"],
            "datasette": [dq.url(count, "stats_year")],
        },
        "deep_cursor": {
            "what": f"cursor page {walk['page']} (after {walk['rows_skipped']} rows), 50 per page",
            "walk": walk,
            "django": [cursor_path],
            "floor": [cursor_path],
            "datasette": deep_datasette,
        },
        "write": {
            "what": "editor POST of an incident with 2 actor roles, 2 casualty figures and a source (token auth)",
            "django": ["/api/v1/incidents/"],
            "floor": ["/api/v1/incidents/"],
            "datasette": None,
            "body": body,
            "token": tier["token"],
        },
    }


# -- Checks -----------------------------------------------------------------------------------


def _strip_links(data, port):
    if isinstance(data, dict):
        return {
            k: (v.replace(f":{port}/", ":PORT/") if k in ("next", "previous") and v else v)
            for k, v in data.items()
        }
    return data


def shape_checks(servers, work):
    """Are the floor's and Datasette's (and the baseline's) bodies the API's, incident for incident?"""
    out = {}
    for name in ("list", "detail", "deep_cursor", "search", "stats_country", "stats_year"):
        spec = work[name]
        _, _, body = load.get(servers["django"].port, spec["django"][0])
        reference = _strip_links(json.loads(body), servers["django"].port)
        _, _, body = load.get(servers["floor"].port, spec["floor"][0])
        floor = _strip_links(json.loads(body), servers["floor"].port)
        checks = {"floor": "identical" if floor == reference else "differs"}
        if "baseline" in servers:
            _, _, body = load.get(servers["baseline"].port, spec["django"][0])
            theirs = _strip_links(json.loads(body), servers["baseline"].port)
            checks["baseline"] = "identical" if theirs == reference else "differs"
        _, _, body = load.get(servers["datasette"].port, spec["datasette"][0])
        rows = json.loads(body)
        if name.startswith("stats"):
            theirs = [{k: r[k] for k in ("key", "incidents", "low", "best", "high")} for r in rows]
            mine = [
                {k: r[k] for k in ("key", "incidents", "low", "best", "high")} for r in reference["results"]
            ]
        else:
            theirs = [{k: v for k, v in r.items() if k != "count"} for r in rows]
            mine = reference.get("results", [reference])
        same_incidents = not name.startswith("stats") and [r["slug"] for r in theirs] == [
            r["slug"] for r in mine
        ]
        if theirs == mine:
            checks["datasette"] = "identical"
        elif same_incidents:
            checks["datasette"] = "same incidents, fields differ"
        else:
            checks["datasette"] = "differs"
        if "count" in reference:
            checks["count"] = reference["count"]
            if rows and "count" in rows[0]:
                checks["datasette_count"] = rows[0]["count"]
        out[name] = checks
    return out


def count_queries(count, work, with_exports):
    requests = []
    for name, spec in work.items():
        item = {"name": name, "path": spec["django"][0]}
        if name == "write":
            body = json.loads(json.dumps(spec["body"]).replace("__N__", f"count-{int(time.time())}"))
            item.update(method="POST", body=body, token=spec["token"])
        requests.append(item)
    if with_exports:
        requests += [
            {"name": "export_csv", "path": "/api/v1/incidents/?format=csv"},
            {"name": "export_ndjson", "path": "/api/v1/incidents/?format=ndjson"},
        ]
    return tiers.django_side(count, "count", requests)


def explain(count, counted):
    """EXPLAIN (ANALYZE, BUFFERS) of the heavy queries the API ran, for the record."""
    lines = []
    with psycopg.connect(config.conninfo(count)) as conn:
        for name in ("list", "search", "deep_cursor", "stats_country", "stats_year", "detail"):
            for sql in counted[name]["sql"][:2]:
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql).fetchall()
                lines.append(f"-- {name}\n{sql[:300]}{' …' if len(sql) > 300 else ''}\n")
                lines += [row[0] for row in plan]
                lines.append("")
    return "\n".join(lines)


# -- Measuring --------------------------------------------------------------------------------


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def busy_cores(seconds=2.0):
    """CPU cores busy over `seconds`, from /proc/stat (while the servers under test sit idle:
    the work of everything else on the machine)."""

    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    if total1 == total0:
        return 0.0
    return round((1 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1), 2)


def wait_quiet(args):
    """Before a workload: how busy the rest of the machine is; wait (up to --quiet-wait s) for
    it to fall below --quiet-cores. Returns the last measurement."""
    busy = busy_cores()
    if not args.quiet_wait:
        return busy
    deadline = time.monotonic() + args.quiet_wait
    if busy >= args.quiet_cores:
        log(
            f"other work keeps {busy} cores busy: waiting up to {args.quiet_wait:.0f} s for < {args.quiet_cores}"
        )
    while busy >= args.quiet_cores and time.monotonic() < deadline:
        busy = busy_cores(3.0)
    return busy


def measure(servers, name, spec, args, tier_key):
    targets = [t for t in ("django", "baseline", "floor", "datasette") if spec.get(t) and t in servers]
    rounds = {t: [] for t in targets}
    busy_before = wait_quiet(args)
    for r in range(args.rounds):
        for target in targets:
            server = servers[target]
            run_id = f"{tier_key}{target[0]}{r}{int(time.time() * 1000) % 10**8}"
            kwargs = {"connections": args.connections, "body": spec.get("body"), "token": spec.get("token")}
            if args.warmup:
                load.wrk(server.base, spec[target], duration=args.warmup, run_id=run_id + "w", **kwargs)
            else:
                for path in spec[target][:3]:
                    if not spec.get("body"):
                        load.get(server.port, path)
            load_before = os.getloadavg()[0]
            with RSSSampler(server) as sampler:
                result = load.wrk(server.base, spec[target], duration=args.duration, run_id=run_id, **kwargs)
            if result["errors"]:
                # Failed requests (a database restarted by someone else, say): the round once more.
                log(f"  {name} {target}: {result['errors']} failed requests; running the round again")
                tiers.wait_for_postgres()
                first = result["error_detail"]
                with RSSSampler(server) as sampler:
                    result = load.wrk(
                        server.base, spec[target], duration=args.duration, run_id=run_id + "r", **kwargs
                    )
                result["rerun_after_errors"] = first
            result["peak_rss_mb"] = round(sampler.peak_total / 2**20, 1)
            result["loadavg_before"] = round(load_before, 2)
            rounds[target].append(result)
            log(
                f"  {name:<13} {target:<9} round {r + 1}: {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms"
                f"  p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}  rss {result['peak_rss_mb']} MB"
            )
    out = {}
    for target, results in rounds.items():
        out[target] = {
            "rps": round(_median([r["rps"] for r in results]), 1),
            "p50_ms": round(_median([r["p50_ms"] for r in results]), 2),
            "p99_ms": round(_median([r["p99_ms"] for r in results]), 2),
            "errors": sum(r["errors"] for r in results),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "bytes_per_request": results[0]["bytes_per_request"],
            "rounds": results,
        }
    return out, busy_before


def stats_direct(count, servers, n):
    """The stats endpoint one request at a time, against its GROUP BY run directly through psycopg."""
    out = {}
    with psycopg.connect(config.conninfo(count), autocommit=True) as conn:
        for group_by in ("country", "year"):
            sql = stats_sql(group_by)
            for _ in range(2):
                conn.execute(sql).fetchall()
            times = []
            for _ in range(n):
                started = time.perf_counter()
                conn.execute(sql).fetchall()
                times.append(time.perf_counter() - started)
            path = f"/api/v1/stats/casualties/?group_by={group_by}"
            out[group_by] = {
                "sql": load.summarize(times),
                "django": load.sequential(servers["django"].port, path, n),
                "floor": load.sequential(servers["floor"].port, path, n),
            }
            out[group_by]["ratio"] = round(
                out[group_by]["django"]["p50_ms"] / out[group_by]["sql"]["p50_ms"], 2
            )
            if "baseline" in servers:
                out[group_by]["baseline"] = load.sequential(servers["baseline"].port, path, n)
                out[group_by]["baseline_ratio"] = round(
                    out[group_by]["django"]["p50_ms"] / out[group_by]["baseline"]["p50_ms"], 2
                )
            log(
                f"  stats {group_by}: django p50 {out[group_by]['django']['p50_ms']} ms, "
                f"SQL p50 {out[group_by]['sql']['p50_ms']} ms (x{out[group_by]['ratio']})"
            )
    return out


def run_tier(count, args, base=None):
    key = config.tier_name(count)
    log(f"== tier {key}: {count} incidents")
    tier = tiers.ensure_tier(count)
    sqlite = tiers.ensure_sqlite(count)
    result = {
        "count": count,
        "db": {k: v for k, v in tier.items() if k not in ("token", "actors", "location", "source")},
        "sqlite": sqlite,
    }
    servers = {
        "django": Server("django", count),
        "floor": Server("floor", count),
        "datasette": Server("datasette", count, sqlite["path"]),
    }
    if base:
        servers["baseline"] = Server(
            "baseline", count, code_dir=config.PROJECT_DIR / base["path"], label=old_code.label(base)
        )
    try:
        for server in servers.values():
            server.start()
        result["idle_rss_mb"] = {n: round(s.rss()[0] / 2**20, 1) for n, s in servers.items()}
        work = workloads(count, tier, servers["django"])
        if base:
            for spec in work.values():
                spec["baseline"] = spec["django"]  # the same requests, the same write body
        result["shape_checks"] = shape_checks(servers, work)
        log(f"shape checks: {json.dumps(result['shape_checks'])}")
        counted = count_queries(count, work, with_exports=count <= 100_000)
        (config.RESULTS_DIR / f"explain-{key}.txt").write_text(explain(count, counted))
        profiled = tiers.django_side(
            count,
            "profile",
            [
                {"name": n, "path": work[n]["django"][0]}
                for n in ("list", "detail", "search", "stats_country", "deep_cursor")
            ],
        )
        (config.RESULTS_DIR / f"profile-{key}.txt").write_text(
            "\n".join(
                f"==== {n}: {p['in_process_ms']} ms per request in-process\n{p['profile']}"
                for n, p in profiled.items()
            )
        )
        result["workloads"] = {}
        for name, spec in work.items():
            if args.only and name not in args.only:
                continue
            measured, busy = measure(servers, name, spec, args, key)
            entry = {
                "what": spec["what"],
                "queries_per_request": counted[name]["queries"],
                "in_process_ms": profiled.get(name, {}).get("in_process_ms"),
                "busy_cores_before": busy,
                "status": counted[name]["status"],
                **({"walk": spec["walk"]} if "walk" in spec else {}),
                "targets": measured,
            }
            d = measured["django"]["rps"]
            if "floor" in measured and measured["floor"]["rps"]:
                entry["share_of_floor"] = round(d / measured["floor"]["rps"], 3)
            if "datasette" in measured and measured["datasette"]["rps"]:
                entry["times_datasette"] = round(d / measured["datasette"]["rps"], 3)
            if "baseline" in measured:
                entry["baseline"] = old_code.compare(measured["django"], measured["baseline"])
            result["workloads"][name] = entry
            if name == "write":
                tiers.cleanup_writes(count)
        result["stats_direct"] = stats_direct(count, servers, args.stats_n)
        for server in (servers["floor"], servers["datasette"]):
            server.stop()
        if not args.no_exports:
            exports, old_exports = {}, {}
            for fmt in ("csv", "ndjson"):
                # With a baseline: the project's export, then the baseline's, format by format.
                exports.update(
                    export_bench.run_exports(servers["django"], count, (fmt,), args.export_timeout, log)
                )
                if base:
                    old_exports.update(
                        export_bench.run_exports(
                            servers["baseline"],
                            count,
                            (fmt,),
                            args.export_timeout,
                            lambda m: log(f"baseline {m}"),
                        )
                    )
            copy = export_bench.copy_rate(count)
            log(f"COPY: {copy['rows']} rows in {copy['seconds']} s = {copy['rows_per_s']} rows/s")
            for item in [*exports.values(), *old_exports.values()]:
                item["share_of_copy"] = round(item["rows_per_s"] / copy["rows_per_s"], 3)
            for fmt, item in exports.items():
                item["queries"] = counted.get(f"export_{fmt}", {}).get("queries")
                if fmt in old_exports:
                    item["baseline_ratio"] = {
                        k: round(item[k] / old_exports[fmt][k], 3) if old_exports[fmt][k] else None
                        for k in ("rows_per_s", "peak_worker_hwm_mb")
                    }
            result["exports"] = {**exports, "copy": copy}
            if old_exports:
                result["exports"]["baseline"] = old_exports
    finally:
        for server in servers.values():
            server.stop()
        tiers.cleanup_writes(count)
    return result


def machine():
    def read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""

    mem_kb = next(
        (int(line.split()[1]) for line in read("/proc/meminfo").splitlines() if line.startswith("MemTotal")),
        0,
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        "",
    )
    with psycopg.connect(config.conninfo_admin()) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        pg_settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in (
                "shared_buffers",
                "work_mem",
                "effective_cache_size",
                "jit",
                "max_parallel_workers_per_gather",
            )
        }
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg,
        "postgresql_settings": pg_settings,
        "wrk": wrk_version[0] if wrk_version else shutil.which("wrk"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke: a 2k tier and very short runs (< 2 min)."
    )
    parser.add_argument("--tiers", help="Comma-separated incident counts (default 10000,100000,1000000).")
    parser.add_argument("--duration", type=float, help="Seconds per measured run (default 10; quick 1).")
    parser.add_argument("--warmup", type=float, help="Seconds of warm-up per run (default 2; quick 0).")
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds per workload (default 2).")
    parser.add_argument("--connections", type=int, default=4, help="Concurrent connections (default 4).")
    parser.add_argument("--stats-n", type=int, help="Sequential requests per stats comparison (default 30).")
    parser.add_argument("--export-timeout", type=float, default=1800, help="Longest an export is read (s).")
    parser.add_argument("--no-exports", action="store_true")
    parser.add_argument("--only", help="Comma-separated workloads to drive (default all).")
    parser.add_argument(
        "--generation",
        type=int,
        help="Incidents generate_incidents writes beside a COPY of the same rows (default 20000; quick 1000; 0 skips).",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        help="Before each workload, wait up to this many s for the rest of the machine to go quiet.",
    )
    parser.add_argument(
        "--quiet-cores", type=float, default=0.3, help="Busy cores (other work) that still count as quiet."
    )
    parser.add_argument(
        "--snapshot", help="Serve an earlier snapshot directory (bench/data/snapshot-…) again."
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="Keep the other tiers of the existing results file; replace only the tiers run now.",
    )
    parser.add_argument(
        "--live-code", action="store_true", help="Serve the working tree instead of a frozen copy of it."
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="Also serve the project's code as of git revision REV (HEAD~5, a hash, a tag) in the same "
        "rounds, and report every workload's ratio project/baseline.",
    )
    parser.add_argument(
        "--output",
        help="Results file (default bench/results/latest.json; quick.json with --quick); .md beside it.",
    )
    parser.add_argument(
        "--update-docs", action="store_true", help="Rewrite the results block of docs/benchmarks.md."
    )
    args = parser.parse_args(argv)
    if args.quick:
        counts = [2000]
        args.duration = args.duration or 1
        args.warmup = 0 if args.warmup is None else args.warmup
        args.stats_n = args.stats_n or 5
        args.generation = 1000 if args.generation is None else args.generation
    else:
        counts = [int(c) for c in (args.tiers or "10000,100000,1000000").split(",")]
        args.duration = args.duration or 10
        args.warmup = 2 if args.warmup is None else args.warmup
        args.stats_n = args.stats_n or 30
        args.generation = 20_000 if args.generation is None else args.generation
    args.only = set(args.only.split(",")) if args.only else None
    # A TERM (timeout, CI cancel) unwinds like Ctrl-C, so the servers started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (Debian: apt-get install -y wrk)")
    config.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.time()
    base = None
    if args.baseline:
        base = snapshot.baseline(args.baseline)
        snapshot.remove_old_baselines(base["path"], keep=2)
        log(
            f"baseline: the code of {args.baseline} = {base['commit']} ({base['subject']}) in {base['path']} "
            f"({base['files']} files, sha256 {base['sha256']}{', extracted before' if base['reused'] else ''})"
        )
        old_code.check(base, counts[0])
    if args.live_code:
        code = {"snapshot": None, "note": "served from the working tree"}
    elif args.snapshot:
        code = snapshot.reuse(args.snapshot)
        log(f"serving the earlier snapshot {code['path']} (sha256 {code['sha256']})")
    else:
        snapshot.remove_old(keep=2)
        code = snapshot.take()
        log(
            f"serving a snapshot of the code: {code['path']} ({code['files']} files, sha256 {code['sha256']})"
        )
    results = {
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "code": code,
        **({"baseline": base} if base else {}),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "gunicorn_workers": config.WORKERS,
            "stats_sequential_n": args.stats_n,
            "search": SEARCH,
            **({"baseline_noise_floor": old_code.NOISE_FLOOR} if base else {}),
        },
        "tiers": {},
    }
    output = os.path.abspath(
        args.output or config.RESULTS_DIR / ("quick.json" if args.quick else "latest.json")
    )
    previous = {}
    if args.merge and os.path.exists(output):
        with open(output) as f:
            previous = json.load(f)
        kept = {k: v for k, v in previous.get("tiers", {}).items() if int(v["count"]) not in counts}
        results["tiers"].update(kept)
        results["merged_from"] = {"generated_at": previous.get("generated_at"), "tiers": sorted(kept)}
        log(f"keeping tiers {', '.join(sorted(kept)) or '(none)'} from {previous.get('generated_at')}")
    elif args.merge:
        # bench/results/ is git-ignored: only a run on this machine leaves a file to merge into.
        log(f"--merge: no earlier results at {output}; writing the tiers of this run only")

    def save():
        results["elapsed_s"] = round(time.time() - started, 1)
        results["targets"] = report.evaluate(results)
        with open(output, "w") as f:
            json.dump(results, f, indent=2, default=str)
        markdown = report.markdown(results)
        with open(os.path.splitext(output)[0] + ".md", "w") as f:
            f.write(markdown)
        return markdown

    failed = False
    if args.generation:
        log("generate_incidents against a COPY of the same rows")
        results["generation"] = generation.measure(args.generation, log=log)
    elif previous.get("generation"):
        results["generation"] = previous["generation"]
    for count in counts:
        key = config.tier_name(count)
        try:
            results["tiers"][key] = run_tier(count, args, base)
            results["tiers"][key]["run"] = {
                "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "code_sha256": code.get("sha256"),
                "settings": results["settings"],
                **({"baseline": {k: base[k] for k in ("rev", "commit", "sha256")}} if base else {}),
            }
            old = previous.get("tiers", {}).get(key, {})
            if args.no_exports and "exports" in old:
                # --no-exports with --merge: the exports measured last time stay, marked as such.
                results["tiers"][key]["exports"] = old["exports"]
                results["tiers"][key]["exports_from"] = old.get("run", {"at": previous.get("generated_at")})
            if args.only and old.get("workloads"):
                # --only with --merge: the workloads not run now keep last time's figures, marked.
                tier = results["tiers"][key]
                for name, entry in old["workloads"].items():
                    if name not in tier["workloads"]:
                        tier["workloads"][name] = {**entry, "from_run": old.get("run", {})}
        except Exception as error:  # recorded; the next tier still runs
            failed = True
            log(f"tier {key} failed: {error!r}")
            results.setdefault("failed_tiers", {})[key] = repr(error)
        save()  # after every tier, so a later failure loses nothing
    markdown = save()
    if args.update_docs:
        report.update_docs(markdown)
    print()
    print(markdown)
    log(f"done in {results['elapsed_s']} s; {output}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
