"""One FilterSet per resource. Bad values give a 400 that names the parameter."""

import django_filters
from django.core.validators import RegexValidator
from django.db.models import Exists, OuterRef, Q

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from incidents.taxonomy import EventType, SubEventType

MAX_SEARCH_LENGTH = 200
MAX_SEARCH_TERMS = 10


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """One value or several, comma-separated: `event_type=battles,protests`."""


class CountryInFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """Country codes, comma-separated, in any case: `country=TJ,kg`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "validators", [RegexValidator(r"^[A-Za-z]{2}$", "Use ISO 3166-1 alpha-2 codes, e.g. TJ.")]
        )
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        return super().filter(qs, [code.upper() for code in value] if value else value)


def _slug_choice(model, field_name, **kwargs):
    return django_filters.ModelChoiceFilter(
        queryset=model.objects.all(), to_field_name="slug", field_name=field_name, **kwargs
    )


def search_terms(value):
    """Split a search into at most MAX_SEARCH_TERMS words of a bounded total length."""
    return value[:MAX_SEARCH_LENGTH].split()[:MAX_SEARCH_TERMS]


def incidents_matching_text(queryset, value):
    """Incidents whose title, summary, actors (names, aliases) or place contain every term."""
    for term in search_terms(value):
        actor_match = IncidentActor.objects.filter(incident=OuterRef("pk")).filter(
            Q(actor__name__icontains=term) | Q(actor__aliases__icontains=term)
        )
        queryset = queryset.filter(
            Q(title__icontains=term)
            | Q(summary__icontains=term)
            | Q(location__name__icontains=term)
            | Q(location__admin1__icontains=term)
            | Q(location__admin2__icontains=term)
            | Exists(actor_match)
        )
    return queryset


class IncidentFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(
        field_name="end_date", lookup_expr="gte", label="Incidents ending on or after this date."
    )
    date_to = django_filters.DateFilter(
        field_name="start_date", lookup_expr="lte", label="Incidents starting on or before this date."
    )
    country = CountryInFilter(
        field_name="location__country_code",
        lookup_expr="in",
        label="ISO 3166-1 alpha-2 code(s), comma-separated.",
    )
    event_type = ChoiceInFilter(field_name="event_type", lookup_expr="in", choices=EventType.choices)
    sub_event_type = ChoiceInFilter(
        field_name="sub_event_type", lookup_expr="in", choices=SubEventType.choices
    )
    actor = _slug_choice(Actor, "actor", method="filter_actor", label="Actor slug, in any role.")
    location = _slug_choice(Location, "location", label="Location slug.")
    parent = _slug_choice(Incident, "parent", label="Slug of the parent incident.")
    search = django_filters.CharFilter(
        method="filter_search", label="Words in title, summary, actor names and aliases, place names."
    )

    class Meta:
        model = Incident
        fields = (
            "date_from",
            "date_to",
            "country",
            "event_type",
            "sub_event_type",
            "actor",
            "location",
            "parent",
            "search",
        )

    def filter_actor(self, queryset, name, actor):
        return queryset.filter(Exists(IncidentActor.objects.filter(incident=OuterRef("pk"), actor=actor)))

    def filter_search(self, queryset, name, value):
        return incidents_matching_text(queryset, value)


class CasualtyFigureFilter(django_filters.FilterSet):
    incident = _slug_choice(Incident, "incident", label="Incident slug.")
    outcome = django_filters.ChoiceFilter(choices=CasualtyFigure.Outcome.choices)
    group = django_filters.ChoiceFilter(choices=CasualtyFigure.Group.choices)
    claimed_by = _slug_choice(Actor, "claimed_by", label="Slug of the actor who makes the claim.")
    source = _slug_choice(Source, "source", label="Source slug.")

    class Meta:
        model = CasualtyFigure
        fields = ("incident", "outcome", "group", "claimed_by", "source")


class ActorFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Actor.Kind.choices)
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact")
    search = django_filters.CharFilter(method="filter_search", label="Words in name, aliases or description.")

    class Meta:
        model = Actor
        fields = ("kind", "country", "search")

    def filter_search(self, queryset, name, value):
        for term in search_terms(value):
            queryset = queryset.filter(
                Q(name__icontains=term) | Q(aliases__icontains=term) | Q(slug__icontains=term)
            )
        return queryset


class LocationFilter(django_filters.FilterSet):
    country = django_filters.CharFilter(field_name="country_code", lookup_expr="iexact")
    geo_precision = django_filters.ChoiceFilter(choices=Location.GeoPrecision.choices)
    search = django_filters.CharFilter(method="filter_search", label="Words in name or admin areas.")

    class Meta:
        model = Location
        fields = ("country", "geo_precision", "search")

    def filter_search(self, queryset, name, value):
        for term in search_terms(value):
            queryset = queryset.filter(
                Q(name__icontains=term) | Q(admin1__icontains=term) | Q(admin2__icontains=term)
            )
        return queryset


class SourceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Source.Kind.choices)
    language = django_filters.CharFilter(field_name="language", lookup_expr="iexact")

    class Meta:
        model = Source
        fields = ("kind", "language")
