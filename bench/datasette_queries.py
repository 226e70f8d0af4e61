"""Datasette's side: canned queries over the SQLite copy that build the API's incident shape.

Each incident row carries the same members as the API's incident (location, parent,
children, actors, casualty_figures, totals, sources …), the nested ones built in SQL with
json_object/json_group_array and decoded by Datasette through `_json=` parameters; the
rows come back as a JSON array (`_shape=array`). The list query repeats the total `count`
on every row instead of an envelope. Stats are the same GROUP BY as the floor's.

The metadata file is written per tier because Datasette keys canned queries by database
name, which is the SQLite file's stem (bench_10k, …).
"""

import json

from bench import config

JSON_COLUMNS = ("location", "children", "actors", "casualty_figures", "totals", "sources")
PAGE = 50


def _ref(alias):
    return (
        f"json(CASE WHEN {alias}.id IS NULL THEN 'null' ELSE "
        f"json_object('slug', {alias}.slug, 'name', {alias}.name, 'kind', {alias}.kind) END)"
    )


def _bounds(outcome):
    return f"json_object('low', p.{outcome}_low, 'best', p.{outcome}_best, 'high', p.{outcome}_high)"


INCIDENT_SHAPE = f"""
  p.slug, p.title, p.event_type, p.sub_event_type, p.start_date, p.end_date, p.date_precision,
  (SELECT json_object('slug', l.slug, 'name', l.name, 'country_code', l.country_code,
          'admin1', l.admin1, 'admin2', l.admin2, 'latitude', l.latitude, 'longitude', l.longitude,
          'geo_precision', l.geo_precision)
     FROM incidents_location l WHERE l.id = p.location_id) AS location,
  (SELECT pp.slug FROM incidents_incident pp WHERE pp.id = p.parent_id) AS parent,
  (SELECT json_group_array(c.slug) FROM (
     SELECT c.slug FROM incidents_incident c WHERE c.parent_id = p.id ORDER BY c.start_date DESC, c.id DESC
   ) c) AS children,
  p.summary,
  (SELECT json_group_array(json(x.o)) FROM (
     SELECT json_object('actor', {_ref("a")}, 'role', ia.role, 'claimed_by', {_ref("cb")},
                        'quote', ia.quote, 'note', ia.note) AS o
       FROM incidents_incidentactor ia
       JOIN incidents_actor a ON a.id = ia.actor_id
       LEFT JOIN incidents_actor cb ON cb.id = ia.claimed_by_id
      WHERE ia.incident_id = p.id
      ORDER BY ia.role, a.name, ia.id
   ) x) AS actors,
  (SELECT json_group_array(json(x.o)) FROM (
     SELECT json_object('id', f.id, 'uid', f.uid, 'outcome', f.outcome, 'group', f."group",
                        'actor', {_ref("a")}, 'low', f.low, 'best', f.best, 'high', f.high,
                        'qualifier', f.qualifier, 'wording', f.wording, 'claimed_by', {_ref("cb")},
                        'source', json_object('slug', s.slug, 'title', s.title, 'publisher', s.publisher, 'url', s.url),
                        'quote', f.quote,
                        'is_preferred', json(CASE WHEN f.is_preferred THEN 'true' ELSE 'false' END),
                        'notes', f.notes) AS o
       FROM incidents_casualtyfigure f
       LEFT JOIN incidents_actor a ON a.id = f.actor_id
       LEFT JOIN incidents_actor cb ON cb.id = f.claimed_by_id
       JOIN incidents_source s ON s.id = f.source_id
      WHERE f.incident_id = p.id
      ORDER BY f.outcome, f."group", f.id
   ) x) AS casualty_figures,
  json_object('killed', {_bounds("killed")}, 'wounded', {_bounds("wounded")},
              'detained', {_bounds("detained")}, 'missing', {_bounds("missing")}) AS totals,
  (SELECT json_group_array(json(x.o)) FROM (
     SELECT json_object('slug', s.slug, 'title', s.title, 'publisher', s.publisher, 'url', s.url) AS o
       FROM incidents_incident_sources xs JOIN incidents_source s ON s.id = xs.source_id
      WHERE xs.incident_id = p.id
      ORDER BY s.published_on DESC, s.slug
   ) x) AS sources,
  p.status, p.reviewed_at, p.retraction_reason, p.created_at, p.updated_at
"""

LIST_WHERE = """
  i.status = 'published' AND l.country_code = upper(:country)
  AND i.end_date >= :date_from AND i.start_date <= :date_to
"""

QUERIES = {
    # Filtered list: one country, a date range (overlap), newest first, page 1 of 50, with the count.
    "incident_list": f"""
WITH page AS (
  SELECT i.* FROM incidents_incident i JOIN incidents_location l ON l.id = i.location_id
  WHERE {LIST_WHERE}
  ORDER BY i.start_date DESC, i.id DESC LIMIT {PAGE}
)
SELECT (SELECT count(*) FROM incidents_incident i JOIN incidents_location l ON l.id = i.location_id
        WHERE {LIST_WHERE}) AS count,
{INCIDENT_SHAPE}
FROM page p ORDER BY p.start_date DESC, p.id DESC
""",
    "incident_detail": f"""
SELECT {INCIDENT_SHAPE}
FROM incidents_incident p WHERE p.slug = :slug AND p.status = 'published'
""",
    # FTS5 (porter stemming) over the same stored document; best bm25 rank first, with the count.
    "incident_search": f"""
WITH m AS (
  SELECT i.id, f.rank FROM incident_fts f JOIN incidents_incident i ON i.id = f.rowid
  WHERE incident_fts MATCH :q AND i.status = 'published'
), page AS (
  SELECT i.*, m.rank FROM m JOIN incidents_incident i ON i.id = m.id ORDER BY m.rank, m.id DESC LIMIT {PAGE}
)
SELECT (SELECT count(*) FROM m) AS count,
{INCIDENT_SHAPE}
FROM page p ORDER BY p.rank, p.id DESC
""",
    # Keyset page after (start_date, id), as the API's cursor.
    "incident_after": f"""
WITH page AS (
  SELECT i.* FROM incidents_incident i
  WHERE i.status = 'published' AND (i.start_date < :d OR (i.start_date = :d AND i.id < CAST(:i AS INTEGER)))
  ORDER BY i.start_date DESC, i.id DESC LIMIT {PAGE}
)
SELECT {INCIDENT_SHAPE}
FROM page p ORDER BY p.start_date DESC, p.id DESC
""",
    "stats_country": """
SELECT COALESCE(l.country_code, '') AS key, count(*) AS incidents,
       sum(i.killed_low) AS low, sum(i.killed_best) AS best,
       CASE WHEN sum(i.killed_low IS NOT NULL AND i.killed_high IS NULL) > 0 THEN NULL ELSE sum(i.killed_high) END AS high
FROM incidents_incident i LEFT JOIN incidents_location l ON l.id = i.location_id
WHERE i.status = 'published' GROUP BY 1 ORDER BY 1
""",
    "stats_year": """
SELECT CAST(substr(i.start_date, 1, 4) AS INTEGER) AS key, count(*) AS incidents,
       sum(i.killed_low) AS low, sum(i.killed_best) AS best,
       CASE WHEN sum(i.killed_low IS NOT NULL AND i.killed_high IS NULL) > 0 THEN NULL ELSE sum(i.killed_high) END AS high
FROM incidents_incident i
WHERE i.status = 'published' GROUP BY 1 ORDER BY 1
""",
}


def metadata_path(count):
    return config.DATA_DIR / f"datasette-{config.tier_name(count)}.json"


def write_metadata(count):
    path = metadata_path(count)
    config.DATA_DIR.mkdir(parents=True, exist_ok=True)
    metadata = {
        "title": "Incident benchmark (SQLite copy)",
        "databases": {
            config.db_name(count): {"queries": {name: {"sql": sql} for name, sql in QUERIES.items()}}
        },
    }
    path.write_text(json.dumps(metadata, indent=2))
    return path


def url(count, query, **params):
    """The JSON URL of a canned query with its parameters."""
    from urllib.parse import urlencode

    extra = [("_shape", "array")]
    if query.startswith("incident_"):
        extra += [("_json", column) for column in JSON_COLUMNS]
    return f"/{config.db_name(count)}/{query}.json?" + urlencode([*params.items(), *extra])
