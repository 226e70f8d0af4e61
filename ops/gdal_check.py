"""GDAL reads the GeoJSON export straight from the production server.

    python -m ops.gdal_check [--database-url postgres://...] [--port N] [--keep]

docs/api.md offers `?format=geojson` to GIS tools; GDAL (ogrinfo, ogr2ogr, QGIS) is the one
they share, and it is a client with its own Accept header (`text/plain, application/json`),
not a browser or curl. On the setup of ops.http_contract_check (the seed data behind gunicorn
with production settings), `ogrinfo` must:

- open `<base>/api/v1/incidents/?format=geojson` (`-ro -so`) and list its one point layer;
- count the features (`-al -so`): the published seed incidents that have coordinates, as
  the JSON list says;
- filter by place (`-spat`) and by attribute (`-where`), each counting what the same filter
  counts over the export's features, each run a request the server answered with 200 (read
  from gunicorn's access log).

Skipped (exit 0, with a message) when ogrinfo is not installed: `apt-get install gdal-bin`.
Exits 1 if a check fails.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import time

from ops.http_contract_check import database_url, production_site
from ops.security_check import Client, Report

LABEL = "gdal check"
EXPORT = "/api/v1/incidents/?format=geojson"
OGRINFO_TIMEOUT_S = 60


def published_with_coordinates(client):
    """The JSON list's published incidents (what anyone sees) that have a point."""
    answer = client.get("/api/v1/incidents/?page_size=500")
    rows = json.loads(answer.body)["results"]
    return [
        row["slug"]
        for row in rows
        if row.get("location")
        and row["location"].get("latitude") is not None
        and row["location"].get("longitude") is not None
    ]


def ogrinfo(*args):
    try:
        done = subprocess.run(
            ["ogrinfo", *args], capture_output=True, text=True, timeout=OGRINFO_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return 124, "", f"ogrinfo did not finish in {OGRINFO_TIMEOUT_S} s"
    return done.returncode, done.stdout, done.stderr


def feature_count(output):
    match = re.search(r"^Feature Count: (\d+)$", output, re.MULTILINE)
    return int(match.group(1)) if match else None


class AccessLog:
    """The server's answers to the export URL, as gunicorn's access log records them."""

    def __init__(self, server):
        self.server, self.seen = server, 0

    def new_answers(self):
        self.server.log.seek(0)
        target = re.escape(f'"GET {EXPORT} HTTP/1.1" ')
        statuses = re.findall(target + r"(\d{3})", self.server.log.read().decode(errors="replace"))
        fresh, self.seen = statuses[self.seen :], len(statuses)
        return fresh


def run_checks(report, site):
    client = Client(site.port)
    url = site.base_url + EXPORT
    log = AccessLog(site.server)
    log.new_answers()

    expected = published_with_coordinates(client)
    export = client.get(EXPORT)
    features = json.loads(export.body)["features"] if export.status == 200 else []
    log.new_answers()  # the check's own download is not GDAL's
    report.check(
        export.status == 200 and sorted(f["properties"]["slug"] for f in features) == sorted(expected),
        "the export (fetched without an Accept header) holds the published incidents that have a point",
        f"{export.status}, {len(features)} features, {len(expected)} expected",
    )
    if not features:
        return

    code, out, err = ogrinfo("-ro", "-so", url)
    layers = re.findall(r"^\d+: (.+) \((\w[\w ]*)\)$", out, re.MULTILINE)
    answers = log.new_answers()
    report.check(
        code == 0 and len(layers) == 1 and layers[0][1] == "Point",
        f"ogrinfo -ro -so {url}: one point layer",
        f"layers {layers}, server answered {answers}" + (f"; {err.strip()[:300]}" if code else ""),
    )

    code, out, err = ogrinfo("-ro", "-al", "-so", url)
    answers = log.new_answers()
    report.check(
        code == 0 and feature_count(out) == len(expected),
        "ogrinfo -ro -al -so: the feature count is the seed's",
        f"Feature Count {feature_count(out)}, expected {len(expected)}, server answered {answers}"
        + (f"; {err.strip()[:300]}" if code else ""),
    )

    lon, lat = features[0]["geometry"]["coordinates"][:2]
    box = (lon - 1, lat - 1, lon + 1, lat + 1)
    inside = sum(
        box[0] <= f["geometry"]["coordinates"][0] <= box[2]
        and box[1] <= f["geometry"]["coordinates"][1] <= box[3]
        for f in features
    )
    code, out, err = ogrinfo("-ro", "-al", "-so", "-spat", *map(str, box), url)
    answers = log.new_answers()
    report.check(
        code == 0 and feature_count(out) == inside and "200" in answers,
        f"ogrinfo -spat {' '.join(map(str, box))}: reaches the server and counts the features inside",
        f"Feature Count {feature_count(out)}, expected {inside}, server answered {answers}"
        + (f"; {err.strip()[:300]}" if code else ""),
    )

    event_type = features[0]["properties"]["event_type"]
    matching = sum(f["properties"]["event_type"] == event_type for f in features)
    where = f"event_type = '{event_type}'"
    code, out, err = ogrinfo("-ro", "-al", "-so", "-where", where, url)
    answers = log.new_answers()
    report.check(
        code == 0 and feature_count(out) == matching and "200" in answers,
        f'ogrinfo -where "{where}": reaches the server and counts the matching features',
        f"Feature Count {feature_count(out)}, expected {matching}, server answered {answers}"
        + (f"; {err.strip()[:300]}" if code else ""),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL, (re)created and dropped; without it DATABASE_URL's server, else SQLite",
    )
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the database (and print where it is)")
    args = parser.parse_args(argv)

    if not shutil.which("ogrinfo"):
        print(f"{LABEL} skipped: ogrinfo is not installed (apt-get install gdal-bin)")
        return 0
    version = subprocess.run(["ogrinfo", "--version"], capture_output=True, text=True).stdout.strip()
    started = time.monotonic()
    report = Report()
    url = database_url(args.database_url)
    with production_site(url, args.port, args.keep, label=LABEL) as site:
        database = "PostgreSQL" if site.database.postgres else "SQLite"
        print(f"== {version}; {database} with the seed data behind gunicorn at {site.base_url}", flush=True)
        run_checks(report, site)

    seconds = time.monotonic() - started
    if report.failures:
        print(f"\n{LABEL} FAILED ({len(report.failures)} of the checks above), {seconds:.0f} s")
        return 1
    print(f"\n{LABEL} passed, {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
