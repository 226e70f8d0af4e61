"""The CSV layouts: one specification per layout, from which every way of writing it derives.

A layout is a list of Columns: the header, where the value comes from (a values() path)
and its kind. The kind alone decides how a value is spelled, in Python (`csv_line`) and
in SQL (`sql_expression`, for PostgreSQL's COPY), so the two paths cannot drift apart:
tests/api/test_exports.py writes every layout both ways and compares the bytes.

The spelling follows COPY's CSV rules: a field is quoted when it holds a comma, a double
quote or a line break; empty text is written like null (an empty field); lines end with
\\n; dates are ISO 8601; timestamps ISO 8601 in UTC with a Z (microseconds only when not
zero), as the JSON shows them.

Text is neutralised against formula injection (OWASP's CSV injection rule): a TEXT cell
that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a single
quote before it, so a spreadsheet shows it as text instead of running it; quoting then
follows the rules above. Only TEXT is: numbers (NUMBER, a negative one too), dates,
timestamps, booleans and UUIDs are never prefixed, and ACTOR_ROLES always begins with a
role code.

A column that names another incident (`Column.status_path`) is null for the public unless
that incident is published, in both ways of writing the layout.
"""

import datetime
import decimal
import re
import uuid
from dataclasses import dataclass

from django.db.models import Case, F, Func, TextField, Value, When
from django.db.models.functions import Cast, NullIf

from incidents.models import Actor, Incident, IncidentActor
from incidents.totals import TOTAL_COLUMNS


class Kind:
    TEXT = "text"  # neutralised against formula injection (FORMULA_TRIGGERS)
    NUMBER = "number"  # integers and decimals, written as they are stored
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"  # true / false
    UUID = "uuid"
    ACTOR_ROLES = "actor_roles"  # role:slug|role:slug of the incident's actors


# What a spreadsheet reads as the start of a formula (OWASP), and what is put before it.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"


@dataclass(frozen=True)
class Column:
    header: str
    path: str
    kind: str = Kind.TEXT
    # For a column naming another incident: the path of that incident's status. The public
    # reads the value only while that incident is published (null otherwise).
    status_path: str | None = None


INCIDENT_CSV = (
    Column("slug", "slug"),
    Column("title", "title"),
    Column("event_type", "event_type"),
    Column("sub_event_type", "sub_event_type"),
    Column("start_date", "start_date", Kind.DATE),
    Column("end_date", "end_date", Kind.DATE),
    Column("date_precision", "date_precision"),
    Column("location_slug", "location__slug"),
    Column("location_name", "location__name"),
    Column("country_code", "location__country_code"),
    Column("admin1", "location__admin1"),
    Column("admin2", "location__admin2"),
    Column("latitude", "location__latitude", Kind.NUMBER),
    Column("longitude", "location__longitude", Kind.NUMBER),
    Column("geo_precision", "location__geo_precision"),
    Column("parent_slug", "parent__slug", status_path="parent__status"),
    Column("actors", "id", Kind.ACTOR_ROLES),
    *(Column(column, column, Kind.NUMBER) for column in TOTAL_COLUMNS),
    Column("status", "status"),
    Column("updated_at", "updated_at", Kind.TIMESTAMP),
)

# Paths on CasualtyFigure.
CLAIM_CSV = (
    Column("incident_slug", "incident__slug"),
    Column("figure_id", "id", Kind.NUMBER),
    Column("uid", "uid", Kind.UUID),
    Column("outcome", "outcome"),
    Column("group", "group"),
    Column("actor_slug", "actor__slug"),
    Column("low", "low", Kind.NUMBER),
    Column("best", "best", Kind.NUMBER),
    Column("high", "high", Kind.NUMBER),
    Column("qualifier", "qualifier"),
    Column("wording", "wording"),
    Column("claimed_by_slug", "claimed_by__slug"),
    Column("claimed_by_name", "claimed_by__name"),
    Column("source_slug", "source__slug"),
    Column("source_title", "source__title"),
    Column("quote", "quote"),
    Column("is_preferred", "is_preferred", Kind.BOOLEAN),
    Column("notes", "notes"),
)


def headers(layout):
    return [column.header for column in layout]


def source(column, public=True):
    """Where a column's value is read from, for both ways of writing it: its path, or for the
    public a reference to an incident kept only while that incident is published."""
    if public and column.status_path is not None:
        return Case(When(**{column.status_path: Incident.Status.PUBLISHED}, then=F(column.path)))
    return F(column.path)


def guarded_sources(layout, public=True):
    """{name: expression} for the columns whose value depends on who reads (to annotate)."""
    return {
        _guarded_name(n): source(column, public)
        for n, column in enumerate(layout)
        if public and column.status_path is not None
    }


def _guarded_name(n):
    return f"csv_shown_{n}"


# -- Python ------------------------------------------------------------------------------------

_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def _text(value):
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def _neutralised(value):
    return FORMULA_GUARD + value if value.startswith(FORMULA_TRIGGERS) else value


def _timestamp(value):
    return value.astimezone(datetime.UTC).isoformat().removesuffix("+00:00") + "Z"


def _spell(kind, value):
    if value is None or value == "":
        return ""
    if kind == Kind.TEXT:
        return _text(_neutralised(value))
    if kind == Kind.ACTOR_ROLES:
        return _text(value)
    if kind == Kind.NUMBER:
        if isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool):
            return str(value)
    elif kind == Kind.DATE:
        return value.isoformat()
    elif kind == Kind.TIMESTAMP:
        return _timestamp(value)
    elif kind == Kind.BOOLEAN:
        return "true" if value else "false"
    elif kind == Kind.UUID and isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"No CSV spelling of {type(value).__name__} as {kind}")


def csv_line(layout, values):
    """One CSV line of values given in the layout's order."""
    return ",".join(_spell(column.kind, value) for column, value in zip(layout, values, strict=True)) + "\n"


def header_line(layout):
    return ",".join(_text(header) for header in headers(layout)) + "\n"


def value_paths(layout, public=True):
    """The values() paths the Python path reads, in the layout's order (None: built apart),
    on a queryset annotated with guarded_sources(layout, public)."""
    paths = []
    for n, column in enumerate(layout):
        if column.kind == Kind.ACTOR_ROLES:
            paths.append(None)
        elif public and column.status_path is not None:
            paths.append(_guarded_name(n))
        else:
            paths.append(column.path)
    return paths


# -- SQL (PostgreSQL's COPY) ------------------------------------------------------------------


class _UTCTimestamp(Func):
    """_timestamp in SQL: UTC, microseconds only when not zero."""

    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        "CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s THEN '' "
        "ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || 'Z'"
    )
    output_field = TextField()


class _ISODate(Func):
    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    output_field = TextField()


class _ActorRoles(Func):
    """role:slug|role:slug of an incident's actors, in the API's order (role, name, id)."""

    template = (
        f"(SELECT string_agg(r.role || ':' || a.slug, '|' ORDER BY r.role, a.name, r.id) "
        f"FROM {IncidentActor._meta.db_table} r JOIN {Actor._meta.db_table} a ON a.id = r.actor_id "
        "WHERE r.incident_id = %(expressions)s)"
    )
    output_field = TextField()


class _Neutralised(Func):
    """_neutralised in SQL: the guard before a text that begins with a formula trigger."""

    arity = 1
    output_field = TextField()
    TRIGGERS = ", ".join(f"chr({ord(trigger)})" for trigger in FORMULA_TRIGGERS)
    GUARD = f"chr({ord(FORMULA_GUARD)})"

    def as_sql(self, compiler, connection, **extra_context):
        # The text is written twice, so are its parameters (a template would bind them once).
        text, params = compiler.compile(self.get_source_expressions()[0])
        sql = f"(CASE WHEN left({text}, 1) IN ({self.TRIGGERS}) THEN {self.GUARD} ELSE '' END || {text})"
        return sql, (*params, *params)


def sql_expression(column, public=True):
    """The column as an SQL expression whose text COPY writes exactly as csv_line spells it."""
    value = source(column, public)
    if column.kind == Kind.TEXT:
        return _Neutralised(NullIf(value, Value("")))
    if column.kind == Kind.DATE:
        return _ISODate(value)
    if column.kind == Kind.TIMESTAMP:
        return _UTCTimestamp(value)
    if column.kind == Kind.BOOLEAN:
        return Case(When(**{column.path: True}, then=Value("true")), default=Value("false"))
    if column.kind == Kind.UUID:
        return Cast(value, TextField())
    if column.kind == Kind.ACTOR_ROLES:
        return _ActorRoles(value)
    return value
