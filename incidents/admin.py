"""The admin where editors curate sources, actors, places, incidents and casualty claims.

Stored incident totals are refreshed explicitly here after figures change
(incidents.totals.refresh_totals); models keep no logic in save().
"""

import json

from django import forms
from django.contrib import admin
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator

from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    Location,
    Source,
)
from incidents.search import refresh_search_documents
from incidents.totals import refresh_totals

EMPTY = "–"
FIGURES_LISTED = 20

# Quotes are short excerpts; a full-height textarea per inline row makes rival
# figures hard to compare side by side.
COMPACT_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}


def _constraint_message(model, name):
    constraint = next(c for c in model._meta.constraints if c.name == name)
    return constraint.get_violation_error_message()


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["title", "publisher", "published_on", "kind", "language", "slug"]
    list_filter = ["kind", "published_on_precision", "language"]
    search_fields = ["title", "publisher", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["text_as_published", "figures_quoting"]
    # Django 6's default already: a URL typed without a scheme is taken as https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "slug",
                    "publisher",
                    ("published_on", "published_on_precision"),
                    "url",
                    ("kind", "language", "version"),
                    "notes",
                ]
            },
        ),
        ("Text", {"fields": ["text_as_published", "text"]}),
        ("Quoted by", {"fields": ["figures_quoting"]}),
    ]

    @admin.display(description="Text (as stored)")
    def text_as_published(self, obj):
        if not obj.text:
            return EMPTY
        # pre-wrap keeps the document's own line breaks and still wraps long lines,
        # so a quote can be checked against the text without scrolling sideways.
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40em; overflow-y: auto; '
            'max-width: 60em; font-size: inherit">{}</pre>',
            obj.text,
        )

    @admin.display(description="Figures quoting this source")
    def figures_quoting(self, obj):
        # A dataset can be the source of thousands of figures, so the page lists the
        # first few and links to the rest rather than embedding them all as an inline.
        if obj.pk is None:
            return EMPTY
        figures = list(obj.casualty_figures.select_related("incident")[:FIGURES_LISTED])
        if not figures:
            return EMPTY
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> “{}”</li>',
            (
                (
                    reverse("admin:incidents_casualtyfigure_change", args=[figure.pk]),
                    figure,
                    Truncator(figure.quote).chars(120),
                )
                for figure in figures
            ),
        )
        all_figures = "{}?{}".format(
            reverse("admin:incidents_casualtyfigure_changelist"), urlencode({"source__id__exact": obj.pk})
        )
        return format_html('<ul>{}</ul><a href="{}">All figures from this source</a>', items, all_figures)


class SearchDocumentsFollowMixin:
    """Incidents keep their actors' and places' names in their search text: renames follow."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            refresh_search_documents(obj.incidents.values_list("pk", flat=True))


@admin.register(Actor)
class ActorAdmin(SearchDocumentsFollowMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "country", "parent", "slug"]
    list_filter = ["kind", "country"]
    # aliases is a JSON list; icontains matches against its JSON text.
    search_fields = ["name", "slug", "aliases__icontains"]
    list_select_related = ["parent"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    fields = ["name", "slug", "kind", "country", "parent", "aliases", "description", "external_ids"]

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.isascii():
            # SQLite keeps JSON text with non-ASCII characters escaped as \uXXXX, so a
            # Cyrillic alias only matches its escaped spelling there. PostgreSQL matches
            # the plain term above and finds nothing more here.
            escaped = json.dumps(search_term.strip())[1:-1]
            results |= queryset.filter(aliases__icontains=escaped)
        return results, may_have_duplicates


@admin.register(Location)
class LocationAdmin(SearchDocumentsFollowMixin, admin.ModelAdmin):
    list_display = ["name", "admin2", "admin1", "country_code", "geo_precision", "latitude", "longitude"]
    list_filter = ["country_code", "geo_precision"]
    search_fields = ["name", "admin1", "admin2", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "country_code",
        "admin1",
        "admin2",
        ("latitude", "longitude"),
        "geo_precision",
        "notes",
    ]


class IncidentActorInline(admin.TabularInline):
    model = IncidentActor
    fk_name = "incident"
    fields = ["actor", "role", "claimed_by", "quote", "note"]
    autocomplete_fields = ["actor", "claimed_by"]
    formfield_overrides = COMPACT_TEXT
    extra = 0

    def get_queryset(self, request):
        # Each row's heading is str(row), which names the actor and the incident.
        return super().get_queryset(request).select_related("incident", "actor")


class CasualtyFigureInlineFormSet(BaseInlineFormSet):
    """Keeps one preferred figure per outcome and group across the inline rows.

    The model's unique constraint names ``incident``, which the inline form leaves
    out, so Django skips it here; without this check a second preferred figure
    would reach the database and fail there.
    """

    def clean(self):
        super().clean()
        message = _constraint_message(CasualtyFigure, "casualty_one_preferred_per_incident_outcome_group")
        preferred = set()
        for form in self.forms:
            if self._should_delete_form(form) or not form.cleaned_data.get("is_preferred"):
                continue
            key = (form.cleaned_data.get("outcome"), form.cleaned_data.get("group"))
            if key in preferred:
                form.add_error(None, message)
            preferred.add(key)

    def save_existing_objects(self, commit=True):
        # Rows are saved one by one in list order, so moving the preferred mark from
        # one figure to another could briefly leave two preferred rows and break the
        # database constraint. Clearing the old marks first avoids that; each row's
        # own save then writes its final value.
        if commit:
            released = [
                form.instance.pk
                for form in self.initial_forms
                if form.instance.pk is not None and form.initial.get("is_preferred") and form.has_changed()
            ]
            if released:
                CasualtyFigure.objects.filter(pk__in=released).update(is_preferred=False)
        return super().save_existing_objects(commit)


class CasualtyFigureInline(admin.TabularInline):
    model = CasualtyFigure
    fk_name = "incident"
    formset = CasualtyFigureInlineFormSet
    fields = [
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
    ]
    autocomplete_fields = ["actor", "claimed_by", "source"]
    formfield_overrides = COMPACT_TEXT
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        # Each row's heading is str(row), which names the incident.
        return super().get_queryset(request).select_related("incident")


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "start_date",
        "end_date",
        "date_precision",
        "event_type",
        "sub_event_type",
        "location",
        "status",
        "killed_best",
    ]
    list_filter = [
        "event_type",
        "sub_event_type",
        "date_precision",
        "status",
        "location__country_code",
    ]
    search_fields = ["title", "summary", "slug"]
    date_hierarchy = "start_date"
    list_select_related = ["location"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["location", "parent", "sources"]
    readonly_fields = ["totals_table", "created_at", "updated_at"]
    empty_value_display = EMPTY
    inlines = [IncidentActorInline, CasualtyFigureInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "slug",
                    ("event_type", "sub_event_type"),
                    ("start_date", "end_date", "date_precision"),
                    "location",
                    "parent",
                    "summary",
                    "sources",
                    "status",
                ]
            },
        ),
        (
            "Totals",
            {
                "description": "Computed from the casualty figures below each time the incident is saved.",
                "fields": ["totals_table"],
            },
        ),
        ("Import data", {"classes": ["collapse"], "fields": ["extra"]}),
        ("Record", {"fields": [("created_at", "updated_at")]}),
    ]

    @admin.display(description="Totals")
    def totals_table(self, obj):
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (outcome.capitalize(), *(EMPTY if n is None else n for n in bounds.values()))
                for outcome, bounds in obj.totals().items()
            ),
        )
        return format_html(
            '<table class="incident-totals"><thead><tr><th></th><th>Low</th><th>Best</th><th>High</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        refresh_totals([form.instance.pk])
        refresh_search_documents([form.instance.pk])


@admin.register(CasualtyFigure)
class CasualtyFigureAdmin(admin.ModelAdmin):
    list_display = [
        "incident",
        "outcome",
        "group",
        "low",
        "best",
        "high",
        "qualifier",
        "wording",
        "claimed_by",
        "source",
        "is_preferred",
    ]
    list_filter = ["outcome", "group", "qualifier", "is_preferred", "source__kind"]
    search_fields = ["incident__title", "incident__slug", "wording", "quote", "source__title"]
    list_select_related = ["incident", "claimed_by", "source"]
    autocomplete_fields = ["incident", "actor", "claimed_by", "source"]
    readonly_fields = ["uid"]
    empty_value_display = EMPTY
    fields = [
        "uid",
        "incident",
        ("outcome", "group"),
        "actor",
        ("low", "best", "high"),
        "qualifier",
        "wording",
        "claimed_by",
        "source",
        "quote",
        "is_preferred",
        "notes",
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        affected = {obj.incident_id}
        if change:
            # A figure moved to another incident changes the totals of both.
            affected.add(form.initial["incident"])
        refresh_totals(affected)

    def delete_model(self, request, obj):
        incident_id = obj.incident_id
        super().delete_model(request, obj)
        refresh_totals([incident_id])

    def delete_queryset(self, request, queryset):
        incident_ids = set(queryset.values_list("incident_id", flat=True))
        super().delete_queryset(request, queryset)
        refresh_totals(incident_ids)


@admin.register(IncidentActor)
class IncidentActorAdmin(admin.ModelAdmin):
    list_display = ["incident", "actor", "role", "claimed_by"]
    list_filter = ["role", "actor__kind"]
    search_fields = ["incident__title", "incident__slug", "actor__name", "actor__slug"]
    list_select_related = ["incident", "actor", "claimed_by"]
    autocomplete_fields = ["incident", "actor", "claimed_by"]
    formfield_overrides = COMPACT_TEXT
    fields = ["incident", "actor", "role", "claimed_by", "quote", "note"]
