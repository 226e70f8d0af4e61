"""The security suite, run against the production setup over real HTTP.

    python -m ops.security_check [--database-url postgres://...] [--require-redis]
                                 [--gunicorn-config config/gunicorn.py] [--keep]

It builds a fresh database (a temporary SQLite file, or the PostgreSQL database named by
--database-url, created and dropped), loads the seed data plus 3,000 generated incidents,
and starts gunicorn exactly as `make serve` does (`gunicorn --config config/gunicorn.py`,
DEBUG=false, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, SECURE_SSL_REDIRECT=false) on
a free 127.0.0.1 port. The rest of the environment is inherited, so a setting that undoes
a protection (NUM_PROXIES=1, say) makes the check fail. Every request goes to 127.0.0.1;
clients bind other loopback source addresses (127.0.0.x) to be different clients.

Checks (docs/security.md says why each matters):

- headers: Content-Security-Policy (scripts from the site only, no framing, no plugins),
  HSTS on HTTPS requests, nosniff, X-Frame-Options, Referrer-Policy, secure cookies;
- no debug pages: an unknown URL is a JSON 404, a server error a JSON 500 without a
  traceback;
- the anonymous throttle counts by socket address: X-Forwarded-For does not escape it, in
  one process and, with REDIS_URL, across two worker processes; more than one process
  without REDIS_URL is refused;
- the admin login locks a username at an address after LOGIN_FAILURE_LIMIT failures, even
  for the right password and whatever X-Forwarded-For says, only that pair, and a success
  resets the count;
- slow clients: four clients reading an NDJSON export slowly for longer than the worker
  timeout do not delay /healthz, and each gets the whole export.

It prints one line per check and exits 1 if any failed. Bounded: a few hundred requests,
about a minute.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"

ANON_RATE = 10  # per minute, for the throttle checks
LOGIN_FAILURE_LIMIT = 5
EDITOR = "security-check-editor"
GENERATED_INCIDENTS = 3000

# The slow clients, unless the command line says otherwise (docs/operations.md measures
# two readers of a 20,000-incident database this way, for a minute).
SLOW_READERS = 4  # more than the 2 sync workers that used to be starved by 2
SLOW_SECONDS = 8.0  # longer than the worker timeout below: the old setup killed workers at theirs
SLOW_WORKER_TIMEOUT_S = 5
SLOW_RATE = 80_000  # bytes a second while slow
SLOW_READ_PAUSE_S = 0.05
SLOW_RECEIVE_BUFFER = 16384  # a small window, so the server cannot hand the export to the kernel at once
HEALTH_LIMIT_S = 1.0
HEALTH_EVERY_S = 0.2

# Settings the check sets itself; everything else comes from the caller's environment.
CONTROLLED = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "REDIS_URL",
    "WORKERS",
    "BIND",
    "API_CACHE_SECONDS",
    "THROTTLE_ANON_RATE",
    "LOGIN_FAILURE_LIMIT",
    "WORKER_TIMEOUT_S",
    "DJANGO_SETTINGS_MODULE",
)


class Report:
    def __init__(self):
        self.failures = []
        self.notes = []

    def check(self, ok, what, detail=""):
        line = f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else "")
        print(line, flush=True)
        if not ok:
            self.failures.append(line)
        return ok

    def note(self, text):
        print(f"     {text}", flush=True)
        self.notes.append(text)


# ---------------------------------------------------------------------------- HTTP


class Answer:
    def __init__(self, status, headers, body, seconds):
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds

    def header(self, name):
        return self.headers.get(name.lower(), "")

    def cookies(self):
        jar = {}
        for line in self.headers.get("set-cookie-all", []):
            name, _, rest = line.partition("=")
            jar[name.strip()] = (rest.split(";", 1)[0], line)
        return jar


class Client:
    """One loopback client: its own source address, a new connection per request."""

    def __init__(self, port, source="127.0.0.1"):
        self.port, self.source = port, source

    def request(self, method, path, body=None, headers=None, timeout=15):
        connection = http.client.HTTPConnection(
            HOST, self.port, timeout=timeout, source_address=(self.source, 0)
        )
        started = time.monotonic()
        try:
            connection.request(
                method, path, body=body, headers={"Host": f"{HOST}:{self.port}", **(headers or {})}
            )
            response = connection.getresponse()
            data = response.read()
            headers = {name.lower(): value for name, value in response.getheaders()}
            headers["set-cookie-all"] = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
            return Answer(response.status, headers, data, time.monotonic() - started)
        except (OSError, http.client.HTTPException) as error:
            return Answer(0, {"error": repr(error)}, b"", time.monotonic() - started)
        finally:
            connection.close()

    def get(self, path, **headers):
        return self.request("GET", path, headers=headers)


def loopback(n):
    return f"127.0.0.{n}"


def random_forwarded_for():
    return ".".join(str(secrets.randbelow(254) + 1) for _ in range(4))


# ---------------------------------------------------------------------------- setup


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def base_env(database_url, **extra):
    env = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=database_url,
        API_CACHE_SECONDS="0",
        THROTTLE_ANON_RATE=f"{ANON_RATE}/minute",
        LOGIN_FAILURE_LIMIT=str(LOGIN_FAILURE_LIMIT),
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "ERROR"),
    )
    env.update(extra)
    return env


def manage(env, *args, label="security check"):
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(
            f"{label} FAILED: manage.py {' '.join(args)} exited with {done.returncode}:\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    return done


class Database:
    """A fresh database for the check: a temporary SQLite file, or a PostgreSQL database."""

    def __init__(self, url, workdir):
        if url:
            parsed = urllib.parse.urlparse(url)
            self.postgres = parsed
            self.name = parsed.path.lstrip("/")
            if not re.fullmatch(r"[A-Za-z0-9_]+", self.name):
                raise SystemExit(f"security_check: unusable database name {self.name!r}")
            self.url = url
        else:
            self.postgres = None
            self.path = Path(workdir) / "security_check.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def _admin(self, statement):
        import psycopg

        p = self.postgres
        admin = p._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(statement)

    def create(self):
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def execute(self, statement):
        """One statement on the database behind the server's back (to break it on purpose)."""
        if self.postgres:
            import psycopg

            with psycopg.connect(self.url.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
                c.execute(statement)
        else:
            with sqlite3.connect(self.path) as connection:
                connection.execute(statement)


def prepare(env, password, incidents):
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "load_seeds", "-v0")
    manage(env, "generate_incidents", "--count", str(incidents), "--seed", "3")
    manage(env, "collectstatic", "--no-input", "-v0")
    script = (
        "import os\n"
        "from django.contrib.auth.models import Group, User\n"
        f"user = User.objects.create_user({EDITOR!r}, password=os.environ['CHECK_PASSWORD'], is_staff=True)\n"
        "user.groups.add(Group.objects.get(name='editors'))\n"
    )
    manage({**env, "CHECK_PASSWORD": password}, "shell", "--no-imports", "-c", script)


class Server:
    def __init__(self, env, config, port, label="security_check"):
        self.env, self.config, self.port, self.label = env, config, port, label
        self.proc = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - open for the life of the server

    def start(self, wait=True):
        env = {**self.env, "BIND": f"{HOST}:{self.port}"}
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "--config", self.config],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait:
            return self
        client = Client(self.port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"{self.label}: gunicorn exited with {self.proc.returncode}:\n{self.output()}"
                )
            if client.get("/healthz").status == 200:
                return self
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{self.label}: gunicorn did not answer /healthz in 30 s:\n{self.output()}")

    def workers(self):
        """The worker processes of this gunicorn (children of its master)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                children.append(int(stat.parent.name))
        return children

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# ---------------------------------------------------------------------------- checks


def check_headers(report, port):
    client = Client(port, loopback(30))
    pages = {
        "admin login": ("/admin/login/", "text/html"),
        "browsable API": ("/api/v1/", "text/html"),
        "Swagger UI": ("/api/v1/docs/", "text/html"),
        "Redoc": ("/api/v1/redoc/", "text/html"),
        "JSON API": ("/api/v1/actors/?page_size=1", "application/json"),
        "health": ("/healthz", "application/json"),
    }
    for label, (path, accept) in pages.items():
        answer = client.get(path, Accept=accept, **{"X-Forwarded-Proto": "https"})
        csp = answer.header("content-security-policy")
        directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
        script = directives.get("script-src", directives.get("default-src", []))
        problems = []
        if answer.status != 200:
            problems.append(f"status {answer.status}")
        if not csp:
            problems.append("no Content-Security-Policy")
        else:
            if not script or any(s in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:") for s in script):
                problems.append(f"script-src {' '.join(script) or 'missing'}")
            if directives.get("frame-ancestors") != ["'none'"]:
                problems.append("frame-ancestors is not 'none'")
            if directives.get("object-src") != ["'none'"]:
                problems.append("object-src is not 'none'")
        if answer.header("x-content-type-options") != "nosniff":
            problems.append("no X-Content-Type-Options: nosniff")
        if answer.header("x-frame-options") != "DENY":
            problems.append("X-Frame-Options is not DENY")
        if not answer.header("referrer-policy"):
            problems.append("no Referrer-Policy")
        hsts_wanted = os.environ.get("SECURE_HSTS_SECONDS", "") != "0"
        hsts = answer.header("strict-transport-security")
        if hsts_wanted and not re.match(r"max-age=[1-9]\d*", hsts):
            problems.append("no HSTS on an HTTPS request")
        report.check(not problems, f"headers, {label} ({path})", "; ".join(problems) or csp[:60] + "...")

    cookies = client.get("/admin/login/").cookies()
    csrf = cookies.get("csrftoken", ("", ""))[1].lower()
    report.check("secure" in csrf and "samesite" in csrf, "the CSRF cookie is Secure and SameSite", csrf[:80])


def check_no_debug_pages(report, port, database):
    client = Client(port, loopback(31))
    answer = client.get("/no-such-page/", Accept="text/html")
    report.check(
        answer.status == 404 and answer.header("content-type").startswith("application/json"),
        "an unknown URL is a JSON 404, not a debug page",
        f"{answer.status} {answer.header('content-type')}",
    )
    # A real server error: the table the sources list reads is renamed behind the server.
    database.execute("ALTER TABLE incidents_source RENAME TO incidents_source_hidden")
    try:
        answer = client.get("/api/v1/sources/", Accept="text/html")
    finally:
        database.execute("ALTER TABLE incidents_source_hidden RENAME TO incidents_source")
    text = answer.body.decode(errors="replace")
    report.check(
        answer.status == 500
        and answer.header("content-type").startswith("application/json")
        and "Traceback" not in text
        and "incidents_source" not in text,
        "a server error is a JSON 500 without a traceback",
        f"{answer.status} {answer.header('content-type')} {text[:60]!r}",
    )


def throttle_run(port, source, requests):
    client = Client(port, source)
    answers = [
        client.get("/api/v1/actors/?page_size=1", **{"X-Forwarded-For": random_forwarded_for()})
        for _ in range(requests)
    ]
    return [a.status for a in answers], answers


def check_throttle(report, port, label, requests):
    codes, answers = throttle_run(port, loopback(2 if label == "one process" else 8), requests)
    passed = codes.count(200)
    refused = [a for a in answers if a.status == 429]
    report.check(
        passed == ANON_RATE and len(refused) == requests - ANON_RATE,
        f"throttle ({label}): {requests} requests from one address, each with a new X-Forwarded-For",
        f"{passed} answered, {len(refused)} refused with 429 (limit {ANON_RATE}/minute)",
    )
    if refused:
        report.check(
            int(refused[0].header("retry-after") or 0) > 0, f"throttle ({label}): 429 carries Retry-After"
        )
    other = Client(port, loopback(3 if label == "one process" else 9)).get("/api/v1/actors/?page_size=1")
    report.check(
        other.status == 200, f"throttle ({label}): another address is not affected", str(other.status)
    )


def login(client, username, password, forwarded_for=None):
    extra = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = client.get("/admin/login/", **extra)
    cookie = page.cookies().get("csrftoken", ("", ""))[0]
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    if page.status != 200 or not cookie or not match:
        return 0
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": match.group(1).decode(), "username": username, "password": password}
    )
    answer = client.request(
        "POST",
        "/admin/login/?next=/admin/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
            **extra,
        },
    )
    return answer.status


def check_login_lockout(report, port, password):
    attacker = Client(port, loopback(4))
    wrong = [
        login(attacker, EDITOR, f"wrong-{n}", forwarded_for=random_forwarded_for())
        for n in range(LOGIN_FAILURE_LIMIT)
    ]
    report.check(
        all(code == 200 for code in wrong[:-1]) and wrong[-1] in (200, 429),
        f"login: {LOGIN_FAILURE_LIMIT} wrong passwords are each refused",
        " ".join(map(str, wrong)),
    )
    right = login(attacker, EDITOR, password, forwarded_for=random_forwarded_for())
    report.check(
        right == 429,
        f"login: locked after {LOGIN_FAILURE_LIMIT} failures, the right password too (X-Forwarded-For varied)",
        f"answered {right} (302 would be a login)",
    )
    elsewhere = login(Client(port, loopback(5)), EDITOR, password)
    report.check(elsewhere == 302, "login: the same user from another address still logs in", str(elsewhere))

    person = Client(port, loopback(6))
    codes = [login(person, EDITOR, f"typo-{n}") for n in range(LOGIN_FAILURE_LIMIT - 1)]
    codes.append(login(person, EDITOR, password))
    codes += [login(person, EDITOR, f"typo-again-{n}") for n in range(LOGIN_FAILURE_LIMIT - 1)]
    codes.append(login(person, EDITOR, password))
    report.check(
        codes[-1] == 302 and codes[LOGIN_FAILURE_LIMIT - 1] == 302,
        "login: a success resets the failure count",
        " ".join(map(str, codes)),
    )


class SlowReader(threading.Thread):
    """Reads an export slowly for `seconds` through a small receive window, then at full speed."""

    def __init__(self, port, source, path, seconds, rate):
        super().__init__(daemon=True)
        self.port, self.source, self.path = port, source, path
        self.slow_seconds, self.slow_bytes = seconds, max(1, int(rate * SLOW_READ_PAUSE_S))
        self.body, self.error, self.read_slowly, self.seconds = b"", None, 0, 0.0

    def run(self):
        started = time.monotonic()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RECEIVE_BUFFER)
                sock.bind((self.source, 0))
                sock.settimeout(60)
                sock.connect((HOST, self.port))
                request = f"GET {self.path} HTTP/1.0\r\nHost: {HOST}:{self.port}\r\n\r\n"
                sock.sendall(request.encode())
                raw = bytearray()
                slow_until = time.monotonic() + self.slow_seconds
                while True:
                    slow = time.monotonic() < slow_until
                    chunk = sock.recv(self.slow_bytes if slow else 1 << 16)
                    if not chunk:
                        break
                    raw += chunk
                    if slow:
                        self.read_slowly = len(raw)
                        time.sleep(SLOW_READ_PAUSE_S)
            head, _, self.body = bytes(raw).partition(b"\r\n\r\n")
            self.status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        except OSError as error:
            self.error = repr(error)
        self.seconds = time.monotonic() - started


def check_slow_clients(report, port, readers=SLOW_READERS, seconds=SLOW_SECONDS, rate=SLOW_RATE):
    path = "/api/v1/incidents/?format=ndjson"
    reference = Client(port, loopback(40)).request("GET", path, timeout=120)
    count = json.loads(Client(port, loopback(41)).get("/api/v1/incidents/?page_size=1").body)["count"]
    lines = reference.body.splitlines()
    if not report.check(
        reference.status == 200 and len(lines) == count,
        "export: a fast NDJSON download is whole",
        f"{len(reference.body):,} bytes, {len(lines):,} lines, {count:,} published incidents, "
        f"in {reference.seconds:.1f} s",
    ):
        return
    expected = hashlib.sha256(reference.body).hexdigest()

    readers = [SlowReader(port, loopback(50 + n), path, seconds, rate) for n in range(readers)]
    for reader in readers:
        reader.start()
    time.sleep(0.5)
    health = Client(port, loopback(60))
    polls = []
    deadline = time.monotonic() + seconds + 120
    while any(r.is_alive() for r in readers) and time.monotonic() < deadline:
        answer = health.request("GET", "/healthz", timeout=5)
        polls.append((answer.status, answer.seconds))
        time.sleep(HEALTH_EVERY_S)
    for reader in readers:
        reader.join(timeout=60)

    times = [seconds for _, seconds in polls]
    slow_polls = [
        (status, round(seconds, 3)) for status, seconds in polls if status != 200 or seconds > HEALTH_LIMIT_S
    ]
    report.check(
        bool(polls) and not slow_polls,
        f"slow clients: /healthz answers within {HEALTH_LIMIT_S} s while {len(readers)} clients "
        f"read an export at {rate / 1000:.0f} KB/s for {seconds:.0f} s",
        f"{len(polls)} polls, median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
        + (f"; {len(slow_polls)} slow or failed, e.g. {slow_polls[:5]}" if slow_polls else ""),
    )
    for n, reader in enumerate(readers, start=1):
        whole = reader.error is None and hashlib.sha256(reader.body).hexdigest() == expected
        report.check(
            whole,
            f"slow clients: reader {n} got the whole export",
            reader.error
            or f"{len(reader.body):,} of {len(reference.body):,} bytes in {reader.seconds:.1f} s "
            f"({reader.read_slowly:,} read slowly), {getattr(reader, 'status_line', '')}",
        )
    held = min(len(reference.body) - r.read_slowly for r in readers)
    report.check(
        held > 1_000_000,
        "slow clients: the export outlasted the slow phase (the server was kept streaming)",
        f"at least {held:,} bytes were left after {seconds:.0f} s",
    )


def redis_reachable(url):
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()
        return True
    except Exception:  # any failure means "not usable here"
        return False


def check_one_process_without_redis(report, env, config):
    server = Server({**env, "WORKERS": "2"}, config, free_port()).start(wait=False)
    try:
        code = server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        code = None
        server.stop()
    report.check(
        code not in (None, 0) and "REDIS_URL" in server.output(),
        "WORKERS=2 without REDIS_URL is refused (separate processes would each throttle alone)",
        f"exit code {code}",
    )


# ---------------------------------------------------------------------------- main


CHECKS = ("headers", "throttle", "login", "slow-clients", "errors", "processes")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="", help="a PostgreSQL URL; the database is (re)created and dropped"
    )
    parser.add_argument("--gunicorn-config", default="config/gunicorn.py")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SECURITY_CHECK_REDIS_URL", "redis://127.0.0.1:6379/7"),
        help="a Redis database the check may empty, for the two-process throttle check",
    )
    parser.add_argument("--require-redis", action="store_true", help="fail instead of skipping without Redis")
    parser.add_argument("--only", default=",".join(CHECKS), help=f"some of: {', '.join(CHECKS)}")
    parser.add_argument("--incidents", type=int, default=GENERATED_INCIDENTS, help="generated incidents")
    parser.add_argument("--slow-readers", type=int, default=SLOW_READERS)
    parser.add_argument("--slow-seconds", type=float, default=SLOW_SECONDS)
    parser.add_argument("--slow-rate", type=int, default=SLOW_RATE, help="bytes a second while slow")
    parser.add_argument(
        "--worker-timeout",
        type=int,
        default=SLOW_WORKER_TIMEOUT_S,
        help="WORKER_TIMEOUT_S for the server, below --slow-seconds so a download outlives it",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (and print where it is)")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if only - set(CHECKS):
        parser.error(f"unknown checks: {', '.join(sorted(only - set(CHECKS)))}")

    started = time.monotonic()
    report = Report()
    workdir = tempfile.mkdtemp(prefix="security-check-")
    database = Database(args.database_url, workdir)
    password = secrets.token_urlsafe(18)
    servers = []
    try:
        database.create()
        env = base_env(database.url, WORKER_TIMEOUT_S=str(args.worker_timeout))
        prepare(env, password, args.incidents)
        print(
            f"== database ready ({'PostgreSQL' if database.postgres else 'SQLite'}), "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )

        print(f"== gunicorn --config {args.gunicorn_config}, production settings, no REDIS_URL", flush=True)
        server = Server(env, args.gunicorn_config, free_port()).start()
        servers.append(server)
        report.note(f"{len(server.workers())} worker process(es), WORKER_TIMEOUT_S={args.worker_timeout}")
        if "headers" in only:
            check_headers(report, server.port)
        if "throttle" in only:
            check_throttle(report, server.port, "one process", ANON_RATE + 5)
        if "login" in only:
            check_login_lockout(report, server.port, password)
        if "slow-clients" in only:
            check_slow_clients(report, server.port, args.slow_readers, args.slow_seconds, args.slow_rate)
        if "errors" in only:
            check_no_debug_pages(report, server.port, database)
        server.stop()

        if "processes" in only:
            print("== more than one process", flush=True)
            check_one_process_without_redis(report, env, args.gunicorn_config)
            if redis_reachable(args.redis_url):
                server = Server(
                    {**env, "WORKERS": "2", "REDIS_URL": args.redis_url}, args.gunicorn_config, free_port()
                )
                servers.append(server.start())
                workers = len(server.workers())
                report.check(workers == 2, "two worker processes with REDIS_URL", f"{workers} running")
                check_throttle(report, server.port, "two processes, REDIS_URL", ANON_RATE + 15)
                server.stop()
            else:
                report.check(
                    not args.require_redis,
                    f"throttle across two processes: no Redis at {args.redis_url}",
                    "skipped" if not args.require_redis else "required by --require-redis",
                )
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print(f"kept: {database.url}")
        else:
            database.drop()
            shutil.rmtree(workdir, ignore_errors=True)

    seconds = time.monotonic() - started
    if report.failures:
        print(f"\nsecurity check FAILED ({len(report.failures)} of the checks above), {seconds:.0f} s:")
        for line in report.failures:
            print("  " + line)
        return 1
    print(f"\nsecurity check passed, {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
