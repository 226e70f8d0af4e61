"""Dates and moments in a query take one spelling each: YYYY-MM-DD, and RFC 3339 date-times.

The cases are generated: every endpoint of the URL configuration with a FilterSet, every
filter of it that reads a date or a moment (by its form field, or by the model field it
filters), times each spelling below. A new date filter, or a new endpoint taking one, is
covered the day it is added. Anything but the one spelling is a JSON 400 naming that
parameter and no other; `date_to=01/04/2026` used to be read as 4 January.
"""

import datetime

import pytest
from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import URLPattern, reverse

from incidents.api import urls as api_urls
from incidents.models import Incident
from tests.factories import make_incident

# Query parameters an endpoint needs to answer at all.
REQUIRED = {"stats-casualties": {"group_by": "event_type"}}

# Not YYYY-MM-DD, or not a day that exists.
BAD_DATES = (
    "01/04/2026",
    "04/01/2026",
    "1/4/2026",
    "2026/01/04",
    "2026.01.04",
    "2026-1-4",
    "2026-01-4",
    "26-01-04",
    "4 Jan 2026",
    "Jan 4 2026",
    "January 4, 2026",
    "20260104",
    "2026-W01-7",
    "2026-004",
    "2026-01-04T00:00:00Z",
    "2026-01-04Z",
    " 2026-01-04",
    "2026-01-04 ",
    "\uff12\uff10\uff12\uff16-\uff10\uff11-\uff10\uff14",  # full-width digits
    "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0664",  # Arabic-Indic digits
    "+2026-01-04",
    "yesterday",
    "2026-13-01",
    "2026-02-30",
    "0000-01-01",
)
GOOD_DATES = ("2026-01-04", "2012-02-29", "0001-01-01", "9999-12-31")

# Not an RFC 3339 date-time (with seconds and an offset) nor YYYY-MM-DD, or no such moment.
BAD_MOMENTS = (
    *(spelling for spelling in BAD_DATES if spelling != "2026-01-04T00:00:00Z"),
    "2026-01-04T09:30:00",
    "2026-01-04T09:30Z",
    "2026-01-04T09Z",
    "2026-01-04 09:30:00Z",
    "2026-01-04T09:30:00 05:00",  # a + sent unencoded arrives as a space
    "20260104T093000Z",
    "2026-01-04T09:30:00+0500",
    "2026-01-04T09:30:00+05",
    "2026-01-04T09:30:00.Z",
    "2026-01-04T9:30:00Z",
    "2026-1-4T09:30:00Z",
    "2026-01-04T25:00:00Z",
    "2026-01-04T09:60:00Z",
    "2026-01-04T09:30:00+24:00",
    "2026-01-04T09:30:00+05:60",
    "2026-02-30T09:30:00Z",
    "1767519000",
    "4 Jan 2026 09:30 UTC",
    "Sun, 04 Jan 2026 09:30:00 GMT",
)
GOOD_MOMENTS = (
    "2026-01-04T09:30:00Z",
    "2026-01-04t09:30:00z",
    "2026-01-04T09:30:00.5Z",
    "2026-01-04T09:30:00.123456789+05:00",
    "2026-01-04T09:30:00-03:30",
    "2026-01-04",
)


def _model_field(model, path):
    """The model field a filter's field_name ends at, or None (an annotation, a method)."""
    field = None
    for name in (path or "").split("__"):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        model = field.related_model or model
    return field


def _kind(filterset, declared):
    """'moment', 'date' or None: what a filter reads, by its form field or its model field."""
    field_class = declared.field_class
    model_field = _model_field(filterset._meta.model, declared.field_name)
    if issubclass(field_class, forms.DateTimeField) or isinstance(model_field, models.DateTimeField):
        return "moment"
    if issubclass(field_class, forms.DateField) or isinstance(model_field, models.DateField):
        return "date"
    return None


def _endpoints():
    """(URL name, FilterSet) of every endpoint that filters."""
    found = [
        (f"{basename}-list", viewset.filterset_class)
        for _prefix, viewset, basename in api_urls.router.registry
        if getattr(viewset, "filterset_class", None)
    ]
    for pattern in api_urls.urlpatterns:
        view = getattr(getattr(pattern, "callback", None), "cls", None)
        if isinstance(pattern, URLPattern) and getattr(view, "filterset_class", None):
            found.append((pattern.name, view.filterset_class))
    return found


DATE_FILTERS = [
    (url_name, name, kind)
    for url_name, filterset in _endpoints()
    for name, declared in filterset.base_filters.items()
    if (kind := _kind(filterset, declared))
]


def test_the_date_filters_are_found():
    # A floor, so a change in how filters are declared cannot empty the cases below.
    found = {(url_name, name) for url_name, name, _ in DATE_FILTERS}
    for url_name in ("incident-list", "casualtyfigure-list", "stats-casualties"):
        assert {(url_name, "date_from"), (url_name, "date_to"), (url_name, "updated_since")} <= found
    assert {kind for *_, kind in DATE_FILTERS} == {"date", "moment"}


SPELLINGS = {"date": (BAD_DATES, GOOD_DATES), "moment": (BAD_MOMENTS, GOOD_MOMENTS)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "name", "kind"), [pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in DATE_FILTERS]
)
def test_only_the_iso_spelling_is_read(client, url_name, name, kind):
    bad, good = SPELLINGS[kind]
    wrong = []
    for spelling in bad:
        response = client.get(reverse(url_name), {**REQUIRED.get(url_name, {}), name: spelling})
        body = response.json() if response["Content-Type"] == "application/json" else None
        named = isinstance(body, dict) and set(body) == {name} and all(isinstance(m, str) for m in body[name])
        if response.status_code != 400 or not named:
            wrong.append((spelling, response.status_code, response.content[:200]))
    for spelling in good:
        response = client.get(reverse(url_name), {**REQUIRED.get(url_name, {}), name: spelling})
        if response.status_code != 200:
            wrong.append((spelling, response.status_code, response.content[:200]))
    assert not wrong, f"{name} on {url_name}: " + "; ".join(map(repr, wrong))


@pytest.mark.django_db
def test_a_spelling_is_refused_with_the_one_to_use(client):
    body = client.get(
        reverse("incident-list"), {"date_to": "01/04/2026", "updated_since": "2026-01-04T09:30"}
    )
    assert body.status_code == 400
    assert "YYYY-MM-DD" in body.json()["date_to"][0]
    assert "RFC 3339" in body.json()["updated_since"][0]


@pytest.mark.django_db
def test_dates_and_moments_mean_what_they_say(client):
    january = make_incident(slug="fourth-of-january", start_date=datetime.date(2026, 1, 4))
    make_incident(slug="first-of-april", start_date=datetime.date(2026, 4, 1))
    moment = datetime.datetime(2026, 1, 4, 9, 30, tzinfo=datetime.UTC)
    Incident.objects.filter(pk=january.pk).update(updated_at=moment)
    Incident.objects.exclude(pk=january.pk).update(updated_at=moment - datetime.timedelta(days=1))

    def slugs(**params):
        response = client.get(reverse("incident-list"), params)
        assert response.status_code == 200, response.content
        return [item["slug"] for item in response.json()["results"]]

    assert slugs(date_to="2026-01-04") == ["fourth-of-january"]
    assert slugs(date_from="2026-04-01") == ["first-of-april"]
    # 09:30 UTC is 14:30 at +05:00 and 06:00 at -03:30.
    assert slugs(updated_since="2026-01-04T14:30:00+05:00") == ["fourth-of-january"]
    assert slugs(updated_since="2026-01-04T14:30:00.000001+05:00") == []
    assert slugs(updated_since="2026-01-04T06:00:00-03:30") == ["fourth-of-january"]
    assert slugs(updated_since="2026-01-04") == ["fourth-of-january"]
    # A served updated_at given back as updated_since finds the record it came from.
    served = client.get(reverse("incident-detail", kwargs={"slug": "fourth-of-january"})).json()["updated_at"]
    assert slugs(updated_since=served) == ["fourth-of-january"]
