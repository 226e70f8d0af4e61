"""The incident and the casualty claim as the API shows them: the one read representation.

Every answer that carries an incident is built here, from plain rows: the list and the
detail, the answers of writes and workflow steps, the NDJSON export (one incident a
line), the GeoJSON export's properties (`incident_fields`, the incident without what it
embeds) and the ETag of each of them, which the If-Match check compares. The casualty
claims endpoint serves `claim` with its incident's slug. The serializers in
incidents.api.serializers validate input and document this shape in the schema; they never
build it (tests/contract checks the schema describes it field for field).

Who is looking: every function that builds an incident takes `public` (default True, the
safe one). For the public a served record names no incident the public cannot see: its
`children` list only published children and its `parent` is null unless the parent is
published; editors (`public=False`) see every relation. Nothing unpublished reaches a public
representation, so neither does it reach its ETag. Whether the record itself may be shown
is its caller's decision (incident_by_slug returns its status for that).

Rows, not model instances: profiling showed building a model instance and a serializer
field per row, not SQL or JSON, was most of a list request's time. A page takes one
query for its incidents and one each for actor roles, claims, sources and children.
"""

import datetime
import hashlib
import json
from collections import defaultdict

from incidents.api.compiled import RowsByKeys
from incidents.models import (
    CLAIM_EDITED_FIELDS,
    INCIDENT_WHAT_AND_WHEN,
    OUTCOMES_WITH_TOTALS,
    PLACE_FIELDS,
    CasualtyFigure,
    Incident,
    IncidentActor,
)
from incidents.totals import BOUNDS, TOTAL_COLUMNS

# The public shapes' fields, in the order they are served (the schema's serializers list
# them from here).
INCIDENT_FIELDS = (
    *INCIDENT_WHAT_AND_WHEN,
    "location",
    "parent",
    "children",
    "summary",
    "actors",
    "casualty_figures",
    "totals",
    "sources",
    "status",
    "reviewed_at",
    "retraction_reason",
    "revision_of",
    "pending_revision",
    "created_at",
    "updated_at",
)
CLAIM_FIELDS = ("id", "uid", *CLAIM_EDITED_FIELDS)
# On its own (the casualties endpoint) a claim names its incident.
STANDALONE_CLAIM_FIELDS = ("id", "uid", "incident", *CLAIM_FIELDS[2:])
ROLE_FIELDS = ("actor", "role", "claimed_by", "quote", "note")
LOCATION_FIELDS = PLACE_FIELDS
ACTOR_REF = ("slug", "name", "kind")
SOURCE_REF = ("slug", "title", "publisher", "url")
# The values() paths an incident row holds.
INCIDENT_ROW_PATHS = (
    "id",
    *INCIDENT_WHAT_AND_WHEN,
    "location_id",
    *(f"location__{field}" for field in LOCATION_FIELDS),
    "parent__slug",
    "parent__status",
    "summary",
    "status",
    "reviewed_at",
    "retraction_reason",
    "revision_of__slug",
    "pending_revision__slug",
    "created_at",
    "updated_at",
    *TOTAL_COLUMNS,
)
# The values() paths a claim row holds, on CasualtyFigure.
CLAIM_ROW_PATHS = (
    "id",
    "uid",
    "incident_id",
    "outcome",
    "group",
    *BOUNDS,
    "qualifier",
    "wording",
    "quote",
    "is_preferred",
    "notes",
    *(f"actor__{f}" for f in ACTOR_REF),
    *(f"claimed_by__{f}" for f in ACTOR_REF),
    *(f"source__{f}" for f in SOURCE_REF),
)
# The order of an incident's claims, roles and sources wherever they are listed.
CLAIM_ORDER = ("incident_id", "outcome", "group", "id")
ROLE_ORDER = ("incident_id", "role", "actor__name", "id")
# timestamp()'s spelling as a strptime pattern, for readers told the format (the data
# package's Table Schemas); tests check every served value parses with it.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def timestamp(value):
    """THE spelling of a moment wherever the API serves one (JSON, NDJSON, GeoJSON, both CSVs):
    RFC 3339 in UTC, always with six digits of microseconds and a Z,
    `2026-11-25T00:00:00.000000Z`. One fixed width, so that readers given one format (pandas'
    parse_dates, a Table Schema's `format`) read every value; DRF's own spelling drops the
    fraction when it is zero, and a column mixing both is left as text. Microseconds, not
    whole seconds: the database keeps them, and a client passing a served `updated_at` back
    as `updated_since` must not miss the record it came from. (incidents.api.columns spells
    it in SQL too, for PostgreSQL's COPY.)"""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _float(value):
    return None if value is None else float(value)


def _ref(row, prefix, fields):
    if row[f"{prefix}__slug"] is None:
        return None
    return {field: row[f"{prefix}__{field}"] for field in fields}


def shown(status, public):
    """Whether a related incident with this status is named to this viewer."""
    return not public or status == Incident.Status.PUBLISHED


def etag(data):
    """The ETag of a representation: it changes with anything a client could see."""
    body = json.dumps(data, sort_keys=True, default=str).encode()
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


# -- Rows -------------------------------------------------------------------------------------


def incident_rows(queryset):
    """The incident rows of a filtered, ordered queryset, with any ordering annotation
    (such as a search rank), which cursor pages need."""
    plain = queryset.select_related(None).prefetch_related(None)
    return plain.values(*INCIDENT_ROW_PATHS, *plain.query.annotation_select)


def claim_rows(queryset):
    """The claim rows of a filtered, ordered CasualtyFigure queryset, with their incident's slug."""
    plain = queryset.select_related(None).prefetch_related(None)
    return plain.values(*CLAIM_ROW_PATHS, "incident__slug")


ROLES = RowsByKeys(
    IncidentActor,
    lambda ids: (
        IncidentActor.objects.filter(incident_id__in=ids)
        .order_by(*ROLE_ORDER)
        .values(
            "incident_id",
            "role",
            "quote",
            "note",
            *(f"actor__{f}" for f in ACTOR_REF),
            *(f"claimed_by__{f}" for f in ACTOR_REF),
        )
    ),
)
CLAIMS = RowsByKeys(
    CasualtyFigure,
    lambda ids: (
        CasualtyFigure.objects.filter(incident_id__in=ids).order_by(*CLAIM_ORDER).values(*CLAIM_ROW_PATHS)
    ),
)
SOURCES = RowsByKeys(
    Incident.sources.through,
    lambda ids: (
        Incident.sources.through.objects.filter(incident_id__in=ids)
        .order_by("incident_id", "-source__published_on", "source__slug")
        .values("incident_id", *(f"source__{f}" for f in SOURCE_REF))
    ),
)
# Every child with its status (a compiled query takes no parameter but the keys): who may
# see which is decided per viewer in represent().
CHILDREN = RowsByKeys(
    Incident,
    lambda ids: (
        Incident.objects.filter(parent_id__in=ids)
        .order_by("-start_date", "-id")
        .values("parent_id", "slug", "status")
    ),
)
INCIDENTS_BY_SLUG = RowsByKeys(
    Incident,
    lambda slugs: incident_rows(Incident.objects.filter(slug__in=slugs)),
)
INCIDENTS_BY_ID = RowsByKeys(
    Incident,
    lambda ids: incident_rows(Incident.objects.filter(pk__in=ids)),
)


# -- Shapes -----------------------------------------------------------------------------------


def claim(row):
    """A casualty claim as embedded in its incident."""
    return {
        "id": row["id"],
        "uid": str(row["uid"]),
        "outcome": row["outcome"],
        "group": row["group"],
        "actor": _ref(row, "actor", ACTOR_REF),
        "low": row["low"],
        "best": row["best"],
        "high": row["high"],
        "qualifier": row["qualifier"],
        "wording": row["wording"],
        "claimed_by": _ref(row, "claimed_by", ACTOR_REF),
        "source": _ref(row, "source", SOURCE_REF),
        "quote": row["quote"],
        "is_preferred": row["is_preferred"],
        "notes": row["notes"],
    }


def standalone_claim(row):
    """A casualty claim on its own (the casualties endpoint): the embedded shape naming its incident."""
    embedded = claim(row)
    return {
        "id": embedded.pop("id"),
        "uid": embedded.pop("uid"),
        "incident": row["incident__slug"],
        **embedded,
    }


def _role(row):
    return {
        "actor": _ref(row, "actor", ACTOR_REF),
        "role": row["role"],
        "claimed_by": _ref(row, "claimed_by", ACTOR_REF),
        "quote": row["quote"],
        "note": row["note"],
    }


def _location(row):
    if row["location_id"] is None:
        return None
    location = {field: row[f"location__{field}"] for field in LOCATION_FIELDS}
    location["latitude"] = _float(location["latitude"])
    location["longitude"] = _float(location["longitude"])
    return location


def incident(row, *, children, actors, claims, sources, public=True):
    """The API's incident for an incident row and the lists it embeds (`children` already
    the ones this viewer may see); `parent` is null when the viewer may not see it."""
    return {
        "slug": row["slug"],
        "title": row["title"],
        "event_type": row["event_type"],
        "sub_event_type": row["sub_event_type"],
        "start_date": row["start_date"].isoformat(),
        "end_date": row["end_date"].isoformat(),
        "date_precision": row["date_precision"],
        "location": _location(row),
        "parent": row["parent__slug"] if shown(row["parent__status"], public) else None,
        "children": children,
        "summary": row["summary"],
        "actors": actors,
        "casualty_figures": claims,
        "totals": {
            outcome: {bound: row[f"{outcome}_{bound}"] for bound in BOUNDS}
            for outcome in OUTCOMES_WITH_TOTALS
        },
        "sources": sources,
        "status": row["status"],
        "reviewed_at": timestamp(row["reviewed_at"]),
        "retraction_reason": row["retraction_reason"],
        # A revision is a draft, so the public never sees one nor learns that one is pending.
        "revision_of": row["revision_of__slug"],
        "pending_revision": None if public else row["pending_revision__slug"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }


def incident_fields(row, *, public=True):
    """The incident's own fields without the lists it embeds (those are None): what a flat
    export (GeoJSON's properties) shows of it, with no query beyond the row's own."""
    return incident(row, children=None, actors=None, claims=None, sources=None, public=public)


def represent(rows, *, public=True):
    """The API's incidents for incident rows from incident_rows(), in their order, as the
    public (default) or an editor (`public=False`) sees them."""
    rows = list(rows)
    ids = [row["id"] for row in rows]
    roles, claims, sources, children = (defaultdict(list) for _ in range(4))
    if ids:
        for row in ROLES(ids):
            roles[row["incident_id"]].append(_role(row))
        for row in CLAIMS(ids):
            claims[row["incident_id"]].append(claim(row))
        for row in SOURCES(ids):
            sources[row["incident_id"]].append(_ref(row, "source", SOURCE_REF))
        for row in CHILDREN(ids):
            if shown(row["status"], public):
                children[row["parent_id"]].append(row["slug"])
    return [
        incident(
            row,
            children=children[row["id"]],
            actors=roles[row["id"]],
            claims=claims[row["id"]],
            sources=sources[row["id"]],
            public=public,
        )
        for row in rows
    ]


def incident_by_slug(slug, *, public=True):
    """The representation of the incident with this slug as this viewer sees it, and its
    status; (None, None) if none. The caller decides from the status whether to show it."""
    rows = list(INCIDENTS_BY_SLUG([slug]))
    if not rows:
        return None, None
    return represent(rows, public=public)[0], rows[0]["status"]


def incident_by_id(pk, *, public=True):
    """The representation of the incident with this primary key (which must exist), as this
    viewer sees it."""
    return represent(INCIDENTS_BY_ID([pk]), public=public)[0]


def claim_by_id(pk):
    """The casualties endpoint's representation of one claim (which must exist)."""
    return standalone_claim(claim_rows(CasualtyFigure.objects.filter(pk=pk)).get())
