"""Whole-set exports: rows/s and peak server memory, against a plain COPY of the same columns."""

import http.client
import time

import psycopg

from bench import config, tiers
from bench.servers import RSSSampler

TS = "to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
TOTALS = [f"i.{o}_{b}" for o in ("killed", "wounded", "detained", "missing") for b in ("low", "best", "high")]

# The CSV export's columns and rows (published incidents, newest first), in one SELECT.
COPY_SELECT = f"""
SELECT i.slug, i.title, i.event_type, i.sub_event_type, i.start_date, i.end_date, i.date_precision,
       l.slug, l.name, l.country_code, l.admin1, l.admin2, l.latitude, l.longitude, l.geo_precision,
       p.slug,
       (SELECT string_agg(ia.role || ':' || a.slug, '|' ORDER BY ia.role, a.name, ia.id)
          FROM incidents_incidentactor ia JOIN incidents_actor a ON a.id = ia.actor_id
         WHERE ia.incident_id = i.id),
       {", ".join(TOTALS)},
       i.status, {TS.format(c="i.updated_at")}
FROM incidents_incident i
LEFT JOIN incidents_location l ON l.id = i.location_id
LEFT JOIN incidents_incident p ON p.id = i.parent_id
WHERE i.status = 'published'
ORDER BY i.start_date DESC, i.id DESC
"""


def copy_rate(count):
    """COPY (the export's SELECT) TO STDOUT, read by a Python client: rows/s."""
    rows = size = 0
    started = time.perf_counter()
    sql = f"COPY ({COPY_SELECT}) TO STDOUT WITH (FORMAT csv, HEADER)"
    with psycopg.connect(config.conninfo(count)) as conn, conn.cursor() as cur, cur.copy(sql) as copy:
        for block in copy:
            rows += bytes(block).count(b"\n")
            size += len(block)
    seconds = time.perf_counter() - started
    rows -= 1  # header
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "mb": round(size / 1e6, 1),
    }


def stream(server, path, header_lines, timeout_s):
    """GET an export from `server`, reading the body as it streams; memory sampled throughout."""
    rows = size = 0
    ttfb = None
    aborted = False
    conn = http.client.HTTPConnection(config.HOST, server.port, timeout=300)
    with RSSSampler(server, interval=0.05) as sampler:
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        status = response.status
        while True:
            block = response.read1(1 << 18)
            if not block:
                break
            if ttfb is None:
                ttfb = time.perf_counter() - started
            rows += block.count(b"\n")
            size += len(block)
            if time.perf_counter() - started > timeout_s:
                aborted = True
                break
        seconds = time.perf_counter() - started
    conn.close()
    rows -= header_lines
    return {
        "status": status,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds) if seconds else 0,
        "ttfb_s": round(ttfb or 0.0, 2),
        "mb": round(size / 1e6, 1),
        "aborted_after_s": timeout_s if aborted else None,
        "peak_tree_rss_mb": round(sampler.peak_total / 2**20, 1),
        "peak_process_rss_mb": round(sampler.peak_process / 2**20, 1),
        "peak_worker_hwm_mb": round(server.peak_worker_rss() / 2**20, 1),
    }


def run_exports(server, count, formats, timeout_s, log):
    """Each export on freshly started workers, so a worker's VmHWM is that export's peak."""
    results = {}
    for fmt in formats:
        server.restart()
        # One small request per worker loads the code, so the baseline is a warm, idle worker.
        for _ in range(config.WORKERS * 2):
            conn = http.client.HTTPConnection(config.HOST, server.port, timeout=60)
            conn.request("GET", "/api/v1/stats/casualties/?group_by=outcome")
            conn.getresponse().read()
            conn.close()
        baseline = max((p.memory_info().rss for p in server.workers()), default=0)
        log(f"export {fmt}: streaming the whole set (baseline worker RSS {baseline / 2**20:.0f} MB)")
        path = f"/api/v1/incidents/?format={fmt}"
        try:
            result = stream(server, path, 1 if fmt == "csv" else 0, timeout_s)
        except (http.client.HTTPException, OSError) as error:
            # A broken stream (the database restarted under it, say): once more, on fresh workers.
            log(f"export {fmt}: the stream broke ({error!r}); retrying once")
            tiers.wait_for_postgres()
            server.restart()
            result = stream(server, path, 1 if fmt == "csv" else 0, timeout_s)
            result["retried_after"] = repr(error)
        result["baseline_worker_rss_mb"] = round(baseline / 2**20, 1)
        log(
            f"export {fmt}: {result['rows']} rows in {result['seconds']} s = {result['rows_per_s']} rows/s, "
            f"ttfb {result['ttfb_s']} s, peak worker {result['peak_worker_hwm_mb']} MB"
        )
        results[fmt] = result
    server.restart()
    return results
