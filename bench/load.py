"""Load drivers: wrk at a fixed concurrency, and a one-at-a-time Python client."""

import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time

from bench import config

LUA = config.BENCH_DIR / "wrk" / "bench.lua"


def wrk(base, paths, *, connections, duration, threads=1, body=None, token=None, run_id="0"):
    """Drive `paths` (cycled) against `base` for `duration` seconds; return throughput and latency."""
    config.DATA_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=config.DATA_DIR) as tmp:
        paths_file = os.path.join(tmp, "paths.txt")
        with open(paths_file, "w") as f:
            f.write("\n".join(paths) + "\n")
        out_file = os.path.join(tmp, "out.json")
        env = dict(os.environ, BENCH_PATHS=paths_file, BENCH_OUT=out_file, BENCH_RUN=run_id)
        if body is not None:
            body_file = os.path.join(tmp, "body.json")
            with open(body_file, "w") as f:
                f.write(json.dumps(body))
            env["BENCH_BODY"] = body_file
        if token:
            env["BENCH_TOKEN"] = token
        duration_s = max(1, round(duration))
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--timeout", "60s",
            "-s", str(LUA),
            base,
        ]  # fmt: skip
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration_s + 120)
        if proc.returncode != 0 or not os.path.exists(out_file):
            raise RuntimeError(f"wrk failed: {proc.stdout}\n{proc.stderr}")
        with open(out_file) as f:
            raw = json.load(f)
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    lat = raw["latency_us"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 2) if seconds else 0.0,
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p90_ms": round(lat["p90"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "max_ms": round(lat["max"] / 1000, 2),
        "mean_ms": round(lat["mean"] / 1000, 2),
        "bytes_per_request": round(raw["bytes"] / raw["requests"]) if raw["requests"] else 0,
        "errors": errors,
        "error_detail": raw["errors"],
    }


def get(base_port, path, headers=None, timeout=120):
    """One GET; returns (status, headers, body bytes)."""
    conn = http.client.HTTPConnection(config.HOST, base_port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def sequential(port, path, n, warmup=2):
    """`n` requests one after the other (a new connection each, as wrk gets from gunicorn); latency stats."""
    for _ in range(warmup):
        get(port, path)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        status, _, _ = get(port, path)
        times.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
    return summarize(times)


def summarize(times):
    times = sorted(times)
    return {
        "n": len(times),
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
        "min_ms": round(times[0] * 1000, 2),
        "max_ms": round(times[-1] * 1000, 2),
    }
