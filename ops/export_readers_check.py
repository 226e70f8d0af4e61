"""What outside tools make of the exports, over real HTTP: pandas and frictionless, given
nothing but the server's URLs.

    python -m ops.export_readers_check http://127.0.0.1:8000
    python -m ops.export_readers_check --serve [--database-url postgres://…/name]
                                               [--incidents N] [--port P]

With a URL it checks that server. With --serve it builds a fresh database (a temporary
SQLite file, or the PostgreSQL database named by --database-url, created and dropped, so
the incident CSV is written by COPY), loads the seed data and N generated incidents
(default 200: the seeds' timestamps fall on whole seconds, generated ones do not, so both
spellings a mixed column would have are there), and starts gunicorn as `make serve` does
(ops.security_check's server) on 127.0.0.1.

Checks, each a line, exit 1 if any failed:

- the data package (/api/v1/datapackage.json) describes both CSVs, and frictionless
  validates it against the live exports (types, constraints, keys, the claims' incidents);
- each CSV says `text/csv; charset=utf-8; header=present` and links its Table Schema with
  `Link: <…>; rel="describedby"`, the one the package holds;
- frictionless reads each CSV file with no hint at all (it guesses the dialect) as the
  Table Schema says: the same columns, every row valid;
- pandas reads each CSV with parse_dates on every date and datetime column to datetime64,
  integer columns without nulls to integers, one row per incident (claim) of the JSON API;
- pandas reads the NDJSON (read_json, lines=True) and the GeoJSON's properties with their
  timestamps as datetime64, every one in the Table Schema's datetime format, and each
  incident's `updated_at` is the same text in the CSV, the NDJSON and the GeoJSON.

Every request goes to the given server; a few dozen requests in all.
"""

import argparse
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pandas as pd
from frictionless import Package, Resource

TIMEOUT_S = 60
CSV_CONTENT_TYPE = "text/csv; charset=utf-8; header=present"
GENERATED_INCIDENTS = 200


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        ok = bool(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""), flush=True)
        self.passed += ok
        self.failed += not ok
        return ok


def fetch(url):
    """(headers, body bytes) of a GET; an HTTP error is raised with its body."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.headers, response.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"GET {url}: HTTP {error.code}: {error.read()[:500]!r}") from None


def fetch_json(url):
    return json.loads(fetch(url)[1])


def described_by(link, base):
    """The targets of a Link header's rel="describedby" entries, as absolute URLs."""
    targets = []
    for entry in (link or "").split(","):
        target, _, params = entry.strip().partition(">")
        if 'rel="describedby"' in params:
            targets.append(urllib.request.urljoin(base, target.lstrip("<")))
    return targets


def check_csv(report, package, resource, workdir, expected_rows):
    name, url, schema = resource["name"], resource["path"], resource["schema"]
    headers, body = fetch(url)
    path = Path(workdir) / f"{name}.csv"
    path.write_bytes(body)
    report.check(
        headers.get("Content-Type") == CSV_CONTENT_TYPE,
        f"{name} CSV Content-Type",
        headers.get("Content-Type"),
    )
    links = described_by(headers.get("Link"), url)
    linked = [fetch_json(target) for target in links]
    report.check(
        schema in linked,
        f"{name} CSV links its Table Schema (rel=describedby)",
        ", ".join(links) or "no Link",
    )

    # frictionless with no hint: it guesses the dialect from the file alone.
    guessed = Resource(path=path.name, basepath=workdir)
    guessed.infer()
    names = [field["name"] for field in schema["fields"]]
    report.check(
        guessed.schema.field_names == names,
        f"{name} CSV: frictionless guesses the dialect (no hints) and finds the columns",
        f"{len(guessed.schema.field_names)} columns, delimiter {guessed.dialect.to_descriptor()}",
    )
    # pandas, told only which columns are dates.
    dated = [field["name"] for field in schema["fields"] if field["type"] in ("date", "datetime")]
    frame = pd.read_csv(path, parse_dates=dated)
    report.check(
        list(frame.columns) == names, f"{name} CSV: pandas reads the header", f"{len(frame.columns)} columns"
    )
    report.check(
        len(frame) == expected_rows,
        f"{name} CSV: one row per record",
        f"{len(frame)} rows, API counts {expected_rows}",
    )
    for column in dated:
        report.check(
            pd.api.types.is_datetime64_any_dtype(frame[column]),
            f"{name} CSV: pandas parse_dates reads {column} as a datetime",
            str(frame[column].dtype),
        )
    for field in schema["fields"]:
        if field["type"] == "integer" and frame[field["name"]].notna().all() and len(frame):
            report.check(
                pd.api.types.is_integer_dtype(frame[field["name"]]),
                f"{name} CSV: pandas reads {field['name']} as integers",
                str(frame[field["name"]].dtype),
            )


def timestamp_column(report, what, values, pattern):
    """Every value in the Table Schema's datetime format; pandas reads them as datetimes."""
    bad = []
    for value in values:
        try:
            datetime.strptime(value, pattern)
        except (TypeError, ValueError):
            bad.append(value)
    whole = sum(1 for value in values if isinstance(value, str) and value.endswith(".000000Z"))
    report.check(
        not bad,
        f"{what}: every value in the format {pattern}",
        f"{len(values)} values ({whole} on a whole second)" + (f", not: {bad[:3]}" if bad else ""),
    )
    parsed = pd.to_datetime(pd.Series(values), errors="coerce")
    report.check(
        pd.api.types.is_datetime64_any_dtype(parsed) and not parsed.isna().any(),
        f"{what}: pandas reads them as datetimes",
        str(parsed.dtype),
    )


def check(base):
    report = Report()
    api = base.rstrip("/") + "/api/v1/"
    package = fetch_json(api + "datapackage.json")
    resources = {resource["name"]: resource for resource in package.get("resources", [])}
    report.check(
        set(resources) == {"incidents", "claims"}, "data package describes both CSVs", str(sorted(resources))
    )
    licences = [licence.get("name") for licence in package.get("licenses", [])]
    report.check(
        "CC-BY-4.0" in licences and package.get("sources"), "data package carries the licence and sources"
    )

    started = time.monotonic()
    validated = Package(package).validate()
    report.check(
        validated.valid,
        "frictionless validates the data package against the live exports",
        (
            ", ".join(f"{task.name}: {task.stats['rows']} rows" for task in validated.tasks)
            + f", {time.monotonic() - started:.1f} s"
            if validated.valid
            else str(validated.flatten(["rowNumber", "fieldName", "note"])[:5])
        ),
    )

    incidents = fetch_json(api + "incidents/?page_size=1")["count"]
    claims = fetch_json(api + "casualties/?page_size=1")["count"]
    pattern = next(
        field["format"] for field in resources["incidents"]["schema"]["fields"] if field["type"] == "datetime"
    )
    with tempfile.TemporaryDirectory(prefix="export-readers-") as workdir:
        check_csv(report, package, resources["incidents"], workdir, incidents)
        check_csv(report, package, resources["claims"], workdir, claims)

        # The downloaded files with their Table Schemas and no dialect: frictionless guesses it.
        local = Package(
            {
                "resources": [
                    {"name": name, "path": f"{name}.csv", "schema": resource["schema"]}
                    for name, resource in resources.items()
                ]
            },
            basepath=workdir,
        ).validate()
        report.check(
            local.valid,
            "frictionless validates the downloaded CSVs under their Table Schemas, dialect guessed",
            (
                ", ".join(f"{task.name}: {task.stats['rows']} rows" for task in local.tasks)
                if local.valid
                else str(local.flatten(["rowNumber", "fieldName", "note"])[:5])
            ),
        )

        ndjson_path = Path(workdir) / "incidents.ndjson"
        ndjson_path.write_bytes(fetch(api + "incidents/?format=ndjson")[1])
        lines = pd.read_json(ndjson_path, lines=True)
        report.check(
            len(lines) == incidents, "NDJSON: pandas reads one incident a line", f"{len(lines)} lines"
        )
        for column in ("created_at", "updated_at"):
            report.check(
                pd.api.types.is_datetime64_any_dtype(lines[column]),
                f"NDJSON: pandas read_json reads {column} as a datetime",
                str(lines[column].dtype),
            )
        raw_lines = [json.loads(line) for line in ndjson_path.read_text(encoding="utf-8").splitlines()]
        timestamp_column(report, "NDJSON updated_at", [item["updated_at"] for item in raw_lines], pattern)

        geojson = json.loads(fetch(api + "incidents/?format=geojson")[1])
        properties = pd.DataFrame([feature["properties"] for feature in geojson["features"]])
        placed, unplaced = len(properties), geojson["metadata"]["without_coordinates"]
        report.check(
            placed + unplaced == incidents,
            "GeoJSON: every incident placed or counted",
            f"{placed} + {unplaced}",
        )
        timestamp_column(report, "GeoJSON updated_at", list(properties["updated_at"]), pattern)

        csv_frame = pd.read_csv(Path(workdir) / "incidents.csv", dtype=str, keep_default_na=False)
        timestamp_column(report, "CSV updated_at", list(csv_frame["updated_at"]), pattern)
        spelled = {
            "CSV": dict(zip(csv_frame["slug"], csv_frame["updated_at"], strict=True)),
            "NDJSON": {item["slug"]: item["updated_at"] for item in raw_lines},
            "GeoJSON": dict(zip(properties["slug"], properties["updated_at"], strict=True)),
        }
        differing = [
            slug
            for slug, value in spelled["NDJSON"].items()
            if spelled["CSV"].get(slug) != value or spelled["GeoJSON"].get(slug, value) != value
        ]
        report.check(
            not differing and len(spelled["CSV"]) == len(spelled["NDJSON"]),
            "updated_at is spelled alike in the CSV, the NDJSON and the GeoJSON",
            f"{len(spelled['NDJSON'])} incidents, differing: {differing[:3]}",
        )
    return report


def serve_and_check(args):
    from ops.security_check import Database, Server, base_env, free_port, manage

    workdir = tempfile.mkdtemp(prefix="export-readers-")
    database = Database(args.database_url, workdir)
    server = None
    try:
        database.create()
        env = base_env(database.url, THROTTLE_ANON_RATE="100000/minute")
        manage(env, "migrate", "--no-input", "-v0", label="export readers check")
        manage(env, "load_seeds", "-v0", label="export readers check")
        if args.incidents:
            manage(
                env,
                "generate_incidents",
                "--count",
                str(args.incidents),
                "--seed",
                "5",
                label="export readers check",
            )
        port = args.port or free_port()
        server = Server(env, "config/gunicorn.py", port, label="export_readers_check").start()
        print(
            f"== gunicorn on 127.0.0.1:{port}, {'PostgreSQL' if database.postgres else 'SQLite'}, "
            f"seeds + {args.incidents} generated incidents",
            flush=True,
        )
        return check(f"http://127.0.0.1:{port}")
    finally:
        if server is not None:
            server.stop()
        database.drop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="the server's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--serve", action="store_true", help="start a server on a fresh seeded database")
    parser.add_argument(
        "--database-url", default="", help="with --serve: a PostgreSQL URL, (re)created and dropped"
    )
    parser.add_argument(
        "--incidents", type=int, default=GENERATED_INCIDENTS, help="with --serve: generated incidents"
    )
    parser.add_argument("--port", type=int, default=0, help="with --serve: the port (default: a free one)")
    args = parser.parse_args(argv)
    if bool(args.url) == args.serve:
        parser.error("give a URL or --serve, not both")
    report = serve_and_check(args) if args.serve else check(args.url)
    print(f"export_readers_check: {report.passed} passed, {report.failed} failed", flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
