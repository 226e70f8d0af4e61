"""The incident shape built from plain rows, for the read paths that serve many incidents.

It produces exactly what IncidentSerializer produces for the same incidents (the tests
compare the two byte for byte), without building a model instance or serializer field
per row: profiling showed those, not SQL or JSON, were most of a list request's time.
One query for the page and one each for actor roles, claims, sources and children.
"""

from collections import defaultdict

from django.db import connections, router

from incidents.models import OUTCOMES_WITH_TOTALS, CasualtyFigure, Incident, IncidentActor
from incidents.totals import BOUNDS, TOTAL_COLUMNS

LOCATION_FIELDS = (
    "slug",
    "name",
    "country_code",
    "admin1",
    "admin2",
    "latitude",
    "longitude",
    "geo_precision",
)
INCIDENT_COLUMNS = (
    "id",
    "slug",
    "title",
    "event_type",
    "sub_event_type",
    "start_date",
    "end_date",
    "date_precision",
    "location_id",
    *(f"location__{field}" for field in LOCATION_FIELDS),
    "parent__slug",
    "summary",
    "status",
    "reviewed_at",
    "retraction_reason",
    "created_at",
    "updated_at",
    *TOTAL_COLUMNS,
)
ACTOR_REF = ("slug", "name", "kind")
SOURCE_REF = ("slug", "title", "publisher", "url")


def _datetime(value):
    # DRF's rendering of an aware UTC datetime.
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _float(value):
    return None if value is None else float(value)


def _ref(row, prefix, fields):
    if row[f"{prefix}__slug"] is None:
        return None
    return {field: row[f"{prefix}__{field}"] for field in fields}


def incident_rows(queryset):
    """The incident rows of a filtered, ordered queryset, with any ordering annotation
    (such as a search rank), which cursor pages need."""
    plain = queryset.select_related(None).prefetch_related(None)
    return plain.values(*INCIDENT_COLUMNS, *plain.query.annotation_select)


class ByIds:
    """A values() query of rows belonging to a list of ids, compiled to SQL once.

    Django compiles a queryset to SQL each time it runs; for the four small queries that
    fill in a page, compiling cost more than PostgreSQL took to answer (1.1 ms against
    0.7 ms each, for a detail). The SQL depends only on the database (and, except on
    PostgreSQL, which takes the ids as one array, on how many ids there are), so it is
    kept per database alias (and number of ids); values are converted with the
    database's own converters, as values() converts them.
    """

    def __init__(self, model, build):
        self.model = model
        self.build = build  # ids -> a values() queryset filtered by them
        self.compiled = {}

    def __call__(self, ids):
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        # PostgreSQL takes the ids as one array, so one statement serves every number of ids
        # (and is prepared once); elsewhere IN gets a placeholder per id.
        as_array = connection.vendor == "postgresql"
        key = (alias, None if as_array else len(ids))
        if key not in self.compiled:
            sample = ids[:1] if as_array else ids
            queryset = self.build(sample).using(alias)
            compiler = queryset.query.get_compiler(alias)
            sql, params = compiler.as_sql()
            if list(params) != list(sample):
                raise ValueError(f"{self.model.__name__}: the query has parameters besides the ids")
            if as_array:
                if sql.count(" IN (%s)") != 1:
                    raise ValueError(f"{self.model.__name__}: expected one IN (%s) in {sql}")
                sql = sql.replace(" IN (%s)", " = ANY(%s)")
            query = queryset.query
            names = [*query.extra_select, *query.values_select, *query.annotation_select]
            converters = compiler.get_converters([column for column, _, _ in compiler.select])
            self.compiled[key] = (sql, names, converters)
        sql, names, converters = self.compiled[key]
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(ids)] if as_array else ids)
            rows = cursor.fetchall()
        for row in rows:
            values = list(row)
            for position, (functions, expression) in converters.items():
                for convert in functions:
                    values[position] = convert(values[position], expression, connection)
            yield dict(zip(names, values, strict=True))


ROLES = ByIds(
    IncidentActor,
    lambda ids: (
        IncidentActor.objects.filter(incident_id__in=ids)
        .order_by("incident_id", "role", "actor__name", "id")
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
CLAIMS = ByIds(
    CasualtyFigure,
    lambda ids: (
        CasualtyFigure.objects.filter(incident_id__in=ids)
        .order_by("incident_id", "outcome", "group", "id")
        .values(
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
    ),
)
SOURCES = ByIds(
    Incident.sources.through,
    lambda ids: (
        Incident.sources.through.objects.filter(incident_id__in=ids)
        .order_by("incident_id", "-source__published_on", "source__slug")
        .values("incident_id", *(f"source__{f}" for f in SOURCE_REF))
    ),
)
CHILDREN = ByIds(
    Incident,
    lambda ids: (
        Incident.objects.filter(parent_id__in=ids).order_by("-start_date", "-id").values("parent_id", "slug")
    ),
)


INCIDENTS_BY_SLUG = ByIds(
    Incident,
    lambda slugs: incident_rows(Incident.objects.select_related("location", "parent").filter(slug__in=slugs)),
)


def represent(rows):
    """The API's incident dicts for incident rows from incident_rows(), in their order."""
    rows = list(rows)
    ids = [row["id"] for row in rows]
    roles, claims, sources, children = (defaultdict(list) for _ in range(4))
    if ids:
        for role in ROLES(ids):
            roles[role["incident_id"]].append(
                {
                    "actor": _ref(role, "actor", ACTOR_REF),
                    "role": role["role"],
                    "claimed_by": _ref(role, "claimed_by", ACTOR_REF),
                    "quote": role["quote"],
                    "note": role["note"],
                }
            )
        for claim in CLAIMS(ids):
            claims[claim["incident_id"]].append(
                {
                    "id": claim["id"],
                    "uid": str(claim["uid"]),
                    "outcome": claim["outcome"],
                    "group": claim["group"],
                    "actor": _ref(claim, "actor", ACTOR_REF),
                    "low": claim["low"],
                    "best": claim["best"],
                    "high": claim["high"],
                    "qualifier": claim["qualifier"],
                    "wording": claim["wording"],
                    "claimed_by": _ref(claim, "claimed_by", ACTOR_REF),
                    "source": _ref(claim, "source", SOURCE_REF),
                    "quote": claim["quote"],
                    "is_preferred": claim["is_preferred"],
                    "notes": claim["notes"],
                }
            )
        for link in SOURCES(ids):
            sources[link["incident_id"]].append(_ref(link, "source", SOURCE_REF))
        for child in CHILDREN(ids):
            children[child["parent_id"]].append(child["slug"])
    return [_incident(row, roles, claims, sources, children) for row in rows]


def _incident(row, roles, claims, sources, children):
    pk = row["id"]
    location = None
    if row["location_id"] is not None:
        location = {field: row[f"location__{field}"] for field in LOCATION_FIELDS}
        location["latitude"] = _float(location["latitude"])
        location["longitude"] = _float(location["longitude"])
    return {
        "slug": row["slug"],
        "title": row["title"],
        "event_type": row["event_type"],
        "sub_event_type": row["sub_event_type"],
        "start_date": row["start_date"].isoformat(),
        "end_date": row["end_date"].isoformat(),
        "date_precision": row["date_precision"],
        "location": location,
        "parent": row["parent__slug"],
        "children": children[pk],
        "summary": row["summary"],
        "actors": roles[pk],
        "casualty_figures": claims[pk],
        "totals": {
            outcome: {bound: row[f"{outcome}_{bound}"] for bound in BOUNDS}
            for outcome in OUTCOMES_WITH_TOTALS
        },
        "sources": sources[pk],
        "status": row["status"],
        "reviewed_at": _datetime(row["reviewed_at"]),
        "retraction_reason": row["retraction_reason"],
        "created_at": _datetime(row["created_at"]),
        "updated_at": _datetime(row["updated_at"]),
    }
