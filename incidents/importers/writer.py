"""Writing batches of records: a fixed number of bulk queries per batch, whatever its size.

Ownership rules (docs/importing.md, "What an import may change"): an import rewrites only
what an import made: figures whose source is a release of the same dataset, actor roles
whose note starts with the dataset's prefix, and its own keys of Incident.extra. Editors'
figures, roles, summaries, parents and extra keys are left as they are.
"""

import itertools
from collections import namedtuple
from types import SimpleNamespace

from django.db import connection
from django.utils import timezone

from incidents.importers.bulk import insert
from incidents.importers.records import EXTRA_KEYS, place_key, shorten
from incidents.importers.values import bounded_slug, fold
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.search import build_document, refresh_search_documents
from incidents.totals import compute_totals, counted_figures, refresh_totals

Existing = namedtuple("Existing", "pk status row_hash withdrawn")
# A location as incidents.search.build_document reads it.
KnownPlace = namedtuple("KnownPlace", "pk name admin1 admin2")

INCIDENT_FIELDS = (
    "slug",
    "title",
    "event_type",
    "sub_event_type",
    "start_date",
    "end_date",
    "date_precision",
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
            for start in range(0, len(slugs), 1000):
                chunk = slugs[start : start + 1000]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"SELECT slug, line FROM {self.table} WHERE slug IN ({marks})", chunk)
                found.update(cursor.fetchall())
        return found

    def add(self, pairs):
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
        """{place slug: KnownPlace} for ``places``."""
        found = {p.slug: self.known[p.slug] for p in places if p.slug in self.known}
        new = [p for p in places if p.slug not in found]
        if new:
            if len(self.known) > self.limit:
                self.known.clear()
            resolved = resolve_places(new)
            self.known.update(resolved)
            found.update(resolved)
        return found


def resolve_places(places):
    """{place slug: KnownPlace}, reusing the same place under its slug or another, else creating it."""
    by_slug = {p.slug: p for p in places}
    found = {
        slug: KnownPlace(*values)
        for slug, *values in Location.objects.filter(slug__in=list(by_slug)).values_list(
            "slug", "pk", "name", "admin1", "admin2"
        )
    }
    missing = {slug: p for slug, p in by_slug.items() if slug not in found}
    if not missing:
        return found
    # A place an editor made (under a slug of their choosing) is still the same place.
    candidates = Location.objects.filter(
        country_code__in={p.country_code for p in missing.values()},
        name__in={p.name for p in missing.values()},
    ).values_list("pk", "name", "admin1", "admin2", "country_code", "latitude", "longitude", "geo_precision")
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
        {
            "slug": p.slug,
            "name": p.name,
            "country_code": p.country_code,
            "admin1": p.admin1,
            "admin2": p.admin2,
            "latitude": p.latitude,
            "longitude": p.longitude,
            "geo_precision": p.geo_precision,
        }
        for p in to_create
    ]
    for place, pk in zip(to_create, insert(Location, rows, return_ids=True), strict=True):
        found[place.slug] = KnownPlace(pk, place.name, place.admin1, place.admin2)
    return found


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
        rows = Incident.objects.filter(slug__in=list(slugs)).values_list(
            "slug", "pk", "status", "extra__row_hash", "extra__withdrawn"
        )
        return {slug: Existing(*values) for slug, *values in rows}

    @staticmethod
    def deleted(slugs):
        """Those of ``slugs`` whose incident an editor deleted or merged (their tombstones)."""
        return set(IncidentTombstone.objects.filter(slug__in=list(slugs)).values_list("slug", flat=True))

    @staticmethod
    def is_unchanged(old, row_hash):
        """Whether the database has this row as it is (and has not withdrawn its record)."""
        return old is not None and old.row_hash == row_hash and old.withdrawn is None

    def write(self, records, existing):
        """Add the records new to the database, update the others; return (added, updated)."""
        if not records:
            return 0, 0
        new, changed = [], []
        for record in records:
            old = existing.get(record.slug)
            if old is None:
                new.append(record)
            else:
                changed.append((record, old))
        touched = new + [record for record, _ in changed]
        locations = self.places.resolve({r.place for r in touched if r.place})
        actors = self.actors.resolve({ref for r in touched for ref in _actor_refs(r)})

        # A new incident has nothing but what this row gives it, so what refresh_totals and
        # refresh_search_documents would derive after the insert (totals, the figures that
        # count, the search text) is derived before it, by the same functions, instead of
        # every row being written twice.
        rows, counted = [], set()
        for record in new:
            rows.append(
                self._incident(record, locations)
                | compute_totals(record.figures)
                | {
                    "status": self.status,
                    "extra": record.extra,
                    "search_document": self._search_document(record, locations, actors),
                }
            )
            counted.update(id(figure) for figure in counted_figures(record.figures))
        ids = dict(zip([r.slug for r in new], insert(Incident, rows, return_ids=True), strict=True))
        if changed:
            ids.update(self._update(changed, locations))

        def roles(records):
            return [
                {
                    "incident_id": ids[r.slug],
                    "actor_id": actors[role.actor].pk,
                    "role": role.role,
                    "note": role.note,
                }
                for r in records
                for role in r.roles
            ]

        through = Incident.sources.through
        insert(IncidentActor, roles(new))
        insert(through, [{"incident_id": ids[r.slug], "source_id": self.source.pk} for r in new])
        if changed:
            # An editor may already have given the same actor the same role, or cited the release.
            updated = [record for record, _ in changed]
            IncidentActor.objects.bulk_create(
                [IncidentActor(**row) for row in roles(updated)], ignore_conflicts=True
            )
            through.objects.bulk_create(
                [through(incident_id=ids[r.slug], source_id=self.source.pk) for r in updated],
                ignore_conflicts=True,
            )
        insert(
            CasualtyFigure,
            [
                self._figure(ids[r.slug], figure, actors) | {"counts_in_total": id(figure) in counted}
                for r in touched
                for figure in r.figures
            ],
        )
        if changed:
            # An updated incident may have editors' figures and roles too: derived from all.
            refresh_totals([old.pk for _, old in changed])
            refresh_search_documents([old.pk for _, old in changed])
        return len(new), len(changed)

    @staticmethod
    def _search_document(record, locations, actors):
        place = locations[record.place.slug] if record.place else None
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
            "location_id": locations[record.place.slug].pk if record.place else None,
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
        return {record.slug: old.pk for record, old in changed}

    def _figure(self, incident_id, figure, actors):
        return {
            "incident_id": incident_id,
            "outcome": figure.outcome,
            "group": figure.group,
            "actor_id": actors[figure.actor].pk if figure.actor else None,
            "low": figure.low,
            "best": figure.best,
            "high": figure.high,
            "qualifier": figure.qualifier,
            "wording": shorten(figure.wording, 200),
            "source_id": self.source.pk,
            "quote": figure.quote,
            "notes": figure.notes,
        }

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


def _actor_refs(record):
    yield from (role.actor for role in record.roles)
    yield from (figure.actor for figure in record.figures if figure.actor)
