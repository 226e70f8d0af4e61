"""The deterministic plan of synthetic data: places, actors, incidents and their claims.

Every record is a pure function of the seed and its number, so a seed gives the same data
whatever the batch size, a rerun adds only what is missing, and a larger count extends an
earlier run. Actors and places come from fixed pools shared by all seeds
(``gen-actor-<n>``, ``gen-place-<n>``), referred to by their numbers; the writer
(incidents.synthetic.writer) turns numbers into database ids.

Totals, counted-figure flags and search text are computed here with the rules of
incidents.totals and incidents.search, so every row is written once.

Nothing here touches the database.
"""

import calendar
import datetime
import functools
import random
import uuid
from dataclasses import dataclass
from types import SimpleNamespace

import pycountry

from incidents.models import Actor, Incident, IncidentActor, Location
from incidents.search import build_document
from incidents.synthetic.vocabulary import (
    ACTOR_KIND_WEIGHTS,
    ACTOR_KINDS,
    CLAIM_KINDS,
    COUNTRY_BOXES,
    COUNTRY_CODES,
    DATE_PRECISIONS,
    EVENT_TYPE_WEIGHTS,
    GEO_PRECISIONS,
    GROUP_NOUNS,
    GROUPS,
    OUTCOMES,
    ROLES_BY_EVENT_TYPE,
    SCENE_WORDS,
    STATUSES,
    SYLLABLES,
    VAGUE_WORDS,
)
from incidents.taxonomy import SUB_EVENT_TYPES_BY_EVENT_TYPE, EventType, SubEventType
from incidents.totals import compute_totals, counted_figures

ACTOR_POOL = 1000
PLACE_POOL = 2000
# Every CONTAINER_EVERY-th incident is an operation that some of the following ones belong to.
CONTAINER_EVERY = 20
CHILD_SHARE = 0.3
FIRST_DAY = datetime.date(1990, 1, 1)
LAST_DAY = datetime.date(2025, 12, 31)


@dataclass
class IncidentPlan:
    """Incident gen-<seed>-<n>: its row, with the pool members and its parent as numbers."""

    n: int
    # Incident fields, derived ones included; not location_id and parent_id, which need database ids.
    row: dict
    place: int | None  # gen-place-<place>
    parent: int | None  # gen-<seed>-<parent>, the operation this incident belongs to
    # IncidentActor and CasualtyFigure fields, with actors as pool numbers.
    links: list
    figures: list


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
def pool_place(k):
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
def pool_actor(k):
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


def plan_incident(seed, n):
    """The IncidentPlan of gen-<seed>-<n>: its row, roles and claims, pool members and parent as numbers."""
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
            quote = f"{pool_actor(claimed_by)['name']} blamed {pool_actor(k)['name']} for the attack"
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

    where = pool_place(place_k)["name"] if place_k else "an undisclosed place"
    label = SubEventType(sub_event_type).label
    if n == operation:
        title = f"Operation {_word(rng)}: {label.lower()} around {where}"
    else:
        title = f"{label} near the {rng.choice(SCENE_WORDS)} in {where}"
    names = " and ".join(pool_actor(k)["name"] for k in actor_ks)
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
            location=SimpleNamespace(**pool_place(place_k)) if place_k else None,
        ),
        # The order refresh_search_documents uses: by role, then actor slug.
        [
            SimpleNamespace(**pool_actor(link["actor"]))
            for link in sorted(links, key=lambda link: (link["role"], pool_actor(link["actor"])["slug"]))
        ],
    )
    return IncidentPlan(n=n, row=row, place=place_k, parent=parent, links=links, figures=figures)
