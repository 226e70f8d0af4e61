"""Docs as tests: every example in README.md and docs/*.md that shows a command and its output
runs here, over real HTTP, against a fresh database holding the seed data exactly as `make run`
builds it (migrate, then `manage.py load_seeds`), and must print what the page shows.

The convention (CONTRIBUTING.md, "Examples in the docs", says the same for writers):

- **An example** is a line beginning `$ ` inside a fenced code block: the command (lines ending
  in `\\` continue it), then its output, up to the next `$ ` line or the end of the block.
  Commands name http://127.0.0.1:8000, what `make run` serves. Each runs in bash, with the real
  curl and jq, in a scratch folder; the live server's address replaces 127.0.0.1:8000 in the
  command and is put back in the output. What a terminal would show counts: stdout and stderr.
  (An example whose command needs a program the machine lacks, jq say, is skipped, saying so.)
- **Comparison.** When the expected output is JSON (one document, or one value per line as
  `jq -c` prints), both sides are parsed and compared as JSON: values, types and key order.
  Anything else is compared line by line (trailing spaces ignored).
- **Elision**, only for what differs from run to run or is too long to help the reader:
  in text, `…` inside a line matches any characters, and a line that is only `…` matches any
  number of lines; in JSON, the string `"…"` matches any value, an array item `"…"` any number
  of items, a key `"…"` (any value) any further keys, and `…` inside a string any characters.
- **Marks**: HTML comments on the lines right above a block's opening fence.
  `<!-- example: not run: REASON -->`  its commands are not run (they need a benchmark machine,
      a production server, …). The reason is required; nothing else excuses a command.
  `<!-- example: sqlite -->`, `<!-- example: postgresql -->`  the output is that database's
      (full-text search differs); on the other database the block's examples are skipped.
  `<!-- example: session NAME -->`  blocks whose commands depend on each other (writes). Every
      command of the session gets its own test, which first runs the commands before it, in
      page order, on a fresh seed database.
  `<!-- example: file NAME -->`  not an example: the block is the content of file NAME in the
      scratch folder, for commands that read it (`-d @NAME`).
- Commands see `$TOKEN`, the API token of `amina`, an editor made as README.md's "Editors"
  section makes her, and `$REVIEWER_TOKEN`, that of `bahrom`, a second editor.
- Every example starts from the same database: the test database emptied (ids from 1), given
  back what the migrations made, then `load_seeds`, then those two accounts; one a command
  wrote to is rebuilt before the next example. A fresh load numbers records in the order of the fixture files
  (test_a_fresh_load_numbers_records_in_fixture_order), which is what makes ids, cursors and
  the order of incidents with the same start date (ties break on id) the same everywhere.
- test_every_command_block_is_runnable_or_marked fails on a block that looks like a command
  with output but is not in this form (a curl without `$ `, a `$ ` command with `...` in it or
  outside a fenced block, a `>>>` session, a mark with no reason), so no example escapes.

Without curl, a stand-in written here (`curl_stand_in`) makes the requests, for the options the
docs use; test_the_curl_stand_in_prints_what_curl_prints keeps it honest against the real one.
"""

import difflib
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCUMENTED_URL = "http://127.0.0.1:8000"
PORTS = range(8671, 8680)  # this suite's live servers (8670 is left for a manual `runserver`)
ELIDED = "…"
COMMAND_TIMEOUT_S = 120

# -- Reading the examples ---------------------------------------------------------------------------

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
MARK = re.compile(r"^\s*<!--\s*example:\s*(?P<mark>.*?)\s*-->\s*$")
MARK_WORDS = ("not run", "sqlite", "postgresql", "session", "file")


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    lines: list  # the content, the fence's indentation removed
    marks: list = field(default_factory=list)

    @property
    def where(self):
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def mark(self, word):
        """The text after `word` of this block's mark starting with it (None: no such mark)."""
        for mark in self.marks:
            if mark == word or mark.startswith(word + " ") or mark.startswith(word + ":"):
                return mark[len(word) :].lstrip(" :")
        return None


@dataclass
class Example:
    block: Block
    line: int  # of the `$ ` line
    command: str
    expected: list  # output lines

    @property
    def where(self):
        return f"{self.block.path.relative_to(ROOT)}:{self.line}"


def read_blocks(path):
    """Every fenced code block of a Markdown file, with the marks right above it."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks, number = [], 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = number + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        marks, above = [], number - 1
        while above >= 0 and MARK.match(lines[above]):
            marks.insert(0, MARK.match(lines[above])["mark"])
            above -= 1
        content = [line[indent:] if line[:indent].strip() == "" else line for line in lines[number + 1 : end]]
        blocks.append(Block(path, number + 1, opening["lang"], content, marks))
        number = end + 1
    return blocks


def examples_of(block):
    """The `$ ` commands of a block with the output each shows."""
    found, number = [], 0
    lines = block.lines
    while number < len(lines):
        if not lines[number].startswith("$ "):
            number += 1
            continue
        start = number
        command = [lines[number][2:]]
        while command[-1].endswith("\\") and number + 1 < len(lines):
            number += 1
            command.append(lines[number])
        number += 1
        output = []
        while number < len(lines) and not lines[number].startswith("$ "):
            output.append(lines[number].rstrip())
            number += 1
        while output and not output[-1]:
            output.pop()
        found.append(Example(block, block.line + 1 + start, "\n".join(command), output))
    return found


def all_blocks():
    return [block for path in DOCUMENTS for block in read_blocks(path)]


def runnable_examples():
    return [
        example
        for block in all_blocks()
        if block.mark("not run") is None and block.mark("file") is None
        for example in examples_of(block)
    ]


EXAMPLES = runnable_examples()


# -- Comparing output -------------------------------------------------------------------------------


def parse_json_values(text):
    """The JSON values `text` holds, one after another (None: it is not only JSON)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    text = text.strip()
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            return None
        values.append(value)
        while position < len(text) and text[position].isspace():
            position += 1
    return values or None


def _pattern(text):
    """A regular expression for a line or string in which `…` stands for any characters."""
    return re.compile(".*".join(re.escape(part) for part in text.split(ELIDED)), re.DOTALL)


def json_difference(expected, actual, path="$"):
    """Where `actual` departs from `expected` under the elision rules, or None."""
    if expected == ELIDED:
        return None
    if isinstance(expected, str) and ELIDED in expected:
        if isinstance(actual, str) and _pattern(expected).fullmatch(actual):
            return None
        return f"{path}: expected a string like {expected!r}, got {actual!r}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        keys = [key for key in expected if key != ELIDED]
        missing = [key for key in keys if key not in actual]
        if missing:
            return f"{path}: missing {missing}"
        if ELIDED not in expected and list(actual) != keys:
            return f"{path}: expected the keys {keys}, got {list(actual)}"
        if [key for key in actual if key in expected] != keys:
            return f"{path}: expected the keys in the order {keys}, got {list(actual)}"
        for key in keys:
            found = json_difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {actual!r}"
        return _list_difference(expected, actual, path)
    same_kind = type(expected) is type(actual) or (
        {type(expected), type(actual)} <= {int, float} and not isinstance(actual, bool)
    )
    if same_kind and expected == actual:
        return None
    return f"{path}: expected {expected!r}, got {actual!r}"


def _list_difference(expected, actual, path, offset=0):
    if not expected:
        return None if not actual else f"{path}: {len(actual)} more items than shown: {actual[:3]!r}…"
    if expected[0] == ELIDED:
        for skip in range(len(actual) + 1):
            if _list_difference(expected[1:], actual[skip:], path, offset + skip) is None:
                return None
        return f"{path}: no run of items matches what follows the elided ones"
    if not actual:
        return f"{path}: {len(expected)} fewer items than shown, from [{offset}]"
    return json_difference(expected[0], actual[0], f"{path}[{offset}]") or _list_difference(
        expected[1:], actual[1:], path, offset + 1
    )


def lines_match(expected, actual):
    """Line by line, `…` inside a line for any characters, a line `…` for any lines."""
    if not expected:
        return not actual
    if expected[0] == ELIDED:
        return any(lines_match(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    if not actual:
        return False
    head = expected[0] == actual[0] or (ELIDED in expected[0] and _pattern(expected[0]).fullmatch(actual[0]))
    return bool(head) and lines_match(expected[1:], actual[1:])


def output_difference(expected_lines, actual_text):
    """None if the output is what the page shows, else a readable account of the difference."""
    actual_lines = [line.rstrip() for line in actual_text.split("\n")]
    while actual_lines and not actual_lines[-1]:
        actual_lines.pop()
    expected_values = parse_json_values("\n".join(expected_lines))
    if expected_values is not None:
        actual_values = parse_json_values("\n".join(actual_lines))
        if actual_values is None:
            why = "the page shows JSON; the command printed something else"
        elif len(actual_values) != len(expected_values):
            why = (
                f"the page shows {len(expected_values)} JSON values; the command printed {len(actual_values)}"
            )
        else:
            why = next(
                (
                    f"value {number + 1}, {found}"
                    for number, (one, other) in enumerate(zip(expected_values, actual_values, strict=True))
                    if (found := json_difference(one, other))
                ),
                None,
            )
            if why is None:
                return None
    elif lines_match(expected_lines, actual_lines):
        return None
    else:
        why = "the lines differ"
    diff = difflib.unified_diff(expected_lines, actual_lines, "the page", "the server", lineterm="", n=2)
    return why + "\n" + "\n".join(diff)


# -- Running a command ------------------------------------------------------------------------------


def programs_of(command):
    """The programs a shell command line starts (the first word of each pipeline stage)."""
    lexer = shlex.shlex(command.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    programs, starts = [], True
    for token in lexer:
        if token in ("|", "||", "&&", ";", "|&", "&"):
            starts = True
        elif starts and "=" not in token:  # an assignment (VAR=x cmd) is not the program
            programs.append(token)
            starts = False
    return programs


def run_command(command, base_url, folder, env):
    """What a terminal shows for `command` run against the live server at `base_url`."""
    completed = subprocess.run(
        ["bash", "-c", command.replace(DOCUMENTED_URL, base_url)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    return completed.stdout.decode("utf-8", errors="replace").replace(base_url, DOCUMENTED_URL)


# -- The curl stand-in, for machines without curl ---------------------------------------------------

CURL_FLAGS = {"s": "silent", "S": "show-error", "G": "get", "I": "head", "i": "include"}
CURL_VALUES = {
    "-w": "write-out",
    "--write-out": "write-out",
    "-H": "header",
    "--header": "header",
    "-X": "request",
    "--request": "request",
    "-d": "data",
    "--data": "data",
    "--data-raw": "data-raw",
    "--data-binary": "data-binary",
    "--data-urlencode": "data-urlencode",
    "-D": "dump-header",
    "--dump-header": "dump-header",
    "-o": "output",
    "--output": "output",
}


def curl_stand_in(argv, out=None):
    """The curl options the docs use, done with http.client; prints what curl prints."""
    out = out or sys.stdout.buffer
    options, data, headers, url = {}, [], [], None
    arguments = iter(argv)
    for argument in arguments:
        if argument in CURL_VALUES:
            name, value = CURL_VALUES[argument], next(arguments)
            if name == "header":
                headers.append(value)
            elif name.startswith("data"):
                data.append(_curl_data(name, value))
            else:
                options[name] = value
        elif re.fullmatch(r"-[sSGIi]+", argument):
            options.update({CURL_FLAGS[letter]: True for letter in argument[1:]})
        elif argument.startswith("-"):
            sys.stderr.write(f"curl stand-in: {argument} is not supported; install curl\n")
            return 2
        else:
            url = argument
    body = "&".join(data).encode() if data else None
    method = options.get("request") or ("HEAD" if options.get("head") else "POST" if body else "GET")
    if options.get("get") and body is not None:
        url += ("&" if "?" in url else "?") + body.decode()
        body, method = None, options.get("request", "GET")
    parts = urllib.parse.urlsplit(url)
    sent = {"Host": parts.netloc, "User-Agent": "curl-stand-in", "Accept": "*/*"}
    if body is not None:
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    for header in headers:
        name, _, value = header.partition(":")
        sent = {key: val for key, val in sent.items() if key.lower() != name.strip().lower()}
        sent[name.strip()] = value.strip()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=COMMAND_TIMEOUT_S)
    connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body, sent)
    answer = connection.getresponse()
    content = answer.read()
    head = f"HTTP/1.1 {answer.status} {answer.reason}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in answer.getheaders()
    )
    if options.get("dump-header") == "-" or options.get("include") or options.get("head"):
        out.write((head + "\r\n").encode("latin-1"))
    if options.get("output") is None and not options.get("head"):
        out.write(content)
    elif options.get("output") not in (None, "/dev/null"):
        Path(options["output"]).write_bytes(content)
    if "write-out" in options:
        written = options["write-out"].replace("%{http_code}", str(answer.status))
        written = written.replace("%{content_type}", answer.getheader("Content-Type") or "")
        out.write(written.replace("\\n", "\n").encode())
    out.flush()
    return 0


def _curl_data(name, value):
    if name == "data-urlencode":
        key, _, text = value.rpartition("=")
        return f"{key}={urllib.parse.quote_plus(text)}" if key else urllib.parse.quote_plus(text)
    if value.startswith("@") and name != "data-raw":
        text = Path(value[1:]).read_text(encoding="utf-8")
        return text if name == "data-binary" else text.replace("\r", "").replace("\n", "")
    return value


def install_curl_stand_in(folder):
    """A `curl` in folder/bin that is curl_stand_in; returns the folder to put first on PATH."""
    bin_folder = Path(folder) / "bin"
    bin_folder.mkdir(exist_ok=True)
    script = bin_folder / "curl"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.tooling.test_docs_examples import curl_stand_in\n"
        "sys.exit(curl_stand_in(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return bin_folder


# -- The seed database and the live server ----------------------------------------------------------


def _free_port():
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"No free port in {PORTS.start}-{PORTS.stop - 1} for the live server.")


def fingerprint():
    """Row counts of every table: any write through the API adds history rows, so it shows."""
    from django.apps import apps

    return tuple(
        (model._meta.label, model._base_manager.count())
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    )


class SeedDatabase:
    """The database as `make run` leaves it: migrated, then `manage.py load_seeds`; plus the
    accounts the examples use. Rebuilt whenever an example wrote to it."""

    def __init__(self, migrated):
        self.migrated = migrated  # the freshly migrated database, serialized
        self.clean = None  # its fingerprint right after a build
        self.session = None  # ((page, session name), how many of its commands ran since the build)
        self.session_fingerprint = None  # the fingerprint after the last of them
        self.tokens = {}

    def build(self):
        from django.contrib.auth.models import Group, User
        from django.core.management import call_command
        from django.db import connection
        from rest_framework.authtoken.models import Token

        assert _is_test_database(connection)
        # reset_sequences: ids start at 1, as in a database that was just created.
        call_command("flush", verbosity=0, interactive=False, reset_sequences=True, inhibit_post_migrate=True)
        self._put_back_the_migrated_rows()
        call_command("load_seeds", stdout=StringIO())
        # As README.md's "Editors" section makes an editor and her token.
        for variable, name in (("TOKEN", "amina"), ("REVIEWER_TOKEN", "bahrom")):
            user = User.objects.create_user(name, is_staff=True)
            user.groups.add(Group.objects.get(name="editors"))
            self.tokens[variable] = Token.objects.create(user=user).key
        self.clean, self.session = fingerprint(), None

    def restore(self):
        """Leave the database as the migrations made it, for the tests that follow."""
        from django.core.management import call_command

        call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
        self._put_back_the_migrated_rows()

    def _put_back_the_migrated_rows(self):
        from django.apps import apps
        from django.core.management.color import no_style
        from django.db import connection

        connection.creation.deserialize_db_from_string(self.migrated)
        # The rows came back with their ids; PostgreSQL's sequences must move past them, or the
        # next content type or permission anyone creates would take a used id.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), apps.get_models(include_auto_created=True)
            ):
                cursor.execute(sql)


def _is_test_database(connection):
    """Whether the connection is to a test database (never empty anyone's real one)."""
    from django.db.backends.base.creation import TEST_DATABASE_PREFIX

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return True
    return name == connection.settings_dict["TEST"].get("NAME") or Path(name).name.startswith(
        TEST_DATABASE_PREFIX
    )


@pytest.fixture(scope="module")
def seed_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """A live server (pytest-django's) over the seed database, for the whole module."""
    from django.db import connection
    from django.test.utils import override_settings, setup_databases, teardown_databases
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        created = None
        if not _is_test_database(connection):
            # pytest-django makes test databases only for tests that ask for `db`; these use
            # this module's own, so when no other selected test asks, it is made here.
            created = setup_databases(
                verbosity=0, interactive=False, aliases={"default"}, serialized_aliases={"default"}
            )
        # What the migrations alone leave (the groups and their permissions) starts every build.
        # Django keeps a copy when asked to (test_a_fresh_load_numbers_records_in_fixture_order's
        # serialized_rollback asks); else the test database still holds it, unless a
        # transactional test emptied it.
        migrated = getattr(connection, "_test_serialized_contents", None)
        if migrated is None:
            from django.contrib.auth.models import Group

            if not Group.objects.filter(name="editors").exists():
                pytest.fail(
                    "The test database lost what its migrations made (a transactional test emptied "
                    "it): select test_a_fresh_load_numbers_records_in_fixture_order too, which has "
                    "pytest-django keep a copy.",
                    pytrace=False,
                )
            migrated = connection.creation.serialize_db_to_string()
        database = SeedDatabase(migrated)
        database.build()
        # DEBUG as `make run` has it (pytest runs with DEBUG off).
        with override_settings(DEBUG=True):
            server = LiveServer(f"127.0.0.1:{_free_port()}")
            server._live_server_modified_settings.enable()
            try:
                yield server, database, tmp_path_factory.mktemp("docs-examples")
            finally:
                server._live_server_modified_settings.disable()
                server.stop()
                database.restore()
                if created is not None:
                    teardown_databases(created, verbosity=0)


def _environment(folder, tokens):
    # Commands reach the service over HTTP only: none of the suite's database settings.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "DJANGO_"))}
    env.update(tokens)
    if shutil.which("curl") is None:
        env["PATH"] = f"{install_curl_stand_in(folder)}{os.pathsep}{env.get('PATH', '')}"
    return env


def _write_files(example, folder):
    for block in read_blocks(example.block.path):
        name = block.mark("file")
        if name:
            (Path(folder) / name).write_text("\n".join(block.lines) + "\n", encoding="utf-8")


def _session_before(example):
    """The commands of the example's session that come before it on its page."""
    name = example.block.mark("session")
    if not name:
        return []
    earlier = []
    for block in read_blocks(example.block.path):
        if block.mark("session") == name:
            for other in examples_of(block):
                if other.line == example.line:
                    return earlier
                earlier.append(other)
    return earlier


def _skip_reason(example, vendor):
    for database, vendors in (("sqlite", {"sqlite"}), ("postgresql", {"postgresql"})):
        if example.block.mark(database) is not None and vendor not in vendors:
            return f"the output shown is {database}'s"
    missing = [p for p in programs_of(example.command) if p != "curl" and shutil.which(p) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    return None


def run_example(example, server, database, folder):
    """Run the example on the seed database (after its session's earlier commands): its output."""
    from django.db import connection

    reason = _skip_reason(example, connection.vendor)
    if reason:
        pytest.skip(reason)
    before = _session_before(example)
    name = example.block.mark("session") and (example.block.path, example.block.mark("session"))
    done = len(before)
    continues = database.session == (name, done) and fingerprint() == database.session_fingerprint
    if not continues and (before or fingerprint() != database.clean):
        database.build()
    env = _environment(folder, database.tokens)
    _write_files(example, folder)
    if not continues:
        for earlier in before:
            run_command(earlier.command, server.url, folder, env)
    output = run_command(example.command, server.url, folder, env)
    if name:
        database.session, database.session_fingerprint = (name, done + 1), fingerprint()
    return output


# -- The tests --------------------------------------------------------------------------------------


@pytest.fixture
def live_seed(seed_server, django_db_blocker):
    # The live server's thread reaches the database while the test waits on the command.
    with django_db_blocker.unblock():
        yield seed_server


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.where for example in EXAMPLES])
def test_the_example_prints_what_the_page_shows(example, live_seed):
    server, database, folder = live_seed
    output = run_example(example, server, database, folder)
    difference = output_difference(example.expected, output)
    if difference:
        pytest.fail(f"{example.where}\n$ {example.command}\n{difference}", pytrace=False)


@pytest.mark.django_db(serialized_rollback=True)
def test_a_fresh_load_numbers_records_in_fixture_order(live_seed):
    """load_seeds creates records in fixture file order, each file in its own order, so a fresh
    database gives every record the id of its place there: the ids (and the cursors and ties
    that depend on them) the docs show are everyone's. (serialized_rollback: see seed_server.)"""
    from incidents.seeding import KEY_FIELDS, existing_keys

    for path in sorted((ROOT / "fixtures").glob("*.json")):
        records = json.loads(path.read_text(encoding="utf-8"))
        model = next(m for m in KEY_FIELDS if m._meta.label_lower == records[0]["model"])
        keys = []
        for record in records:
            parts = [record["fields"][name] for name in KEY_FIELDS[model]]
            keys.append(tuple(str(v) for part in parts for v in (part if isinstance(part, list) else [part])))
        found = existing_keys(model, set(keys))
        assert found == {key: place for place, key in enumerate(keys, start=1)}, path.name


# What a block must not look like if it is not a runnable example (or marked as not run).
PROMPTS = re.compile(r"^\s*(>>> |In \[\d+\]: |% )")
BARE_COMMAND = re.compile(r"^\s*(curl|http|https|wget)\s")
OUTPUT_LIKE = re.compile(r"^\s*([{\[\"]|HTTP/\d|\d+$)")
SHELL_LANGS = {"sh", "shell", "bash", "console", "shell-session", "zsh", ""}


def block_problems(block):
    """Why a block is neither a runnable example nor marked as not run (empty: it is fine)."""
    problems = []
    unknown = [mark for mark in block.marks if not mark.startswith(MARK_WORDS)]
    problems += [f"unknown mark {mark!r} (known: {', '.join(MARK_WORDS)})" for mark in unknown]
    if block.mark("not run") == "" or block.mark("file") == "" or block.mark("session") == "":
        problems.append("a mark without its reason or name")
    if block.mark("not run") is not None or block.mark("file") is not None:
        return problems
    examples = examples_of(block)
    for number, line in enumerate(block.lines, start=block.line + 1):
        if PROMPTS.match(line):
            problems.append(
                f"line {number}: an interactive session ({line.strip()[:20]!r}); use `$ ` commands"
            )
        if BARE_COMMAND.match(line) and not examples:
            problems.append(f"line {number}: a command without `$ `: {line.strip()[:60]!r}")
    for example in examples:
        if "..." in example.command or ELIDED in example.command:
            problems.append(f"line {example.line}: the command is elided (`...`), so it cannot be run")
    if not examples and block.lang in SHELL_LANGS and any(OUTPUT_LIKE.match(line) for line in block.lines):
        problems.append("output without the `$ ` command that prints it")
    return problems


def loose_commands(path):
    """`$ ` commands outside fenced blocks (an indented code block, a paragraph): never run."""
    fenced, found = False, []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and re.match(r"^\s*\$ \S", line):
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            found.append(f"{where}:{number}: a command outside a fenced block")
    return found


def test_every_command_block_is_runnable_or_marked():
    problems = [f"{block.where}: {problem}" for block in all_blocks() for problem in block_problems(block)]
    problems += [problem for path in DOCUMENTS for problem in loose_commands(path)]
    assert not problems, "Examples outside the convention (see this module's docstring):\n" + "\n".join(
        problems
    )


def test_the_examples_are_found():
    """A parsing slip would quietly test nothing: the docs do have examples, each with output."""
    assert len(EXAMPLES) >= 40
    assert {example.block.path.name for example in EXAMPLES} >= {"README.md", "api.md"}
    without_output = [example.where for example in EXAMPLES if not example.expected]
    assert not without_output, f"Commands that show no output: {without_output}"


# -- The convention's own rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ('{"a": 1, "b": [1, 2]}', '{"a":1,"b":[1,2]}', True),
        ('{"a": 1, "b": 2}', '{"b":2,"a":1}', False),  # key order counts
        ('{"a": 1}', '{"a":1,"b":2}', False),
        ('{"a": 1, "…": "…"}', '{"a":1,"b":2}', True),
        ('{"a": "…"}', '{"a":{"deep":[1]}}', True),
        ('{"a": "2026-…Z"}', '{"a":"2026-11-25T00:00:00Z"}', True),
        ('{"a": "2026-…Z"}', '{"a":"2025-11-25T00:00:00Z"}', False),
        ('[1, "…"]', "[1,2,3]", True),
        ('[1, "…", 3]', "[1,2,2,3]", True),
        ('[1, "…", 4]', "[1,2,3]", False),
        ("[1, 2]", "[1,2,3]", False),
        ("1\n[2]", "1\n[2]", True),
        ("1\n[2]", "[1,[2]]", False),
        ("38", "38.0", True),
        ("true", "1", False),
        ("a line\nHTTP 200", "a line\nHTTP 200\n", True),
        ("a line\nHTTP 200", "a line\nHTTP 201", False),
        ('filename="x-….csv"', 'filename="x-20261125.csv"', True),
        ("head\n…\ntail", "head\n1\n2\ntail", True),
        ("head\n…\ntail", "head\ntail", True),
        ("head\n…\ntail", "head\n1\n2", False),
    ],
)
def test_elision_rules(expected, actual, matches):
    assert (output_difference(expected.split("\n"), actual) is None) is matches


def test_a_difference_reads_as_a_diff():
    found = output_difference(['{"count": 3, "slug": "a"}'], '{"count": 4, "slug": "a"}')
    assert "$.count: expected 3, got 4" in found
    assert '-{"count": 3, "slug": "a"}' in found and '+{"count": 4, "slug": "a"}' in found


def test_blocks_outside_the_convention_are_flagged(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```sh\ncurl -s http://127.0.0.1:8000/api/v1/\n{}\n```\n\n"
        "```sh\n$ curl -s -X PATCH ... .../incidents/x/\n{}\n```\n\n"
        "<!-- example: not run -->\n```sh\n$ make bench\n```\n\n"
        "<!-- example: not run: needs wrk and an hour -->\n```sh\n$ make bench\nok\n```\n\n"
        "```sh\nmake run   # instructions, no output\n```\n\n"
        "```python\n>>> 1 + 1\n2\n```\n\n"
        "An indented block:\n\n    $ curl -s http://127.0.0.1:8000/api/v1/\n    {}\n",
        encoding="utf-8",
    )
    found = {block.line: block_problems(block) for block in read_blocks(page)}
    assert "without `$ `" in found[1][0]
    assert "elided" in found[6][0]
    assert "without its reason" in found[12][0]
    assert found[17] == [] and found[22] == []
    assert "interactive session" in found[26][0]
    assert loose_commands(page) == [f"{page}:33: a command outside a fenced block"]


def test_the_curl_stand_in_prints_what_curl_prints(live_seed):
    """For each curl option the docs use, its first example, through curl and the stand-in."""
    if shutil.which("curl") is None:
        pytest.skip("no curl to compare the stand-in with")
    server, database, folder = live_seed
    if fingerprint() != database.clean:
        database.build()
    from django.db import connection

    chosen, seen = [], set()
    for example in EXAMPLES:
        if example.block.mark("session") or _skip_reason(example, connection.vendor):
            continue
        words = set(re.findall(r"(?<!\S)(-{1,2}[A-Za-z][\w-]*)", example.command))
        if words - seen:
            chosen.append(example)
            seen |= words
    env = _environment(folder, database.tokens)
    stand_in = dict(env, PATH=f"{install_curl_stand_in(folder)}{os.pathsep}{env['PATH']}")
    _write_files(chosen[0], folder)
    for example in chosen:
        real = run_command(example.command, server.url, folder, env)
        imitated = run_command(example.command, server.url, folder, stand_in)
        # Only the Date header may differ between two requests a second apart.
        same = [re.sub(r"(?im)^date: .*$", "date", text) for text in (real, imitated)]
        assert same[0] == same[1], f"{example.where}: the stand-in prints\n{imitated}\ncurl prints\n{real}"
    # The writes (-d @file, PATCH, quoted headers): each session from a fresh database, against
    # the page, which the real curl matches in the tests above.
    session = None
    for example in EXAMPLES:
        if not example.block.mark("session") or _skip_reason(example, connection.vendor):
            continue
        if session != (example.block.path, example.block.mark("session")):
            session = (example.block.path, example.block.mark("session"))
            database.build()  # new accounts: new tokens
            stand_in = dict(_environment(folder, database.tokens), PATH=stand_in["PATH"])
        _write_files(example, folder)
        difference = output_difference(
            example.expected, run_command(example.command, server.url, folder, stand_in)
        )
        assert difference is None, f"{example.where} through the stand-in: {difference}"
    database.session = None
