"""Writing planned synthetic incidents: the pool members they need, then the incidents and their rows.

One transaction per batch, a fixed number of bulk queries each: COPY on PostgreSQL,
bulk_create elsewhere or when asked (incidents.bulk). The rows arrive with their derived
values already computed (incidents.synthetic.generator), so each batch only tells
incidents.derived that records changed, which empties the read cache when it commits.
"""

from dataclasses import dataclass

from django.db import transaction

from incidents import derived
from incidents.bulk import Table, next_ids
from incidents.models import (
    INCIDENT_WHAT_AND_WHEN,
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    Location,
    Source,
)
from incidents.synthetic.generator import plan_incident, pool_actor, pool_place
from incidents.totals import TOTAL_COLUMNS

SOURCE_SLUG = "generated-data"
SOURCE_FIELDS = {
    "title": "Synthetic incidents (generate_incidents)",
    "publisher": "generate_incidents",
    "kind": Source.Kind.DATASET,
    "text": "Invented records for load tests and demonstrations. Nothing here happened.",
}
# Each batch looks its slugs up in one IN (...), which databases cap in size.
MAX_BATCH_SIZE = 10_000

# The fields of IncidentPlan.row, then those that need database ids.
PLANNED_INCIDENT_FIELDS = (
    *INCIDENT_WHAT_AND_WHEN,
    "summary",
    "status",
    "retraction_reason",
    "extra",
    *TOTAL_COLUMNS,
    "search_document",
)
INCIDENT_FIELDS = (*PLANNED_INCIDENT_FIELDS, "location_id", "parent_id")
ROLE_FIELDS = ("incident_id", "actor_id", "role", "claimed_by_id", "quote", "note")
# The fields of a planned figure that need no database id, then those that do.
PLANNED_FIGURE_FIELDS = (
    "uid",
    "outcome",
    "group",
    "low",
    "best",
    "high",
    "qualifier",
    "wording",
    "quote",
    "is_preferred",
    "notes",
    "counts_in_total",
)
FIGURE_FIELDS = (*PLANNED_FIGURE_FIELDS, "actor_id", "claimed_by_id", "incident_id", "source_id")
SOURCE_LINK_FIELDS = ("incident_id", "source_id")


@dataclass
class Written:
    """What a run wrote: incidents, those it found already there, and database rows in all."""

    incidents: int = 0
    skipped: int = 0
    rows: int = 0


def write_incidents(count, seed, *, batch_size=1000, use_copy=None, on_batch=None):
    """Write those of incidents gen-<seed>-1 to gen-<seed>-<count> the database lacks.

    ``batch_size`` incidents (at most MAX_BATCH_SIZE) per transaction; ``use_copy`` as
    incidents.bulk.Table takes it; ``on_batch(n)`` is called after each batch with the
    last number in it. Returns a Written.
    """
    writer = BatchWriter(use_copy=use_copy)
    with transaction.atomic():
        source, created = Source.objects.get_or_create(slug=SOURCE_SLUG, defaults=SOURCE_FIELDS)
    written = Written(rows=int(created))
    for first in range(1, count + 1, batch_size):
        numbers = range(first, min(first + batch_size, count + 1))
        with transaction.atomic():
            incidents, skipped, rows = writer.write_batch(seed, numbers, source.pk)
        written.incidents += incidents
        written.skipped += skipped
        written.rows += rows
        if on_batch:
            on_batch(numbers[-1])
    written.rows += writer.pools.created
    return written


class PoolIds:
    """Database ids of the pool actors and places, created the first time one is used."""

    def __init__(self):
        self.actors, self.places, self.created = {}, {}, 0

    def resolve(self, plans):
        """Know (creating them if need be) every actor and place that ``plans`` name."""
        actor_ks = {link[key] for p in plans for link in p.links for key in ("actor", "claimed_by")}
        actor_ks |= {figure[key] for p in plans for figure in p.figures for key in ("actor", "claimed_by")}
        self._ensure(Actor, pool_actor, self.actors, actor_ks - {None})
        self._ensure(Location, pool_place, self.places, {p.place for p in plans} - {None})

    def _ensure(self, model, fields, ids, wanted):
        missing = {k: fields(k)["slug"] for k in wanted if k not in ids}
        if not missing:
            return
        by_slug = dict(model.objects.filter(slug__in=missing.values()).values_list("slug", "pk"))
        new = [model(**fields(k)) for k, slug in sorted(missing.items()) if slug not in by_slug]
        if new:
            # A concurrent run may create the same pool members; theirs are identical to ours.
            model.objects.bulk_create(new, ignore_conflicts=True)
            self.created += len(new)
            new_slugs = [obj.slug for obj in new]
            by_slug.update(model.objects.filter(slug__in=new_slugs).values_list("slug", "pk"))
        ids.update({k: by_slug[slug] for k, slug in missing.items()})


class BatchWriter:
    """Writes batches of planned incidents with their actor roles, casualty figures and source links."""

    def __init__(self, *, use_copy=None):
        self.pools = PoolIds()
        self.incidents = Table(Incident, INCIDENT_FIELDS, use_copy=use_copy)
        self.roles = Table(IncidentActor, ROLE_FIELDS, use_copy=use_copy)
        self.figures = Table(CasualtyFigure, FIGURE_FIELDS, use_copy=use_copy)
        self.source_links = Table(Incident.sources.through, SOURCE_LINK_FIELDS, use_copy=use_copy)

    def write_batch(self, seed, numbers, source_id):
        """Write those of incidents gen-<seed>-<n>, n in ``numbers``, that the database lacks.

        Call it inside a transaction. Returns (incidents written, incidents skipped, rows written).
        """
        slugs = [f"gen-{seed}-{n}" for n in numbers]
        existing = set(Incident.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        plans = [
            plan_incident(seed, n) for n, slug in zip(numbers, slugs, strict=True) if slug not in existing
        ]
        if not plans:
            return 0, len(existing), 0
        self.pools.resolve(plans)
        ids_by_number = self._write_incidents(plans, self._parents_outside(seed, plans))
        links, figures, sources = self._dependents(plans, ids_by_number, source_id)
        self.roles.insert(links)
        self.figures.insert(figures)
        self.source_links.insert(sources)
        derived.records_changed()
        return len(plans), len(existing), len(plans) + len(links) + len(figures) + len(sources)

    @staticmethod
    def _parents_outside(seed, plans):
        """{number: id} of the operations ``plans`` belong to that an earlier batch or run wrote."""
        in_batch = {p.n for p in plans}
        outside = {p.parent for p in plans if p.parent and p.parent not in in_batch}
        if not outside:
            return {}
        by_slug = Incident.objects.filter(slug__in=[f"gen-{seed}-{n}" for n in outside])
        return {int(slug.rsplit("-", 1)[1]): pk for slug, pk in by_slug.values_list("slug", "pk")}

    def _write_incidents(self, plans, parent_ids):
        """Insert the incidents; returns {number: id} for them and their parents."""
        ids_by_number = dict(parent_ids)
        if self.incidents.uses_copy:
            # COPY returns no ids: taken beforehand, they let a child point at an operation
            # of the same batch, and one COPY writes them all.
            ids = next_ids(Incident, len(plans))
            ids_by_number.update(zip((p.n for p in plans), ids, strict=True))
            self.incidents.insert([self._incident_row(p, ids_by_number) for p in plans], ids=ids)
            return ids_by_number
        # bulk_create gives ids as it inserts: children whose operation is in this batch wait for its id.
        first = [p for p in plans if p.parent is None or p.parent in parent_ids]
        second = [p for p in plans if p.parent is not None and p.parent not in parent_ids]
        for group in (first, second):
            rows = [self._incident_row(p, ids_by_number) for p in group]
            ids = self.incidents.insert(rows, return_ids=True)
            ids_by_number.update(zip((p.n for p in group), ids, strict=True))
        return ids_by_number

    def _incident_row(self, plan, ids_by_number):
        planned = tuple(plan.row[name] for name in PLANNED_INCIDENT_FIELDS)
        return (*planned, self.pools.places.get(plan.place), ids_by_number.get(plan.parent))

    def _dependents(self, plans, ids_by_number, source_id):
        """Rows that point at the incidents: actor roles, casualty figures, source links."""
        actors = self.pools.actors
        links, figures, sources = [], [], []
        for plan in plans:
            incident_id = ids_by_number[plan.n]
            links += [
                (
                    incident_id,
                    actors[link["actor"]],
                    link["role"],
                    actors.get(link["claimed_by"]),
                    link["quote"],
                    link["note"],
                )
                for link in plan.links
            ]
            figures += [
                (
                    *(figure[name] for name in PLANNED_FIGURE_FIELDS),
                    actors.get(figure["actor"]),
                    actors.get(figure["claimed_by"]),
                    incident_id,
                    source_id,
                )
                for figure in plan.figures
            ]
            sources.append((incident_id, source_id))
        return links, figures, sources
