"""Old code against new (`--baseline REV`): the checks before serving REV, and the ratios.

The baseline is the project's code as of REV (bench.snapshot.baseline), served as one more
server beside the current code, with the same gunicorn options, settings and database, in the
same alternating rounds. For each workload the run then records the ratio project/baseline of
the medians (throughput, p50, p99) and a noise estimate: the larger of the two servers'
round-to-round spreads ((max - min) / median of its rounds), never below NOISE_FLOOR. A
workload is "slower beyond noise" when its throughput ratio is below 1 - noise, or a latency
ratio above 1 + noise (each metric against its own noise).
"""

import subprocess

from bench import config

NOISE_FLOOR = 0.03  # two rounds that happen to agree closely still do not make 1% meaningful
METRICS = (("rps", True), ("p50_ms", False), ("p99_ms", False))  # (metric, higher is better)

# Importing the WSGI application sets Django up (settings, apps, models); resolving the URLconf
# imports every view, so an old revision that cannot serve fails here rather than under load.
CHECK = "import config.wsgi\nfrom django.urls import get_resolver\nget_resolver().url_patterns\n"


def check(info, count):
    """Exit naming REV if its code cannot even be imported with the benchmark's settings."""
    code_dir = config.PROJECT_DIR / info["path"]
    try:
        proc = subprocess.run(
            [config.PYTHON, "-c", CHECK],
            cwd=code_dir,
            env=config.django_env(count, code_dir, with_bench=False),
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(
            f"--baseline {info['rev']} (commit {info['commit']}): importing its code took over 300 s"
        ) from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-12:])
        raise SystemExit(
            f"--baseline {info['rev']} (commit {info['commit']}, {info['path']}): its code cannot serve; "
            f"importing config.wsgi and the URLconf failed:\n{tail}"
        )


def label(info):
    return f"baseline {info['rev']} ({info['commit'][:8]})"


def _spread(values):
    values = sorted(values)
    if len(values) < 2:
        return None
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    return (values[-1] - values[0]) / median if median else 0.0


def compare(project, baseline):
    """Project against baseline for one workload: both measured entries as measure() returns them."""
    out = {"rounds": min(len(project["rounds"]), len(baseline["rounds"])), "metrics": {}}
    slower, faster = [], []
    for metric, higher_is_better in METRICS:
        mine, theirs = project[metric], baseline[metric]
        ratio = mine / theirs if theirs else None
        spreads = [_spread([r[metric] for r in x["rounds"]]) for x in (project, baseline)]
        noise = None if None in spreads else max(NOISE_FLOOR, *spreads)
        item = {
            "project": mine,
            "baseline": theirs,
            "ratio": None if ratio is None else round(ratio, 3),
            "round_spread": {
                "project": None if spreads[0] is None else round(spreads[0], 3),
                "baseline": None if spreads[1] is None else round(spreads[1], 3),
            },
            "noise": None if noise is None else round(noise, 3),
            "round_ratios": [
                round(a[metric] / b[metric], 3) if b[metric] else None
                for a, b in zip(project["rounds"], baseline["rounds"], strict=False)
            ],
        }
        if ratio is None or noise is None:
            item["verdict"] = "not judged"
        else:
            # Throughput: lower is worse; latency: higher is worse.
            worse = ratio < 1 - noise if higher_is_better else ratio > 1 + noise
            better = ratio > 1 + noise if higher_is_better else ratio < 1 - noise
            item["verdict"] = "slower" if worse else "faster" if better else "within noise"
            (slower if worse else faster if better else []).append(metric)
        out["metrics"][metric] = item
    if any(m["verdict"] == "not judged" for m in out["metrics"].values()):
        out["verdict"] = "not judged"
        out["note"] = "one round: no noise estimate" if out["rounds"] < 2 else "a median of 0"
    else:
        out["verdict"] = "slower" if slower else "faster" if faster else "within noise"
    out["slower"], out["faster"] = slower, faster
    out["peak_rss_mb"] = {"project": project["peak_rss_mb"], "baseline": baseline["peak_rss_mb"]}
    out["errors"] = {"project": project["errors"], "baseline": baseline["errors"]}
    return out


def summary(tier):
    """Workload names by verdict, for one tier's results."""
    out = {"slower": [], "faster": [], "within noise": [], "not judged": []}
    for name, w in tier.get("workloads", {}).items():
        if w.get("baseline") and not w.get("from_run"):
            out[w["baseline"]["verdict"]].append(name)
    return out
