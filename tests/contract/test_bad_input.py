"""The bad-input catalogue: every endpoint, given what it must refuse, refuses it cleanly.

ROWS below is the catalogue; docs/bad-input.md shows it as a table, and
test_the_documented_table_is_this_table keeps the two equal (the failure message says how
to print the table after changing a row). Each row runs against the seed data (plus an
editor, a maintainer, a reader without permissions, and a tombstone) and asserts:

- the exact status;
- a JSON answer; for an error, a JSON object naming the field at fault (a dotted path into
  nested errors: `casualty_figures.0.low`), or `detail` when no one field is at fault;
- that the database is unchanged: the row count and a checksum of every row of every
  table of the incidents app (history and many-to-many tables included).

The fixture rows run `load_seeds --fixtures-dir` on a damaged copy of fixtures/ and expect
a CommandError naming the file (and the record, where one is at fault), with the database
unchanged.
"""

import base64
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from rest_framework.authtoken.models import Token

from incidents import workflow
from incidents.models import CasualtyFigure, Incident
from tests.factories import make_incident

DOC = settings.BASE_DIR / "docs" / "bad-input.md"
API = "/api/v1/"
TOKENS = {"editor": "e0" * 20, "maintainer": "a0" * 20, "reader": "b0" * 20}
SOURCE = "rferl-2012-07-25-government-ends-operations-in-eastern-tajikistan"
QUOTE = "at least 30 civilians were killed in Khorugh"
PUBLISHED = "khorugh-protests-2012"
CONTAINER = "gorno-badakhshan-military-operation-2012"  # has child incidents
TOMBSTONE = "deleted-clash-2012"
NONE = "—"  # the field column when no one field is at fault


# -- Valid bodies, which each row spoils in one place ---------------------------------------------


def figure(**changes):
    body = {
        "outcome": "killed",
        "group": "civilians",
        "low": 30,
        "qualifier": "at_least",
        "wording": "at least 30 civilians",
        "claimed_by": "rferl-tajik-service",
        "source": SOURCE,
        "quote": QUOTE,
    }
    return {**body, **changes}


def incident(**changes):
    body = {
        "slug": "bad-input-clash-2012",
        "title": "Clash in Khorugh",
        "event_type": "battles",
        "sub_event_type": "armed_clash",
        "start_date": "2012-07-24",
        "end_date": "2012-07-24",
        "date_precision": "day",
        "location": "tj-khorugh",
        "sources": [SOURCE],
        "actors": [{"actor": "military-of-tajikistan", "role": "side_a"}],
        "casualty_figures": [figure()],
    }
    return {**body, **changes}


def claim(**changes):
    return {**figure(), "incident": PUBLISHED, **changes}


def actor(**changes):
    return {"slug": "bad-input-actor", "name": "An actor", "kind": "armed_group", **changes}


def location(**changes):
    body = {
        "slug": "bad-input-place",
        "name": "A place",
        "country_code": "TJ",
        "latitude": "37.5",
        "longitude": "71.5",
        "geo_precision": "exact",
    }
    return {**body, **changes}


def source(**changes):
    return {"slug": "bad-input-source", "title": "A report", "url": "https://example.org/report", **changes}


def nested(depth):
    return "[" * depth + "]" * depth


def cursor(values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def lone_surrogate_title():
    return json.dumps(incident(title="@")).replace('"@"', '"\\ud800"').encode()


# -- Rows -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    endpoint: str  # METHOD path under /api/v1/ ({figure}: a seed claim's id), or the command
    input: str  # what is wrong, as the table shows it
    status: str  # the HTTP status, or CommandError
    field: str  # the field named in the error (dotted into nested errors), or NONE
    note: str
    method: str = "GET"
    url: str = ""  # under /api/v1/, query string included and already encoded
    body: object = None  # dict or list (sent as JSON), bytes (sent as they are), or None
    content_type: str = "application/json"
    user: str = "anonymous"  # or a key of TOKENS
    headers: dict = field(default_factory=dict, hash=False)
    damage: object = None  # load_seeds rows: function(fixtures_dir) that damages the copy
    xfail: str = ""  # a known gap, reported; strict, so a fix shows up as XPASS

    @property
    def cells(self):
        return (self.endpoint, self.input, self.status, self.field, self.note)


def get(path, query, status, named, note, shown=None, **extra):
    """A GET of path?query (query encoded as sent), shown as the query or as `shown`."""
    return Row(
        f"GET {path}",
        query if shown is None else shown,
        str(status),
        named,
        note,
        url=f"{path}?{query}",
        **extra,
    )


def at(path, shown, status, named, note, **extra):
    """A GET of path itself (detail endpoints); the endpoint column shows the path's pattern."""
    pattern = re.sub(
        r"^(\w+)/[^/]+/",
        lambda m: f"{m.group(1)}/{{{'id' if m.group(1) == 'casualties' else 'slug'}}}/",
        path,
    )
    return Row(f"GET {pattern}", shown, str(status), named, note, url=path, **extra)


def send(method, path, body, status, named, note, shown, user="editor", **extra):
    """A write with a body (dict or list as JSON, bytes as they are) by the editor unless said."""
    return Row(f"{method} {path}", shown, str(status), named, note, method, path, body, user=user, **extra)


INC = "incidents/"
ONE = f"incidents/{PUBLISHED}/"
FIG = "casualties/{figure}/"

# fmt: off
ROWS = [
    # Incident list: filters
    get(INC, "date_from=2012-13-01", 400, "date_from", "Not a date."),
    get(INC, "date_from=yesterday", 400, "date_from", "Dates are YYYY-MM-DD only."),
    get(INC, "date_to=2012-07-01&date_from=2012-08-01", 200, NONE, "Reversed range: no error; it matches the incidents that span both dates (docs/api.md)."),
    get(INC, "updated_since=2012-13-01T00:00:00Z", 400, "updated_since", "Not a date-time."),
    get(INC, "updated_since=0001-01-01T00:00:00%2B14:00", 400, "updated_since", "Before year 1 in UTC: no database can compare it.", shown="updated_since=0001-01-01T00:00:00+14:00"),
    get(INC, "country=TJK", 400, "country", "Three letters: not an alpha-2 code."),
    get(INC, "country=T%00", 400, "country", "A NUL byte in a parameter (the filters' forms refuse NUL)."),
    get(INC, "event_type=war", 400, "event_type", "Unknown choice."),
    get(INC, "event_type=battles,war", 400, "event_type", "One unknown choice in a comma list."),
    get(INC, "date_precision__in=day,hour", 400, "date_precision__in", "Unknown choice in a comma list."),
    get(INC, "actor=no-such-actor", 400, "actor", "A slug that names no record."),
    get(INC, "actor=%27%20OR%20%271%27%3D%271", 400, "actor", "SQL-looking slug: no such record.", shown="actor=' OR '1'='1"),
    get(INC, "has_children=yes", 400, "has_children", "Only true or false."),
    get(INC, "min_killed=-1", 400, "min_killed", "Negative count."),
    get(INC, "min_killed=99999999999999999999", 400, "min_killed", "Above the largest count (2147483647)."),
    get(INC, "min_killed=1.5", 400, "min_killed", "Not a whole number."),
    get(INC, "min_killed=abc", 400, "min_killed", "Not a number."),
    get(INC, "bbox=72,38,70,37", 400, "bbox", "Min above max."),
    get(INC, "bbox=1,2,3", 400, "bbox", "Three numbers, not four."),
    get(INC, "near=91,0", 400, "near", "Latitude out of range."),
    get(INC, "radius_km=10", 400, "radius_km", "radius_km without near."),
    get(INC, "near=38,71&radius_km=1e309", 400, "radius_km", "An infinite radius."),
    get(INC, "search=" + "x" * 201, 400, "search", "Longer than 200 characters.", shown="search= 201 × x"),
    get(INC, "search=khorugh%00", 400, "search", "A NUL byte in the search text."),
    get(INC, "search=%27%3B%20DROP%20TABLE%20incidents_incident%3B%20--", 200, NONE, "SQL-looking text is only text: no match.", shown="search='; DROP TABLE incidents_incident; --"),
    get(INC, "search=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200, NONE, "Script-looking text is only text, answered as JSON.", shown="search=<script>alert(1)</script>"),
    get(INC, "search=%D0%A5%D0%BE%D1%80%D0%BE%D0%B3%20%F0%9F%92%A5", 200, NONE, "Cyrillic and an emoji: searched, no match.", shown="search=Хорог 💥"),
    get(INC, "admin1=" + "a" * 201, 400, "admin1", "Longer than the column (200).", shown="admin1= 201 × a"),
    get(INC, "admin1=" + "a" * 100_000, 400, "admin1", "100,000 characters (SQLite refuses LIKE patterns over 50,000).", shown="admin1= 100,000 × a"),
    get(INC, "country=TJ&country=KG", 200, NONE, "A repeated parameter: the last one wins (KG)."),
    get(INC, "ordering=bogus", 400, "ordering", "Unknown ordering term."),
    get(INC, "ordering=-bogus", 400, "ordering", "Unknown ordering term, descending."),
    get(INC, "ordering=title%3B%20DROP%20TABLE%20x", 400, "ordering", "SQL in an ordering term.", shown="ordering=title; DROP TABLE x"),
    get(INC, "page=0", 400, "page", "Pages start at 1."),
    get(INC, "page=-1", 400, "page", "Negative page."),
    get(INC, "page=abc", 400, "page", "Not a number."),
    get(INC, "page=99999999999999999999", 404, "detail", "A page past the end (docs/api.md)."),
    get(INC, "page_size=abc", 400, "page_size", "Not a number."),
    get(INC, "page_size=0", 400, "page_size", "Below 1."),
    get(INC, "page_size=-5", 400, "page_size", "Negative."),
    get(INC, "page_size=501", 400, "page_size", "Above API_MAX_PAGE_SIZE (500)."),
    get(INC, "page_size=99999999999999999999999", 400, "page_size", "Enormous."),
    get(INC, "page_size=5&page_size=abc", 400, "page_size", "Repeated: the last value (abc) is the one checked."),
    get(INC, "page_size=", 200, NONE, "Empty counts as absent: the default size."),
    get(INC, "cursor=garbage", 400, "cursor", "Not a cursor."),
    get(INC, "ordering=title&cursor=" + cursor(["Clash\u0000", 1]), 400, "cursor", "A cursor carrying a NUL byte (PostgreSQL cannot compare it).", shown='ordering=title&cursor= ["Clash\\u0000", 1] encoded'),
    get(INC, "cursor=" + cursor(["2012-07-21", 10**30]), 400, "cursor", "A cursor id beyond 64 bits.", shown='cursor= ["2012-07-21", 10^30] encoded'),
    get(INC, "ordering=killed&cursor=" + cursor(["many", 1]), 400, "cursor", "Text for a numeric sort key.", shown='ordering=killed&cursor= ["many", 1] encoded'),
    get(INC, "ordering=updated_at&cursor=" + cursor(["0001-01-01T00:00:00+14:00", 1]), 400, "cursor", "A time before year 1 in UTC.", shown='ordering=updated_at&cursor= ["0001-01-01T00:00:00+14:00", 1] encoded'),
    get(INC, "cursor=" + cursor([["2012-07-21"], {"id": 1}]), 400, "cursor", "A list and an object for the sort keys.", shown='cursor= [["2012-07-21"], {"id": 1}] encoded'),
    get(INC, "format=xml", 404, "detail", "Unknown format (docs/api.md)."),
    get(INC, "&".join(f"f{n}=1" for n in range(1001)), 400, "detail", "1,001 parameters: over DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000).", shown="f0=1&f1=1&…&f1000=1"),
    # Incident detail and history
    at(f"{INC}no-such-incident/", "no-such-incident", 404, "detail", "Unknown slug."),
    at(f"{INC}{TOMBSTONE}/", TOMBSTONE, 410, "deleted_at", "A deleted incident: Gone, with when."),
    at(f"{INC}%00/", "%00", 404, "detail", "A NUL byte is no slug."),
    at(f"{INC}{'a' * 5000}/", "5,000 × a", 404, "detail", "A very long slug."),
    Row("GET incidents/{slug}/history/", "no-such-incident", "404", "detail", "Unknown slug.", url=f"{INC}no-such-incident/history/"),
    # Casualty claims
    get("casualties/", "outcome=dead", 400, "outcome", "Unknown choice."),
    get("casualties/", "is_preferred=1", 400, "is_preferred", "Only true or false."),
    get("casualties/", "incident=%00", 400, "incident", "A NUL byte in a slug parameter."),
    get("casualties/", "date_from=2012-02-30", 400, "date_from", "The incident filters apply, and are checked, here too."),
    at("casualties/abc/", "abc", 404, "detail", "Not an id."),
    at("casualties/-1/", "-1", 404, "detail", "Negative id."),
    at("casualties/99999999999999999999999/", "99999999999999999999999", 404, "detail", "An id beyond 64 bits (an overflow on SQLite and PostgreSQL)."),
    # Actors, locations, sources
    get("actors/", "kind=alien", 400, "kind", "Unknown choice."),
    get("actors/", "country=TJK", 400, "country", "Longer than a country code."),
    get("actors/", "search=%00", 400, "search", "A NUL byte."),
    get("locations/", "geo_precision=street", 400, "geo_precision", "Unknown choice."),
    get("locations/", "country=%00", 400, "country", "A NUL byte."),
    get("sources/", "kind=blog", 400, "kind", "Unknown choice."),
    get("sources/", "language=" + "x" * 36, 400, "language", "Longer than a language tag (35).", shown="language= 36 × x"),
    at("actors/no-such-actor/", "no-such-actor", 404, "detail", "Unknown slug."),
    at("locations/no-such-place/", "no-such-place", 404, "detail", "Unknown slug."),
    at("sources/no-such-source/", "no-such-source", 404, "detail", "Unknown slug."),
    # Content negotiation
    Row("GET casualties/", "Accept: text/csv", "406", "detail", "Only the incident list exports.", url="casualties/", headers={"HTTP_ACCEPT": "text/csv"}),
    # Stats
    get("stats/casualties/", "", 400, "group_by", "group_by is required.", shown="(no group_by)"),
    get("stats/casualties/", "group_by=decade&outcome=dead", 400, "outcome", "Both named; unknown choices."),
    get("stats/casualties/", "group_by=year&date_from=2012-13-01", 400, "date_from", "The incident filters are checked."),
    get("stats/casualties/", "group_by=year%00", 400, "group_by", "A NUL byte."),
    # Incident writes: the body as a whole
    send("POST", INC, b'{"slug": ', 400, "detail", "Malformed JSON.", 'body {"slug": '),
    send("POST", INC, nested(100_000).encode(), 400, "detail", "JSON nested 100,000 levels deep (past Python's recursion limit).", "body [[[…]]] 100,000 deep"),
    send("POST", INC, b'{"title": ' + nested(100_000).encode() + b"}", 400, "detail", "A field nested 100,000 levels deep.", '"title": [[[…]]] 100,000 deep'),
    send("POST", INC, [incident()], 400, "non_field_errors", "A list, not an object.", "body [{…}]"),
    send("POST", INC, b"slug=x", 415, "detail", "A media type the API does not parse.", "Content-Type: text/plain", content_type="text/plain"),
    send("POST", INC, b'{"slug": "x"}', 400, "title", "An unknown charset is ignored: the body is read as UTF-8 (and lacks fields).", "Content-Type: application/json; charset=bogus", content_type="application/json; charset=bogus"),
    send("POST", INC, b"\xff\xfe{}", 400, "detail", "Not UTF-8.", "body bytes ff fe"),
    send("POST", INC, "&".join(f"f{n}=1" for n in range(1001)).encode(), 400, "detail", "A form of 1,001 fields: over DATA_UPLOAD_MAX_NUMBER_FIELDS.", "form body f0=1&…&f1000=1", content_type="application/x-www-form-urlencoded"),
    send("POST", INC, json.dumps(incident(summary="x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE)).encode(), 413, "detail", "Over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's default: 2.5 MiB).", "a body over DATA_UPLOAD_MAX_MEMORY_SIZE"),
    send("POST", INC, incident(), 401, "detail", "Anonymous write.", "no token", user="anonymous"),
    send("POST", INC, incident(), 401, "detail", "A token that is not valid.", "Authorization: Token nope", user="anonymous", headers={"HTTP_AUTHORIZATION": "Token nope"}),
    send("POST", INC, incident(), 403, "detail", "A user without the editors' permissions.", "a reader's token", user="reader"),
    # Incident writes: fields
    send("POST", INC, incident(slug=PUBLISHED), 400, "slug", "Duplicate slug.", f'"slug": "{PUBLISHED}"'),
    send("POST", INC, incident(slug="has spaces"), 400, "slug", "Not a slug.", '"slug": "has spaces"'),
    send("POST", INC, incident(slug="a" * 201), 400, "slug", "Longer than 200.", '"slug": 201 × a'),
    send("POST", INC, incident(title="x" * 501), 400, "title", "Longer than 500.", '"title": 501 × x'),
    send("POST", INC, incident(title=123), 400, "title", "A number for a text.", '"title": 123'),
    send("POST", INC, incident(title="a\u0000b"), 400, "title", "A NUL byte in a JSON string.", '"title": "a\\u0000b"'),
    send("POST", INC, lone_surrogate_title(), 400, "title", "Half a surrogate pair (not encodable as UTF-8).", '"title": "\\ud800"'),
    send("POST", INC, incident(summary={"a": 1}), 400, "summary", "An object for a text.", '"summary": {"a": 1}'),
    send("POST", INC, incident(event_type="war"), 400, "event_type", "Unknown choice.", '"event_type": "war"'),
    send("POST", INC, incident(sub_event_type="peaceful_protest"), 400, "non_field_errors", "A sub-event type of another event type.", '"sub_event_type": "peaceful_protest"'),
    send("POST", INC, incident(end_date="2012-07-01"), 400, "non_field_errors", "Dates out of order.", '"end_date": "2012-07-01" (before the start)'),
    send("POST", INC, incident(start_date="2012-02-30"), 400, "start_date", "No such day.", '"start_date": "2012-02-30"'),
    send("POST", INC, incident(start_date=20120724), 400, "start_date", "A number for a date.", '"start_date": 20120724'),
    send("POST", INC, incident(location="nowhere"), 400, "location", "Unknown foreign key.", '"location": "nowhere"'),
    send("POST", INC, incident(location="x' OR '1'='1"), 400, "location", "SQL-looking slug: no such record.", "\"location\": \"x' OR '1'='1\""),
    send("POST", INC, incident(location="tj\u0000"), 400, "location", "A NUL byte in a slug.", '"location": "tj\\u0000"'),
    send("POST", INC, incident(parent=5), 400, "parent", "A number for a slug.", '"parent": 5'),
    send("POST", INC, incident(sources={"a": 1}), 400, "sources", "An object for a many-to-many list.", '"sources": {"a": 1}'),
    send("POST", INC, incident(sources=SOURCE), 400, "sources", "A string for a list.", '"sources": "<slug>"'),
    send("POST", INC, incident(sources=["no-such-source"]), 400, "sources", "Unknown slug in a list.", '"sources": ["no-such-source"]'),
    send("POST", INC, incident(actors=[{"actor": "military-of-tajikistan", "role": "boss"}]), 400, "actors.0.role", "Unknown choice in a nested role.", '"actors": [{… "role": "boss"}]'),
    send("POST", INC, incident(actors=[{"actor": "no-such-actor", "role": "side_a"}]), 400, "actors.0.actor", "Unknown actor in a nested role.", '"actors": [{"actor": "no-such-actor" …}]'),
    send("POST", INC, incident(actors=[{"actor": "military-of-tajikistan", "role": "side_a"}] * 2), 400, "actors", "The same actor twice in the same role.", '"actors": [a role, the same role]'),
    send("POST", INC, incident(casualty_figures={"a": 1}), 400, "casualty_figures", "An object for a list.", '"casualty_figures": {"a": 1}'),
    send("POST", INC, incident(casualty_figures=[figure(low=20, best=10)]), 400, "casualty_figures.0.non_field_errors", "low > best.", '"low": 20, "best": 10'),
    send("POST", INC, incident(casualty_figures=[figure(low=-1)]), 400, "casualty_figures.0.low", "Negative count.", '"low": -1'),
    send("POST", INC, incident(casualty_figures=[figure(low=2**31)]), 400, "casualty_figures.0.low", "Above the largest count, on SQLite too.", '"low": 2147483648'),
    send("POST", INC, incident(casualty_figures=[figure(low="30")]), 400, "casualty_figures.0.low", "A string for a number.", '"low": "30"'),
    send("POST", INC, incident(casualty_figures=[figure(low=30.5)]), 400, "casualty_figures.0.low", "A fraction for a count.", '"low": 30.5'),
    send("POST", INC, incident(casualty_figures=[figure(is_preferred="yes")]), 400, "casualty_figures.0.is_preferred", "A string for a boolean.", '"is_preferred": "yes"'),
    send("POST", INC, incident(casualty_figures=[figure(quote="at least 99 civilians were killed")]), 400, "casualty_figures.0.quote", "A quote that is not in its source.", '"quote": "at least 99 …"'),
    send("POST", INC, incident(casualty_figures=[figure(is_preferred=True)] * 2), 400, "casualty_figures", "Two preferred figures for one outcome and group.", '"is_preferred": true twice'),
    # Incident updates, deletion, workflow
    send("PATCH", ONE, {"end_date": "2000-01-01"}, 400, "non_field_errors", "Dates out of order.", '"end_date": "2000-01-01"'),
    send("PATCH", ONE, {"title": "Renamed"}, 412, "detail", "A stale If-Match.", 'If-Match: "stale"', headers={"HTTP_IF_MATCH": '"stale"'}),
    send("PUT", ONE, {}, 400, "slug", "PUT needs every required field.", "{}"),
    send("PATCH", f"{INC}no-such-incident/", {"title": "x"}, 404, "detail", "Unknown slug.", '{"title": "x"}'),
    send("PATCH", f"{INC}{TOMBSTONE}/", {"title": "x"}, 410, "deleted_at", "A deleted incident.", '{"title": "x"}'),
    send("DELETE", ONE, None, 403, "detail", "Editors cannot delete.", "an editor's token"),
    send("DELETE", ONE, None, 412, "detail", "A stale If-Match.", 'If-Match: "stale"', user="maintainer", headers={"HTTP_IF_MATCH": '"stale"'}),
    send("DELETE", f"{INC}{CONTAINER}/", None, 409, "detail", "It has child incidents.", "a maintainer's token", user="maintainer"),
    send("POST", f"{ONE}publish/", {}, 409, "status", "Already published.", "{}"),
    send("POST", f"{ONE}reopen/", {}, 409, "status", "Not retracted.", "{}"),
    send("POST", f"{ONE}review/", {}, 401, "detail", "Anonymous workflow step.", "no token", user="anonymous"),
    send("POST", f"{ONE}retract/", {}, 400, "reason", "A retraction needs a reason.", "{}"),
    send("POST", f"{ONE}retract/", {"reason": 5}, 400, "reason", "A number for a text.", '{"reason": 5}'),
    send("POST", f"{ONE}merge/", {"into": PUBLISHED}, 400, "into", "Into itself.", f'{{"into": "{PUBLISHED}"}}', user="maintainer"),
    send("POST", f"{ONE}merge/", {"into": "no-such-incident"}, 400, "into", "Unknown target.", '{"into": "no-such-incident"}', user="maintainer"),
    send("POST", f"{ONE}merge/", {"into": CONTAINER}, 403, "detail", "Editors cannot merge.", f'{{"into": "{CONTAINER}"}}'),
    # Claim writes
    send("POST", "casualties/", claim(incident="no-such-incident"), 400, "incident", "Unknown incident.", '"incident": "no-such-incident"'),
    send("POST", "casualties/", claim(low=20, best=10), 400, "non_field_errors", "low > best.", '"low": 20, "best": 10'),
    send("POST", "casualties/", claim(best=40, high=35), 400, "non_field_errors", "high < best.", '"best": 40, "high": 35'),
    send("POST", "casualties/", claim(outcome="dead"), 400, "outcome", "Unknown choice.", '"outcome": "dead"'),
    send("POST", "casualties/", claim(source=["a"]), 400, "source", "A list for a slug.", '"source": ["a"]'),
    send("PUT", FIG, {"low": 5}, 400, "incident", "PUT needs every required field.", '{"low": 5}'),
    send("PATCH", FIG, {"low": -5}, 400, "low", "Negative count.", '{"low": -5}'),
    send("PATCH", "casualties/99999999999999999999/", {"low": 1}, 404, "detail", "An id beyond 64 bits.", '{"low": 1}'),
    send("DELETE", FIG, None, 401, "detail", "Anonymous delete.", "no token", user="anonymous"),
    # Actor writes
    send("POST", "actors/", actor(aliases={"a": 1}), 400, "aliases", "An object for a list.", '"aliases": {"a": 1}'),
    send("POST", "actors/", actor(aliases=[1, 2]), 400, "aliases", "Numbers for names.", '"aliases": [1, 2]'),
    send("POST", "actors/", actor(country="XX"), 400, "country", "No such country.", '"country": "XX"'),
    send("POST", "actors/", actor(kind="alien"), 400, "kind", "Unknown choice.", '"kind": "alien"'),
    send("POST", "actors/", actor(slug="osce"), 400, "slug", "Duplicate slug.", '"slug": "osce"'),
    send("POST", "actors/", actor(external_ids={"ucdp": "1\u00002"}), 400, "external_ids", "A NUL byte inside JSON data (PostgreSQL's jsonb refuses it).", '"external_ids": {"ucdp": "1\\u00002"}'),
    send("POST", "actors/", actor(external_ids={"deep": json.loads(nested(20))}), 400, "external_ids", "JSON data nested 20 levels deep.", '"external_ids": {"deep": [[[…]]]}'),
    send("POST", "actors/", actor(external_ids=[1]), 400, "external_ids", "A list for an object.", '"external_ids": [1]'),
    send("PUT", "actors/osce/", {}, 400, "name", "PUT needs every required field.", "{}"),
    send("PATCH", "actors/osce/", {"parent": "osce"}, 400, "non_field_errors", "Its own parent.", '{"parent": "osce"}'),
    send("DELETE", "actors/military-of-tajikistan/", None, 409, "detail", "Still referred to.", "a maintainer's token", user="maintainer"),
    # Location writes
    send("POST", "locations/", location(latitude=91), 400, "latitude", "Out of range.", '"latitude": 91'),
    send("POST", "locations/", location(latitude="north"), 400, "latitude", "Not a number.", '"latitude": "north"'),
    send("POST", "locations/", location(latitude=True), 400, "latitude", "A boolean for a number.", '"latitude": true'),
    send("POST", "locations/", location(longitude=None), 400, "non_field_errors", "A latitude without a longitude.", '"longitude": null'),
    send("POST", "locations/", location(country_code="tj"), 400, "country_code", "Codes are upper case.", '"country_code": "tj"'),
    send("POST", "locations/", location(geo_precision="street"), 400, "geo_precision", "Unknown choice.", '"geo_precision": "street"'),
    send("PUT", "locations/tj-khorugh/", location(slug="tj-khorugh", latitude=-91), 400, "latitude", "Out of range.", '"latitude": -91'),
    send("PATCH", "locations/tj-khorugh/", {"longitude": 181}, 400, "longitude", "Out of range.", '{"longitude": 181}'),
    send("DELETE", "locations/tj-khorugh/", None, 409, "detail", "Still the place of incidents.", "a maintainer's token", user="maintainer"),
    # Source writes
    send("POST", "sources/", source(url="javascript:alert(1)"), 400, "url", "Not an http(s) URL.", '"url": "javascript:alert(1)"'),
    send("POST", "sources/", source(published_on="2012-02-30"), 400, "published_on", "No such day.", '"published_on": "2012-02-30"'),
    send("POST", "sources/", source(kind="blog"), 400, "kind", "Unknown choice.", '"kind": "blog"'),
    send("POST", "sources/", source(slug=SOURCE), 400, "slug", "Duplicate slug.", '"slug": "<the seed source>"'),
    send("PUT", f"sources/{SOURCE}/", {}, 400, "title", "PUT needs every required field.", "{}"),
    send("PATCH", f"sources/{SOURCE}/", {"text": 5}, 400, "text", "A number for a text.", '{"text": 5}'),
    send("DELETE", f"sources/{SOURCE}/", None, 409, "detail", "Still cited by claims.", "a maintainer's token", user="maintainer"),
]
# fmt: on


# -- Fixtures: load_seeds on a damaged copy of fixtures/ -----------------------------------------


def damaged(named, shown, note, file_name, change, **extra):
    def damage(directory):
        path = directory / file_name
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return Row("load_seeds --fixtures-dir", shown, "CommandError", named, note, damage=damage, **extra)


def records(change):
    """A change of the parsed records, as a change of the file's text."""

    def edit(text):
        data = json.loads(text)
        change(data)
        return json.dumps(data)

    return edit


def set_fields(index, **fields):
    return records(lambda data: data[index]["fields"].update(fields))


def set_model(index, label):
    return records(lambda data: data[index].update(model=label))


def duplicate_first(**fields):
    return records(lambda data: data.append({**data[0], "fields": {**data[0]["fields"], **fields}}))


# fmt: off
ROWS += [
    damaged("04_incidents.json", "04_incidents.json cut short", "Broken JSON.", "04_incidents.json", lambda text: text[:-200]),
    damaged("03_actors.json", '"model": "incidents.warlord"', "Unknown model.", "03_actors.json", set_model(0, "incidents.warlord")),
    damaged("06_casualty_figures.json, record 1", '"source": ["no-such-source"]', "Dangling reference.", "06_casualty_figures.json", set_fields(0, source=["no-such-source"])),
    damaged("05_incident_actors.json", '"actor": ["no-such-actor"]', "Dangling reference in a natural key.", "05_incident_actors.json", set_fields(0, actor=["no-such-actor"])),
    damaged("02_locations.json", "a second record with the slug kg", "Duplicate natural key: refused, naming both records.", "02_locations.json", duplicate_first(name="Kyrgyzstan, again")),
    damaged("06_casualty_figures.json, record 1", '"low": 20, "best": 10', "low > best: the database refuses it.", "06_casualty_figures.json", set_fields(0, low=20, best=10)),
    damaged("06_casualty_figures.json, record 1", '"quote": "…not in the source"', "A quote that is not in its source.", "06_casualty_figures.json", set_fields(0, quote="a quote that is not in the source")),
]
# fmt: on


# -- Running a row --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue_data(django_db_setup, django_db_blocker):
    """The seed data, users with tokens and a tombstone, once for the module (rolled back after)."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_seeds", verbosity=0)
        groups = {"editor": "editors", "maintainer": "maintainers", "reader": None}
        for name, key in TOKENS.items():
            user = User.objects.create_user(f"catalogue-{name}")
            if groups[name]:
                user.groups.add(Group.objects.get(name=groups[name]))
            Token.objects.create(user=user, key=key)
        # Deleted once published: its URL answers 410 to anyone (a draft's answers the public 404).
        workflow.delete(
            make_incident(slug=TOMBSTONE, title="A deleted clash"),
            User.objects.get(username="catalogue-maintainer"),
        )
        yield
        transaction.set_rollback(True)


def snapshot():
    """Row count and checksum of every table of the incidents app."""
    tables = {}
    for model in apps.get_app_config("incidents").get_models(include_auto_created=True):
        rows = list(model._base_manager.order_by("pk").values_list())
        tables[model._meta.label] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return tables


def request(row):
    headers = dict(row.headers)
    if row.user in TOKENS:
        headers["HTTP_AUTHORIZATION"] = f"Token {TOKENS[row.user]}"
    url = API + row.url.replace("{figure}", str(CasualtyFigure.objects.order_by("pk").first().pk))
    if row.body is None:
        return Client().generic(row.method, url, **headers)
    body = row.body if isinstance(row.body, bytes) else json.dumps(row.body).encode()
    return Client().generic(row.method, url, body, content_type=row.content_type, **headers)


def error_at(body, path):
    """The error messages at a dotted path (`casualty_figures.0.low`), or None."""
    node = body
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def params(rows):
    return [
        pytest.param(
            row,
            id=f"{row.endpoint} {row.input}"[:90],
            marks=[pytest.mark.xfail(reason=row.xfail, strict=True)] if row.xfail else [],
        )
        for row in rows
    ]


@pytest.mark.parametrize("row", params(r for r in ROWS if r.damage is None))
def test_the_api_refuses_bad_input(row, catalogue_data, db):
    before = snapshot()
    response = request(row)
    assert response.status_code == int(row.status), response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    if response.status_code >= 400:
        named = "detail" if row.field == NONE else row.field
        assert error_at(body, named), f"{named} not named in {json.dumps(body)[:500]}"
    assert snapshot() == before


@pytest.mark.parametrize("row", params(r for r in ROWS if r.damage is not None))
def test_load_seeds_refuses_damaged_fixtures(row, catalogue_data, db, tmp_path):
    fixtures_dir = tmp_path / "fixtures"
    shutil.copytree(settings.FIXTURES_DIR, fixtures_dir)
    row.damage(fixtures_dir)
    before = snapshot()
    with pytest.raises(CommandError) as error:
        call_command("load_seeds", fixtures_dir=fixtures_dir, verbosity=0)
    assert row.field in str(error.value)
    assert snapshot() == before


# -- What some answers say beyond their status ------------------------------------------------------


def test_a_reversed_range_matches_the_incidents_spanning_both_dates(catalogue_data, db):
    body = Client().get(API + "incidents/?date_to=2012-07-01&date_from=2012-08-01&page_size=500").json()
    spanning = Incident.objects.filter(
        status="published", start_date__lte="2012-07-01", end_date__gte="2012-08-01"
    )
    assert sorted(r["slug"] for r in body["results"]) == sorted(spanning.values_list("slug", flat=True))


def test_a_repeated_parameter_takes_the_last_value(catalogue_data, db):
    body = Client().get(API + "incidents/?country=TJ&country=KG").json()
    assert body["count"] >= 1
    assert {r["location"]["country_code"] for r in body["results"]} == {"KG"}


def test_the_bodies_the_rows_spoil_are_valid(catalogue_data, db):
    """Each write row fails for its stated reason only: unspoilt, its body is accepted."""
    # A published incident's claims change through a revision; a new claim goes to a draft.
    draft = make_incident(slug="bad-input-draft", status="draft")
    bodies = {
        "incidents/": incident(),
        "casualties/": claim(incident=draft.slug),
        "actors/": actor(),
        "locations/": location(),
        "sources/": source(),
    }
    for url, body in bodies.items():
        with transaction.atomic():
            response = request(Row("", "", "", "", "", "POST", url, body, user="editor"))
            transaction.set_rollback(True)
        assert response.status_code == 201, (url, response.content[:500])


# -- The table in docs/bad-input.md -----------------------------------------------------------------

HEADER = ("Endpoint", "Input", "Expected status", "Field named in the error", "Note")
REGENERATE = (
    "docs/bad-input.md differs from ROWS; print the table with: DJANGO_SETTINGS_MODULE=config.settings "
    ".venv/bin/python -c 'import django; django.setup(); "
    "from tests.contract.test_bad_input import render_table; print(render_table())'"
)


def _escape(text):
    return text.replace("|", "\\|")


def render_table():
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for endpoint, shown, status, named, note in (row.cells for row in ROWS):
        named = named if named == NONE else f"`{named}`"
        lines.append(f"| `{endpoint}` | `{_escape(shown)}` | {status} | {named} | {_escape(note)} |")
    return "\n".join(lines)


def parse_table(markdown):
    """The catalogue table's rows in the markdown, as (endpoint, input, status, field, note)."""
    lines = markdown.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"| {HEADER[0]} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows.append(
            tuple(cell[1:-1] if len(cell) > 1 and cell[0] == cell[-1] == "`" else cell for cell in cells)
        )
    return rows


def test_the_documented_table_is_this_table():
    assert parse_table(DOC.read_text(encoding="utf-8")) == [row.cells for row in ROWS], REGENERATE


def test_every_row_is_there_once():
    assert len({row.cells[:2] for row in ROWS}) == len(ROWS)
