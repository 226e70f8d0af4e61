"""The floor: a minimal WSGI app answering the benchmark's requests with hand-written SQL.

It serves the same URLs as the project for the workloads the benchmark drives and answers
in the same JSON shape (the run checks the list, detail and cursor bodies are identical
to the API's), but with nothing between the socket and the database: no framework, no
ORM, no serializers, no middleware, no filter validation beyond what the SQL needs. It is
what the same PostgreSQL queries cost when Python does the least it can, so the project's
requests/s as a share of the floor's is the cost of everything the project adds.

    gunicorn -w 2 bench.floor:app        (DATABASE_URL or BENCH_CONNINFO names the database)

One psycopg connection per worker process, opened on the first request and kept (as
CONN_MAX_AGE=60 keeps Django's), in autocommit. orjson encodes the responses.
"""

import base64
import datetime
import hashlib
import json
import os
import uuid
from collections import defaultdict
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import orjson
import psycopg

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
JSON_OPTS = orjson.OPT_UTC_Z
OUTCOMES = ("killed", "wounded", "detained", "missing")
BOUNDS = ("low", "best", "high")

_conn = None


def _connection():
    global _conn
    if _conn is None or _conn.closed:
        conninfo = os.environ.get("BENCH_CONNINFO") or os.environ["DATABASE_URL"].replace(
            "postgres://", "postgresql://", 1
        )
        _conn = psycopg.connect(conninfo, autocommit=True)
    return _conn


# -- SQL -------------------------------------------------------------------------------------------

INCIDENT_COLUMNS = """
    i.id, i.slug, i.title, i.event_type, i.sub_event_type, i.start_date, i.end_date, i.date_precision,
    l.slug, l.name, l.country_code, l.admin1, l.admin2, l.latitude::float8, l.longitude::float8,
    l.geo_precision, p.slug, i.summary,
    i.killed_low, i.killed_best, i.killed_high, i.wounded_low, i.wounded_best, i.wounded_high,
    i.detained_low, i.detained_best, i.detained_high, i.missing_low, i.missing_best, i.missing_high,
    i.status, i.reviewed_at, i.retraction_reason, i.created_at, i.updated_at
"""
INCIDENT_FROM = """
    FROM incidents_incident i
    LEFT JOIN incidents_location l ON l.id = i.location_id
    LEFT JOIN incidents_incident p ON p.id = i.parent_id
"""
# The generated column of migration 0008 (GIN-indexed).
SEARCH_VECTOR = "i.search_vector"
SEARCH_QUERY = "websearch_to_tsquery('english'::regconfig, %s)"

ROLES_SQL = """
    SELECT ia.incident_id, a.slug, a.name, a.kind, ia.role, c.slug, c.name, c.kind, ia.quote, ia.note
    FROM incidents_incidentactor ia
    JOIN incidents_actor a ON a.id = ia.actor_id
    LEFT JOIN incidents_actor c ON c.id = ia.claimed_by_id
    WHERE ia.incident_id = ANY(%s)
    ORDER BY ia.incident_id, ia.role, a.name, ia.id
"""
FIGURES_SQL = """
    SELECT f.incident_id, f.id, f.uid, f.outcome, f."group", a.slug, a.name, a.kind,
           f.low, f.best, f.high, f.qualifier, f.wording, c.slug, c.name, c.kind,
           s.slug, s.title, s.publisher, s.url, f.quote, f.is_preferred, f.notes
    FROM incidents_casualtyfigure f
    LEFT JOIN incidents_actor a ON a.id = f.actor_id
    LEFT JOIN incidents_actor c ON c.id = f.claimed_by_id
    JOIN incidents_source s ON s.id = f.source_id
    WHERE f.incident_id = ANY(%s)
    ORDER BY f.incident_id, f.outcome, f."group", f.id
"""
SOURCES_SQL = """
    SELECT x.incident_id, s.slug, s.title, s.publisher, s.url
    FROM incidents_incident_sources x JOIN incidents_source s ON s.id = x.source_id
    WHERE x.incident_id = ANY(%s)
    ORDER BY s.published_on DESC, s.slug
"""
CHILDREN_SQL = """
    SELECT parent_id, slug FROM incidents_incident
    WHERE parent_id = ANY(%s) ORDER BY start_date DESC, id DESC
"""


def _ref(slug, name, kind):
    return None if slug is None else {"slug": slug, "name": name, "kind": kind}


def _incidents(cur, rows):
    """The API's incident shape for page rows, with their relations read in four queries."""
    ids = [row[0] for row in rows]
    roles, figures, sources, children = (defaultdict(list) for _ in range(4))
    if ids:
        for r in cur.execute(ROLES_SQL, [ids]):
            roles[r[0]].append(
                {
                    "actor": _ref(r[1], r[2], r[3]),
                    "role": r[4],
                    "claimed_by": _ref(r[5], r[6], r[7]),
                    "quote": r[8],
                    "note": r[9],
                }
            )
        for r in cur.execute(FIGURES_SQL, [ids]):
            figures[r[0]].append(
                {
                    "id": r[1],
                    "uid": r[2],
                    "outcome": r[3],
                    "group": r[4],
                    "actor": _ref(r[5], r[6], r[7]),
                    "low": r[8],
                    "best": r[9],
                    "high": r[10],
                    "qualifier": r[11],
                    "wording": r[12],
                    "claimed_by": _ref(r[13], r[14], r[15]),
                    "source": {"slug": r[16], "title": r[17], "publisher": r[18], "url": r[19]},
                    "quote": r[20],
                    "is_preferred": r[21],
                    "notes": r[22],
                }
            )
        for r in cur.execute(SOURCES_SQL, [ids]):
            sources[r[0]].append({"slug": r[1], "title": r[2], "publisher": r[3], "url": r[4]})
        for r in cur.execute(CHILDREN_SQL, [ids]):
            children[r[0]].append(r[1])
    out = []
    for r in rows:
        pk = r[0]
        totals = {
            o: dict(zip(BOUNDS, r[18 + 3 * k : 21 + 3 * k], strict=True)) for k, o in enumerate(OUTCOMES)
        }
        out.append(
            {
                "slug": r[1],
                "title": r[2],
                "event_type": r[3],
                "sub_event_type": r[4],
                "start_date": r[5],
                "end_date": r[6],
                "date_precision": r[7],
                "location": None
                if r[8] is None
                else {
                    "slug": r[8],
                    "name": r[9],
                    "country_code": r[10],
                    "admin1": r[11],
                    "admin2": r[12],
                    "latitude": r[13],
                    "longitude": r[14],
                    "geo_precision": r[15],
                },
                "parent": r[16],
                "children": children[pk],
                "summary": r[17],
                "actors": roles[pk],
                "casualty_figures": figures[pk],
                "totals": totals,
                "sources": sources[pk],
                "status": r[30],
                "reviewed_at": r[31],
                "retraction_reason": r[32],
                "created_at": r[33],
                "updated_at": r[34],
            }
        )
    return out


# -- HTTP ----------------------------------------------------------------------------------------


class HTTPError(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status, self.body = status, body


def _absolute(environ):
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    query = environ.get("QUERY_STRING", "")
    return f"http://{host}{environ.get('PATH_INFO', '')}" + (f"?{query}" if query else "")


def _replace_param(url, key, value):
    # As DRF's replace_query_param / remove_query_param spell the links.
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    if value is None:
        params.pop(key, None)
    else:
        params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def _param(params, name):
    values = params.get(name)
    return values[-1] if values and values[-1] != "" else None


def _date(value, name):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise HTTPError(400, {name: ["Enter a valid date."]}) from None


def _where(params):
    clauses, args = ["i.status = 'published'"], []
    if (country := _param(params, "country")) is not None:
        clauses.append("l.country_code = ANY(%s)")
        args.append([code.upper() for code in country.split(",")])
    if (value := _param(params, "date_from")) is not None:
        clauses.append("i.end_date >= %s")
        args.append(_date(value, "date_from"))
    if (value := _param(params, "date_to")) is not None:
        clauses.append("i.start_date <= %s")
        args.append(_date(value, "date_to"))
    search = _param(params, "search")
    if search is not None:
        search = " ".join(search[:200].split()[:10])
        clauses.append(f"{SEARCH_VECTOR} @@ {SEARCH_QUERY}")
        args.append(search)
    return " AND ".join(clauses), args, search


def incident_list(environ, params):
    cur = _connection().cursor()
    where, args, search = _where(params)
    size = int(_param(params, "page_size") or PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise HTTPError(400, {"page_size": [f"Must be a whole number from 1 to {MAX_PAGE_SIZE}."]})
    url = _absolute(environ)
    if "cursor" in params:
        token = _param(params, "cursor")
        if token:
            day, pk = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            # A row comparison, which PostgreSQL turns into one index range.
            where += " AND (i.start_date, i.id) < (%s, %s)"
            args += [datetime.date.fromisoformat(day), pk]
        rows = cur.execute(
            f"SELECT {INCIDENT_COLUMNS} {INCIDENT_FROM} WHERE {where} "
            "ORDER BY i.start_date DESC, i.id DESC LIMIT %s",
            [*args, size + 1],
        ).fetchall()
        more = len(rows) > size
        rows = rows[:size]
        next_url = None
        if more:
            last = rows[-1]
            raw = json.dumps([last[5].isoformat(), last[0]]).encode()
            next_url = _replace_param(url, "cursor", base64.urlsafe_b64encode(raw).decode().rstrip("="))
        return {"next": next_url, "previous": None, "results": _incidents(cur, rows)}
    page = int(_param(params, "page") or 1)
    count = cur.execute(f"SELECT count(*) {INCIDENT_FROM} WHERE {where}", args).fetchone()[0]
    if page < 1 or (page - 1) * size >= max(count, 1):
        raise HTTPError(404, {"detail": "Invalid page."})
    if search is not None:
        order, order_args = f"ts_rank({SEARCH_VECTOR}, {SEARCH_QUERY}) DESC, i.id DESC", [search]
    else:
        order, order_args = "i.start_date DESC, i.id DESC", []
    rows = cur.execute(
        f"SELECT {INCIDENT_COLUMNS} {INCIDENT_FROM} WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s",
        [*args, *order_args, size, (page - 1) * size],
    ).fetchall()
    next_url = _replace_param(url, "page", page + 1) if page * size < count else None
    if page == 1:
        previous = None
    elif page == 2:
        previous = _replace_param(url, "page", None)
    else:
        previous = _replace_param(url, "page", page - 1)
    return {"count": count, "next": next_url, "previous": previous, "results": _incidents(cur, rows)}


def incident_detail(slug):
    cur = _connection().cursor()
    rows = cur.execute(
        f"SELECT {INCIDENT_COLUMNS} {INCIDENT_FROM} WHERE i.slug = %s AND i.status = 'published'", [slug]
    ).fetchall()
    if not rows:
        raise HTTPError(404, {"detail": "No Incident matches the given query."})
    return _incidents(cur, rows)[0]


STATS_KEYS = {
    "country": ("COALESCE(l.country_code, '')", "LEFT JOIN incidents_location l ON l.id = i.location_id"),
    "year": ("EXTRACT(YEAR FROM i.start_date)::int", ""),
    "event_type": ("i.event_type", ""),
}


def stats_sql(group_by, outcome="killed"):
    """The one hand-written GROUP BY the stats endpoint is compared with."""
    key, join = STATS_KEYS[group_by]
    o = outcome
    return (
        f"SELECT {key} AS key, count(*), sum(i.{o}_low), sum(i.{o}_best), sum(i.{o}_high), "
        f"count(*) FILTER (WHERE i.{o}_low IS NOT NULL AND i.{o}_high IS NULL) "
        f"FROM incidents_incident i {join} WHERE i.status = 'published' GROUP BY 1 ORDER BY 1"
    )


def stats(params):
    group_by = _param(params, "group_by")
    outcome = _param(params, "outcome") or "killed"
    if group_by not in STATS_KEYS or outcome not in OUTCOMES:
        raise HTTPError(400, {"group_by": ["Unsupported by the floor."]})
    rows = _connection().execute(stats_sql(group_by, outcome)).fetchall()
    return {
        "group_by": group_by,
        "outcome": outcome,
        "results": [
            {"key": k, "incidents": n, "low": lo, "best": be, "high": None if unbounded else hi}
            for k, n, lo, be, hi, unbounded in rows
        ],
    }


def create_incident(environ):
    """Bare INSERTs of an incident with its roles, figures and source, then its read shape.

    No validation, change history, derived totals or search text: the floor of a write.
    """
    auth = environ.get("HTTP_AUTHORIZATION", "")
    conn = _connection()
    if (
        not auth.startswith("Token ")
        or not conn.execute(
            "SELECT 1 FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.key = %s AND u.is_active",
            [auth[6:]],
        ).fetchone()
    ):
        raise HTTPError(401, {"detail": "Invalid token."})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = orjson.loads(environ["wsgi.input"].read(length))
    actor_slugs = {r["actor"] for r in body.get("actors", [])} | {
        f[k] for f in body.get("casualty_figures", []) for k in ("actor", "claimed_by") if f.get(k)
    }
    with conn.transaction():
        cur = conn.cursor()
        actors = dict(
            cur.execute("SELECT slug, id FROM incidents_actor WHERE slug = ANY(%s)", [list(actor_slugs)])
        )
        sources = dict(
            cur.execute(
                "SELECT slug, id FROM incidents_source WHERE slug = ANY(%s)", [body.get("sources", [])]
            )
        )
        now = datetime.datetime.now(datetime.UTC)
        pk = cur.execute(
            "INSERT INTO incidents_incident (slug, title, event_type, sub_event_type, start_date, end_date, "
            "date_precision, location_id, summary, status, retraction_reason, extra, search_document, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, "
            "(SELECT id FROM incidents_location WHERE slug = %s), %s, 'draft', '', '{}', '', %s, %s) RETURNING id",
            [
                body["slug"],
                body["title"],
                body["event_type"],
                body["sub_event_type"],
                body["start_date"],
                body["end_date"],
                body["date_precision"],
                body.get("location"),
                body.get("summary", ""),
                now,
                now,
            ],
        ).fetchone()[0]
        cur.executemany(
            "INSERT INTO incidents_incident_sources (incident_id, source_id) VALUES (%s, %s)",
            [(pk, sid) for sid in sources.values()],
        )
        cur.executemany(
            "INSERT INTO incidents_incidentactor (incident_id, actor_id, role, quote, note) "
            "VALUES (%s, %s, %s, '', '')",
            [(pk, actors[r["actor"]], r["role"]) for r in body.get("actors", [])],
        )
        cur.executemany(
            'INSERT INTO incidents_casualtyfigure (uid, incident_id, outcome, "group", actor_id, low, best, '
            "high, qualifier, wording, claimed_by_id, source_id, quote, is_preferred, counts_in_total, notes) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, false, '')",
            [
                (
                    uuid.uuid4(),
                    pk,
                    f["outcome"],
                    f["group"],
                    actors.get(f.get("actor")),
                    f.get("low"),
                    f.get("best"),
                    f.get("high"),
                    f["qualifier"],
                    f.get("wording", ""),
                    actors.get(f.get("claimed_by")),
                    sources[f["source"]],
                    f.get("quote", ""),
                    bool(f.get("is_preferred")),
                )
                for f in body.get("casualty_figures", [])
            ],
        )
        rows = cur.execute(f"SELECT {INCIDENT_COLUMNS} {INCIDENT_FROM} WHERE i.id = %s", [pk]).fetchall()
        return _incidents(cur, rows)[0]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    headers = [("Content-Type", "application/json")]
    status = "200 OK"
    try:
        if path == "/api/v1/incidents/" and method == "POST":
            data, status = create_incident(environ), "201 Created"
        elif path == "/api/v1/incidents/":
            data = incident_list(environ, params)
        elif path.startswith("/api/v1/incidents/") and path.count("/") == 5:
            data = incident_detail(path.split("/")[4])
            tag = hashlib.sha256(orjson.dumps(data, option=JSON_OPTS | orjson.OPT_SORT_KEYS)).hexdigest()[:32]
            headers.append(("ETag", f'"{tag}"'))
        elif path == "/api/v1/stats/casualties/":
            data = stats(params)
        else:
            raise HTTPError(404, {"detail": "Not found."})
    except HTTPError as error:
        data = error.body
        status = {400: "400 Bad Request", 401: "401 Unauthorized", 404: "404 Not Found"}[error.status]
    body = orjson.dumps(data, option=JSON_OPTS)
    headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body]
