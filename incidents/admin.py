"""The admin where editors curate sources, actors, places, incidents and casualty claims.

Stored incident totals are refreshed explicitly here after figures change
(incidents.totals.refresh_totals); models keep no logic in save().
"""

import json

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from incidents.evidence import quote_occurs_in, quote_spans
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
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


def mark_quotes(text, spans):
    """The text, escaped, with each quoted passage marked and linked to its figure.

    Passages quoted by several figures are marked once, with a link per figure.
    """
    parts, cursor = [], 0
    index = 0
    while index < len(spans):
        start, end, _ = spans[index]
        same = [key for s, e, key in spans[index:] if s < end]
        index += len(same)
        if start < cursor:  # overlaps a passage already marked
            continue
        links = format_html_join(
            "",
            '<sup><a href="{}" title="Casualty figure {}">[{}]</a></sup>',
            ((reverse("admin:incidents_casualtyfigure_change", args=[key]), key, key) for key in same),
        )
        parts.append(format_html("{}<mark>{}</mark>{}", text[cursor:start], text[start:end], links))
        cursor = end
    parts.append(format_html("{}", text[cursor:]))
    return mark_safe("".join(parts))


def _constraint_message(model, name):
    constraint = next(c for c in model._meta.constraints if c.name == name)
    return constraint.get_violation_error_message()


@admin.register(Source)
class SourceAdmin(SimpleHistoryAdmin):
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

    @admin.display(description="Text, quoted passages marked")
    def text_as_published(self, obj):
        if not obj.text:
            return EMPTY
        figures = obj.casualty_figures.only("pk", "quote") if obj.pk else []
        spans = quote_spans(obj.text, ((f.pk, f.quote) for f in figures))
        # pre-wrap keeps the document's own line breaks and still wraps long lines,
        # so a quote can be checked against the text without scrolling sideways.
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40em; overflow-y: auto; '
            'max-width: 60em; font-size: inherit">{}</pre>',
            mark_quotes(obj.text, spans),
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
class ActorAdmin(SearchDocumentsFollowMixin, SimpleHistoryAdmin):
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
class LocationAdmin(SearchDocumentsFollowMixin, SimpleHistoryAdmin):
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


class CasualtyFigureForm(forms.ModelForm):
    """Refuses a quote that is not in its source's text, as the API does."""

    def clean(self):
        cleaned = super().clean()
        source, quote = cleaned.get("source"), cleaned.get("quote")
        if (
            source
            and quote
            and source.kind != Source.Kind.DATASET
            and not quote_occurs_in(quote, source.text)
        ):
            self.add_error("quote", f"This quote does not occur in the text of source '{source.slug}'.")
        return cleaned


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
    form = CasualtyFigureForm
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


class IncidentForm(forms.ModelForm):
    """Warns an editor whose page is older than the record: nobody's edit is lost silently."""

    opened_at_version = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Incident
        fields = (
            "title",
            "slug",
            "event_type",
            "sub_event_type",
            "start_date",
            "end_date",
            "date_precision",
            "location",
            "parent",
            "summary",
            "sources",
            "status",
            "retraction_reason",
            "extra",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.fields["opened_at_version"].initial = self.instance.updated_at.isoformat()

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            current = (
                Incident.objects.filter(pk=self.instance.pk).values_list("updated_at", flat=True).first()
            )
            opened = cleaned.get("opened_at_version")
            if current and opened and opened != current.isoformat():
                raise forms.ValidationError(
                    "Someone changed this incident after you opened it. Open it again (your changes "
                    "are not saved) and redo them on the current version.",
                    code="stale",
                )
        if cleaned.get("status") == Incident.Status.RETRACTED and not cleaned.get("retraction_reason"):
            self.add_error("retraction_reason", "Give the reason for retracting this incident.")
        return cleaned


def bury_incidents(incidents, user):
    """Delete incidents, leaving tombstones so their URLs answer 410 Gone."""
    for incident in incidents:
        IncidentTombstone.objects.update_or_create(
            slug=incident.slug,
            defaults={"title": incident.title, "deleted_by": user, "deleted_at": timezone.now()},
        )
        incident.delete()


@admin.register(Incident)
class IncidentAdmin(SimpleHistoryAdmin):
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
    readonly_fields = ["totals_table", "created_at", "updated_at", "reviewed_by", "reviewed_at"]
    empty_value_display = EMPTY
    inlines = [IncidentActorInline, CasualtyFigureInline]
    form = IncidentForm
    actions = ["mark_reviewed", "publish"]
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
                    "opened_at_version",
                ]
            },
        ),
        (
            "Review",
            {"fields": ["status", ("reviewed_by", "reviewed_at"), "retraction_reason"]},
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

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data and obj.status == Incident.Status.REVIEWED:
            obj.reviewed_by, obj.reviewed_at = request.user, timezone.now()
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        refresh_totals([form.instance.pk])
        refresh_search_documents([form.instance.pk])

    def delete_model(self, request, obj):
        with transaction.atomic():
            bury_incidents([obj], request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            bury_incidents(queryset, request.user)

    @admin.action(description="Mark selected drafts as reviewed", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        drafts = list(queryset.filter(status=Incident.Status.DRAFT))
        for incident in drafts:
            incident.status = Incident.Status.REVIEWED
            incident.reviewed_by, incident.reviewed_at = request.user, timezone.now()
            incident.save()
        self._report(request, queryset, len(drafts), "reviewed", "drafts")

    @admin.action(description="Publish selected reviewed incidents", permissions=["change"])
    def publish(self, request, queryset):
        reviewed = list(queryset.filter(status=Incident.Status.REVIEWED))
        for incident in reviewed:
            incident.status = Incident.Status.PUBLISHED
            incident.save()
        self._report(request, queryset, len(reviewed), "published", "reviewed incidents")

    def _report(self, request, queryset, done, verb, eligible):
        skipped = queryset.count() - done
        self.message_user(request, f"{done} incident(s) {verb}.")
        if skipped:
            self.message_user(
                request, f"{skipped} skipped: only {eligible} can be {verb}.", level=messages.WARNING
            )


@admin.register(CasualtyFigure)
class CasualtyFigureAdmin(SimpleHistoryAdmin):
    form = CasualtyFigureForm
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
class IncidentActorAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "actor", "role", "claimed_by"]
    list_filter = ["role", "actor__kind"]
    search_fields = ["incident__title", "incident__slug", "actor__name", "actor__slug"]
    list_select_related = ["incident", "actor", "claimed_by"]
    autocomplete_fields = ["incident", "actor", "claimed_by"]
    formfield_overrides = COMPACT_TEXT
    fields = ["incident", "actor", "role", "claimed_by", "quote", "note"]
