"""Writing batches of records: a fixed number of bulk queries per batch, whatever its size.

Ownership rules (docs/importing.md, "What an import may change"): an import rewrites only
what an import made: figures whose source is a release of the same dataset, actor roles
whose note starts with the dataset's prefix, and its own keys of Incident.extra. Editors'
figures, roles, summaries, parents and extra keys are left as they are.
"""

import itertools
from collections import namedtuple
from types import SimpleNamespace

from django.conf import settings
from django.db import connection
from django.utils import timezone

from incidents import derived
from incidents.bulk import Table
from incidents.history import record_load_in_history
from incidents.importers.records import EXTRA_KEYS, place_key, shorten
from incidents.importers.values import bounded_slug, fold
from incidents.models import (
    INCIDENT_WHAT_AND_WHEN,
    PLACE_FIELDS,
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.search import build_document
from incidents.totals import TOTAL_COLUMNS, compute_totals, counted_figures

Existing = namedtuple("Existing", "pk status row_hash withdrawn")
# A location as incidents.search.build_document reads it.
KnownPlace = namedtuple("KnownPlace", "pk name admin1 admin2")

INCIDENT_FIELDS = (
    *INCIDENT_WHAT_AND_WHEN,
    "location_id",
    "status",
    "extra",
    "updated_at",
)


class SeenSlugs:
    """The incident slugs met so far in one import and where, kept in a temporary table.

    A table rather than a set, so that memory does not grow with the file; it answers
    "is this id a duplicate?" and, at the end, "which records did the file leave out?".
    """

    table = "incidents_import_seen"

    def __init__(self):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table} (slug varchar(200) PRIMARY KEY, line varchar(40) NOT NULL)"
            )

    def lines(self, slugs):
        """{slug: where it was first met} for those of ``slugs`` met before."""
        slugs = list(slugs)
        found = {}
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT slug, line FROM {self.table} WHERE slug = ANY(%s)", [slugs])
                return dict(cursor.fetchall())
            for start in range(0, len(slugs), 1000):
                chunk = slugs[start : start + 1000]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"SELECT slug, line FROM {self.table} WHERE slug IN ({marks})", chunk)
                found.update(cursor.fetchall())
        return found

    def add(self, pairs):
        if not pairs:
            return
        if connection.vendor == "postgresql":
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY {self.table} (slug, line) FROM STDIN") as copy,
            ):
                for pair in pairs:
                    copy.write_row(pair)
            return
        with connection.cursor() as cursor:
            for start in range(0, len(pairs), 500):
                chunk = pairs[start : start + 500]
                values = ", ".join(["(%s, %s)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {self.table} (slug, line) VALUES {values} ON CONFLICT DO NOTHING",
                    [value for pair in chunk for value in pair],
                )

    def unseen(self, queryset):
        """The records of ``queryset`` whose slug was not met."""
        incidents = Incident._meta.db_table
        return queryset.extra(
            where=[f"NOT EXISTS (SELECT 1 FROM {self.table} s WHERE s.slug = {incidents}.slug)"]
        )

    def drop(self):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")


class _Actor:
    # name and aliases as search documents need them (incidents.search.build_document).
    __slots__ = ("pk", "slug", "name", "aliases", "external_ids", "pending")

    def __init__(self, pk, slug, name, aliases, external_ids):
        self.pk = pk
        self.slug = slug
        self.name = name
        self.aliases = aliases if isinstance(aliases, list) else []
        self.external_ids = external_ids
        self.pending = None  # the Actor to create, until it is created


class ActorIndex:
    """Every actor's names, aliases and dataset ids, read once, so rows resolve without queries.

    It grows with the number of distinct actors (thousands), not with the file.
    """

    # An actor has one UCDP id: a name match that carries another one is another actor.
    exclusive_keys = ("ucdp_side_id",)

    def __init__(self):
        self.by_name = {}
        self.by_id = {}
        self.slugs = set()
        self.resolved = {}
        rows = list(Actor.objects.values_list("pk", "slug", "name", "aliases", "external_ids"))
        entries = [_Actor(pk, slug, name, aliases, dict(ids or {})) for pk, slug, name, aliases, ids in rows]
        # Names before aliases, so that an alias never hides another actor's name.
        for entry in entries:
            self._add(entry, [entry.name])
        for entry in entries:
            self._add(entry, [a for a in entry.aliases if isinstance(a, str)])

    def _add(self, entry, names):
        self.slugs.add(entry.slug)
        for name in names:
            self.by_name.setdefault(fold(name), entry)
        for key, value in entry.external_ids.items():
            self.by_id.setdefault((key, str(value)), entry)

    def _find(self, ref):
        for key, value in ref.external_ids:
            if entry := self.by_id.get((key, str(value))):
                return entry
        entry = self.by_name.get(fold(ref.name))
        if entry is not None:
            for key, value in ref.external_ids:
                if (
                    key in self.exclusive_keys
                    and key in entry.external_ids
                    and str(entry.external_ids[key]) != str(value)
                ):
                    return None
        return entry

    def _new_slug(self, name):
        base = bounded_slug(name, 150)
        slug = base
        for n in itertools.count(2):
            if slug not in self.slugs:
                return slug
            slug = f"{base}-{n}"

    def resolve(self, refs):
        """{ref: known actor}, creating the actors nobody knows and noting new dataset ids."""
        created, updated = [], {}
        for ref in refs:
            if ref in self.resolved:
                continue
            entry = self._find(ref)
            if entry is None:
                ids = dict(ref.external_ids)
                slug = self._new_slug(ref.name)
                entry = _Actor(None, slug, shorten(ref.name, 300), [], ids)
                entry.pending = Actor(slug=slug, name=entry.name, kind=ref.kind, external_ids=ids)
                created.append(entry)
                self._add(entry, [ref.name])
            else:
                new_ids = {k: v for k, v in ref.external_ids if k not in entry.external_ids}
                if new_ids:
                    entry.external_ids.update(new_ids)
                    self._add(entry, [])
                    if entry.pk is not None:
                        updated[entry.pk] = entry
            self.resolved[ref] = entry
        if created:
            Actor.objects.bulk_create([e.pending for e in created])
            for entry in created:
                entry.pk, entry.pending = entry.pending.pk, None
        if updated:
            actors = [Actor(pk=e.pk, external_ids=e.external_ids) for e in updated.values()]
            Actor.objects.bulk_update(actors, ["external_ids"])
        return {ref: self.resolved[ref] for ref in refs}


class PlaceIndex:
    """Places resolved so far, so that the next batches need no query for them.

    Bounded: past ``limit`` places it starts afresh, so memory does not grow with the file.
    """

    limit = 100_000

    def __init__(self):
        self.known = {}

    def resolve(self, places):
        """{place: KnownPlace} for ``places`` (Place objects)."""
        found, new = {}, []
        for place in places:
            known = self.known.get(place)
            if known is None:
                new.append(place)
            else:
                found[place] = known
        if new:
            if len(self.known) > self.limit:
                self.known.clear()
            by_slug = resolve_places(new)
            for place in new:
                found[place] = self.known[place] = by_slug[place.slug]
        return found


def resolve_places(places):
    """{place slug: KnownPlace}, reusing the same place under its slug or another, else creating it."""
    by_slug = {p.slug: p for p in places}
    table = Location._meta.db_table
    if connection.vendor == "postgresql":
        rows = _select(
            f"SELECT slug, id, name, admin1, admin2 FROM {table} WHERE slug = ANY(%s)", [list(by_slug)]
        )
    else:
        rows = Location.objects.filter(slug__in=list(by_slug)).values_list(
            "slug", "pk", "name", "admin1", "admin2"
        )
    found = {slug: KnownPlace(*values) for slug, *values in rows}
    missing = {slug: p for slug, p in by_slug.items() if slug not in found}
    if not missing:
        return found
    # A place an editor made (under a slug of their choosing) is still the same place.
    countries = list({p.country_code for p in missing.values()})
    names = list({p.name for p in missing.values()})
    if connection.vendor == "postgresql":
        candidates = _select(
            "SELECT id, name, admin1, admin2, country_code, latitude, longitude, geo_precision "
            f"FROM {table} WHERE country_code = ANY(%s) AND name = ANY(%s)",
            [countries, names],
        )
    else:
        candidates = Location.objects.filter(country_code__in=countries, name__in=names).values_list(
            "pk", "name", "admin1", "admin2", "country_code", "latitude", "longitude", "geo_precision"
        )
    by_key = {}
    for pk, name, admin1, admin2, country_code, latitude, longitude, geo_precision in candidates:
        key = place_key(country_code, name, latitude, longitude, geo_precision)
        by_key[key] = KnownPlace(pk, name, admin1, admin2)
    to_create = []
    for slug, place in missing.items():
        if known := by_key.get(place.match_key):
            found[slug] = known
        else:
            to_create.append(place)
    rows = [
        (p.slug, p.name, p.country_code, p.admin1, p.admin2, p.latitude, p.longitude, p.geo_precision)
        for p in to_create
    ]
    table = Table(Location, LOCATION_FIELDS)
    for place, pk in zip(to_create, table.insert(rows, return_ids=True), strict=True):
        found[place.slug] = KnownPlace(pk, place.name, place.admin1, place.admin2)
    return found


LOCATION_FIELDS = PLACE_FIELDS
NEW_INCIDENT_FIELDS = (
    *INCIDENT_WHAT_AND_WHEN,
    "location_id",
    "status",
    "extra",
    "search_document",
    *TOTAL_COLUMNS,
)
ROLE_FIELDS = ("incident_id", "actor_id", "role", "note")
FIGURE_FIELDS = (
    "incident_id",
    "outcome",
    "group",
    "actor_id",
    "low",
    "best",
    "high",
    "qualifier",
    "wording",
    "source_id",
    "quote",
    "notes",
    "counts_in_total",
)


class Writer:
    def __init__(self, dataset, source, status):
        self.dataset = dataset
        self.source = source
        self.status = status
        self.family_sources = list(
            Source.objects.filter(
                kind=Source.Kind.DATASET, slug__startswith=dataset.source_prefix
            ).values_list("pk", flat=True)
        )
        self.actors = ActorIndex()
        self.places = PlaceIndex()
        self.seen = SeenSlugs()
        self.tables = {
            "incident": Table(Incident, NEW_INCIDENT_FIELDS),
            "role": Table(IncidentActor, ROLE_FIELDS),
            "link": Table(Incident.sources.through, ("incident_id", "source_id")),
            "figure": Table(CasualtyFigure, FIGURE_FIELDS),
        }
        self._derived = {}

    def deduplicate(self, rows):
        """For each (slug, where) of a batch, in order: None, or why it is a duplicate.

        Every slug counts as met, that of an invalid row too, so that a record the file has
        but could not read is never reported missing.
        """
        earlier = self.seen.lines({slug for slug, _ in rows if slug})
        first = {}
        reasons = []
        for slug, where in rows:
            met = earlier.get(slug) or first.get(slug)
            if not slug:
                reasons.append(None)
            elif met:
                reasons.append(f"the id of {slug} is also on {met}")
            else:
                first[slug] = where
                reasons.append(None)
        self.seen.add(list(first.items()))
        return reasons

    def existing(self, slugs):
        """{slug: Existing} for those of ``slugs`` the database has."""
        if connection.vendor == "postgresql":
            # The ORM's IN (%s, %s, ...) costs more to build than the query takes: one array.
            # withdrawn is only compared with None: its text stands for it.
            rows = _select(
                f"SELECT slug, id, status, extra ->> 'row_hash', extra ->> 'withdrawn' "
                f"FROM {Incident._meta.db_table} WHERE slug = ANY(%s)",
                [list(slugs)],
            )
        else:
            rows = Incident.objects.filter(slug__in=list(slugs)).values_list(
                "slug", "pk", "status", "extra__row_hash", "extra__withdrawn"
            )
        return {slug: Existing(*values) for slug, *values in rows}

    @staticmethod
    def deleted(slugs):
        """Those of ``slugs`` whose incident an editor deleted or merged (their tombstones)."""
        if connection.vendor == "postgresql":
            table = IncidentTombstone._meta.db_table
            return {
                slug for (slug,) in _select(f"SELECT slug FROM {table} WHERE slug = ANY(%s)", [list(slugs)])
            }
        return set(IncidentTombstone.objects.filter(slug__in=list(slugs)).values_list("slug", flat=True))

    @staticmethod
    def is_unchanged(old, row_hash):
        """Whether the database has this row as it is (and has not withdrawn its record)."""
        return old is not None and old.row_hash == row_hash and old.withdrawn is None

    def write(self, records, existing):
        """Add the records new to the database, update the others.

        Returns (added, updated, the pks of the incidents written).
        """
        if not records:
            return 0, 0, []
        new, changed = [], []
        for record in records:
            old = existing.get(record.slug)
            if old is None:
                new.append(record)
            else:
                changed.append((record, old))
        touched = new + [record for record, _ in changed]
        # In the file's order, so that an actor two rows give different kinds is created
        # with the first row's kind, whatever the process's string hashing.
        locations = self.places.resolve(list(dict.fromkeys(r.place for r in touched if r.place)))
        actors = self.actors.resolve(list(dict.fromkeys(ref for r in touched for ref in _actor_refs(r))))

        # A new incident has nothing but what this row gives it, so what refresh_totals and
        # refresh_search_documents would derive after the insert (totals, the figures that
        # count, the search text) is derived before it, by the same functions, instead of
        # every row being written twice.
        rows, counted = [], []
        status = self.status
        for record in new:
            place = locations[record.place] if record.place else None
            totals, counts = self._totals(record.figures)
            counted.append(counts)
            rows.append(
                (
                    record.slug,
                    record.title,
                    record.event_type,
                    record.sub_event_type,
                    record.start_date,
                    record.end_date,
                    record.date_precision,
                    place.pk if place else None,
                    status,
                    record.extra,
                    self._search_document(record, place, actors),
                    *totals,
                )
            )
        new_ids = self.tables["incident"].insert(rows, return_ids=True)
        if changed:
            self._update(changed, locations)
        source_id = self.source.pk

        self.tables["role"].insert(
            [
                (pk, actors[role.actor].pk, role.role, role.note)
                for record, pk in zip(new, new_ids, strict=True)
                for role in record.roles
            ]
        )
        self.tables["link"].insert([(pk, source_id) for pk in new_ids])
        figures = [
            self._figure(pk, figure, actors, n in counts)
            for record, pk, counts in zip(new, new_ids, counted, strict=True)
            for n, figure in enumerate(record.figures)
        ]
        if changed:
            # An editor may already have given the same actor the same role, or cited the release.
            through = Incident.sources.through
            IncidentActor.objects.bulk_create(
                [
                    IncidentActor(
                        incident_id=old.pk, actor_id=actors[role.actor].pk, role=role.role, note=role.note
                    )
                    for record, old in changed
                    for role in record.roles
                ],
                ignore_conflicts=True,
            )
            through.objects.bulk_create(
                [through(incident_id=old.pk, source_id=source_id) for _, old in changed],
                ignore_conflicts=True,
            )
            figures += [
                self._figure(old.pk, figure, actors, False)
                for record, old in changed
                for figure in record.figures
            ]
        self.tables["figure"].insert(figures)
        if changed:
            # An updated incident may have editors' figures and roles too: derived from all.
            derived.incidents_changed([old.pk for _, old in changed])
        return len(new), len(changed), [*new_ids, *(old.pk for _, old in changed)]

    def _totals(self, figures):
        """(the totals columns' values, the positions of the figures that count) for new figures.

        compute_totals and counted_figures read nothing of a new figure but its outcome,
        group and bounds (and their order), so their answers are kept by those.
        """
        key = tuple((f.outcome, f.group, f.low, f.best, f.high) for f in figures)
        known = self._derived.get(key)
        if known is None:
            columns = compute_totals(figures)
            chosen = {id(figure) for figure in counted_figures(figures)}
            known = (
                tuple(columns[column] for column in TOTAL_COLUMNS),
                frozenset(n for n, figure in enumerate(figures) if id(figure) in chosen),
            )
            if len(self._derived) > 10_000:
                self._derived.clear()
            self._derived[key] = known
        return known

    @staticmethod
    def _search_document(record, place, actors):
        incident = SimpleNamespace(
            title=record.title, summary="", location_id=place.pk if place else None, location=place
        )
        return build_document(incident, [actors[role.actor] for role in record.roles])

    def _incident(self, record, locations):
        return {
            "slug": record.slug,
            "title": record.title,
            "event_type": record.event_type,
            "sub_event_type": record.sub_event_type,
            "start_date": record.start_date,
            "end_date": record.end_date,
            "date_precision": record.date_precision,
            "location_id": locations[record.place].pk if record.place else None,
        }

    def _update(self, changed, locations):
        pks = [old.pk for _, old in changed]
        old_extra = dict(Incident.objects.filter(pk__in=pks).values_list("pk", "extra"))
        now = timezone.now()
        incidents = []
        for record, old in changed:
            editors_keys = {k: v for k, v in (old_extra.get(old.pk) or {}).items() if k not in EXTRA_KEYS}
            fields = self._incident(record, locations) | {
                # A record withdrawn by an import and back in a release comes back.
                "status": self.status if old.withdrawn is not None else old.status,
                "extra": editors_keys | record.extra,
                "updated_at": now,
            }
            incidents.append(Incident(pk=old.pk, **fields))
        Incident.objects.bulk_update(incidents, INCIDENT_FIELDS)
        restored = [old.pk for _, old in changed if old.withdrawn is not None]
        if restored:
            Incident.objects.filter(pk__in=restored).update(retraction_reason="")
        IncidentActor.objects.filter(
            incident_id__in=pks, note__startswith=self.dataset.role_note_prefix
        ).delete()
        CasualtyFigure.objects.filter(incident_id__in=pks, source_id__in=self.family_sources).delete()

    def _figure(self, incident_id, figure, actors, counts_in_total):
        return (
            incident_id,
            figure.outcome,
            figure.group,
            actors[figure.actor].pk if figure.actor else None,
            figure.low,
            figure.best,
            figure.high,
            figure.qualifier,
            shorten(figure.wording, 200),
            self.source.pk,
            figure.quote,
            figure.notes,
            counts_in_total,
        )

    def record_history(self, pks, reason):
        """One history entry per written incident, naming the import (as history.record_load_in_history).

        On PostgreSQL the entries are copied from the incidents' rows by one INSERT ... SELECT
        instead of loading every incident into Python and inserting it back.
        """
        if not pks:
            return
        if connection.vendor != "postgresql":
            record_load_in_history(((Incident, pk) for pk in pks), reason)
            return
        if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
            return
        history = Incident.history.model
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in history.tracked_fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(history._meta.db_table)} ({columns}, history_date, "
                "history_change_reason, history_type, history_user_id) "
                f"SELECT {columns}, %s, %s, '~', NULL FROM {quote(Incident._meta.db_table)} "
                "WHERE id = ANY(%s) ORDER BY id",
                [timezone.now(), reason[:100], list(pks)],
            )

    def missing(self):
        """This dataset's records in the database that the file did not have (not yet withdrawn)."""
        records = Incident.objects.filter(
            slug__startswith=self.dataset.incident_prefix, extra__dataset=self.dataset.key
        )
        return self.seen.unseen(records.exclude(status=Incident.Status.RETRACTED)).order_by("slug")

    def withdraw(self, reason):
        """Retract the missing records, with the reason in their extra; return how many."""
        pks = list(self.missing().values_list("pk", flat=True))
        now = timezone.now()
        for start in range(0, len(pks), 1000):
            incidents = list(Incident.objects.filter(pk__in=pks[start : start + 1000]).only("pk", "extra"))
            for incident in incidents:
                incident.status = Incident.Status.RETRACTED
                incident.extra = {**incident.extra, "withdrawn": reason}
                incident.updated_at = now
                # A retracted incident must say why (a database constraint).
                incident.retraction_reason = reason["reason"]
            Incident.objects.bulk_update(incidents, ["status", "extra", "updated_at", "retraction_reason"])
        return len(pks)

    def close(self):
        self.seen.drop()


def _select(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _actor_refs(record):
    yield from (role.actor for role in record.roles)
    yield from (figure.actor for figure in record.figures if figure.actor)
