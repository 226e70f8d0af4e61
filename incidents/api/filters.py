"""One FilterSet per resource. Bad values give a 400 that names the parameter.

A filter naming a record by slug (`parent`, `incident`, `actor`, `location`, `source`,
`claimed_by`) is a text box, never a list of the table's rows: the browsable API renders
these forms, and a select would list every record (unpublished incidents too) and grow
with the table. Its value is still checked, with one query, against the records the
viewer may see (SlugFilter.visible): for the public an unpublished incident's slug (or an
actor's, place's or source's that the public does not see) and one that names nothing get
the same 400.
"""

import copy
import datetime
import math
import re
from types import SimpleNamespace

import django_filters
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.core.validators import RegexValidator
from django.db.models import Exists, FloatField, OuterRef, Q, Value
from django.db.models.functions import ACos, Cast, Coalesce, Cos, Greatest, Least, Radians, Sin
from django.forms.utils import ErrorDict
from django.http import QueryDict
from django_filters.filters import FilterMethod
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from incidents.api.permissions import can_edit_incidents, visible_records
from incidents.models import Actor, CasualtyFigure, DatePrecision, Incident, IncidentActor, Location, Source
from incidents.search import MAX_SEARCH_LENGTH, search_incidents, search_terms
from incidents.taxonomy import EventType, SubEventType

MAX_COUNT = 2_147_483_647
DEFAULT_RADIUS_KM = 50
EARTH_RADIUS_KM = 6371.0


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


def visible_incidents_for(request):
    """The incidents a viewer may see: every one for editors, published ones for anyone else
    (and when there is no request to say who asks)."""
    user = getattr(request, "user", None)
    if user is not None and can_edit_incidents(user):
        return Incident.objects.all()
    return Incident.objects.filter(status=Incident.Status.PUBLISHED)


def visible_records_for(model):
    """The actors, places or sources (`model`) a viewer may see, as a function of the request
    (incidents.api.permissions.visible_records: the public sees those a published incident uses)."""

    def visible(request):
        viewer = request if getattr(request, "user", None) is not None else _NO_ONE
        return visible_records(viewer, model.objects.all())

    return visible


# Who asks when no request says: the public.
_NO_ONE = SimpleNamespace(user=AnonymousUser())


class SlugFilter(django_filters.ModelChoiceFilter):
    """A record named by its slug, typed in a text box (the form never lists the records).

    `visible(request)` is the queryset a slug may name for that request, so a record the
    viewer may not see is refused exactly as a slug of nothing. Each form gets it
    (FilterSet.form); the form class, built once and shared, holds an empty queryset, so a
    form that somehow missed its own accepts no slug at all.
    """

    def __init__(self, model, field_name, *, visible, **kwargs):
        self.visible = visible
        kwargs.setdefault("widget", forms.TextInput)
        queryset = model.objects.none()
        super().__init__(queryset=queryset, to_field_name="slug", field_name=field_name, **kwargs)


def _incident_slug(field_name, **kwargs):
    return SlugFilter(Incident, field_name, visible=visible_incidents_for, **kwargs)


def _record_slug(model, field_name, **kwargs):
    return SlugFilter(model, field_name, visible=visible_records_for(model), **kwargs)


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, with its form class built once per FilterSet class and
    its filters copied shallowly.

    django-filter builds a new form class, and a new form field for every filter, on each
    request. Here the fields depend only on the filters' declarations (no choice depends
    on the request), so the class is built once; each form still gets its own copies of
    the fields, as Django's forms always do, and `form` gives a slug filter's copy the
    records this request may name. For the same reason each
    FilterSet needs its own filter objects (they point back at it) but not its own copies of
    their choices and querysets, which django-filter deep-copies. The incident list spent
    about 7 of its 10 ms of filtering on the form class and most of the rest on the copies.
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        # django-filter 26.2's BaseFilterSet.__init__, with copy.copy for copy.deepcopy.
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(filter_) for name, filter_ in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self
            if filter_.method is not None:
                # A `method=` filter calls through a FilterMethod bound to its filter object.
                filter_.filter = FilterMethod(filter_)

    def get_form_class(self):
        cls = type(self)
        if "_cached_form_class" not in cls.__dict__:
            cls._cached_form_class = super().get_form_class()
        return cls._cached_form_class

    @property
    def form(self):
        # The one part of a form that depends on the request: which records a slug filter
        # may name (SlugFilter.visible), given to the fields that have a slug to check.
        # Form fields are per form, so it stays in this form.
        if not hasattr(self, "_form"):
            form = super().form
            for name, filter_ in self.filters.items():
                visible = getattr(filter_, "visible", None)
                if visible is not None and name in form.fields and self.data.get(form.add_prefix(name)):
                    form.fields[name].queryset = visible(self.request)
        return self._form


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class StrictBooleanFilter(django_filters.ChoiceFilter):
    """`true` or `false`; anything else is a 400 rather than silently ignored."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", (("true", "true"), ("false", "false")))
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return qs.filter(**{self.field_name: value == "true"})


# Dates and moments in a query are read in one spelling each, and anything else is a 400:
# Django's own DateField also reads 01/04/2026 (as 4 January, month first) and 2026-1-4,
# and its date-time parsing takes any ISO 8601 variant Python reads (20260104, week dates,
# no seconds, no offset). A date another spelling was meant for would filter silently wrong.
# ASCII digits only: \d (and int()) would take other scripts' digits too.
ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
RFC3339_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
DATE_SPELLING = "Enter a date as YYYY-MM-DD (ISO 8601), e.g. 2026-01-04."
# %% for a %: django-filter %-formats the messages.
DATE_TIME_SPELLING = (
    "Enter an RFC 3339 date-time, with seconds and an offset, e.g. 2026-01-04T09:30:00Z or "
    "2026-01-04T09:30:00+05:00 (a + is sent as %%2B), or a date as YYYY-MM-DD (midnight UTC)."
)


class ISODateField(forms.DateField):
    """A date written YYYY-MM-DD, and no other way."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        match = ISO_DATE.fullmatch(str(value))
        if match is None:
            raise forms.ValidationError(DATE_SPELLING, code="invalid")
        try:
            return datetime.date(*(int(part) for part in match.groups()))
        except ValueError:
            raise forms.ValidationError("Enter a date that exists, as YYYY-MM-DD.", code="invalid") from None


class ISODateFilter(django_filters.DateFilter):
    field_class = ISODateField


class UTCDateTimeField(forms.DateTimeField):
    """A moment as an RFC 3339 date-time (its offset required: a moment without one means
    nothing in particular), or a date for midnight UTC, returned in UTC. Digits past
    microseconds are dropped; a moment UTC cannot hold (before year 1, after 9999) is a 400,
    not a 500."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        value = str(value)
        day = ISO_DATE.fullmatch(value)
        moment = None if day else RFC3339_DATE_TIME.fullmatch(value)
        if day is None and moment is None:
            raise forms.ValidationError(DATE_TIME_SPELLING, code="invalid")
        try:
            if day is not None:
                return datetime.datetime(*(int(part) for part in day.groups()), tzinfo=datetime.UTC)
            *fields, fraction, utc, sign, offset_hours, offset_minutes = moment.groups()
            offset = datetime.timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
            if offset >= datetime.timedelta(days=1) or int(offset_minutes or 0) > 59:
                raise ValueError("offset out of range")
            zone = datetime.timezone(-offset if sign == "-" else offset)
            microseconds = int((fraction or "0")[:6].ljust(6, "0"))
            found = datetime.datetime(*(int(part) for part in fields), microseconds, tzinfo=zone)
        except ValueError:
            raise forms.ValidationError("Enter a date-time that exists (RFC 3339).", code="invalid") from None
        try:
            return found.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError("Out of range.", code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


def _count_filter(field_name, lookup_expr, label):
    return IntegerFilter(
        field_name=field_name, lookup_expr=lookup_expr, min_value=0, max_value=MAX_COUNT, label=label
    )


class BBoxField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            min_lon, min_lat, max_lon, max_lat = (float(part) for part in value.split(","))
        except ValueError:
            raise forms.ValidationError("Give min_lon,min_lat,max_lon,max_lat as four numbers.") from None
        if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
            raise forms.ValidationError("Coordinates out of range or min above max.")
        return min_lon, min_lat, max_lon, max_lat


class PointField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            lat, lon = (float(part) for part in value.split(","))
        except ValueError:
            raise forms.ValidationError("Give lat,lon as two numbers.") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise forms.ValidationError("Latitude or longitude out of range.")
        return lat, lon


@extend_schema_field(OpenApiTypes.STR)
class BBoxFilter(django_filters.Filter):
    field_class = BBoxField

    def filter(self, qs, value):
        if value is None:
            return qs
        min_lon, min_lat, max_lon, max_lat = value
        return qs.filter(
            location__longitude__gte=min_lon,
            location__longitude__lte=max_lon,
            location__latitude__gte=min_lat,
            location__latitude__lte=max_lat,
        )


@extend_schema_field(OpenApiTypes.STR)
class NearFilter(django_filters.Filter):
    """`near=lat,lon` with `radius_km` (default 50): great-circle distance to the location."""

    field_class = PointField

    def filter(self, qs, value):
        if value is None:
            return qs
        radius = float(self.parent.form.cleaned_data.get("radius_km") or DEFAULT_RADIUS_KM)
        lat, lon = value
        # A box around the point first, so an index on coordinates can narrow the rows.
        lat_span = radius / 111.0
        lon_span = radius / max(111.0 * math.cos(math.radians(lat)), 1e-6)
        qs = qs.filter(location__latitude__gte=lat - lat_span, location__latitude__lte=lat + lat_span)
        if lon_span < 180:
            qs = qs.filter(location__longitude__gte=lon - lon_span, location__longitude__lte=lon + lon_span)
        phi = math.radians(lat)
        point_lat = Radians(Cast("location__latitude", FloatField()))
        point_lon = Radians(Cast("location__longitude", FloatField()))
        cos_angle = Sin(point_lat) * math.sin(phi) + Cos(point_lat) * math.cos(phi) * Cos(
            point_lon - math.radians(lon)
        )
        distance = EARTH_RADIUS_KM * ACos(Least(Greatest(cos_angle, Value(-1.0)), Value(1.0)))
        return qs.alias(distance_km=distance).filter(distance_km__lte=radius)


class IncidentFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        if cleaned.get("radius_km") is not None and not cleaned.get("near"):
            self.add_error("radius_km", "radius_km needs near=lat,lon.")
        return cleaned


class IncidentOrderingFilter(django_filters.OrderingFilter):
    """A whitelist of orderings, each ending in a unique tie-breaker so pages never overlap."""

    def filter(self, qs, value):
        if not value:
            return qs
        term = value[0]
        descending = term.startswith("-")
        field = self.param_map[term.lstrip("-")]
        if field == "killed_sort":
            qs = qs.annotate(killed_sort=Coalesce("killed_best", "killed_low", Value(-1)))
        prefix = "-" if descending else ""
        return qs.order_by(f"{prefix}{field}", f"{prefix}id")


class IncidentFilter(FilterSet):
    date_from = ISODateFilter(
        field_name="end_date", lookup_expr="gte", label="Incidents ending on or after this date."
    )
    date_to = ISODateFilter(
        field_name="start_date", lookup_expr="lte", label="Incidents starting on or before this date."
    )
    date_precision = django_filters.ChoiceFilter(choices=DatePrecision.choices)
    date_precision__in = ChoiceInFilter(
        field_name="date_precision",
        lookup_expr="in",
        choices=DatePrecision.choices,
        label="Several, comma-separated.",
    )
    country = CountryInFilter(
        field_name="location__country_code",
        lookup_expr="in",
        label="ISO 3166-1 alpha-2 code(s), comma-separated.",
    )
    # Bounded like the columns: SQLite refuses LIKE patterns over 50,000 characters.
    admin1 = django_filters.CharFilter(
        field_name="location__admin1",
        lookup_expr="iexact",
        max_length=200,
        label="First-level administrative area (province, region), as named; any case.",
    )
    location = _record_slug(Location, "location", label="Location slug.")
    geo_precision = ChoiceInFilter(
        field_name="location__geo_precision", lookup_expr="in", choices=Location.GeoPrecision.choices
    )
    bbox = BBoxFilter(label="min_lon,min_lat,max_lon,max_lat (WGS84).")
    near = NearFilter(label="lat,lon: incidents within radius_km of this point.")
    radius_km = django_filters.NumberFilter(
        method="filter_nothing",
        min_value=0.001,
        max_value=20_000,
        label=f"With near; default {DEFAULT_RADIUS_KM}.",
    )
    event_type = ChoiceInFilter(field_name="event_type", lookup_expr="in", choices=EventType.choices)
    sub_event_type = ChoiceInFilter(
        field_name="sub_event_type", lookup_expr="in", choices=SubEventType.choices
    )
    actor = _record_slug(
        Actor, "incident_actors__actor", method="filter_nothing", label="Actor slug, in any role."
    )
    actor_role = django_filters.ChoiceFilter(
        field_name="incident_actors__role",
        choices=IncidentActor.Role.choices,
        method="filter_nothing",
        label="Role of `actor` (or of any actor, without it).",
    )
    actor_kind = django_filters.ChoiceFilter(
        field_name="incident_actors__actor__kind",
        choices=Actor.Kind.choices,
        method="filter_nothing",
        label="Kind of an actor involved (combined with actor_role when both are given).",
    )
    claimed_by = _record_slug(
        Actor,
        "casualty_figures__claimed_by",
        method="filter_claimed_by",
        label="Incidents with a casualty claim or actor role attributed to this actor.",
    )
    min_killed = _count_filter("killed_best", "gte", "Killed total (best, falling back to low) at least.")
    max_killed = _count_filter("killed_best", "lte", "Killed total (best, falling back to low) at most.")
    min_wounded = _count_filter("wounded_best", "gte", "Wounded total (best, falling back to low) at least.")
    parent = _incident_slug("parent", label="Slug of the parent incident.")
    has_children = StrictBooleanFilter(
        method="filter_has_children",
        label="true: containers (incidents with child incidents) only; false: leaf incidents only.",
    )
    source = _record_slug(
        Source, "sources", method="filter_source", label="Slug of a source the incident cites."
    )
    updated_since = UTCDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="ISO 8601 date-time; changed since then."
    )
    status = ChoiceInFilter(
        field_name="status",
        lookup_expr="in",
        choices=Incident.Status.choices,
        label="Review status, one or several (the public sees published incidents only).",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=MAX_SEARCH_LENGTH,
        label="Full text over title, summary, actor names and aliases, place names.",
    )
    ordering = IncidentOrderingFilter(
        fields=(
            ("start_date", "start_date"),
            ("killed_sort", "killed"),
            ("updated_at", "updated_at"),
            ("title", "title"),
        ),
        label="One of start_date, killed, updated_at, title; '-' for descending. Default -start_date.",
    )

    class Meta:
        model = Incident
        form = IncidentFilterForm
        fields = ()

    def filter_nothing(self, queryset, name, value):
        # Applied together in filter_queryset, so actor, role and kind describe one participation.
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        role_conditions = {}
        if data.get("actor"):
            role_conditions["actor"] = data["actor"]
        if data.get("actor_role"):
            role_conditions["role"] = data["actor_role"]
        if data.get("actor_kind"):
            role_conditions["actor__kind"] = data["actor_kind"]
        if role_conditions:
            roles = IncidentActor.objects.filter(incident=OuterRef("pk"), **role_conditions)
            queryset = queryset.filter(Exists(roles))
        return queryset

    def filter_claimed_by(self, queryset, name, actor):
        claims = CasualtyFigure.objects.filter(incident=OuterRef("pk"), claimed_by=actor)
        roles = IncidentActor.objects.filter(incident=OuterRef("pk"), claimed_by=actor)
        return queryset.filter(Exists(claims) | Exists(roles))

    def filter_has_children(self, queryset, name, value):
        # Children the viewer may see: for the public a draft child makes no container.
        children = Exists(visible_incidents_for(self.request).filter(parent=OuterRef("pk")))
        return queryset.filter(children if value == "true" else ~children)

    def filter_search(self, queryset, name, value):
        return search_incidents(queryset, value)

    def filter_source(self, queryset, name, source):
        return queryset.filter(
            Exists(Incident.sources.through.objects.filter(incident=OuterRef("pk"), source=source))
        )


class CasualtyFigureFilter(FilterSet):
    """Claims by their own fields, and by every incident filter applied to their incident."""

    incident = _incident_slug("incident", label="Incident slug.")
    outcome = django_filters.ChoiceFilter(choices=CasualtyFigure.Outcome.choices)
    group = django_filters.ChoiceFilter(choices=CasualtyFigure.Group.choices)
    qualifier = django_filters.ChoiceFilter(choices=CasualtyFigure.Qualifier.choices)
    is_preferred = StrictBooleanFilter(
        field_name="is_preferred", label="Whether the figure is the one editors prefer for its group."
    )
    claimed_by = _record_slug(Actor, "claimed_by", label="Slug of the actor who makes the claim.")
    source = _record_slug(Source, "source", label="Source slug.")

    class Meta:
        model = CasualtyFigure
        fields = ()

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        # The incident filters with the names they have on /incidents/, minus those this
        # resource defines for the claim itself (claimed_by, source) and ordering.
        incident_data = data.copy() if data is not None else None
        if incident_data is not None:
            for name in ("claimed_by", "source", "ordering"):
                incident_data.pop(name, None)
        self.incident_filter = IncidentFilter(
            incident_data, queryset=Incident.objects.all(), request=self.request
        )

    def filter_nothing(self, queryset, name, value):
        # Incident filters are applied together through self.incident_filter.
        return queryset

    @property
    def errors(self):
        return ErrorDict({**self.incident_filter.errors, **self.form.errors})

    def is_valid(self):
        return self.incident_filter.is_valid() and super().is_valid()

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        used = {name for name in self.incident_filter.filters if self.data.get(name) not in (None, "")}
        used -= {"claimed_by", "source", "ordering"}
        if used:
            incidents = self.incident_filter.qs.order_by().values("pk")
            queryset = queryset.filter(incident__in=incidents)
        return queryset


def _declare_incident_filters_on_claims():
    """Give the claims FilterSet the incident filters too, so forms and the schema list them."""
    for name, incident_filter in IncidentFilter.base_filters.items():
        if name in CasualtyFigureFilter.base_filters or name == "ordering":
            continue
        declared = copy.deepcopy(incident_filter)
        declared.field_name = f"incident__{incident_filter.field_name}"
        declared.method = "filter_nothing"
        CasualtyFigureFilter.base_filters[name] = declared


_declare_incident_filters_on_claims()


class ActorFilter(FilterSet):
    kind = django_filters.ChoiceFilter(choices=Actor.Kind.choices)
    country = django_filters.CharFilter(
        field_name="country", lookup_expr="iexact", max_length=2, label="ISO 3166-1 alpha-2 code; any case."
    )
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


class LocationFilter(FilterSet):
    country = django_filters.CharFilter(
        field_name="country_code",
        lookup_expr="iexact",
        max_length=2,
        label="ISO 3166-1 alpha-2 code; any case.",
    )
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


class SourceFilter(FilterSet):
    kind = django_filters.ChoiceFilter(choices=Source.Kind.choices)
    language = django_filters.CharFilter(
        field_name="language", lookup_expr="iexact", max_length=35, label="Language code (e.g. en); any case."
    )

    class Meta:
        model = Source
        fields = ("kind", "language")
