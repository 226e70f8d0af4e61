"""The HTTP contract as outside clients meet it: schemathesis against gunicorn over real HTTP.

    python -m ops.http_contract_check [--database-url postgres://...] [--port N]
                                      [--max-examples N] [--seed N] [--workers N]
                                      [--as anonymous,editor] [--report-dir DIR] [--keep]

tests/contract/test_fuzz.py fuzzes the schema in-process, each case rolled back. This is what
a client outside meets instead: the production server as `make serve` starts it (gunicorn
--config config/gunicorn.py, DEBUG=false, started with ops.security_check's helpers, so the
middleware, throttles, static files and settings are the deployed ones), a database that
keeps every write, and schemathesis's own command line (`st run`) reading the schema the
server publishes at /api/v1/schema/?format=json.

Setup: a fresh database (a temporary SQLite file; PostgreSQL with --database-url, which is
created and dropped, or with DATABASE_URL, whose server gets a database of the check's own,
`<name>_http_contract`, so the caller's data is never touched), migrated, with the seed
data (load_seeds) and one editor (in the `editors` group, migration 0007) with a token. The
throttles are raised (THROTTLE_ANON_RATE, THROTTLE_USER_RATE): a run makes thousands of
requests from one address. Everything else is the deployed default.

Runs: every operation of the schema, once anonymously and once with the editor's token, with
all of schemathesis's checks and phases (examples, coverage, fuzzing, stateful), a fixed
seed and a bounded number of examples. Slug filters take the slugs of records the caller
sees, and URLs name such a record half of the time (read from the API's lists before each
run). The settings that differ from schemathesis's defaults are in SCHEMATHESIS_CONFIG,
ANONYMOUS_CONFIG, EDITOR_CONFIG and SLUG_FILTERS, each with its reason.

It prints schemathesis's own report, then a summary (operations, cases, failures by kind
with the number of cases that hit each) and exits 1 on any failure or error, on an
operation of the schema that was not tested, or on a run over its time limit.
"""

import argparse
import collections
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from ops.security_check import HOST, Client, Database, Server, base_env, free_port, manage

LABEL = "http contract check"
SCHEMA_PATH = "/api/v1/schema/?format=json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
EDITOR = "http-contract-editor"
# A run makes thousands of requests from 127.0.0.1; the deployed 300/minute would turn most
# of them into 429s. The throttles themselves are ops.security_check's to test.
THROTTLE_RATE = "1000000/minute"

IDENTITIES = ("anonymous", "editor")
# Per operation, for the fuzzing and stateful phases. The coverage phase's cases follow from
# the schema instead: 4,777 of the editor's 5,238 when measured, most of the check's time.
MAX_EXAMPLES = 10
SEED = 20120724
# One: with two, Hypothesis in two threads at once hit CPython 3.11's "AST constructor
# recursion depth mismatch" (ast.parse is not thread-safe there), an error of the tool that
# failed an operation at random.
WORKERS = 1
RUN_TIMEOUT_S = 600  # one `st run`; past it the check fails instead of hanging CI

# Differences from schemathesis's defaults; everything else is its default, which runs every
# check it has. (Not `--checks all` on the command line: that would also win over the
# per-operation setting below.)
SCHEMATHESIS_CONFIG = """\
# Written by ops/http_contract_check.py for one run; its module docstring says why.
seed = {seed}
workers = {workers}

# The same cases for the same seed: no crashes replayed from an earlier run, no cached probes.
[cache]
enabled = false

[generation]
mode = "all"
max-examples = {max_examples}
database = "none"
# docs/api.md, "Strict input": text PostgreSQL cannot store (NUL characters, lone
# surrogates) is a 400 wherever it appears. Schema-valid data is generated without them;
# their refusal is tested by tests/contract/test_bad_input.py (docs/bad-input.md).
allow-x00 = false
codec = "utf-8"
# No made-up credentials in generated cases: the anonymous run sends none, the editor run
# the editor's token. The ignored_auth check still sends requests without and with wrong
# credentials itself.
with-security-parameters = false

# docs/api.md, "Writing": a write runs the checks that depend on what is stored (unique
# slugs, related records named by slug, the database constraints, a claim's quote found in
# its source's text) and refuses with a 400 naming the field. A schema cannot say which
# slugs exist or what a source's text holds, so "schema-valid data is accepted" does not
# hold for write bodies; every other check runs on them, and the anonymous run's reads keep
# this one (EDITOR_CONFIG says why the editor's do not).
[[operations]]
include-method = ["POST", "PUT", "PATCH"]
checks.positive_data_acceptance.enabled = false
"""

# Added for the anonymous run only.
ANONYMOUS_CONFIG = """
# The budget: an anonymous write is refused (401) before its body is read, so the coverage
# phase's hundreds of boundary cases per write would each meet that same refusal (5,400 of
# the run's 6,200 cases when measured). The anonymous run fuzzes every write without it,
# and ignored_auth probes each one; the editor's run takes every operation through every
# phase.
[[operations]]
include-method = ["POST", "PUT", "PATCH", "DELETE"]
phases.coverage.enabled = false
"""


# The records each kind of slug or id names, and where the API lists them.
RECORDS = {
    "incidents": ("/api/v1/incidents/", "slug"),
    "actors": ("/api/v1/actors/", "slug"),
    "locations": ("/api/v1/locations/", "slug"),
    "sources": ("/api/v1/sources/", "slug"),
    "claims": ("/api/v1/casualties/", "id"),
}
# docs/api.md, "Slugs of records you cannot see": a slug filter that names no record the
# caller may see is a 400, like a choice outside its list. A schema cannot say which slugs
# exist, so these filters take the slugs of the records the caller may see, read from the
# API before the run (every other parameter is generated, and an unknown slug's 400 is in
# tests/contract/test_bad_input.py). Without this, "schema-valid data is accepted" failed on
# any made-up slug.
SLUG_FILTERS = {
    "actor": "actors",
    "claimed_by": "actors",
    "parent": "incidents",
    "incident": "incidents",
    "location": "locations",
    "source": "sources",
}
# Half of the time a URL names a record that exists, as in tests/contract/test_fuzz.py, so
# detail, write and workflow operations reach real records and not only their 404.
PATH_RECORDS = {
    "path.slug": {
        "incidents": r"^/api/v1/incidents/\{slug\}/",
        "actors": r"^/api/v1/actors/\{slug\}/",
        "locations": r"^/api/v1/locations/\{slug\}/",
        "sources": r"^/api/v1/sources/\{slug\}/",
    },
    "path.id": {"claims": r"^/api/v1/casualties/\{id\}/"},
}


def records_config(records):
    """Dictionaries of the records' slugs and ids, and the parameters that draw from them."""
    records = {name: values for name, values in records.items() if values}
    lines = ["", "[dictionaries]"]
    lines += [f"{name} = {{ values = {json.dumps(values)} }}" for name, values in sorted(records.items())]
    lines += ["", "[parameters]"]
    lines += [
        f'"query.{parameter}" = {{ dictionary = "{name}" }}'
        for parameter, name in SLUG_FILTERS.items()
        if name in records
    ]
    for parameter, paths in PATH_RECORDS.items():
        for name, regex in paths.items():
            if name in records:
                lines += [
                    "",
                    "[[operations]]",
                    f"include-path-regex = '{regex}'",
                    f'parameters = {{ "{parameter}" = {{ dictionary = "{name}", probability = 0.5 }} }}',
                ]
    return "\n".join(lines) + "\n"


# Added for the editor's run only.
EDITOR_CONFIG = """
# The editor's writes rename and re-status records while the run goes on (a PUT with a new
# slug renames one), so a slug read from the API before the run can name nothing by the time
# a filter sends it: the documented 400 of SLUG_FILTERS. "Schema-valid data is accepted" is
# judged in the anonymous run, on the same read operations over data that cannot change;
# every other check runs here.
[checks]
positive_data_acceptance.enabled = false
"""


def schemathesis_config(identity, records=None, seed=SEED, workers=WORKERS, max_examples=MAX_EXAMPLES):
    text = SCHEMATHESIS_CONFIG.format(seed=seed, workers=workers, max_examples=max_examples)
    text += ANONYMOUS_CONFIG if identity == "anonymous" else EDITOR_CONFIG
    return text + records_config(records or {})


def expected_checks(identity):
    """The checks a run must show on some case (EDITOR_CONFIG leaves one out, and says why)."""
    return EXPECTED_CHECKS - ({"positive_data_acceptance"} if identity == "editor" else set())


def visible_records(site, identity):
    """{"actors": [slugs], ..., "claims": [ids]}: what the caller sees in the API's lists."""
    client = Client(site.port)
    headers = {"Authorization": f"Token {site.token}"} if identity == "editor" else {}
    records = {}
    for name, (path, key) in RECORDS.items():
        answer = client.get(f"{path}?page_size=500", **headers)
        if answer.status != 200:
            raise SystemExit(f"{LABEL} FAILED: {path} answered {answer.status} to the {identity}")
        records[name] = [row[key] for row in json.loads(answer.body)["results"]]
    return records


# ---------------------------------------------------------------------------- the site


def own_database_url(url, suffix="_http_contract"):
    """DATABASE_URL's server with a database of the check's own (it is dropped afterwards)."""
    parsed = urllib.parse.urlparse(url)
    return parsed._replace(path="/" + parsed.path.lstrip("/") + suffix).geturl()


def database_url(explicit):
    if explicit:
        return explicit
    url = os.environ.get("DATABASE_URL", "")
    return own_database_url(url) if url.startswith(("postgres://", "postgresql://")) else ""


EDITOR_SCRIPT = f"""
import os
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
user = User.objects.create_user({EDITOR!r})
user.groups.add(Group.objects.get(name="editors"))
Token.objects.create(user=user, key=os.environ["CHECK_TOKEN"])
"""


class Site:
    """The seed database behind gunicorn with production settings, and an editor's token."""

    def __init__(self, port, database, token, server, workdir):
        self.port, self.database, self.token = port, database, token
        self.server, self.workdir = server, workdir
        self.base_url = f"http://{HOST}:{port}"


@contextmanager
def production_site(url="", port=0, keep=False, label=LABEL):
    """Yields a Site; the server is stopped and the database dropped afterwards (unless keep)."""
    workdir = tempfile.mkdtemp(prefix="http-contract-")
    database = Database(url, workdir)
    server = None
    try:
        database.create()
        env = base_env(database.url, THROTTLE_ANON_RATE=THROTTLE_RATE, THROTTLE_USER_RATE=THROTTLE_RATE)
        manage(env, "migrate", "--no-input", "-v0", label=label)
        manage(env, "load_seeds", "-v0", label=label)
        # DEBUG=false serves static files from the manifest collectstatic writes.
        manage(env, "collectstatic", "--no-input", "-v0", label=label)
        token = secrets.token_hex(20)
        manage({**env, "CHECK_TOKEN": token}, "shell", "--no-imports", "-c", EDITOR_SCRIPT, label=label)
        port = port or free_port()
        server = Server(env, "config/gunicorn.py", port, label=label).start()
        yield Site(port, database, token, server, workdir)
    finally:
        if server:
            server.stop()
        if keep:
            print(f"kept: {database.url} and {workdir}")
        else:
            database.drop()
            shutil.rmtree(workdir, ignore_errors=True)


# What the runs must show: every built-in check ran on some case (max_response_time needs a
# limit, which the contract does not set).
EXPECTED_CHECKS = frozenset(
    {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
        "object_level_authorization",
    }
)


def schema_operations(schema):
    """Every operation of an OpenAPI document, as schemathesis labels them ("GET /path/")."""
    return sorted(
        f"{method.upper()} {path}"
        for path, item in schema.get("paths", {}).items()
        for method in item
        if method in METHODS
    )


# ---------------------------------------------------------------------------- a run


def st_command(site, identity, config_file, report_dir):
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        site.base_url + SCHEMA_PATH,
        "--report",
        "json,ndjson",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    if identity == "editor":
        command += ["--header", f"Authorization: Token {site.token}"]
    return command


def run_schemathesis(site, identity, config_file, report_dir, timeout):
    """One `st run`; its output goes straight to ours. Returns (exit code or None, seconds)."""
    started = time.monotonic()
    process = subprocess.Popen(
        st_command(site, identity, config_file, report_dir),
        cwd=report_dir,  # whatever st writes stays in the run's folder
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        code = None
    return code, time.monotonic() - started


def newest(folder, pattern):
    files = sorted(Path(folder).glob(pattern), key=lambda path: path.stat().st_mtime)
    return files[-1] if files else None


def read_events(ndjson):
    """From the run's event stream: the checks that ran, and the failing cases by kind:
    {(code, title): {"cases": n, "operations": {...}}}."""
    ran = set()
    kinds = collections.defaultdict(lambda: {"cases": set(), "operations": set()})
    if ndjson is None:
        return ran, {}
    with ndjson.open(encoding="utf-8") as events:
        for line in events:
            event = json.loads(line).get("ScenarioFinished")
            if not event:
                continue
            for case_id, checks in event["recorder"].get("checks", {}).items():
                for check in checks:
                    ran.add(check["name"])
                    failure = (check.get("failure_info") or {}).get("failure")
                    if check["status"] == "failure" and failure:
                        kind = kinds[(failure["code"], failure["title"])]
                        kind["cases"].add(case_id)
                        kind["operations"].add(failure.get("operation") or event["recorder"]["label"])
    return ran, {key: {"cases": len(v["cases"]), "operations": v["operations"]} for key, v in kinds.items()}


class Outcome:
    def __init__(self, identity, code, seconds, report, events, expected):
        self.identity, self.code, self.seconds = identity, code, seconds
        self.report, self.expected = report or {}, expected
        ran, self.kinds = events
        self.problems = []
        operations = self.report.get("operations", {})
        if code is None:
            self.problems.append(f"stopped after {seconds:.0f} s, over its time limit")
        elif not report:
            self.problems.append(f"st exited with {code} and wrote no report")
        else:
            if operations.get("total") != len(expected):
                self.problems.append(
                    f"schemathesis saw {operations.get('total')} operations, the schema has {len(expected)}"
                )
            untested = len(expected) - operations.get("tested", 0)
            if untested:
                self.problems.append(f"{untested} operations not tested")
            missing = expected_checks(identity) - ran
            if missing:
                self.problems.append(f"checks that never ran: {', '.join(sorted(missing))}")
            if report.get("errors"):
                self.problems.append(f"{len(report['errors'])} errors")
            if code and not report.get("failures") and not report.get("errors"):
                self.problems.append(f"st exited with {code}")

    @property
    def failed(self):
        return bool(self.problems or self.report.get("failures"))

    def lines(self):
        operations = self.report.get("operations", {})
        cases = self.report.get("test_cases", {})
        failures = self.report.get("failures", [])
        yield (
            f"{self.identity}: {operations.get('tested', 0)}/{len(self.expected)} operations tested, "
            f"{cases.get('generated', 0)} cases, {cases.get('with_failures', 0)} failing "
            f"({sum(f['count'] for f in failures)} unique failures), "
            f"{len(self.report.get('errors', []))} errors, {self.seconds:.0f} s"
        )
        for failure in failures:
            hit = self.kinds.get((failure["code"], failure["title"]), {})
            yield (
                f"  {failure['code']} {failure['title']}: {failure['count']} unique, "
                f"{hit.get('cases', '?')} cases, in {len(failure['operations'])} operations: "
                + ", ".join(failure["operations"])
            )
        for problem in self.problems:
            yield f"  FAIL {problem}"


CHAIN = ("During handling of the above", "The above exception")


def server_errors(server):
    """The exceptions behind the server's 500s, from its log: {"Type: message": [paths]}.

    Django logs "Internal Server Error: <path>", then the traceback; of a chain of exceptions
    the last is the one the request died of. The first other line ends the record."""
    server.log.seek(0)
    errors = collections.defaultdict(list)
    path = exception = None
    in_traceback = False
    for line in server.log.read().decode(errors="replace").splitlines() + ["(end)"]:
        if path is not None:
            if line.startswith("Traceback (most recent call last):"):
                in_traceback = True
                continue
            if not line or line[0].isspace() or line.startswith(CHAIN):
                continue
            if in_traceback:  # the first line after the frames: "Type: message"
                exception, in_traceback = line[:300], False
                continue
            errors[exception or "(no traceback)"].append(path)
            path = None
        if line.startswith("Internal Server Error: "):
            path, exception, in_traceback = line.removeprefix("Internal Server Error: "), None, False
    return errors


def check_token(site):
    """The editor run means nothing if the token is not read: a wrong one must be a 401."""
    client = Client(site.port)
    path = "/api/v1/incidents/?page_size=1"
    right = client.get(path, Authorization=f"Token {site.token}").status
    wrong = client.get(path, Authorization="Token " + "0" * 40).status
    if (right, wrong) != (200, 401):
        raise SystemExit(f"{LABEL} FAILED: the editor's token gives {right}, a wrong one {wrong}")


# ---------------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL, (re)created and dropped; without it DATABASE_URL's server, else SQLite",
    )
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=WORKERS, help="schemathesis's concurrent workers")
    parser.add_argument("--as", dest="identities", default=",".join(IDENTITIES), help="anonymous,editor")
    parser.add_argument("--run-timeout", type=int, default=RUN_TIMEOUT_S, help="seconds for one st run")
    parser.add_argument("--report-dir", default="", help="keep schemathesis's reports here")
    parser.add_argument("--keep", action="store_true", help="keep the database (and print where it is)")
    args = parser.parse_args(argv)
    identities = args.identities.split(",")
    if set(identities) - set(IDENTITIES):
        parser.error(f"--as takes some of {', '.join(IDENTITIES)}")

    started = time.monotonic()
    url = database_url(args.database_url)
    outcomes = []
    with production_site(url, args.port, args.keep) as site:
        print(
            f"== {'PostgreSQL' if site.database.postgres else 'SQLite'} with the seed data, gunicorn "
            f"--config config/gunicorn.py (DEBUG=false) at {site.base_url}, {time.monotonic() - started:.0f} s",
            flush=True,
        )
        check_token(site)
        schema = json.loads(Client(site.port).get(SCHEMA_PATH).body)
        expected = schema_operations(schema)
        reports = Path(args.report_dir).resolve() if args.report_dir else Path(site.workdir) / "reports"
        # Anonymous first: the editor's writes change what the public sees.
        for identity in identities:
            print(f"\n== st run, {identity}: {len(expected)} operations in the schema", flush=True)
            folder = reports / identity
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            config_file = folder / "schemathesis.toml"
            records = visible_records(site, identity)
            config_file.write_text(
                schemathesis_config(identity, records, args.seed, args.workers, args.max_examples)
            )
            code, seconds = run_schemathesis(site, identity, config_file, folder, args.run_timeout)
            report_file = newest(folder, "*.json")
            report = json.loads(report_file.read_text()) if report_file else None
            outcomes.append(
                Outcome(identity, code, seconds, report, read_events(newest(folder, "*.ndjson")), expected)
            )
        if args.report_dir:
            print(f"\nreports: {reports}")
        errors = server_errors(site.server)

    seconds = time.monotonic() - started
    print(f"\n== {LABEL} summary (seed {args.seed}, {args.max_examples} examples per operation and phase)")
    for outcome in outcomes:
        for line in outcome.lines():
            print(line)
    if errors:
        print(f"server errors in gunicorn's log: {sum(map(len, errors.values()))}")
        for exception, paths in sorted(errors.items(), key=lambda item: -len(item[1])):
            print(f"  {len(paths)} x {exception}\n      e.g. {paths[0]}")
    failed = [outcome.identity for outcome in outcomes if outcome.failed]
    if failed:
        print(f"\n{LABEL} FAILED ({', '.join(failed)}), {seconds:.0f} s")
        return 1
    print(f"\n{LABEL} passed, {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
