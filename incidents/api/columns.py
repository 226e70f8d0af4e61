"""The CSV layouts: one specification per layout, from which every way of writing it derives.

A layout is a list of Columns: the header, where the value comes from (a values() path)
and its kind. The kind alone decides how a value is spelled, in Python (`csv_line`) and
in SQL (`sql_expression`, for PostgreSQL's COPY), so the two paths cannot drift apart:
tests/api/test_exports.py writes every layout both ways and compares the bytes.

The spelling follows COPY's CSV rules, with its FORCE_QUOTE for text: every header and
every text value (TEXT, ACTOR_ROLES) is quoted, `"` doubled inside; other values (numbers,
dates, timestamps, booleans, UUIDs) never hold a comma, a quote or a line break and are
never quoted; empty text is written like null (an empty field, unquoted); lines end with
\\n; dates are ISO 8601; timestamps are incidents.api.representation.timestamp's one
fixed spelling (UTC, microseconds, Z), as the JSON shows them.

Why text is always quoted: a reader that guesses the dialect (Python's csv.Sniffer, which
frictionless uses on a file it has no description for) counts the characters around
quoted fields. Quoted only when they held a comma, a claim's quotes and notes that hold
`; 'dozens';` outvoted the comma and the claims CSV was read as `;`-separated. With every
text field quoted, the commas around them outvote such text (tests/api/test_export_readers.py).
Text made to fool a guess still can, so the dialect is also declared outright in the data
package (incidents.api.datapackage), which is built from these layouts too.

Text is neutralised against formula injection (OWASP's CSV injection rule): a TEXT cell
that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a single
quote before it, so a spreadsheet shows it as text instead of running it; quoting then
follows the rules above. Only TEXT is: numbers (NUMBER, a negative one too), dates,
timestamps, booleans and UUIDs are never prefixed, and ACTOR_ROLES always begins with a
role code.

A column that names another incident (`Column.status_path`) is null for the public unless
that incident is published, in both ways of writing the layout.
"""

import decimal
import uuid
from dataclasses import dataclass

from django.db.models import Case, F, Func, TextField, Value, When
from django.db.models.functions import Cast, NullIf

from incidents.api.representation import timestamp
from incidents.models import Actor, Incident, IncidentActor
from incidents.totals import TOTAL_COLUMNS


class Kind:
    TEXT = "text"  # quoted; neutralised against formula injection (FORMULA_TRIGGERS)
    NUMBER = "number"  # integers and decimals, written as they are stored
    DATE = "date"
    TIMESTAMP = "timestamp"
    BOOLEAN = "boolean"  # true / false
    UUID = "uuid"
    ACTOR_ROLES = "actor_roles"  # quoted; role:slug|role:slug of the incident's actors


# The kinds whose values are quoted (COPY's FORCE_QUOTE); the others cannot need quotes.
QUOTED_KINDS = (Kind.TEXT, Kind.ACTOR_ROLES)


# What a spreadsheet reads as the start of a formula (OWASP), and what is put before it.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"


@dataclass(frozen=True)
class Column:
    header: str
    path: str
    kind: str = Kind.TEXT
    # What the column holds, for the people reading the file (the data package's Table
    # Schema); when empty, the model's help_text says it (of the field, else of the
    # relation the path starts with).
    description: str = ""
    # For a column naming another incident: the path of that incident's status. The public
    # reads the value only while that incident is published (null otherwise).
    status_path: str | None = None


_BOUND_WORDS = {
    "low": "lower bound",
    "best": "best estimate (falling back to the lower bound)",
    "high": "upper bound (empty when any counted claim has none)",
}


def _total_description(column):
    outcome, bound = column.rsplit("_", 1)
    return (
        f"Total {outcome}, {_BOUND_WORDS[bound]}: the incident's claims combined by one rule "
        "(docs/data-model.md, incident totals); empty when no claim gives it."
    )


INCIDENT_CSV = (
    Column("slug", "slug", description="The incident's identifier; its URL is /api/v1/incidents/<slug>/."),
    Column("title", "title", description="A short title."),
    Column("event_type", "event_type", description="ACLED event type."),
    Column("sub_event_type", "sub_event_type", description="ACLED sub-event type, within the event type."),
    Column("start_date", "start_date", Kind.DATE, "The first day the incident may have happened."),
    Column("end_date", "end_date", Kind.DATE, "The last day the incident may have happened."),
    Column("date_precision", "date_precision", description="How precisely the dates are known."),
    Column("location_slug", "location__slug", description="The place's identifier; empty when none."),
    Column("location_name", "location__name", description="The place's name."),
    Column("country_code", "location__country_code", description="The place's country, ISO 3166-1 alpha-2."),
    Column("admin1", "location__admin1", description="First-level administrative area."),
    Column("admin2", "location__admin2", description="Second-level administrative area."),
    Column("latitude", "location__latitude", Kind.NUMBER, "WGS84 latitude in degrees."),
    Column("longitude", "location__longitude", Kind.NUMBER, "WGS84 longitude in degrees."),
    Column("geo_precision", "location__geo_precision", description="How precisely the place is known."),
    Column(
        "parent_slug",
        "parent__slug",
        description="The incident this one is part of (an operation, a war); empty when none, "
        "and for the public when that incident is not published.",
        status_path="parent__status",
    ),
    Column(
        "actors",
        "id",
        Kind.ACTOR_ROLES,
        "The actors involved, role:actor-slug, separated by |, in the order role, name.",
    ),
    *(Column(column, column, Kind.NUMBER, _total_description(column)) for column in TOTAL_COLUMNS),
    Column("status", "status", description="Review status; the public sees published incidents only."),
    Column("updated_at", "updated_at", Kind.TIMESTAMP, "When the record last changed (UTC)."),
)

# Paths on CasualtyFigure.
CLAIM_CSV = (
    Column("incident_slug", "incident__slug", description="The incident the claim is about."),
    Column("figure_id", "id", Kind.NUMBER, "The claim's id; its URL is /api/v1/casualties/<id>/."),
    Column("uid", "uid", Kind.UUID),
    Column("outcome", "outcome", description="What happened to the people counted."),
    Column("group", "group", description="Which people are counted."),
    Column("actor_slug", "actor__slug"),
    Column("low", "low", Kind.NUMBER, "The lower bound claimed."),
    Column("best", "best", Kind.NUMBER, "The single number claimed, when there is one."),
    Column("high", "high", Kind.NUMBER, "The upper bound claimed."),
    Column("qualifier", "qualifier", description="How the source qualifies the number (exact, at least…)."),
    Column("wording", "wording"),
    Column("claimed_by_slug", "claimed_by__slug"),
    Column("claimed_by_name", "claimed_by__name", description="The name of who makes the claim."),
    Column("source_slug", "source__slug", description="The source the claim is read from."),
    Column("source_title", "source__title", description="The source's title."),
    Column("quote", "quote"),
    Column(
        "is_preferred",
        "is_preferred",
        Kind.BOOLEAN,
        "Chosen by an editor as the claim its group contributes to the incident's totals "
        "(without one, the most conservative claim is).",
    ),
    Column("notes", "notes", description="Coders' notes."),
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


def _text(value):
    return '"' + value.replace('"', '""') + '"'


def _neutralised(value):
    return FORMULA_GUARD + value if value.startswith(FORMULA_TRIGGERS) else value


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
        return timestamp(value)
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
    """representation.timestamp in SQL: UTC, always six digits of microseconds, a Z."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
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


def force_quote(names, layout):
    """The names (one per column of the layout) of the columns COPY must quote: FORCE_QUOTE's
    list, as _spell quotes them. COPY never quotes a null, as _spell writes none."""
    return [name for name, column in zip(names, layout, strict=True) if column.kind in QUOTED_KINDS]


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
