"""Generate synthetic incidents: ``manage.py generate_incidents --count N --seed S``.

The data is for load tests, demos and export checks: realistic in shape, invented in
content. Every record is a pure function of the seed and its number, so a seed gives
the same data whatever the batch size, a rerun adds only what is missing, and a larger
--count extends an earlier run. Actors and places come from fixed pools shared by all
seeds (``gen-actor-<n>``, ``gen-place-<n>``) and are created when first used.

Totals, counted-figure flags and search text are computed in memory with the rules of
incidents.totals and incidents.search, so every row is written once. On PostgreSQL the
rows go in with COPY (--bulk-create to compare: 21,000 against 13,000 rows/s for 10,000
incidents on the development machine); other databases use bulk_create.
"""

import calendar
import datetime
import functools
import json
import random
import time
import uuid
from types import SimpleNamespace

import pycountry
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import JSONField
from django.utils import timezone

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from incidents.search import build_document
from incidents.taxonomy import SUB_EVENT_TYPES_BY_EVENT_TYPE, EventType, SubEventType
from incidents.totals import compute_totals, counted_figures

SOURCE_SLUG = "generated-data"
MAX_BATCH_SIZE = 10_000
ACTOR_POOL = 1000
PLACE_POOL = 2000
# Every CONTAINER_EVERY-th incident is an operation that some of the following ones belong to.
CONTAINER_EVERY = 20
CHILD_SHARE = 0.3
FIRST_DAY = datetime.date(1990, 1, 1)
LAST_DAY = datetime.date(2025, 12, 31)

# Rough bounding boxes (lat min, lat max, lon min, lon max), enough to keep points in or
# near the right country.
COUNTRY_BOXES = {
    "AF": (29.4, 38.5, 60.5, 74.9),
    "AM": (38.8, 41.3, 43.4, 46.6),
    "AZ": (38.4, 41.9, 44.8, 50.4),
    "BD": (20.6, 26.6, 88.0, 92.7),
    "BF": (9.4, 15.1, -5.5, 2.4),
    "BR": (-33.7, 5.3, -74.0, -34.8),
    "CD": (-13.5, 5.4, 12.2, 31.3),
    "CF": (2.2, 11.0, 14.4, 27.5),
    "CM": (1.7, 13.1, 8.5, 16.2),
    "CO": (-4.2, 12.5, -79.0, -66.9),
    "EG": (22.0, 31.7, 24.7, 36.9),
    "ET": (3.4, 14.9, 33.0, 48.0),
    "GE": (41.0, 43.6, 40.0, 46.7),
    "HN": (13.0, 16.0, -89.4, -83.1),
    "HT": (18.0, 20.1, -74.5, -71.6),
    "ID": (-10.4, 5.9, 95.3, 141.0),
    "IN": (8.1, 35.5, 68.2, 97.4),
    "IQ": (29.1, 37.4, 38.8, 48.6),
    "IR": (25.1, 39.8, 44.0, 63.3),
    "KE": (-4.7, 5.0, 33.9, 41.9),
    "KG": (39.2, 43.2, 69.3, 80.2),
    "LB": (33.05, 34.7, 35.1, 36.6),
    "LY": (19.5, 33.2, 9.4, 25.2),
    "ML": (10.2, 25.0, -12.2, 4.3),
    "MM": (9.8, 28.5, 92.2, 101.2),
    "MX": (14.5, 32.7, -117.1, -86.7),
    "MZ": (-26.9, -10.5, 30.2, 40.8),
    "NE": (11.7, 23.5, 0.2, 16.0),
    "NG": (4.3, 13.9, 2.7, 14.7),
    "PE": (-18.4, -0.1, -81.3, -68.7),
    "PH": (5.6, 18.6, 117.2, 126.6),
    "PK": (23.7, 37.1, 60.9, 77.8),
    "PS": (31.2, 32.55, 34.2, 35.6),
    "SD": (8.7, 22.2, 21.8, 38.6),
    "SO": (-1.7, 12.0, 41.0, 51.4),
    "SS": (3.5, 12.2, 24.1, 35.9),
    "SY": (32.3, 37.3, 35.7, 42.4),
    "TD": (7.4, 23.4, 13.5, 24.0),
    "TH": (5.6, 20.5, 97.3, 105.6),
    "TJ": (36.7, 41.0, 67.4, 75.1),
    "TR": (35.8, 42.1, 26.0, 44.8),
    "UA": (44.4, 52.4, 22.1, 40.2),
    "UZ": (37.2, 45.6, 56.0, 73.1),
    "VE": (0.6, 12.2, -73.4, -59.8),
    "YE": (12.6, 19.0, 42.6, 53.1),
}
COUNTRY_CODES = sorted(COUNTRY_BOXES)

SYLLABLES = [
    "ka",
    "ri",
    "do",
    "sha",
    "bek",
    "al",
    "nor",
    "ti",
    "van",
    "zar",
    "mo",
    "lu",
    "ghan",
    "dar",
    "sel",
    "ira",
    "kun",
    "ob",
    "pe",
    "ta",
    "hal",
    "mi",
    "sor",
    "ud",
    "bu",
    "ne",
    "fa",
    "ro",
    "jan",
    "kel",
    "os",
    "ya",
    "tum",
    "bar",
    "in",
    "go",
]
SCENE_WORDS = [
    "checkpoint",
    "convoy",
    "market",
    "border",
    "village",
    "bridge",
    "road",
    "school",
    "clinic",
    "mosque",
    "church",
    "police",
    "station",
    "airfield",
    "river",
    "crossing",
    "mine",
    "oil",
    "field",
    "camp",
    "pasture",
]

EVENT_TYPE_WEIGHTS = {
    EventType.BATTLES: 30,
    EventType.EXPLOSIONS_REMOTE_VIOLENCE: 20,
    EventType.VIOLENCE_AGAINST_CIVILIANS: 20,
    EventType.PROTESTS: 15,
    EventType.RIOTS: 7,
    EventType.STRATEGIC_DEVELOPMENTS: 8,
}
R = IncidentActor.Role
# The roles an event type's actors take, in order; actors past the list are commentators.
ROLES_BY_EVENT_TYPE = {
    EventType.BATTLES: (R.SIDE_A, R.SIDE_B, R.PARTICIPANT),
    EventType.EXPLOSIONS_REMOTE_VIOLENCE: (R.PERPETRATOR, R.TARGET, R.ALLEGED_PERPETRATOR),
    EventType.VIOLENCE_AGAINST_CIVILIANS: (R.PERPETRATOR, R.TARGET, R.ALLEGED_PERPETRATOR),
    EventType.PROTESTS: (R.ORGANISER, R.PARTICIPANT, R.TARGET),
    EventType.RIOTS: (R.PARTICIPANT, R.TARGET, R.PARTICIPANT),
    EventType.STRATEGIC_DEVELOPMENTS: (R.SIDE_A, R.SIDE_B, R.MEDIATOR),
}
del R

ACTOR_KINDS = {
    Actor.Kind.ARMED_GROUP: ("Liberation Front", "Brigade", "Movement", "Militia", "Army"),
    Actor.Kind.STATE_FORCES: ("Army", "Border Guard", "National Guard", "Police", "Air Force"),
    Actor.Kind.POLITICAL_GROUP: ("Party", "Union", "Alliance", "Congress"),
    Actor.Kind.COMMUNITY: ("villagers", "clan", "residents", "herders"),
    Actor.Kind.GOVERNMENT_BODY: ("Ministry of Interior", "Ministry of Defence", "Governor's Office"),
    Actor.Kind.PERSON: ("",),
    Actor.Kind.MEDIA: ("Times", "Radio", "News Agency"),
    Actor.Kind.UNIDENTIFIED: ("Unidentified armed group",),
}
ACTOR_KIND_WEIGHTS = (35, 25, 10, 10, 8, 6, 3, 3)

GEO_PRECISIONS = (
    (Location.GeoPrecision.EXACT, 50),
    (Location.GeoPrecision.NEAR, 20),
    (Location.GeoPrecision.DISTRICT, 15),
    (Location.GeoPrecision.PROVINCE, 10),
    (Location.GeoPrecision.COUNTRY, 5),
)
DATE_PRECISIONS = (("day", 65), ("week", 12), ("month", 15), ("year", 8))
STATUSES = (
    (Incident.Status.PUBLISHED, 85),
    (Incident.Status.REVIEWED, 8),
    (Incident.Status.DRAFT, 5),
    (Incident.Status.RETRACTED, 2),
)
OUTCOMES = (("killed", 55), ("wounded", 25), ("detained", 12), ("missing", 8))
GROUPS = (("state_forces", 20), ("non_state_armed", 20), ("civilians", 30), ("unknown", 15), ("total", 15))
GROUP_NOUNS = {
    "state_forces": "soldiers",
    "non_state_armed": "fighters",
    "civilians": "civilians",
    "unknown": "people",
    "total": "people in all",
}
CLAIM_KINDS = (("exact", 30), ("at_least", 25), ("about", 15), ("range", 5), ("at_most", 10), ("vague", 15))
VAGUE_WORDS = (("dozens", 24), ("scores", 40), ("hundreds", 200), ("several", None), ("a number of", None))


def _rng(*parts):
    # String seeds are hashed with SHA-512 by random.Random, the same on every platform and run.
    return random.Random(":".join(str(part) for part in parts))


def _weighted(rng, pairs):
    return rng.choices([value for value, _ in pairs], [weight for _, weight in pairs])[0]


def _word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def _in_box(rng, box, lat=None, lon=None, spread=None):
    """A point in the country's box: anywhere, or within `spread` degrees of (lat, lon)."""
    lat_min, lat_max, lon_min, lon_max = box
    if lat is None:
        return rng.uniform(lat_min, lat_max), rng.uniform(lon_min, lon_max)
    return (
        min(max(lat + rng.uniform(-spread, spread), lat_min), lat_max),
        min(max(lon + rng.uniform(-spread, spread), lon_min), lon_max),
    )


@functools.cache
def _admin1s(country_code):
    subdivisions = pycountry.subdivisions.get(country_code=country_code) or []
    return sorted((s for s in subdivisions if s.parent_code is None), key=lambda s: s.code)


@functools.cache
def _admin2s(country_code, admin1_code):
    """Real second-level names where ISO 3166-2 has them, invented district names elsewhere."""
    children = [
        s.name
        for s in pycountry.subdivisions.get(country_code=country_code) or []
        if s.parent_code == admin1_code
    ]
    if children:
        return sorted(children)
    rng = _rng("admin2", admin1_code)
    return [f"{_word(rng)} District" for _ in range(rng.randint(3, 6))]


@functools.cache
def _area_centre(country_code, area):
    return _in_box(_rng("centre", country_code, area), COUNTRY_BOXES[country_code])


@functools.cache
def place(k):
    """The fields of gen-place-<k>."""
    rng = _rng("place", k)
    code = rng.choice(COUNTRY_CODES)
    box = COUNTRY_BOXES[code]
    admin1 = rng.choice(_admin1s(code))
    admin2 = rng.choice(_admin2s(code, admin1.code))
    precision = _weighted(rng, GEO_PRECISIONS)
    name = _word(rng)
    lat, lon = _area_centre(code, admin1.code)
    if precision == Location.GeoPrecision.COUNTRY:
        name, lat, lon = pycountry.countries.get(alpha_2=code).name, None, None
        admin1_name, admin2 = "", ""
    elif precision == Location.GeoPrecision.PROVINCE:
        name, admin1_name, admin2 = admin1.name, admin1.name, ""
    else:
        admin1_name = admin1.name
        lat, lon = _in_box(rng, box, *_area_centre(code, admin2), spread=0.05)
        lat, lon = _in_box(rng, box, lat, lon, spread=1.0)
        if precision == Location.GeoPrecision.DISTRICT:
            name = admin2
    return {
        "slug": f"gen-place-{k}",
        "name": name,
        "country_code": code,
        "admin1": admin1_name,
        "admin2": admin2,
        "latitude": None if lat is None else round(lat, 6),
        "longitude": None if lon is None else round(lon, 6),
        "geo_precision": precision,
        "notes": "Generated.",
    }


@functools.cache
def actor(k):
    """The fields of gen-actor-<k>."""
    rng = _rng("actor", k)
    code = rng.choice(COUNTRY_CODES)
    country = pycountry.countries.get(alpha_2=code)
    kind = rng.choices(list(ACTOR_KINDS), ACTOR_KIND_WEIGHTS)[0]
    word = _word(rng)
    suffix = rng.choice(ACTOR_KINDS[kind])
    if kind == Actor.Kind.PERSON:
        name = f"{word} {_word(rng)}"
    elif kind in (Actor.Kind.STATE_FORCES, Actor.Kind.GOVERNMENT_BODY):
        name = f"{suffix} of {getattr(country, 'common_name', country.name)} ({word})"
    elif kind == Actor.Kind.UNIDENTIFIED:
        name = f"{suffix} ({word})"
    else:
        name = f"{word} {suffix}"
    aliases = [f"{word} {rng.choice(SCENE_WORDS)} group"] if rng.random() < 0.3 else []
    return {
        "slug": f"gen-actor-{k}",
        "name": name,
        "kind": kind,
        "country": code,
        "aliases": aliases,
        "description": f"Generated actor, active around {country.name}.",
        "external_ids": {},
    }


def _dates(rng, precision, first=FIRST_DAY, last=LAST_DAY):
    """(start, end) of the given precision inside [first, last]."""
    day = datetime.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))
    if precision == "year":
        start, end = datetime.date(day.year, 1, 1), datetime.date(day.year, 12, 31)
    elif precision == "month":
        start = day.replace(day=1)
        end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    elif precision == "week":
        start = day - datetime.timedelta(days=day.weekday())
        end = start + datetime.timedelta(days=6)
    else:
        start = day
        end = day + datetime.timedelta(days=rng.choice((0, 0, 0, 0, 0, 1, 2, 3)))
    # Clipping keeps children inside their operation and everything inside the date range.
    return max(start, first), min(end, last)


@functools.lru_cache(maxsize=4096)
def _operation(seed, n):
    """Dates and place of an operation, which its child incidents share."""
    rng = _rng(seed, n, "operation")
    precision = rng.choice(("week", "month", "month", "year"))
    start, end = _dates(rng, precision)
    return precision, start, end, rng.randint(1, PLACE_POOL)


def _number(rng):
    return min(int(rng.lognormvariate(1.5, 1.2)) + 1, 5000)


def _claim(rng):
    """(qualifier, low, best, high, wording), coded as docs/data-model.md says."""
    kind = _weighted(rng, CLAIM_KINDS)
    x = _number(rng)
    if kind == "exact":
        return "exact", x, x, x, str(x)
    if kind == "at_least":
        return "at_least", x, None, None, f"at least {x}"
    if kind == "about":
        return "about", None, x, None, f"about {x}"
    if kind == "range":
        high = x + _number(rng)
        return "about", x, None, high, f"between {x} and {high}"
    if kind == "at_most":
        return "at_most", None, None, x, f"up to {x}"
    wording, floor = rng.choice(VAGUE_WORDS)
    return "vague", floor, None, None, wording


def incident(seed, n):
    """Everything about incident gen-<seed>-<n>, with pool members and parents as numbers."""
    rng = _rng(seed, n)
    operation = (n - 1) // CONTAINER_EVERY * CONTAINER_EVERY + 1
    parent = None
    if n == operation:
        precision, start, end, place_k = _operation(seed, n)
        event_type = EventType.BATTLES
    else:
        event_type = _weighted(rng, EVENT_TYPE_WEIGHTS.items())
        precision = _weighted(rng, DATE_PRECISIONS)
        if rng.random() < CHILD_SHARE:
            parent = operation
            _, first, last, place_k = _operation(seed, operation)
            start, end = _dates(rng, "day" if precision == "year" else precision, first, last)
            precision = "day" if precision == "year" else precision
            if rng.random() < 0.5:
                place_k = rng.randint(1, PLACE_POOL)
        else:
            start, end = _dates(rng, precision)
            place_k = rng.randint(1, PLACE_POOL) if rng.random() < 0.97 else None
    sub_event_type = rng.choice(SUB_EVENT_TYPES_BY_EVENT_TYPE[event_type])

    actor_ks = rng.sample(range(1, ACTOR_POOL + 1), rng.choices((1, 2, 3, 4), (25, 40, 20, 15))[0])
    roles = ROLES_BY_EVENT_TYPE[event_type]
    links = []
    for i, k in enumerate(actor_ks):
        role = roles[i] if i < len(roles) else IncidentActor.Role.COMMENTATOR
        claimed_by, quote = None, ""
        if role == IncidentActor.Role.ALLEGED_PERPETRATOR:
            claimed_by = rng.randint(1, ACTOR_POOL)
            quote = f"{actor(claimed_by)['name']} blamed {actor(k)['name']} for the attack"
        links.append({"actor": k, "role": role, "claimed_by": claimed_by, "quote": quote, "note": ""})

    figures = []
    preferred = set()
    for _ in range(rng.choices((0, 1, 2, 3, 4), (30, 30, 20, 12, 8))[0]):
        outcome, group = _weighted(rng, OUTCOMES), _weighted(rng, GROUPS)
        qualifier, low, best, high, wording = _claim(rng)
        is_preferred = (outcome, group) not in preferred and rng.random() < 0.3
        if is_preferred:
            preferred.add((outcome, group))
        figures.append(
            {
                "uid": uuid.UUID(int=rng.getrandbits(128), version=4),
                "outcome": outcome,
                "group": group,
                "actor": rng.choice(actor_ks) if rng.random() < 0.3 else None,
                "low": low,
                "best": best,
                "high": high,
                "qualifier": qualifier,
                "wording": wording,
                "claimed_by": rng.randint(1, ACTOR_POOL) if rng.random() < 0.6 else None,
                "quote": f"{wording} {GROUP_NOUNS[group]} were {outcome}",
                "is_preferred": is_preferred,
                "notes": "",
            }
        )

    where = place(place_k)["name"] if place_k else "an undisclosed place"
    label = SubEventType(sub_event_type).label
    if n == operation:
        title = f"Operation {_word(rng)}: {label.lower()} around {where}"
    else:
        title = f"{label} near the {rng.choice(SCENE_WORDS)} in {where}"
    names = " and ".join(actor(k)["name"] for k in actor_ks)
    summary = (
        f"{names} were involved in {label.lower()} at the {rng.choice(SCENE_WORDS)} in {where}. "
        f"Reports mention the {rng.choice(SCENE_WORDS)} and the {rng.choice(SCENE_WORDS)}."
    )
    status = _weighted(rng, STATUSES)
    row = {
        "slug": f"gen-{seed}-{n}",
        "title": title,
        "event_type": event_type,
        "sub_event_type": sub_event_type,
        "start_date": start,
        "end_date": end,
        "date_precision": precision,
        "summary": summary,
        "status": status,
        "retraction_reason": "Withdrawn in generated data." if status == Incident.Status.RETRACTED else "",
        "extra": {"generated": {"seed": seed, "number": n}},
    }
    # What refresh_totals and refresh_search_documents would store, computed before the
    # first write. Unsaved figures tie on pk, so ties go by list order, which is the order
    # they get their ids in: the choice refresh_totals makes from the database.
    claims = [SimpleNamespace(pk=None, **figure) for figure in figures]
    row.update(compute_totals(claims))
    counted = {id(claim) for claim in counted_figures(claims)}
    for figure, claim in zip(figures, claims, strict=True):
        figure["counts_in_total"] = id(claim) in counted
    row["search_document"] = build_document(
        SimpleNamespace(
            title=title,
            summary=summary,
            location_id=place_k,
            location=SimpleNamespace(**place(place_k)) if place_k else None,
        ),
        # The order refresh_search_documents uses: by role, then actor slug.
        [
            SimpleNamespace(**actor(link["actor"]))
            for link in sorted(links, key=lambda link: (link["role"], actor(link["actor"])["slug"]))
        ],
    )
    return SimpleNamespace(n=n, row=row, place=place_k, parent=parent, links=links, figures=figures)


class Command(BaseCommand):
    help = "Generate deterministic synthetic incidents with actors, places and casualty claims."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="Incidents gen-<seed>-1 to -<count>.")
        parser.add_argument(
            "--seed", type=int, required=True, help="0 or more; the same seed, the same data."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help=f"Incidents per transaction, at most {MAX_BATCH_SIZE}.",
        )
        parser.add_argument(
            "--bulk-create", action="store_true", help="Insert with bulk_create even on PostgreSQL."
        )

    def handle(self, *args, count, seed, batch_size, bulk_create, verbosity, **options):
        if count < 0 or seed < 0:
            raise CommandError("--count and --seed must be 0 or more.")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            # Each batch looks its slugs up in one IN (...), which databases cap in size.
            raise CommandError(f"--batch-size must be from 1 to {MAX_BATCH_SIZE}.")
        use_copy = connection.vendor == "postgresql" and not bulk_create
        writer = _CopyWriter() if use_copy else _OrmWriter()
        started = time.perf_counter()
        with transaction.atomic():
            source, created = Source.objects.get_or_create(
                slug=SOURCE_SLUG,
                defaults={
                    "title": "Synthetic incidents (generate_incidents)",
                    "publisher": "generate_incidents",
                    "kind": Source.Kind.DATASET,
                    "text": "Invented records for load tests and demonstrations. Nothing here happened.",
                },
            )
        stats = {"incidents": 0, "skipped": 0, "rows": int(created)}
        pools = _Pools()
        for first in range(1, count + 1, batch_size):
            numbers = range(first, min(first + batch_size, count + 1))
            with transaction.atomic():
                self._batch(seed, numbers, source, pools, writer, stats)
            if verbosity >= 2:
                self.stdout.write(f"  up to gen-{seed}-{numbers[-1]}")
        elapsed = time.perf_counter() - started
        stats["rows"] += pools.created
        rate = stats["rows"] / elapsed if elapsed else 0.0
        if verbosity:
            self.stdout.write(
                f"Generated {stats['incidents']} incidents (skipped {stats['skipped']} existing): "
                f"{stats['rows']} rows in {elapsed:.2f} s, {rate:,.0f} rows/s "
                f"({'COPY' if use_copy else 'bulk_create'})."
            )

    def _batch(self, seed, numbers, source, pools, writer, stats):
        slugs = [f"gen-{seed}-{n}" for n in numbers]
        existing = set(Incident.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        plans = [incident(seed, n) for n, slug in zip(numbers, slugs, strict=True) if slug not in existing]
        stats["skipped"] += len(existing)
        if not plans:
            return
        pools.resolve(plans)
        # An operation comes before its children: in this batch, an earlier one or an earlier run.
        in_batch = {p.n for p in plans}
        outside = {p.parent for p in plans if p.parent and p.parent not in in_batch}
        parent_ids = {}
        if outside:
            by_slug = Incident.objects.filter(slug__in=[f"gen-{seed}-{n}" for n in outside])
            parent_ids = {int(slug.rsplit("-", 1)[1]): pk for slug, pk in by_slug.values_list("slug", "pk")}
        stats["rows"] += writer.write(plans, pools, parent_ids, source.pk)
        stats["incidents"] += len(plans)


class _Pools:
    """Database ids of the pool actors and places, created the first time one is used."""

    def __init__(self):
        self.actors, self.places, self.created = {}, {}, 0

    def resolve(self, plans):
        actor_ks = {link[key] for p in plans for link in p.links for key in ("actor", "claimed_by")}
        actor_ks |= {figure[key] for p in plans for figure in p.figures for key in ("actor", "claimed_by")}
        self._ensure(Actor, actor, self.actors, actor_ks - {None})
        self._ensure(Location, place, self.places, {p.place for p in plans} - {None})

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


def _incident_fields(plan, pools, ids_by_number):
    return {
        **plan.row,
        "location_id": pools.places.get(plan.place),
        "parent_id": ids_by_number.get(plan.parent),
    }


def _link_fields(link, pools, incident_id):
    return {
        "incident_id": incident_id,
        "actor_id": pools.actors[link["actor"]],
        "role": link["role"],
        "claimed_by_id": pools.actors.get(link["claimed_by"]),
        "quote": link["quote"],
        "note": link["note"],
    }


def _figure_fields(figure, pools, incident_id, source_id):
    fields = {key: value for key, value in figure.items() if key not in ("actor", "claimed_by")}
    fields["actor_id"] = pools.actors.get(figure["actor"])
    fields["claimed_by_id"] = pools.actors.get(figure["claimed_by"])
    return {**fields, "incident_id": incident_id, "source_id": source_id}


def _dependents(plans, pools, ids_by_number, source_id):
    """Rows that point at the incidents: actor roles, casualty figures, source links."""
    links, figures, sources = [], [], []
    for plan in plans:
        incident_id = ids_by_number[plan.n]
        links += [_link_fields(link, pools, incident_id) for link in plan.links]
        figures += [_figure_fields(figure, pools, incident_id, source_id) for figure in plan.figures]
        sources.append({"incident_id": incident_id, "source_id": source_id})
    return links, figures, sources


class _OrmWriter:
    """bulk_create, for any database."""

    def write(self, plans, pools, parent_ids, source_id):
        ids_by_number = dict(parent_ids)
        # Children whose operation is in this batch wait for its id.
        first = [p for p in plans if p.parent is None or p.parent in parent_ids]
        second = [p for p in plans if p.parent is not None and p.parent not in parent_ids]
        for group in (first, second):
            objects = [Incident(**_incident_fields(p, pools, ids_by_number)) for p in group]
            Incident.objects.bulk_create(objects)
            ids_by_number.update((p.n, obj.pk) for p, obj in zip(group, objects, strict=True))
        links, figures, sources = _dependents(plans, pools, ids_by_number, source_id)
        IncidentActor.objects.bulk_create(IncidentActor(**row) for row in links)
        CasualtyFigure.objects.bulk_create(CasualtyFigure(**row) for row in figures)
        through = Incident.sources.through
        through.objects.bulk_create(through(**row) for row in sources)
        return len(plans) + len(links) + len(figures) + len(sources)


class _CopyWriter:
    """PostgreSQL COPY, with incident ids taken from their sequence beforehand since COPY returns none."""

    def write(self, plans, pools, parent_ids, source_id):
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Incident._meta.db_table, len(plans)],
            )
            ids = sorted(row[0] for row in cursor.fetchall())
            ids_by_number = {**parent_ids, **{p.n: pk for p, pk in zip(plans, ids, strict=True)}}
            incidents = [
                {**_incident_fields(p, pools, ids_by_number), "id": pk, "created_at": now, "updated_at": now}
                for p, pk in zip(plans, ids, strict=True)
            ]
            links, figures, sources = _dependents(plans, pools, ids_by_number, source_id)
            _copy(cursor, Incident, incidents, with_id=True)
            _copy(cursor, IncidentActor, links)
            _copy(cursor, CasualtyFigure, figures)
            _copy(cursor, Incident.sources.through, sources)
        return len(incidents) + len(links) + len(figures) + len(sources)


def _copy(cursor, model, rows, with_id=False):
    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    # Fields the rows leave out get their defaults, as bulk_create would give them.
    defaults = [f.get_default() for f in fields]
    # COPY's text format has no adapter for dicts and lists.
    encoders = [json.dumps if isinstance(f, JSONField) else None for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = (row.get(f.attname, default) for f, default in zip(fields, defaults, strict=True))
            copy.write_row([encode(v) if encode else v for encode, v in zip(encoders, values, strict=True)])
