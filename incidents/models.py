"""Incident records: sources, actors, places, incidents and attributed casualty claims.

The field names here are the API contract (see docs/data-model.md).
"""

import uuid

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from simple_history.models import HistoricalRecords

from incidents.taxonomy import SUB_EVENT_TYPES_BY_EVENT_TYPE, EventType, SubEventType


def validate_country_code(value):
    # pycountry's lookup ignores case; stored codes must be upper case to match filters.
    if value and (value != value.upper() or pycountry.countries.get(alpha_2=value) is None):
        raise ValidationError(
            "%(value)s is not an ISO 3166-1 alpha-2 country code.",
            code="invalid_country",
            params={"value": value},
        )


class DatePrecision(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


class NaturalKeyManager(models.Manager):
    """Fixtures refer to records by slug, so they load into any database."""

    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class SlugNaturalKeyMixin:
    def natural_key(self):
        return (self.slug,)


class Source(SlugNaturalKeyMixin, models.Model):
    class Kind(models.TextChoices):
        NEWS_ARTICLE = "news_article", "News article"
        OFFICIAL_STATEMENT = "official_statement", "Official statement"
        NGO_REPORT = "ngo_report", "NGO report"
        DATASET = "dataset", "Dataset"
        OTHER = "other", "Other"

    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=500)
    publisher = models.CharField(max_length=200, blank=True)
    published_on = models.DateField(null=True, blank=True)
    published_on_precision = models.CharField(
        max_length=5, choices=DatePrecision.choices, default=DatePrecision.DAY
    )
    url = models.URLField(max_length=1000, blank=True)
    language = models.CharField(max_length=35, default="en", help_text="BCP 47 tag, e.g. en, ru, tg.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NEWS_ARTICLE)
    version = models.CharField(max_length=50, blank=True, help_text="Release or version, for datasets.")
    text = models.TextField(blank=True, help_text="The document's text, against which quotes are checked.")
    notes = models.TextField(blank=True)

    objects = NaturalKeyManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-published_on", "slug"]
        indexes = [models.Index(fields=["kind"])]

    def __str__(self):
        return self.title


class Actor(SlugNaturalKeyMixin, models.Model):
    class Kind(models.TextChoices):
        STATE = "state", "State"
        STATE_FORCES = "state_forces", "State forces"
        GOVERNMENT_BODY = "government_body", "Government body"
        ARMED_GROUP = "armed_group", "Armed group"
        POLITICAL_GROUP = "political_group", "Political group"
        PERSON = "person", "Person"
        COMMUNITY = "community", "Community"
        INTERNATIONAL_ORGANISATION = "international_organisation", "International organisation"
        MEDIA = "media", "News organisation"
        UNIDENTIFIED = "unidentified", "Unidentified"

    slug = models.SlugField(max_length=200, unique=True)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    country = models.CharField(
        max_length=2, blank=True, validators=[validate_country_code], help_text="ISO 3166-1 alpha-2."
    )
    aliases = models.JSONField(default=list, blank=True, help_text="Other names, as a list of strings.")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        help_text="The body this actor belongs to: a minister to a government, a general to an agency.",
    )
    description = models.TextField(blank=True)
    external_ids = models.JSONField(
        default=dict, blank=True, help_text="Identifiers in other datasets, e.g. {'ucdp_side_id': 123}."
    )

    objects = NaturalKeyManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "slug"]
        indexes = [models.Index(fields=["kind"]), models.Index(fields=["country"])]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="actor_not_own_parent"),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if not isinstance(self.aliases, list) or not all(isinstance(a, str) for a in self.aliases):
            raise ValidationError({"aliases": "Aliases must be a list of strings."})


class Location(SlugNaturalKeyMixin, models.Model):
    class GeoPrecision(models.TextChoices):
        EXACT = "exact", "Exact place"
        NEAR = "near", "Near a place"
        DISTRICT = "district", "District"
        PROVINCE = "province", "Province"
        COUNTRY = "country", "Country"

    slug = models.SlugField(max_length=200, unique=True)
    name = models.CharField(max_length=300)
    country_code = models.CharField(
        max_length=2, validators=[validate_country_code], help_text="ISO 3166-1 alpha-2."
    )
    admin1 = models.CharField(max_length=200, blank=True)
    admin2 = models.CharField(max_length=200, blank=True)
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    geo_precision = models.CharField(max_length=10, choices=GeoPrecision.choices)
    notes = models.TextField(blank=True)

    objects = NaturalKeyManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["country_code", "admin1", "name", "slug"]
        indexes = [
            models.Index(fields=["country_code", "admin1"]),
            models.Index(fields=["geo_precision"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(
                    latitude__isnull=False,
                    longitude__isnull=False,
                    latitude__gte=-90,
                    latitude__lte=90,
                    longitude__gte=-180,
                    longitude__lte=180,
                ),
                name="location_coordinates_paired_and_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.country_code})"


OUTCOMES_WITH_TOTALS = ("killed", "wounded", "detained", "missing")
# What an incident is and when, the fields every listing of an incident's own fields starts
# with, in this order (the API's shape and write body, the bulk writers).
INCIDENT_WHAT_AND_WHEN = (
    "slug",
    "title",
    "event_type",
    "sub_event_type",
    "start_date",
    "end_date",
    "date_precision",
)
# What editors write of an incident's own fields, in the admin and through the API.
INCIDENT_EDITED_FIELDS = (*INCIDENT_WHAT_AND_WHEN, "location", "parent", "summary", "sources")
# A place as incidents show it: everything but the editors' notes.
PLACE_FIELDS = ("slug", "name", "country_code", "admin1", "admin2", "latitude", "longitude", "geo_precision")
# What the admin and the API write of a casualty claim (beside its incident).
CLAIM_EDITED_FIELDS = (
    "outcome",
    "group",
    "actor",
    "low",
    "best",
    "high",
    "qualifier",
    "wording",
    "claimed_by",
    "source",
    "quote",
    "is_preferred",
    "notes",
)


class IncidentQuerySet(models.QuerySet):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class Incident(SlugNaturalKeyMixin, models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        REVIEWED = "reviewed", "Reviewed"
        PUBLISHED = "published", "Published"
        RETRACTED = "retracted", "Retracted"

    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=500)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    sub_event_type = models.CharField(max_length=50, choices=SubEventType.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    date_precision = models.CharField(max_length=5, choices=DatePrecision.choices)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The incident this one belongs to: an operation contains clashes; a war contains operations.",
    )
    summary = models.TextField(blank=True, help_text="In our own words, not the source's.")
    actors = models.ManyToManyField(
        Actor, through="IncidentActor", through_fields=("incident", "actor"), related_name="incidents"
    )
    sources = models.ManyToManyField(Source, related_name="incidents", blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    review_override_reason = models.TextField(
        blank=True,
        editable=False,
        help_text="Why a maintainer reviewed a change of their own (incidents.workflow.review).",
    )
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="Who last changed the content (fields, roles, claims, sources); never its reviewer.",
    )
    revision_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="pending_revision",
        editable=False,
        help_text="The published incident this draft changes; publishing it applies the changes there.",
    )
    retraction_reason = models.TextField(blank=True)
    extra = models.JSONField(
        default=dict, blank=True, help_text="What an imported dataset says that has no field here."
    )
    # Title, summary, actor names and aliases, place names: derived by
    # incidents.search.refresh_search_documents, indexed for full-text search on PostgreSQL.
    search_document = models.TextField(blank=True, editable=False)

    # Totals derived from the casualty figures by incidents.totals.compute_totals
    # (docs/data-model.md). Stored so they can be filtered, sorted and summed in SQL.
    killed_low = models.PositiveIntegerField(null=True, blank=True, editable=False)
    killed_best = models.PositiveIntegerField(null=True, blank=True, editable=False)
    killed_high = models.PositiveIntegerField(null=True, blank=True, editable=False)
    wounded_low = models.PositiveIntegerField(null=True, blank=True, editable=False)
    wounded_best = models.PositiveIntegerField(null=True, blank=True, editable=False)
    wounded_high = models.PositiveIntegerField(null=True, blank=True, editable=False)
    detained_low = models.PositiveIntegerField(null=True, blank=True, editable=False)
    detained_best = models.PositiveIntegerField(null=True, blank=True, editable=False)
    detained_high = models.PositiveIntegerField(null=True, blank=True, editable=False)
    missing_low = models.PositiveIntegerField(null=True, blank=True, editable=False)
    missing_best = models.PositiveIntegerField(null=True, blank=True, editable=False)
    missing_high = models.PositiveIntegerField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()
    history = HistoricalRecords(m2m_fields=[sources])

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [
            models.Index(fields=["-start_date", "-id"], name="incident_newest_first"),
            # Counting a list filtered by place and dates from the index alone, without
            # visiting a table row per match (docs/benchmarks.md, "Indexes").
            models.Index(
                fields=["location", "start_date", "end_date", "status"], name="incident_place_dates"
            ),
            # The list's other orderings (incidents.api.filters.IncidentOrderingFilter); without
            # them a page sorted by killed or by title sorted every incident (2 s at 1M).
            models.Index(
                Coalesce("killed_best", "killed_low", Value(-1)).desc(),
                F("id").desc(),
                name="incident_most_killed",
            ),
            models.Index(fields=["title", "id"], name="incident_by_title"),
            models.Index(fields=["end_date"]),
            models.Index(fields=["event_type", "sub_event_type"]),
            models.Index(fields=["date_precision"]),
            models.Index(fields=["updated_at"]),
            models.Index(fields=["status"]),
            models.Index(fields=["killed_best"]),
        ]
        permissions = [
            ("review_own_changes", "Can review an incident they last changed, giving a reason"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="incident_end_not_before_start",
                violation_error_message="The end date must not be before the start date.",
            ),
            models.CheckConstraint(
                condition=Q(
                    *(
                        Q(event_type=event_type, sub_event_type__in=sub_types)
                        for event_type, sub_types in SUB_EVENT_TYPES_BY_EVENT_TYPE.items()
                    ),
                    _connector=Q.OR,
                ),
                name="incident_sub_event_type_matches_event_type",
                violation_error_message="The sub-event type does not belong to the event type.",
            ),
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="incident_not_own_parent"),
            models.CheckConstraint(condition=~Q(revision_of=F("pk")), name="incident_not_own_revision"),
            models.CheckConstraint(
                condition=Q(revision_of__isnull=True) | ~Q(status="published"),
                name="incident_revision_never_published",
                violation_error_message="A revision is applied to the incident it revises, never published itself.",
            ),
            models.CheckConstraint(
                condition=~Q(status="retracted", retraction_reason=""),
                name="incident_retraction_has_reason",
                violation_error_message="A retracted incident needs a retraction reason.",
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.start_date:%Y-%m-%d})"

    def totals(self):
        """The stored totals as {outcome: {"low", "best", "high"}}."""
        return {
            outcome: {bound: getattr(self, f"{outcome}_{bound}") for bound in ("low", "best", "high")}
            for outcome in OUTCOMES_WITH_TOTALS
        }


class IncidentActorManager(models.Manager):
    def get_by_natural_key(self, incident_slug, actor_slug, role):
        return self.get(incident__slug=incident_slug, actor__slug=actor_slug, role=role)


class IncidentActor(models.Model):
    class Role(models.TextChoices):
        SIDE_A = "side_a", "Side A"
        SIDE_B = "side_b", "Side B"
        PERPETRATOR = "perpetrator", "Perpetrator"
        ALLEGED_PERPETRATOR = "alleged_perpetrator", "Alleged perpetrator"
        TARGET = "target", "Target / victim"
        MEDIATOR = "mediator", "Mediator / negotiator"
        ORGANISER = "organiser", "Organiser"
        PARTICIPANT = "participant", "Participant"
        COMMENTATOR = "commentator", "Commentator"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="incident_actors")
    actor = models.ForeignKey(Actor, on_delete=models.PROTECT, related_name="incident_roles")
    role = models.CharField(max_length=25, choices=Role.choices)
    claimed_by = models.ForeignKey(
        Actor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who says this actor had this role, when the source attributes it (e.g. an accusation).",
    )
    quote = models.TextField(blank=True, help_text="Verbatim text from a source that supports this role.")
    note = models.TextField(blank=True)

    objects = IncidentActorManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["incident", "role", "actor__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "actor", "role"], name="incident_actor_role_unique"),
        ]
        indexes = [models.Index(fields=["actor", "role"])]

    def __str__(self):
        return f"{self.actor} as {self.get_role_display()} in {self.incident.slug}"

    def natural_key(self):
        return (self.incident.slug, self.actor.slug, self.role)

    natural_key.dependencies = ["incidents.incident", "incidents.actor"]


class CasualtyFigureManager(models.Manager):
    def get_by_natural_key(self, uid):
        return self.get(uid=uid)


class CasualtyFigure(models.Model):
    class Outcome(models.TextChoices):
        KILLED = "killed", "Killed"
        WOUNDED = "wounded", "Wounded"
        DETAINED = "detained", "Detained"
        MISSING = "missing", "Missing"

    class Group(models.TextChoices):
        STATE_FORCES = "state_forces", "State forces"
        NON_STATE_ARMED = "non_state_armed", "Non-state armed"
        CIVILIANS = "civilians", "Civilians"
        UNKNOWN = "unknown", "Unknown"
        TOTAL = "total", "Total"

    class Qualifier(models.TextChoices):
        EXACT = "exact", "Exact"
        AT_LEAST = "at_least", "At least"
        AT_MOST = "at_most", "At most"
        ABOUT = "about", "About"
        VAGUE = "vague", "Vague"

    uid = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="Stable identity across databases."
    )
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="casualty_figures")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    group = models.CharField(max_length=20, choices=Group.choices)
    actor = models.ForeignKey(
        Actor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="casualty_figures",
        help_text="Whose members these are, when the source says.",
    )
    low = models.PositiveIntegerField(null=True, blank=True)
    best = models.PositiveIntegerField(null=True, blank=True)
    high = models.PositiveIntegerField(null=True, blank=True)
    qualifier = models.CharField(max_length=10, choices=Qualifier.choices)
    wording = models.CharField(
        max_length=200, blank=True, help_text='The source\'s own words for the number, e.g. "dozens".'
    )
    claimed_by = models.ForeignKey(
        Actor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
        help_text="Who makes the claim; empty when the source reports it in its own voice.",
    )
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="casualty_figures")
    quote = models.TextField(help_text="Verbatim text from the source.")
    is_preferred = models.BooleanField(default=False)
    counts_in_total = models.BooleanField(
        default=False,
        editable=False,
        help_text="Derived: this is the figure its group contributes to the incident's totals.",
    )
    notes = models.TextField(blank=True)
    revises = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="In a revision: the published incident's claim this one changes.",
    )

    objects = CasualtyFigureManager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["incident", "outcome", "group", "id"]
        indexes = [
            models.Index(fields=["outcome", "group"]),
            models.Index(fields=["qualifier"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(best__isnull=True) | Q(low__lte=F("best")),
                name="casualty_low_not_above_best",
                violation_error_message="low must not be greater than best.",
            ),
            models.CheckConstraint(
                condition=Q(best__isnull=True) | Q(high__isnull=True) | Q(best__lte=F("high")),
                name="casualty_best_not_above_high",
                violation_error_message="best must not be greater than high.",
            ),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(high__isnull=True) | Q(low__lte=F("high")),
                name="casualty_low_not_above_high",
                violation_error_message="low must not be greater than high.",
            ),
            models.UniqueConstraint(
                fields=["incident", "outcome", "group"],
                condition=Q(is_preferred=True),
                name="casualty_one_preferred_per_incident_outcome_group",
                violation_error_message=(
                    "Another figure is already preferred for this incident, outcome and group."
                ),
            ),
        ]

    def __str__(self):
        numbers = "/".join("-" if n is None else str(n) for n in (self.low, self.best, self.high))
        return f"{self.incident.slug}: {self.outcome} {self.group} {numbers} ({self.qualifier})"

    def natural_key(self):
        return (str(self.uid),)


class IncidentTombstone(models.Model):
    """What is left of a deleted incident: its URL answers 410 Gone with this."""

    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=500)
    deleted_at = models.DateTimeField(auto_now_add=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_into = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tombstones"
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-deleted_at", "slug"]

    def __str__(self):
        return f"{self.slug} (deleted {self.deleted_at:%Y-%m-%d})"
