"""Targets and the markdown report of a results document."""

import re

from bench import baseline as old_code
from bench import config

DOCS = config.PROJECT_DIR / "docs" / "benchmarks.md"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"

WORKLOAD_ORDER = ("list", "detail", "search", "stats_country", "stats_year", "deep_cursor", "write")


def _full_tiers(results):
    return {} if results["mode"] == "quick" else results["tiers"]


def _target(name, scope, measured, met, note="", workloads=()):
    failed = sum(t["errors"] for w in workloads if w for t in w["targets"].values())
    if failed:
        met, note = None, f"{failed} requests failed or were refused during the runs"
    return {"target": name, "scope": scope, "measured": measured, "met": met, "note": note}


def evaluate(results):
    tiers = _full_tiers(results)
    out = []
    if not tiers:
        return [_target("all", "-", "-", None, "not judged in --quick mode")]
    for key, tier in tiers.items():
        for name in ("list", "detail"):
            w = tier.get("workloads", {}).get(name)
            if not w:
                continue
            share = w.get("share_of_floor")
            out.append(
                _target(
                    "Django ≥ 60% of floor req/s",
                    f"{name} @ {key}",
                    f"{share:.0%} ({w['targets']['django']['rps']} vs {w['targets']['floor']['rps']} req/s)",
                    share is not None and share >= 0.6,
                    workloads=[w],
                )
            )
            times = w.get("times_datasette")
            out.append(
                _target(
                    "Django ≥ 1.5× Datasette req/s",
                    f"{name} @ {key}",
                    f"{times:.2f}× ({w['targets']['django']['rps']} vs {w['targets']['datasette']['rps']} req/s)",
                    times is not None and times >= 1.5,
                    workloads=[w],
                )
            )
    small, large = ("10k", "1m")
    for name in ("list", "detail", "search", "deep_cursor"):
        if small in tiers and large in tiers:
            a = tiers[small]["workloads"].get(name)
            b = tiers[large]["workloads"].get(name)
            if a and b:
                p_small, p_large = a["targets"]["django"]["p99_ms"], b["targets"]["django"]["p99_ms"]
                ratio = p_large / p_small if p_small else float("inf")
                out.append(
                    _target(
                        "p99 at 1M ≤ 1.5× p99 at 10k",
                        name,
                        f"{ratio:.2f}× ({p_large} ms vs {p_small} ms)",
                        ratio <= 1.5,
                        workloads=[a, b],
                    )
                )
        else:
            have = sorted(tiers, key=lambda k: tiers[k]["count"])
            if (
                len(have) >= 2
                and name in tiers[have[0]].get("workloads", {})
                and name in tiers[have[-1]].get("workloads", {})
            ):
                p_small = tiers[have[0]]["workloads"][name]["targets"]["django"]["p99_ms"]
                p_large = tiers[have[-1]]["workloads"][name]["targets"]["django"]["p99_ms"]
                out.append(
                    _target(
                        "p99 at 1M ≤ 1.5× p99 at 10k",
                        name,
                        f"{have[-1]}/{have[0]}: {p_large / p_small:.2f}×",
                        None,
                        "1M tier not measured in this run",
                    )
                )
    for key, tier in tiers.items():
        for group_by, item in tier.get("stats_direct", {}).items():
            out.append(
                _target(
                    "stats ≤ 1.5× the hand-written GROUP BY",
                    f"group_by={group_by} @ {key}",
                    f"{item['ratio']:.2f}× ({item['django']['p50_ms']} ms vs {item['sql']['p50_ms']} ms, p50 one at a time)",
                    item["ratio"] <= 1.5,
                )
            )
    for fmt in ("csv", "ndjson"):
        if "100k" in tiers and "1m" in tiers and "exports" in tiers["100k"] and "exports" in tiers["1m"]:
            a = tiers["100k"]["exports"][fmt]["peak_worker_hwm_mb"]
            b = tiers["1m"]["exports"][fmt]["peak_worker_hwm_mb"]
            out.append(
                _target(
                    "export peak memory at 1M ≤ 1.2× at 100k",
                    fmt,
                    f"{b / a:.2f}× ({b} MB vs {a} MB)",
                    b / a <= 1.2,
                )
            )
        else:
            out.append(
                _target(
                    "export peak memory at 1M ≤ 1.2× at 100k", fmt, "-", None, "needs the 100k and 1M tiers"
                )
            )
        for key, tier in tiers.items():
            if tier.get("count", 0) < 100_000 or "exports" not in tier:
                continue
            item = tier["exports"][fmt]
            out.append(
                _target(
                    "export ≥ 50% of COPY rows/s",
                    f"{fmt} @ {key}",
                    f"{item['share_of_copy']:.0%} ({item['rows_per_s']} vs {tier['exports']['copy']['rows_per_s']} rows/s)",
                    item["share_of_copy"] >= 0.5,
                )
            )
    for key, tier in tiers.items():
        judged = old_code.summary(tier)
        n_judged = len(judged["slower"]) + len(judged["faster"]) + len(judged["within noise"])
        if not n_judged and not judged["not judged"]:
            continue
        rev = tier.get("run", {}).get("baseline", {}).get("rev", "?")
        if judged["slower"]:
            measured = "slower: " + ", ".join(
                _slower_text(n, tier["workloads"][n]["baseline"]) for n in judged["slower"]
            )
        else:
            measured = f"{len(judged['faster'])} faster, {len(judged['within noise'])} within noise"
        out.append(
            _target(
                f"no workload slower than the baseline ({rev}) beyond noise",
                f"{n_judged} workloads @ {key}",
                measured,
                not judged["slower"] if n_judged else None,
                ", ".join(f"{n} not judged" for n in judged["not judged"]),
                workloads=[tier["workloads"][n] for names in judged.values() for n in names],
            )
        )
    gen = results.get("generation")
    if gen:
        out.append(
            _target(
                "generate_incidents ≥ 25% of a plain COPY of the same rows",
                f"{gen['incidents']:,} incidents, {gen['rows']:,} rows",
                f"{gen['share_of_copy']:.0%} ({gen['generate_rows_per_s']:,} vs {gen['copy_rows_per_s']:,} rows/s)",
                gen["share_of_copy"] >= 0.25,
            )
        )
    return out


def _fmt(value, spec=".1f"):
    return "–" if value is None else format(value, spec)


_METRIC_NAMES = {"rps": "req/s", "p50_ms": "p50", "p99_ms": "p99"}


def _slower_text(name, cmp):
    return f"{name} ({_worse_metrics(cmp)})"


def _worse_metrics(cmp):
    """'req/s −12% (noise 4%), p99 +30% (noise 9%)' for the metrics beyond noise."""
    parts = []
    for metric in cmp.get("slower", []):
        m = cmp["metrics"][metric]
        parts.append(f"{_METRIC_NAMES[metric]} {m['ratio'] - 1:+.0%} (noise {m['noise']:.0%})")
    return ", ".join(parts)


def _verdict(cmp):
    if cmp["verdict"] == "slower":
        return f"**slower**: {_worse_metrics(cmp)}"
    if cmp["verdict"] == "faster":
        better = ", ".join(
            f"{_METRIC_NAMES[m]} {cmp['metrics'][m]['ratio'] - 1:+.0%}" for m in cmp.get("faster", [])
        )
        return f"faster: {better}"
    if cmp["verdict"] == "not judged":
        return f"not judged ({cmp.get('note', '')})"
    return "within noise"


def _pct(value):
    return "–" if value is None else f"{value:.0%}"


def baseline_table(tier, quick=False):
    """The project against the baseline, workload by workload (empty without a baseline)."""
    rows = [
        (name, tier["workloads"][name])
        for name in WORKLOAD_ORDER
        if tier.get("workloads", {}).get(name, {}).get("baseline")
    ]
    if not rows:
        return []
    base = tier.get("run", {}).get("baseline", {})
    judged = old_code.summary(tier)
    if judged["slower"]:
        headline = "**Slower than the baseline beyond noise: " + ", ".join(judged["slower"]) + ".**"
    elif judged["faster"] or judged["within noise"]:
        headline = (
            f"**No workload slower than the baseline beyond noise** ({len(judged['faster'])} faster, "
            f"{len(judged['within noise'])} within noise"
            + (f", {len(judged['not judged'])} not judged" if judged["not judged"] else "")
            + ")."
        )
    else:
        headline = "No workload judged against the baseline (one round: no noise estimate)."
    if quick:
        headline += " (Quick mode: 1 s runs, so this says little; not a target.)"
    lines = [
        "",
        f"Against the baseline `{base.get('rev', '?')}` (commit {base.get('commit', '?')}, code "
        f"{base.get('sha256', '?')}): {headline}",
        "",
        "| Workload | req/s project / baseline | × | p50 ms project / baseline | × | "
        "p99 ms project / baseline | × | Noise req/s · p50 · p99 | Peak RSS MB project / baseline | Verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, w in rows:
        c = w["baseline"]
        m = c["metrics"]
        cells = []
        for metric in ("rps", "p50_ms", "p99_ms"):
            cells.append(f"{m[metric]['project']:.1f} / {m[metric]['baseline']:.1f}")
            cells.append(f"{_fmt(m[metric]['ratio'], '.2f')}×")
        noise = " · ".join(_pct(m[metric]["noise"]) for metric in ("rps", "p50_ms", "p99_ms"))
        errors = c.get("errors", {})
        failed = (
            f" ({errors.get('project', 0)} / {errors.get('baseline', 0)} failed requests)"
            if errors.get("project") or errors.get("baseline")
            else ""
        )
        earlier = f" (run {w['from_run'].get('at', '?')})" if w.get("from_run") else ""
        lines.append(
            f"| {name}{earlier} | {' | '.join(cells)} | {noise} | "
            f"{c['peak_rss_mb']['project']:.0f} / {c['peak_rss_mb']['baseline']:.0f} | {_verdict(c)}{failed} |"
        )
    stats = [(g, item) for g, item in tier.get("stats_direct", {}).items() if "baseline" in item]
    exports = tier.get("exports", {})
    old_exports = exports.get("baseline", {})
    if stats or old_exports:
        lines += [
            "",
            "| One request at a time, or one export (one run each: no noise estimate) | Project | Baseline "
            "| × (ms, MB: below 1 is better; rows/s: above 1) |",
            "|---|---:|---:|---:|",
        ]
        for group_by, item in stats:
            lines.append(
                f"| stats group_by={group_by}, p50 ms of {item['django']['n']} | {item['django']['p50_ms']} | "
                f"{item['baseline']['p50_ms']} | {item['baseline_ratio']:.2f}× |"
            )
        for fmt in ("csv", "ndjson"):
            if fmt not in old_exports or fmt not in exports:
                continue
            mine, theirs = exports[fmt], old_exports[fmt]
            ratio = mine.get("baseline_ratio", {})
            lines.append(
                f"| export {fmt}, rows/s | {mine['rows_per_s']:,} | {theirs['rows_per_s']:,} | "
                f"{_fmt(ratio.get('rows_per_s'), '.2f')}× |"
            )
            lines.append(
                f"| export {fmt}, peak worker RSS MB | {mine['peak_worker_hwm_mb']:.0f} | "
                f"{theirs['peak_worker_hwm_mb']:.0f} | {_fmt(ratio.get('peak_worker_hwm_mb'), '.2f')}× |"
            )
    return lines


def _mark(met):
    return {True: "met", False: "**not met**", None: "not judged"}[met]


def _busy(tier):
    values = [w.get("busy_cores_before") for w in tier.get("workloads", {}).values()]
    values = [v for v in values if v is not None]
    if not values:
        return "?"
    return f"{min(values)}–{max(values)}"


def markdown(results):
    m = results["machine"]
    s = results["settings"]
    lines = [
        f"Run {results['generated_at']} ({results['mode']} mode, {results['elapsed_s']} s): "
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"PostgreSQL {m['postgresql']}, Python {m['python']}, {m['wrk']}.",
        "",
        f"wrk with {s['connections']} connections, {s['rounds']} alternating rounds of {s['duration_s']} s "
        f"(+{s['warmup_s']} s warm-up) per server; medians of the rounds. Django and the floor run under "
        f"gunicorn with {s['gunicorn_workers']} sync workers; Datasette is one process. "
        "Peak RSS is the whole process tree (master + workers).",
        "",
    ]
    gen = results.get("generation")
    if gen:
        lines += [
            f"Generation: `generate_incidents --count {gen['incidents']:,}` wrote {gen['rows']:,} rows in "
            f"{gen['generate_s']} s ({gen['generate_rows_per_s']:,} rows/s); a plain COPY of the same rows "
            f"into the same tables took {gen['copy_s']} s ({gen['copy_rows_per_s']:,} rows/s): "
            f"**{gen['share_of_copy']:.0%} of COPY** (medians of {len(gen['rounds'])} alternating rounds, "
            "bench/generation.py).",
            "",
        ]
    base = results.get("baseline")
    if base:
        lines += [
            f"Baseline: the project's code as of `{base['rev']}` (commit {base['commit']}, "
            f'"{base["subject"]}"; {base["files"]} files, code {base["sha256"]}), served by gunicorn '
            f"with the same options, settings and database on port {config.PORTS['baseline']}, "
            "in the same alternating rounds; query counts and profiles are the project's only.",
            "",
        ]
    if any(
        w.get("baseline") for tier in results["tiers"].values() for w in tier.get("workloads", {}).values()
    ):
        lines += [
            "In the tables against the baseline, × is project / baseline of the medians of the rounds "
            "(req/s above 1 is faster, p50 and p99 below 1 are faster). The noise of each figure is the "
            "larger of the two servers' spreads between their own rounds ((max − min) / median), at least "
            f"{old_code.NOISE_FLOOR:.0%}; a workload is slower beyond noise when its req/s ratio is below "
            "1 − noise or a latency ratio above 1 + noise.",
            "",
        ]
    codes = {tier.get("run", {}).get("code_sha256") for tier in results["tiers"].values()}
    if len(codes) > 1:
        lines += ["**The tiers below were measured on different code** (see each tier's code hash).", ""]
    for key, tier in results["tiers"].items():
        db = tier["db"]
        gen = db.get("generation", {})
        built = "reused" if db.get("reused") else "built now"
        lines += [
            f"### {key}: {tier['count']:,} incidents ({db.get('published', 0):,} published), {db.get('db_size')}",
            "",
            f"Database {db['db']} {built}; generation {gen.get('rows', 0):,} rows in {gen.get('seconds')} s = "
            f"**{gen.get('rows_per_s', 0):,} rows/s** (COPY). SQLite copy: {tier['sqlite'].get('rows', 0):,} rows, "
            f"{tier['sqlite'].get('bytes', 0) / 1e6:.0f} MB. Measured {tier.get('run', {}).get('at', '?')} "
            f"on code {tier.get('run', {}).get('code_sha256', '?')}; other work kept "
            f"{_busy(tier)} cores busy before the workloads.",
            "",
            "| Workload | Django req/s | p50 ms | p99 ms | Floor req/s | Django/floor | Datasette req/s | Django/Datasette | Queries/req | Django in-process ms | Peak RSS MB Django / floor / Datasette |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name in WORKLOAD_ORDER:
            w = tier.get("workloads", {}).get(name)
            if not w:
                continue
            t = w["targets"]
            d, f, ds = t["django"], t.get("floor"), t.get("datasette")
            rss = " / ".join(_fmt(x["peak_rss_mb"], ".0f") if x else "–" for x in (d, f, ds))
            errors = f" ({d['errors']} errors)" if d["errors"] else ""
            earlier = f" (run {w['from_run'].get('at', '?')})" if w.get("from_run") else ""
            lines.append(
                f"| {name}{earlier} | {d['rps']:.1f}{errors} | {d['p50_ms']:.1f} | {d['p99_ms']:.1f} | "
                f"{_fmt(f and f['rps'])} | {_fmt(w.get('share_of_floor'), '.0%')} | "
                f"{_fmt(ds and ds['rps'])} | {_fmt(w.get('times_datasette'), '.2f')}{'×' if w.get('times_datasette') else ''} | "
                f"{w['queries_per_request']} | {_fmt(w.get('in_process_ms'))} | {rss} |"
            )
        lines += baseline_table(tier, quick=results["mode"] == "quick")
        checks = tier.get("shape_checks", {})
        if checks:
            lines += [
                "",
                "Same answers: "
                + "; ".join(
                    f"{name}: floor {c['floor']}, Datasette {c['datasette']}"
                    + (f", baseline {c['baseline']}" if "baseline" in c else "")
                    + (f" (count {c['count']})" if "count" in c else "")
                    for name, c in checks.items()
                )
                + ".",
            ]
        if tier.get("stats_direct"):
            lines += [
                "",
                "| Stats, one request at a time | Django p50 ms | Floor p50 ms | GROUP BY via psycopg p50 ms | Django / GROUP BY |",
                "|---|---:|---:|---:|---:|",
            ]
            for group_by, item in tier["stats_direct"].items():
                lines.append(
                    f"| group_by={group_by} | {item['django']['p50_ms']} | {item['floor']['p50_ms']} | "
                    f"{item['sql']['p50_ms']} | {item['ratio']:.2f}× |"
                )
        if tier.get("exports"):
            e = tier["exports"]
            earlier = tier.get("exports_from")
            lines += [
                "",
                *(
                    [
                        f"Exports measured in an earlier run ({earlier.get('at')}, code {earlier.get('code_sha256', '?')}).",
                        "",
                    ]
                    if earlier
                    else []
                ),
                "| Export (whole published set) | Rows | Seconds | Rows/s | Share of COPY | First byte s | Peak worker RSS MB (idle) | Queries |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for fmt in ("csv", "ndjson"):
                x = e[fmt]
                aborted = f" (stopped after {x['aborted_after_s']} s)" if x.get("aborted_after_s") else ""
                lines.append(
                    f"| {fmt}{aborted} | {x['rows']:,} | {x['seconds']} | {x['rows_per_s']:,} | {x['share_of_copy']:.0%} | "
                    f"{x['ttfb_s']} | {x['peak_worker_hwm_mb']:.0f} ({x['baseline_worker_rss_mb']:.0f}) | {_fmt(x.get('queries'), 'd')} |"
                )
            c = e["copy"]
            lines.append(
                f"| COPY (same columns) TO STDOUT | {c['rows']:,} | {c['seconds']} | {c['rows_per_s']:,} | 100% | – | – | 1 |"
            )
        lines.append("")
    for key, error in results.get("failed_tiers", {}).items():
        lines += [f"### {key}: failed", "", f"The tier did not complete: `{error}`.", ""]
    lines += ["### Targets", "", "| Target | Scope | Measured | Verdict |", "|---|---|---|---|"]
    for t in results["targets"]:
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(f"| {t['target']} | {t['scope']} | {t['measured']} | {_mark(t['met'])}{note} |")
    lines.append("")
    return "\n".join(lines)


def update_docs(markdown_text):
    text = DOCS.read_text() if DOCS.exists() else f"{START}\n{END}\n"
    block = f"{START}\n{markdown_text}\n{END}"
    text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    DOCS.write_text(text)
