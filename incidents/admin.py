"""The admin where editors curate sources, actors, places, incidents and casualty claims.

An incident's status moves only through incidents.workflow, as in the API: the form shows
the status read-only, the change page has a button per step its status allows, and the
changelist has an action per step. Deletes go through the workflow too (tombstones, the
children rule).

Models keep no logic in save(): every admin write ends with incidents.derived, which
recomputes totals and search text and empties the read cache when the transaction commits.
"""

import json
from bisect import bisect_left

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import models, router, transaction
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from simple_history.admin import SimpleHistoryAdmin

from incidents import derived, workflow
from incidents.evidence import claims_losing_their_quote, quote_occurs_in, quote_spans, quotes_lost_message
from incidents.models import (
    CLAIM_EDITED_FIELDS,
    INCIDENT_EDITED_FIELDS,
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    Location,
    Source,
)

EMPTY = "–"
FIGURES_LISTED = 20

# Quotes are short excerpts; a full-height textarea per inline row makes rival
# figures hard to compare side by side.
COMPACT_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}


def mark_quotes(text, spans):
    """The text, escaped, with each quoted passage marked and linked to its figure.

    `spans` are quote_spans' (start, end, key), sorted by start, then longest first. A passage
    is marked from a span's start to its end, with a link for it and for every later span that
    starts inside it; a group starting inside a passage already marked is left out. Linear in
    the spans (each group found by bisection over the starts), not quadratic.
    """
    starts = [start for start, _, _ in spans]
    urls = {}  # a figure quoted many times is reversed once

    def url(key):
        if key not in urls:
            urls[key] = reverse("admin:incidents_casualtyfigure_change", args=[key])
        return urls[key]

    parts, cursor = [], 0
    index = 0
    while index < len(spans):
        start, end, _ = spans[index]
        following = max(bisect_left(starts, end, index), index + 1)  # the first span not starting inside
        same = [key for _, _, key in spans[index:following]]
        index = following
        if start < cursor:  # overlaps a passage already marked
            continue
        links = format_html_join(
            "",
            '<sup><a href="{}" title="Casualty figure {}">[{}]</a></sup>',
            ((url(key), key, key) for key in same),
        )
        parts.append(format_html("{}<mark>{}</mark>{}", text[cursor:start], text[start:end], links))
        cursor = end
    parts.append(format_html("{}", text[cursor:]))
    return mark_safe("".join(parts))


def _constraint_message(model, name):
    constraint = next(c for c in model._meta.constraints if c.name == name)
    return constraint.get_violation_error_message()


class RecordsChangedMixin:
    """Nothing stored derives from these records, but API answers show them: the read cache follows."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        derived.records_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        derived.records_changed()

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            super().delete_queryset(request, queryset)
            derived.records_changed()


class IncidentsFollowMixin:
    """Records of one incident (its figures, its actor roles): that incident's totals and search
    text follow, and both incidents' when a record moves from one to another. Each change is a
    change of the incident's content (incidents.workflow.content_changed): who made it is its
    last author, a reviewed incident goes back to draft, and a published incident's records are
    read-only (it changes through a revision)."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class NotOfPublishedIncident(form):
            def clean_incident(self):
                incident = self.cleaned_data["incident"]
                if _is_published(incident):
                    raise forms.ValidationError(
                        workflow.PUBLISHED_IS_REVISED.format(slug=incident.slug), code="published"
                    )
                return incident

        return NotOfPublishedIncident

    def get_actions(self, request):
        # Deleting records of a published incident is refused with a message, not a 500.
        return deleting_through_workflow(super().get_actions(request))

    def has_change_permission(self, request, obj=None):
        return not (obj is not None and _is_published(obj.incident)) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None):
        return not (obj is not None and _is_published(obj.incident)) and super().has_delete_permission(
            request, obj
        )

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            # From the database rather than the form: a revert on the history page starts from
            # the old version, not the current one.
            before = (
                set(type(obj).objects.filter(pk=obj.pk).values_list("incident_id", flat=True))
                if change
                else set()
            )
            workflow.content_changed(before | {obj.incident_id}, request.user)
            super().save_model(request, obj, form, change)
            derived.incidents_changed(before | {obj.incident_id})

    def delete_model(self, request, obj):
        with transaction.atomic():
            incident_id = obj.incident_id
            workflow.content_changed([incident_id], request.user)
            super().delete_model(request, obj)
            derived.incidents_changed([incident_id])

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            incident_ids = set(queryset.values_list("incident_id", flat=True))
            workflow.content_changed(incident_ids, request.user)
            super().delete_queryset(request, queryset)
            derived.incidents_changed(incident_ids)


class SourceForm(forms.ModelForm):
    """Refuses a change of the text that would take away a passage a claim quotes, as the API does."""

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and ("text" in cleaned or "kind" in cleaned):
            text, kind = cleaned.get("text", self.instance.text), cleaned.get("kind", self.instance.kind)
            lost = claims_losing_their_quote(self.instance, text or "", kind)
            if lost:
                self.add_error("text", quotes_lost_message(lost))
        return cleaned


@admin.register(Source)
class SourceAdmin(RecordsChangedMixin, SimpleHistoryAdmin):
    form = SourceForm
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


class NamesFollowMixin:
    """Incidents keep their actors' and places' names in their search text: renames follow.

    `names_key` is the keyword of incidents.derived.names_changed for this model. Saves also
    come from the history page's revert, which calls save_model alone.
    """

    names_key = None

    def names_changed(self, ids):
        derived.names_changed(**{self.names_key: list(ids)})

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self.names_changed([obj.pk])

    def delete_model(self, request, obj):
        pk = obj.pk
        super().delete_model(request, obj)
        self.names_changed([pk])

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True))
            super().delete_queryset(request, queryset)
            self.names_changed(ids)


@admin.register(Actor)
class ActorAdmin(NamesFollowMixin, SimpleHistoryAdmin):
    names_key = "actor_ids"
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
class LocationAdmin(NamesFollowMixin, SimpleHistoryAdmin):
    names_key = "location_ids"
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


class UnderPublishedIncidentReadOnly:
    """An inline of a published incident shows its rows read-only: a published incident is
    changed through a revision (incidents.workflow.revise)."""

    def has_add_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_published(obj) and super().has_delete_permission(request, obj)


def _changes_content(form):
    # The version the page was opened at is the stale-form guard's, not content.
    return any(name != "opened_at_version" for name in form.changed_data)


def _is_published(incident):
    return incident is not None and incident.status == Incident.Status.PUBLISHED


class IncidentActorInline(UnderPublishedIncidentReadOnly, admin.TabularInline):
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


class CasualtyFigureInline(UnderPublishedIncidentReadOnly, admin.TabularInline):
    model = CasualtyFigure
    fk_name = "incident"
    form = CasualtyFigureForm
    formset = CasualtyFigureInlineFormSet
    # What the API writes of a claim, less the notes, which the claim's own page edits.
    fields = [name for name in CLAIM_EDITED_FIELDS if name != "notes"]
    autocomplete_fields = ["actor", "claimed_by", "source"]
    formfield_overrides = COMPACT_TEXT
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        # Each row's heading is str(row), which names the incident.
        return super().get_queryset(request).select_related("incident")


class IncidentForm(forms.ModelForm):
    """Warns an editor whose page is older than the record: nobody's edit is lost silently.

    The comparison locks the incident's row (SELECT ... FOR UPDATE): the admin validates and
    saves a change form in one transaction, so the row stays locked from the comparison until
    the save commits, and of two editors saving the same version the second waits, then finds
    it changed.

    The status and what goes with it (reviewer, retraction reason) are not fields here: they
    change only through incidents.workflow (the change page's buttons, the changelist's actions).
    """

    opened_at_version = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Incident
        # The fieldsets below decide the page's order.
        fields = (*INCIDENT_EDITED_FIELDS, "extra")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            # From the database: on the history page the instance is an old version.
            current = current_version(self.instance.pk)
            self.fields["opened_at_version"].initial = current.isoformat() if current else ""

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        if workflow.makes_parent_cycle(self.instance, parent):
            raise forms.ValidationError(workflow.PARENT_CYCLE, code="cycle")
        return parent

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and is_stale(current_version(self.instance.pk), cleaned.get("opened_at_version")):
            raise forms.ValidationError(STALE_FORM, code="stale")
        return cleaned


STALE_FORM = (
    "Someone changed this incident after you opened it. Open it again (your changes "
    "are not saved) and redo them on the current version."
)
STALE_STEP = (
    "Someone changed this incident after you opened it; nothing was done. Check the current "
    "version below, then take the step again."
)


def is_stale(current_updated_at, opened_at_version):
    return bool(
        current_updated_at and opened_at_version and opened_at_version != current_updated_at.isoformat()
    )


def current_version(pk):
    """The incident's updated_at as committed now, its row locked until the transaction ends
    (read without a lock outside one, where nothing could hold it)."""
    db = router.db_for_write(Incident)
    incidents = Incident.objects.using(db).filter(pk=pk)
    if transaction.get_connection(db).in_atomic_block:
        incidents = incidents.select_for_update()
    return incidents.values_list("updated_at", flat=True).first()


# What the workflow leaves to the admin: the function of each step, its button and its report.
WORKFLOW_FIELDS = (
    "status",
    "reviewed_by",
    "reviewed_at",
    "review_override_reason",
    "last_edited_by",
    "revision_of",
    "retraction_reason",
)
WORKFLOW_FOREIGN_KEYS = ("reviewed_by", "last_edited_by", "revision_of")
STEP_FUNCTIONS = {
    "review": workflow.review,
    "publish": workflow.publish,
    "retract": workflow.retract,
    "reopen": workflow.reopen,
}
STEP_LABELS = {
    "review": "Mark reviewed",
    "publish": "Publish",
    "retract": "Retract…",
    "reopen": "Reopen as draft",
    "revise": "Propose a change",
}
STEP_DONE = {"review": "reviewed", "publish": "published", "retract": "retracted", "reopen": "reopened"}
PENDING_REVISION = "A change to this published incident waits for review: "
REVISION_MADE = "“{}” is a draft of your change; the public sees the published incident until it is reviewed and published."
# Who a changelist action applies to, for its "N skipped" warning.
STEP_ELIGIBLE = {
    "review": "drafts",
    "publish": "reviewed incidents",
    "retract": "drafts, reviewed and published incidents",
    "reopen": "retracted incidents",
}
RETRACT_TEMPLATE = "admin/incidents/incident/retract.html"


def deleting_through_workflow(actions):
    """The changelist's actions with delete_selected replaced by delete_selected_through_workflow."""
    if "delete_selected" in actions:
        _, name, description = actions["delete_selected"]
        actions["delete_selected"] = (delete_selected_through_workflow, name, description)
    return actions


@admin.action(permissions=["delete"], description=delete_selected.short_description)
def delete_selected_through_workflow(modeladmin, request, queryset):
    """Django's delete_selected (its confirmation page and report), deleting through the workflow.

    One refused incident refuses them all: nothing is deleted, not even the log entries.
    """
    try:
        with transaction.atomic():
            return delete_selected(modeladmin, request, queryset)
    except workflow.TransitionRefused as refused:
        modeladmin.message_user(request, refused.message, messages.ERROR)
        return None


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
    readonly_fields = ["totals_table", "created_at", "updated_at", *WORKFLOW_FIELDS]
    empty_value_display = EMPTY
    inlines = [IncidentActorInline, CasualtyFigureInline]
    form = IncidentForm
    actions = ["mark_reviewed", "publish", "retract_selected", "reopen_selected"]
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
            {
                "description": "Changed with the buttons at the top of the page, or the actions of the list.",
                "fields": [
                    "status",
                    ("reviewed_by", "reviewed_at"),
                    "review_override_reason",
                    "last_edited_by",
                    "revision_of",
                    "retraction_reason",
                ],
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

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.fieldsets
        # A new incident is a draft, with no reviewer or retraction yet.
        review = ("Review", {"fields": ["status"]})
        return [review if name == "Review" else (name, options) for name, options in self.fieldsets]

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

    # ---- saving: the form never moves the status ----------------------------------------

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change:
                # The status as it is now, locked as a workflow step locks it: the form does not
                # edit it, and neither an API step taken since the page was opened nor a revert
                # on the history page (which starts from an old version) is undone by this save.
                current = (
                    Incident.objects.select_for_update().filter(pk=obj.pk).values(*WORKFLOW_FIELDS).get()
                )
                for name in WORKFLOW_FIELDS:
                    setattr(obj, f"{name}_id" if name in WORKFLOW_FOREIGN_KEYS else name, current[name])
                if _changes_content(form):
                    # Refused for a published incident, whose page is read-only anyway.
                    workflow.note_content_change(obj, request.user)
            else:
                obj.status, obj.reviewed_by, obj.reviewed_at = Incident.Status.DRAFT, None, None
                obj.retraction_reason, obj.review_override_reason = "", ""
                obj.revision_of, obj.last_edited_by = None, request.user
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and not _changes_content(form) and any(formset.has_changed() for formset in formsets):
            # Only its roles or claims changed: the incident notes who changed it all the same.
            workflow.content_changed([form.instance.pk], request.user)
        derived.incidents_changed([form.instance.pk])

    def has_change_permission(self, request, obj=None):
        # A published incident's page is read-only: it changes through a revision. Its workflow
        # steps (retract, propose a change) take the permission to change incidents at all.
        return not _is_published(obj) and super().has_change_permission(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A revert saves the incident (save_model) without save_related.
        with transaction.atomic():
            response = super().history_form_view(request, object_id, version_id, extra_context)
            if request.method == "POST" and response.status_code == 302:
                derived.incidents_changed([Incident._meta.pk.to_python(unquote(object_id))])
        return response

    # ---- deleting: through the workflow ----------------------------------------------------

    def get_actions(self, request):
        return deleting_through_workflow(super().get_actions(request))

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # The claims and roles of a published incident are read-only on their own pages, yet
        # go with it when it is deleted, for a user who may delete claims and roles at all.
        for model in (CasualtyFigure, IncidentActor):
            if request.user.has_perm(f"incidents.{get_permission_codename('delete', model._meta)}"):
                perms_needed.discard(model._meta.verbose_name)
        if request.method == "POST" and request.POST.get("post"):
            # Confirmed. Only child incidents protect an incident (Incident.parent), and whether
            # they refuse its delete is the workflow's to say, with its message: workflow.delete.
            protected = []
        return deleted, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        workflow.delete(obj, request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for incident in queryset:
                try:
                    workflow.delete(incident, request.user)
                except workflow.TransitionRefused as refused:
                    raise workflow.TransitionRefused(
                        f"{incident}: {refused.message} Nothing was deleted.", refused.field
                    ) from refused

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except workflow.TransitionRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[object_id]))

    # ---- the workflow's steps on the change page ------------------------------------------

    def get_urls(self):
        step = path(
            "<path:object_id>/step/<str:step>/",
            self.admin_site.admin_view(self.step_view),
            name="incidents_incident_step",
        )
        return [step, *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        steps = []
        if obj is not None and self.has_change_permission(request):
            names = workflow.allowed_steps(obj)
            pending = Incident.objects.filter(revision_of=obj).first() if _is_published(obj) else None
            if workflow.can_revise(obj) and pending is None:
                names.append("revise")
            steps = [
                {
                    "name": name,
                    "label": STEP_LABELS[name],
                    "url": self._keeping_filters(
                        request, reverse("admin:incidents_incident_step", args=[quote(obj.pk), name])
                    ),
                    # Retracting asks for the reason on a page of its own first.
                    "is_link": name == "retract",
                }
                for name in names
            ]
            if pending is not None:
                url = reverse("admin:incidents_incident_change", args=[quote(pending.pk)])
                steps.append({"name": "pending", "label": "Pending change", "url": url, "is_link": True})
                message = format_html('{}<a href="{}">{}</a>', PENDING_REVISION, url, pending)
                self.message_user(request, message, messages.INFO)
        context["workflow_steps"] = steps
        context["workflow_version"] = obj.updated_at.isoformat() if obj is not None else ""
        return super().render_change_form(request, context, add, change, form_url, obj)

    def step_view(self, request, object_id, step):
        """One step of the workflow for one incident, POSTed by a button of its change page."""
        if step not in (*workflow.STEPS, "revise"):
            raise Http404(f"No step {step!r}.")
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        if step == "revise":
            return self._revise(request, incident)
        change_url = self._keeping_filters(
            request, reverse("admin:incidents_incident_change", args=[quote(incident.pk)])
        )
        if step == "retract":
            if request.method != "POST":
                return self._retract_page(request, [incident], single=True)
            arguments = (request.POST.get("reason", ""),)
        elif request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        else:
            arguments = ()
        try:
            with transaction.atomic():
                # Compared under the row lock the step takes: a save or a step that commits
                # first makes this page's version stale, and this step then does nothing.
                if step != "retract" and is_stale(
                    current_version(incident.pk), request.POST.get("opened_at_version")
                ):
                    self.message_user(request, STALE_STEP, messages.ERROR)
                    return HttpResponseRedirect(change_url)
                done = STEP_FUNCTIONS[step](incident, request.user, *arguments)
        except workflow.TransitionRefused as refused:
            if refused.field == "reason":
                return self._retract_page(request, [incident], single=True, error=refused.message)
            self.message_user(request, refused.message, messages.ERROR)
        else:
            self.log_change(request, done, f"{STEP_DONE[step].capitalize()}.")
            self.message_user(request, f"“{done}” {STEP_DONE[step]}.", messages.SUCCESS)
            if done.pk != incident.pk:
                # A published revision: it is gone, and the incident it changed is where to go.
                change_url = reverse("admin:incidents_incident_change", args=[quote(done.pk)])
        return HttpResponseRedirect(change_url)

    def _revise(self, request, incident):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            revision, created = workflow.revise(incident, request.user)
        except workflow.TransitionRefused as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[quote(incident.pk)]))
        if created:
            self.log_addition(request, revision, f"Revision of {incident.slug}.")
            self.message_user(request, REVISION_MADE.format(revision), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[quote(revision.pk)]))

    def _keeping_filters(self, request, url):
        """The URL with the changelist filters the editor came from, as the admin's own links keep them."""
        return add_preserved_filters(
            {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}, url
        )

    def _retract_page(self, request, incidents, *, single, error=None):
        """The page asking for the reason: for one incident (its button) or several (the action)."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Retract incident" if single else "Retract incidents",
            "opts": self.opts,
            "incidents": incidents,
            "single": single,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "reason": request.POST.get("reason", ""),
            "error": error,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, RETRACT_TEMPLATE, context)

    # ---- the workflow's steps on the changelist -------------------------------------------

    @admin.action(description="Mark selected drafts as reviewed", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        self._take_step(request, queryset, "review")

    @admin.action(description="Publish selected reviewed incidents", permissions=["change"])
    def publish(self, request, queryset):
        self._take_step(request, queryset, "publish")

    @admin.action(description="Retract selected incidents…", permissions=["change"])
    def retract_selected(self, request, queryset):
        incidents = list(queryset)
        if not request.POST.get("post"):
            return self._retract_page(request, incidents, single=False)
        return self._take_step(request, incidents, "retract", request.POST.get("reason", ""))

    @admin.action(description="Reopen selected retracted incidents as drafts", permissions=["change"])
    def reopen_selected(self, request, queryset):
        self._take_step(request, queryset, "reopen")

    def _take_step(self, request, incidents, step, *arguments):
        done, refusals = 0, []
        for incident in incidents:
            try:
                STEP_FUNCTIONS[step](incident, request.user, *arguments)
            except workflow.TransitionRefused as refused:
                if refused.field == "reason":
                    # Refused before any incident is touched: the reason is asked for again.
                    return self._retract_page(request, list(incidents), single=False, error=refused.message)
                refusals.append(refused)
            else:
                self.log_change(request, incident, f"{STEP_DONE[step].capitalize()}.")
                done += 1
        self.message_user(request, f"{done} incident(s) {STEP_DONE[step]}.")
        if refusals:
            # A refusal for the status says who the action applies to; others say their reason.
            reasons = sorted({r.message for r in refusals if r.field != "status"})
            if any(r.field == "status" for r in refusals):
                statuses = sorted({r.message for r in refusals if r.field == "status"})
                reasons.insert(
                    0, f"only {STEP_ELIGIBLE[step]} can be {STEP_DONE[step]}. {' '.join(statuses)}"
                )
            self.message_user(
                request, f"{len(refusals)} skipped: {' '.join(reasons)}", level=messages.WARNING
            )
        return None


@admin.register(CasualtyFigure)
class CasualtyFigureAdmin(IncidentsFollowMixin, SimpleHistoryAdmin):
    form = CasualtyFigureForm
    list_display = [
        "incident",
        *(name for name in CLAIM_EDITED_FIELDS if name not in ("actor", "quote", "notes")),
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


@admin.register(IncidentActor)
class IncidentActorAdmin(IncidentsFollowMixin, SimpleHistoryAdmin):
    list_display = ["incident", "actor", "role", "claimed_by"]
    list_filter = ["role", "actor__kind"]
    search_fields = ["incident__title", "incident__slug", "actor__name", "actor__slug"]
    list_select_related = ["incident", "actor", "claimed_by"]
    autocomplete_fields = ["incident", "actor", "claimed_by"]
    formfield_overrides = COMPACT_TEXT
    fields = ["incident", "actor", "role", "claimed_by", "quote", "note"]
