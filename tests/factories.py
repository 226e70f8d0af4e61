"""Small builders for test data: each returns a saved record with sensible defaults (build_incidents
builds a family of them)."""

import datetime
import itertools

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from incidents.search import refresh_search_documents
from incidents.totals import refresh_totals

_counter = itertools.count(1)


def _n():
    return next(_counter)


def make_source(**fields):
    n = _n()
    defaults = {
        "slug": f"source-{n}",
        "title": f"Source {n}",
        "publisher": "Test Wire",
        "published_on": datetime.date(2012, 7, 25),
        "text": "The ministry said at least 12 soldiers were killed. Dozens died, witnesses said.",
    }
    defaults.update(fields)
    return Source.objects.create(**defaults)


def make_actor(**fields):
    n = _n()
    defaults = {"slug": f"actor-{n}", "name": f"Actor {n}", "kind": Actor.Kind.ARMED_GROUP}
    defaults.update(fields)
    return Actor.objects.create(**defaults)


def make_location(**fields):
    n = _n()
    defaults = {
        "slug": f"place-{n}",
        "name": f"Place {n}",
        "country_code": "TJ",
        "admin1": "Gorno-Badakhshan",
        "latitude": "37.489700",
        "longitude": "71.553100",
        "geo_precision": Location.GeoPrecision.EXACT,
    }
    defaults.update(fields)
    return Location.objects.create(**defaults)


def make_incident(**fields):
    n = _n()
    start = fields.pop("start_date", datetime.date(2012, 7, 24))
    defaults = {
        "slug": f"incident-{n}",
        "title": f"Incident {n}",
        "event_type": "battles",
        "sub_event_type": "armed_clash",
        "start_date": start,
        "end_date": fields.pop("end_date", start),
        "date_precision": "day",
        # Most tests look at what the public sees; review-workflow tests pass status explicitly.
        "status": "published",
    }
    defaults.update(fields)
    incident = Incident.objects.create(**defaults)
    refresh_search_documents([incident.pk])
    return incident


def add_actor(incident, actor, role="side_a", **fields):
    role = IncidentActor.objects.create(incident=incident, actor=actor, role=role, **fields)
    refresh_search_documents([incident.pk])
    return role


def add_figure(incident, source, refresh=True, **fields):
    defaults = {
        "outcome": "killed",
        "group": "state_forces",
        "low": 12,
        "best": 12,
        "qualifier": "at_least",
        "quote": "at least 12 soldiers were killed",
    }
    defaults.update(fields)
    figure = CasualtyFigure.objects.create(incident=incident, source=source, **defaults)
    if refresh:
        refresh_totals([incident.pk])
    return figure


def build_incidents(count):
    """`count` incidents: one parent with a place, and count - 1 children of it, each with the
    place, a source, two actor roles (one claimed) and two claims (one with actor and claimant)."""
    source = make_source()
    place = make_location()
    parent = make_incident(location=place)
    for _ in range(count - 1):
        incident = make_incident(location=place, parent=parent)
        incident.sources.add(source)
        add_actor(incident, make_actor(), "side_a")
        add_actor(incident, make_actor(), "side_b", claimed_by=make_actor())
        add_figure(incident, source, claimed_by=make_actor(), actor=make_actor(), refresh=False)
        add_figure(incident, source, group="civilians", refresh=False)
