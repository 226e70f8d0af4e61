"""The API as a typed Python client meets it: a client generated from the schema, type-checked
with mypy and run against a server.

    python -m ops.client_smoke_check [--database-url postgres://...] [--port N] [--keep]
    python -m ops.client_smoke_check --url http://host:port --token KEY [--workdir DIR]

Without --url it serves the API itself, as ops.http_contract_check does (its
production_site: gunicorn with the deployed settings, a fresh database with the seed data,
an editor with a token). With --url it uses that server and the editor's token given (the
script's write creates one location, `client-smoke-…`).

Then, in a work directory:

1. the schema the server publishes (/api/v1/schema/?format=json);
2. a client generated from it by openapi-python-client (requirements-dev.txt pins it); a
   warning from the generator (a part of the schema it could not turn into code) fails the check;
3. mypy --strict on ops/client_smoke/read_and_write.py, which uses the generated client as
   an outside user would: reads with its plain Client (no token), a write with its
   AuthenticatedClient. The generated package itself is not checked, only used
   (--follow-imports=silent): its code is the generator's;
4. that script against the server: a filtered list, a detail, the statistics, the CSV export
   as bytes and the write.

It exits 1 when any step fails.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ops.http_contract_check import SCHEMA_PATH, production_site
from ops.security_check import ROOT

LABEL = "client smoke check"
PACKAGE = "incident_records_api_client"
SCRIPT = ROOT / "ops" / "client_smoke" / "read_and_write.py"
BIN = Path(sys.executable).parent
STEP_TIMEOUT_S = 300


def fail(message):
    raise SystemExit(f"{LABEL} FAILED: {message}")


def run(step, command, **env):
    """One step's command, its output shown; its time in seconds."""
    started = time.monotonic()
    # The generator formats its code with ruff, which it looks for on PATH.
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **env}
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=STEP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        fail(f"{step} took over {STEP_TIMEOUT_S} s")
    output = (done.stdout + done.stderr).strip()
    print(f"== {step}\n{output}")
    if done.returncode:
        fail(f"{step} exited with {done.returncode}")
    return output, time.monotonic() - started


def fetch_schema(base_url, path):
    with urllib.request.urlopen(base_url + SCHEMA_PATH, timeout=30) as response:
        schema = json.load(response)
    path.write_text(json.dumps(schema))
    return schema


def generate(schema_file, workdir):
    """The client package (PACKAGE) generated from schema_file into workdir; the step's time."""
    output, seconds = run(
        "generate",
        [BIN / "openapi-python-client", "generate", "--path", schema_file, "--meta", "none"]
        + ["--output-path", Path(workdir) / PACKAGE, "--overwrite"],
    )
    if "warning" in output.lower():
        fail("openapi-python-client could not turn all of the schema into code (above)")
    return seconds


def type_check(workdir, script=SCRIPT):
    """mypy --strict on the script, against the client generated into workdir; the step's time."""
    command = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent"]
    command += ["--cache-dir", Path(workdir) / "mypy_cache", script]
    return run("mypy", command, MYPYPATH=str(workdir))[1]


def check(base_url, token, workdir):
    workdir = Path(workdir)
    schema_file = workdir / "schema.json"
    schema = fetch_schema(base_url, schema_file)
    print(f"schema: {sum(len(item) for item in schema['paths'].values())} operations from {base_url}")
    generated = generate(schema_file, workdir)
    typed = type_check(workdir)
    _, ran = run("run", [sys.executable, SCRIPT, base_url, token], PYTHONPATH=str(workdir))
    print(f"{LABEL}: OK (generate {generated:.1f} s, mypy {typed:.1f} s, run {ran:.1f} s)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: serve one on the seed data)")
    parser.add_argument("--token", default=os.environ.get("CLIENT_SMOKE_TOKEN"), help="an editor's token")
    parser.add_argument("--database-url", default="", help="own server: PostgreSQL (default: SQLite)")
    parser.add_argument("--port", type=int, default=0, help="own server: its port (default: a free one)")
    parser.add_argument("--workdir", help="where the schema and the client go (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and database")
    args = parser.parse_args(argv)

    workdir = args.workdir or tempfile.mkdtemp(prefix="client-smoke-")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    try:
        if args.url:
            if not args.token:
                parser.error("--url needs --token (or CLIENT_SMOKE_TOKEN): an editor's token for the write")
            check(args.url.rstrip("/"), args.token, workdir)
        else:
            with production_site(args.database_url, args.port, args.keep, label=LABEL) as site:
                check(site.base_url, site.token, workdir)
    finally:
        if args.keep or args.workdir:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
