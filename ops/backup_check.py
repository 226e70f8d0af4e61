"""Prove a pg_dump of the seed database restores to the same API output.

    python -m ops.backup_check

Creates `incidents_backup_a` with the seed data, dumps it with pg_dump (custom
format), restores the dump into `incidents_backup_b`, reads every list and detail
endpoint from both through Django's test client, and fails unless they are identical.
Both databases are dropped afterwards.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = ["-h", "127.0.0.1", "-U", "postgres"]

READ_API = r"""
import json
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
out = {}
def walk(path):
    body = client.get(path, {"page_size": 500}).json()
    out[path] = body
    return body["results"]
for name, key in (("incidents", "slug"), ("actors", "slug"), ("locations", "slug"), ("sources", "slug"), ("casualties", "id")):
    for row in walk(f"/api/v1/{name}/"):
        out[f"/api/v1/{name}/{row[key]}/"] = client.get(f"/api/v1/{name}/{row[key]}/").json()
for key in ("country", "year", "actor", "group"):
    out[key] = client.get("/api/v1/stats/casualties/", {"group_by": key}).json()
print(json.dumps(out, sort_keys=True))
"""


def manage(db, *args, **kwargs):
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
        "THROTTLE_ANON_RATE": "100000/minute",
    }
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, **kwargs)


def api_output(db):
    return json.loads(
        manage(db, "shell", "--no-imports", "-c", READ_API, capture_output=True, text=True).stdout
    )


def main():
    a, b = "incidents_backup_a", "incidents_backup_b"
    for db in (a, b):
        subprocess.run(["dropdb", *PG, "--if-exists", db], check=True)
    subprocess.run(["createdb", *PG, a], check=True)
    try:
        manage(a, "migrate", "--no-input", "-v0")
        manage(a, "load_seeds", "-v0")
        with tempfile.TemporaryDirectory() as folder:
            dump = Path(folder) / "incidents.dump"
            subprocess.run(["pg_dump", *PG, "--format=custom", f"--file={dump}", a], check=True)
            subprocess.run(["createdb", *PG, b], check=True)
            subprocess.run(["pg_restore", *PG, "--no-owner", f"--dbname={b}", str(dump)], check=True)
        before, after = api_output(a), api_output(b)
        if before != after:
            differing = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            raise SystemExit(f"The restored database answers differently at: {differing[:10]}")
        print(f"Restored dump answers identically at {len(before)} endpoints.")
    finally:
        for db in (a, b):
            subprocess.run(["dropdb", *PG, "--if-exists", db], check=True)


if __name__ == "__main__":
    main()
