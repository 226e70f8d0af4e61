"""The API's viewsets: which records each URL serves, to whom, and which module does the work.

Reads are built by incidents.api.representation (incidents and claims) or the resource's
serializer (actors, places, sources); workflow steps are incidents.workflow's; derived
data is kept true by incidents.derived. Errors, permissions, schema, filters, pagination
and exports have modules of their own beside this one.
"""

from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, parsers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from incidents import derived, workflow
from incidents.api import filters, representation, serializers
from incidents.api.errors import Conflict, Gone, PreconditionFailed, SafeJSONParser
from incidents.api.exports import EXPORT_RENDERERS, STREAMING_FORMATS, stream_export
from incidents.api.pagination import IncidentPagination
from incidents.api.permissions import (
    CanChangeIncidents,
    CanDeleteIncidents,
    can_edit_incidents,
    visible_incidents,
    visible_records,
)
from incidents.api.schema import ApiSchema, GeoJSONExportSerializer
from incidents.history import incident_history
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.stats import GROUP_BY_KEYS, OUTCOMES, casualty_stats

# What a slug can be (models.SlugField); anything else in the URL is a 404 without a lookup,
# so text the database cannot compare (a NUL byte) never reaches it.
SLUG_PATTERN = "[-a-zA-Z0-9_]+"
TRANSITIONS = workflow.STEPS


class ApiViewMixin:
    """What every API view shares: the schema that documents its errors, and a safe JSON parser."""

    schema = ApiSchema()
    parser_classes = [SafeJSONParser, parsers.FormParser, parsers.MultiPartParser]


class ETagMixin:
    """Detail responses carry an ETag; a write with a stale If-Match is refused with 412.

    The tag is a hash of the record's read representation (`represent_instance`), so it
    changes with any change a client could see, whichever way the record was edited.

    A write compares and writes in one transaction (`locked_write`), holding the record's row
    lock (`lock`) from before the comparison until it commits: of two writes sent with the same
    If-Match, the second waits for the first, then finds the tag changed and gets 412.
    """

    checks_if_match = True
    read_serializer_class = None

    def represent_instance(self, instance):
        return self.read_serializer_class(instance, context=self.get_serializer_context()).data

    def lock(self, instance):
        """The record as it is now, its row locked until the transaction ends; None if it is gone."""
        return type(instance).objects.select_for_update().filter(pk=instance.pk).first()

    def raise_missing(self):
        raise Http404

    @contextmanager
    def locked_write(self, request, instance):
        """A transaction in which `instance` is locked and matches If-Match; yields it as locked."""
        with transaction.atomic():
            locked = self.lock(instance)
            if locked is None:  # deleted while this request waited for the lock
                if request.headers.get("If-Match", "").strip() not in ("", "*"):
                    raise PreconditionFailed()
                self.raise_missing()
            self.check_if_match(request, locked)
            yield locked

    def check_if_match(self, request, instance):
        expected = request.headers.get("If-Match")
        if expected and expected.strip() != "*":
            tags = [tag.strip() for tag in expected.split(",")]
            if representation.etag(self.represent_instance(instance)) not in tags:
                raise PreconditionFailed()

    def with_etag(self, response):
        response["ETag"] = representation.etag(response.data)
        return response

    def retrieve(self, request, *args, **kwargs):
        return self.with_etag(super().retrieve(request, *args, **kwargs))

    def create(self, request, *args, **kwargs):
        return self.with_etag(super().create(request, *args, **kwargs))

    def update(self, request, *args, **kwargs):
        with self.locked_write(request, self.get_object()):
            response = super().update(request, *args, **kwargs)
        return self.with_etag(response)

    def destroy(self, request, *args, **kwargs):
        with self.locked_write(request, self.get_object()):
            return super().destroy(request, *args, **kwargs)


class WriteSerializerMixin:
    """Reads and writes have different shapes: slugs in, the full record out."""

    write_serializer_class = None

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return self.write_serializer_class
        return super().get_serializer_class()


def _answers_with(read_serializer):
    """Writes take the write shape and answer with the read shape (the write serializers say so)."""
    return {
        action: extend_schema(responses=read_serializer) for action in ("create", "update", "partial_update")
    }


def _described(**operations):
    """What clients read about each operation, {action: (summary, description)}: the schema
    never shows a class docstring (incidents.api.schema.ApiSchema.get_description)."""
    return extend_schema_view(
        **{
            action: extend_schema(summary=summary, description=description)
            for action, (summary, description) in operations.items()
        }
    )


def _record_operations(article, singular, plural, listed):
    """The operations of actors, locations and sources (RecordViewSet), described alike."""
    return _described(
        list=(
            f"List {plural}",
            f"{plural.capitalize()} {listed}, in numbered pages, narrowed by the parameters below. "
            f"The public sees the {plural} that published incidents use; editors see every one.",
        ),
        retrieve=(
            f"Get {article} {singular}",
            f"One {singular} by its slug, with an ETag header to send back in If-Match when you "
            f"write. {article.capitalize()} {singular} the public may not see answers 404, like a slug "
            "never used.",
        ),
        create=(
            f"Create {article} {singular}",
            f"A new {singular}; related records are named by slug. Needs an editor's token.",
        ),
        update=(
            f"Replace {article} {singular}",
            f"Every field of the {singular}. With If-Match (the ETag you read), {article} {singular} "
            "changed since is not overwritten: the answer is 412. Needs an editor's token.",
        ),
        partial_update=(
            f"Change {article} {singular}",
            "The fields given; the others keep their values. If-Match as for a full update.",
        ),
        destroy=(
            f"Delete {article} {singular}",
            f"Removes the {singular} (it takes the delete permission, which maintainers have). "
            f"Refused with 409 while records still refer to it.",
        ),
    )


@_described(
    list=(
        "List incidents",
        "Incidents newest first (start date, then id, descending) unless `ordering` says "
        "otherwise, by numbered pages (`page`, `page_size`) or keyset pages (`cursor`). Every "
        "other parameter narrows the list; a bad value is a 400 naming it. The public sees "
        "published incidents; editors see every status. With `?format=` or an Accept header the "
        "list answers instead with one download of every matching incident (CSV, claims CSV, "
        "GeoJSON, NDJSON): a generated client fetches those from `incidents_export`, whose one "
        "answer it reads as text.",
    ),
    retrieve=(
        "Get an incident",
        "One incident by its slug, in the list's shape: its place, actors, casualty claims, "
        "totals and sources. The ETag header names this version; send it back in If-Match when "
        "you write. The public sees published incidents only (others answer 404); a deleted "
        "one answers 410, saying when, and after a merge where it went.",
    ),
    create=(
        "Create an incident",
        "A new incident, always a draft, with its actor roles (`actors`) and casualty claims "
        "(`casualty_figures`) in the same request, applied whole or not at all. Related records "
        "are named by slug; each claim's quote must occur in its source's text. Needs an "
        "editor's token. Answers with the incident as read, and its ETag.",
    ),
    update=(
        "Replace an incident",
        "Every field of the incident. `actors` and `casualty_figures`, when given, are its whole "
        "lists: a stored claim (named by `id` or `uid`) or role (by actor and role) is updated "
        "in place, a new one added, one left out removed, which takes the delete permission. "
        "With If-Match (the ETag you read), an incident changed since is not overwritten: the "
        "answer is 412. The incident's state can refuse the change (409). Needs an editor's token.",
    ),
    partial_update=(
        "Change an incident",
        "The fields given, checked as in a full update; the others keep their values, and "
        "`actors` or `casualty_figures` left out stay as they are.",
    ),
    destroy=(
        "Delete an incident",
        "Deletes the incident (maintainers); its URL then answers 410. Refused with 409 while "
        "it has child incidents. If-Match guards it as it does any write.",
    ),
)
@extend_schema_view(
    # The exports are streamed documents, not pages.
    list=extend_schema(
        responses={
            (200, "application/json"): serializers.IncidentSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Incidents, one a row."),
            (200, "application/vnd.incidents.claims+csv"): OpenApiResponse(
                OpenApiTypes.STR, description="Casualty claims, one a row."
            ),
            (200, "application/geo+json"): OpenApiResponse(
                GeoJSONExportSerializer, description="Incidents with coordinates, as points."
            ),
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR, description="One incident (the JSON shape) a line."
            ),
        }
    ),
    **_answers_with(serializers.IncidentSerializer),
)
class IncidentViewSet(ApiViewMixin, ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    """Incidents, newest first, each with its place, actors, claims, totals and sources."""

    serializer_class = serializers.IncidentSerializer
    write_serializer_class = serializers.IncidentWriteSerializer
    filterset_class = filters.IncidentFilter
    pagination_class = IncidentPagination
    # JSON stays first, so it is what a client gets unless it asks for an export format.
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, *EXPORT_RENDERERS]
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    answers_gone = True
    refused_deletes = True
    # A published incident refuses changes in place (it is revised), so writes can be 409 too.
    conflicting_actions = (*TRANSITIONS, "merge", "revise", "update", "partial_update")
    if_match_actions = (*TRANSITIONS, "revise")

    def get_queryset(self):
        # Reads are built from plain rows (incidents.api.representation), which fetch what they
        # embed; writes and workflow steps need the incident alone.
        return visible_incidents(self.request, Incident.objects.all()).order_by("-start_date", "-id")

    def public(self):
        """Whether the request sees incidents as the public does (representation, exports)."""
        return not can_edit_incidents(self.request.user)

    def represent_instance(self, instance):
        return representation.incident_by_id(instance.pk, public=self.public())

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            self.raise_gone_or_404()

    def raise_missing(self):
        self.raise_gone_or_404()

    def raise_gone_or_404(self):
        """Why no incident answers to this slug: deleted (410, with where it went) or never there.

        The public learns of a deletion only if it could see the incident: a tombstone of one
        that was not published when it was deleted answers as a slug never used (404, the same
        body), and `merged_into` names the survivor only if the public may see it (else null).
        Editors get every 410, naming every survivor.
        """
        tombstone = (
            IncidentTombstone.objects.select_related("merged_into").filter(slug=self.kwargs["slug"]).first()
        )
        editor = can_edit_incidents(self.request.user)
        if tombstone is None or not (editor or self.was_published_when_deleted(tombstone)):
            raise Http404
        survivor = tombstone.merged_into
        if survivor is not None and not (editor or survivor.status == Incident.Status.PUBLISHED):
            survivor = None
        detail = {
            "detail": "This incident was deleted.",
            "deleted_at": representation.timestamp(tombstone.deleted_at),
            "merged_into": (
                self.request.build_absolute_uri(reverse("incident-detail", kwargs={"slug": survivor.slug}))
                if survivor
                else None
            ),
        }
        raise Gone(detail)

    @staticmethod
    def was_published_when_deleted(tombstone):
        """The status history recorded as the incident was deleted (its last deletion under this
        slug): a tombstone with no such record is taken as unpublished."""
        status = (
            Incident.history.filter(slug=tombstone.slug, history_type="-")
            .order_by("-history_date", "-history_id")
            .values_list("status", flat=True)
            .first()
        )
        return status == Incident.Status.PUBLISHED

    def retrieve(self, request, *args, **kwargs):
        # Query parameters do not filter a detail: the slug names the record, which the
        # public sees only once published (as visible_incidents says for lists).
        data, status = representation.incident_by_slug(kwargs["slug"], public=self.public())
        if data is None or (status != Incident.Status.PUBLISHED and not can_edit_incidents(request.user)):
            self.raise_gone_or_404()
        return Response(data, headers={"ETag": representation.etag(data)})

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        if request.accepted_renderer.format in STREAMING_FORMATS:
            # Exports take the whole filtered set in one streamed response, without pages,
            # up to a bound on one download; past it, narrow the export with filters.
            return stream_export(
                queryset[: settings.EXPORT_MAX_ROWS], request.accepted_renderer.format, public=self.public()
            )
        page = self.paginate_queryset(representation.incident_rows(queryset))
        return self.get_paginated_response(representation.represent(page, public=self.public()))

    def perform_create(self, serializer):
        serializer.save(last_edited_by=self.request.user)

    def perform_update(self, serializer):
        # After If-Match and the body's validation, so a stale or bad write says so first; the
        # write serializer notes the content change (incidents.workflow).
        workflow.refuse_if_published(serializer.instance)
        serializer.save()

    def perform_destroy(self, instance):
        workflow.delete(instance, self.request.user)

    # The actions below take `format`: the router's format-suffix twin of each route
    # (`…/history.json`) passes it, which was a TypeError (500) before.
    def _step(self, request, step, *args, **kwargs):
        with self.locked_write(request, self.get_object()) as incident:
            incident = step(incident, request.user, *args, **kwargs)
            return self._answer(incident)

    def _answer(self, incident):
        data = representation.incident_by_id(incident.pk, public=self.public())
        return Response(data, headers={"ETag": representation.etag(data)})

    @extend_schema(
        summary="Review a draft",
        request=serializers.ReviewSerializer,
        responses=serializers.IncidentSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def review(self, request, slug=None, format=None):
        """Mark a draft as reviewed, recording who reviewed it and when. The reviewer must not
        be the incident's last author; a maintainer may override that with `override_reason`."""
        body = serializers.ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._step(
            request, workflow.review, override_reason=body.validated_data.get("override_reason", "")
        )

    @extend_schema(
        summary="Start a revision of a published incident",
        request=None,
        responses={
            201: OpenApiResponse(serializers.IncidentSerializer, description="The revision, made now."),
            200: OpenApiResponse(serializers.IncidentSerializer, description="The revision already pending."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def revise(self, request, slug=None, format=None):
        """Start changing a published incident: a draft revision of it (or the one already
        pending), which is edited, reviewed and published like any draft while the public keeps
        seeing the published incident. Publishing the revision applies it here."""
        with self.locked_write(request, self.get_object()) as incident:
            revision, created = workflow.revise(incident, request.user)
        data = representation.incident_by_id(revision.pk, public=False)
        location = reverse("incident-detail", kwargs={"slug": revision.slug})
        return Response(
            data,
            status=201 if created else 200,
            headers={"ETag": representation.etag(data), "Location": location},
        )

    @extend_schema(
        summary="Publish a reviewed incident", request=None, responses=serializers.IncidentSerializer
    )
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def publish(self, request, slug=None, format=None):
        """Publish a reviewed incident: it becomes visible to the public."""
        return self._step(request, workflow.publish)

    @extend_schema(
        summary="Retract an incident",
        request=serializers.ReasonSerializer,
        responses=serializers.IncidentSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def retract(self, request, slug=None, format=None):
        """Withdraw an incident from the public, with a reason editors keep seeing."""
        body = serializers.ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._step(request, workflow.retract, body.validated_data["reason"])

    @extend_schema(
        summary="Reopen a retracted incident", request=None, responses=serializers.IncidentSerializer
    )
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def reopen(self, request, slug=None, format=None):
        """Bring a retracted incident back as a draft."""
        return self._step(request, workflow.reopen)

    @extend_schema(
        summary="Merge into another incident",
        request=serializers.MergeSerializer,
        responses=serializers.IncidentSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[CanDeleteIncidents])
    def merge(self, request, slug=None, format=None):
        """Fold this incident into another: its roles, claims, sources and children move there."""
        incident = self.get_object()
        body = serializers.MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = body.validated_data["into"]
        if target.pk == incident.pk:
            raise ValidationError({"into": ["An incident cannot be merged into itself."]})
        target = workflow.merge(incident, target, request.user, reason=body.validated_data.get("reason", ""))
        return self._answer(target)

    @extend_schema(
        summary="An incident's change history", responses=serializers.HistoryEntrySerializer(many=True)
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request, slug=None, format=None):
        """Every recorded change of this incident, its actor roles and its claims: who, when, what."""
        incident = self.get_object()
        entries = incident_history(incident.pk, show_names=can_edit_incidents(request.user))
        return Response(serializers.HistoryEntrySerializer(entries, many=True).data)


MOVING_NEEDS_DELETE = (
    "Moving a claim to another incident removes it from its own, which needs the permission to delete claims."
)
CLAIM_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The claim's id.")


@_described(
    list=(
        "List casualty claims",
        "Casualty claims one by one, each naming its incident by slug: newest incident first, "
        "then incident, outcome, group and id, in numbered pages. Takes the claim filters and "
        "every incident filter, applied to the claim's incident (`claimed_by` and `source` "
        "describe the claim itself). The public sees the claims of published incidents.",
    ),
    retrieve=(
        "Get a casualty claim",
        "One claim by its id, with an ETag header to send back in If-Match when you write.",
    ),
    create=(
        "Add a casualty claim",
        "A claim of an incident: who says how many of which group were killed, wounded, detained "
        "or went missing, with the source and quote it rests on (the quote must occur in the "
        "source's text). Needs an editor's token; the incident's totals follow.",
    ),
    update=(
        "Replace a casualty claim",
        "Every field of the claim, checked as a new one is. With If-Match (the ETag you read), a "
        "claim changed since is not overwritten: the answer is 412. The totals follow.",
    ),
    partial_update=(
        "Change a casualty claim",
        "The fields given, checked as in a full update; the others keep their values.",
    ),
    destroy=(
        "Delete a casualty claim",
        "Removes the claim (it takes the delete permission); its incident's totals follow.",
    ),
)
@extend_schema_view(
    create=extend_schema(responses=serializers.CasualtyFigureSerializer),
    update=extend_schema(responses=serializers.CasualtyFigureSerializer, parameters=[CLAIM_ID]),
    partial_update=extend_schema(responses=serializers.CasualtyFigureSerializer, parameters=[CLAIM_ID]),
    retrieve=extend_schema(parameters=[CLAIM_ID]),
    destroy=extend_schema(parameters=[CLAIM_ID]),
)
class CasualtyFigureViewSet(ApiViewMixin, ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    """Casualty claims: who says how many were killed, wounded, detained or went missing."""

    serializer_class = serializers.CasualtyFigureSerializer
    write_serializer_class = serializers.CasualtyFigureWriteSerializer
    filterset_class = filters.CasualtyFigureFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        queryset = CasualtyFigure.objects.all()
        if not can_edit_incidents(self.request.user):
            queryset = queryset.filter(incident__status=Incident.Status.PUBLISHED)
        return queryset.order_by("-incident__start_date", "incident_id", "outcome", "group", "id")

    def represent_instance(self, instance):
        return representation.claim_by_id(instance.pk)

    def lock(self, instance):
        # Its incident's row first, as every other write of the incident's claims locks it
        # (nested writes, workflow steps): two writers never wait for each other in turn.
        list(Incident.objects.select_for_update().filter(pk=instance.incident_id).values_list("pk"))
        return super().lock(instance)

    def list(self, request, *args, **kwargs):
        rows = representation.claim_rows(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([representation.standalone_claim(row) for row in page])

    def retrieve(self, request, *args, **kwargs):
        rows = list(representation.claim_rows(self.get_queryset().filter(pk=kwargs["pk"])))
        if not rows:
            raise Http404
        data = representation.standalone_claim(rows[0])
        return Response(data, headers={"ETag": representation.etag(data)})

    # A claim of a published incident is changed through a revision (incidents.workflow).
    conflicting_actions = ("create", "update", "partial_update", "destroy")

    @transaction.atomic
    def perform_create(self, serializer):
        workflow.content_changed([serializer.validated_data["incident"].pk], self.request.user)
        figure = serializer.save()
        derived.incidents_changed([figure.incident_id])

    def perform_update(self, serializer):
        claim, values = serializer.instance, serializer.validated_data
        before, after = claim.incident_id, values.get("incident", claim.incident).pk
        for incident in Incident.objects.filter(pk__in={before, after}):
            workflow.refuse_if_published(incident)
        if after != before and not self.request.user.has_perm("incidents.delete_casualtyfigure"):
            # Moved out, the claim is removed from its incident, which takes the delete permission.
            raise PermissionDenied({"incident": [MOVING_NEEDS_DELETE]})
        if not any(getattr(claim, name) != value for name, value in values.items()):
            return  # nothing to write: neither a save nor a change of authorship
        workflow.content_changed([before, after], self.request.user)
        figure = serializer.save()
        derived.incidents_changed([before, figure.incident_id])

    def perform_destroy(self, instance):
        incident_id = instance.incident_id
        workflow.content_changed([incident_id], self.request.user)
        instance.delete()
        derived.incidents_changed([incident_id])


class RecordViewSet(ApiViewMixin, ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    """Actors, places and sources: read by slug, refused deletion while records refer to them;
    the public sees those that published incidents use (visible_records)."""

    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN
    refused_deletes = True
    still_referred_to = ""
    # Which derived.names_changed argument an update names, when incidents show this record's name.
    renames = None

    def perform_update(self, serializer):
        record = serializer.save()
        if self.renames:
            derived.names_changed(**{self.renames: [record.pk]})

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as error:
            raise Conflict({"detail": self.still_referred_to}) from error


@_record_operations("an", "actor", "actors", "by name")
class ActorViewSet(RecordViewSet):
    serializer_class = serializers.ActorSerializer
    read_serializer_class = serializers.ActorSerializer
    write_serializer_class = serializers.ActorWriteSerializer
    filterset_class = filters.ActorFilter
    still_referred_to = "This actor is still referred to by incidents, claims or members."
    renames = "actor_ids"

    def get_queryset(self):
        return visible_records(self.request, Actor.objects.select_related("parent")).order_by("name", "id")


@_record_operations("a", "location", "locations", "by country, first-level area (admin1) and name")
class LocationViewSet(RecordViewSet):
    serializer_class = serializers.LocationSerializer
    read_serializer_class = serializers.LocationSerializer
    write_serializer_class = serializers.LocationWriteSerializer
    filterset_class = filters.LocationFilter
    still_referred_to = "This location is still the place of incidents."
    renames = "location_ids"

    def get_queryset(self):
        return visible_records(self.request, Location.objects.all()).order_by(
            "country_code", "admin1", "name", "id"
        )


@_record_operations(
    "a", "source", "sources", "most recently published first, without their text (a source's detail has it)"
)
class SourceViewSet(RecordViewSet):
    serializer_class = serializers.SourceSerializer
    filterset_class = filters.SourceFilter
    read_serializer_class = serializers.SourceDetailSerializer
    write_serializer_class = serializers.SourceWriteSerializer
    still_referred_to = "This source is still cited by casualty claims."

    def get_queryset(self):
        queryset = visible_records(self.request, Source.objects.all()).order_by("-published_on", "slug")
        # The list leaves the (long) text out, so it is not read from the database.
        return queryset.defer("text") if self.action == "list" else queryset

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.SourceDetailSerializer
        return super().get_serializer_class()


@extend_schema(
    summary="Casualty totals per key",
    description=(
        "Incidents and their casualty totals (low, best, high) summed per `group_by` key, for "
        "one `outcome`, over the incidents that the incident filters select (for the public, "
        "published ones). Not paginated; rows are sorted by key. Containers and the incidents "
        "inside them are both counted: add has_children=false to count leaf incidents only."
    ),
    parameters=[
        OpenApiParameter(
            "group_by",
            str,
            enum=GROUP_BY_KEYS,
            required=True,
            description="What the totals are summed per: each row is one value of it.",
        ),
        OpenApiParameter(
            "outcome", str, enum=OUTCOMES, description="Default killed; ignored by group_by=outcome."
        ),
    ],
    responses=serializers.StatsSerializer,
)
class CasualtyStatsView(ApiViewMixin, generics.GenericAPIView):
    """Incidents and their casualty totals (low, best, high) summed per key, for any incident filter."""

    filterset_class = filters.IncidentFilter
    pagination_class = None
    filters_on_get = True

    def get_queryset(self):
        return visible_incidents(self.request, Incident.objects.all())

    def get(self, request):
        group_by = request.query_params.get("group_by")
        outcome = request.query_params.get("outcome", "killed")
        errors = {}
        if group_by not in GROUP_BY_KEYS:
            errors["group_by"] = [f"Required; one of {', '.join(GROUP_BY_KEYS)}."]
        if outcome not in OUTCOMES:
            errors["outcome"] = [f"One of {', '.join(OUTCOMES)}."]
        if errors:
            raise ValidationError(errors)
        incidents = self.filter_queryset(self.get_queryset())
        rows = casualty_stats(incidents, group_by, outcome)
        return Response({"group_by": group_by, "outcome": outcome, "results": rows})
