import hashlib
import json

from django.db import transaction
from django.db.models import ProtectedError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from incidents import filters, serializers
from incidents.exports import EXPORT_RENDERERS, STREAMING_FORMATS, stream_export
from incidents.history import incident_history
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.pagination import IncidentPagination
from incidents.search import refresh_search_documents
from incidents.stats import GROUP_BY_KEYS, OUTCOMES, casualty_stats
from incidents.totals import refresh_totals


class Conflict(APIException):
    status_code = 409
    default_detail = "The request conflicts with the record's current state."
    default_code = "conflict"


class CanChangeIncidents(permissions.BasePermission):
    """Moving an incident along the review workflow is a change to it."""

    def has_permission(self, request, view):
        return can_edit_incidents(request.user)


class CanDeleteIncidents(permissions.BasePermission):
    """Merging removes an incident, so it takes the maintainers' delete permission."""

    def has_permission(self, request, view):
        return request.user.is_authenticated and request.user.has_perm("incidents.delete_incident")


class HistoryChangeSerializer(drf_serializers.Serializer):
    field = drf_serializers.CharField()
    old = drf_serializers.JSONField(allow_null=True)
    new = drf_serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(drf_serializers.Serializer):
    record = drf_serializers.ChoiceField(choices=["incident", "actor_role", "casualty_figure"])
    record_id = drf_serializers.IntegerField()
    action = drf_serializers.ChoiceField(choices=["created", "changed", "deleted"])
    at = drf_serializers.DateTimeField()
    by = drf_serializers.CharField(allow_null=True)
    reason = drf_serializers.CharField(allow_blank=True)
    changes = HistoryChangeSerializer(many=True)


def can_edit_incidents(user):
    return user.is_authenticated and user.has_perm("incidents.change_incident")


def visible_incidents(request, queryset):
    """The public sees published incidents only; editors see every status."""
    if can_edit_incidents(request.user):
        return queryset
    return queryset.filter(status=Incident.Status.PUBLISHED)


def representation_etag(data):
    body = json.dumps(data, sort_keys=True, default=str).encode()
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class ETagMixin:
    """Detail responses carry an ETag; a write with a stale If-Match is refused with 412.

    The tag is a hash of the record's read representation, so it changes with any
    change a client could see, whichever way the record was edited.
    """

    read_serializer_class = None

    def current_etag(self, instance):
        return representation_etag(
            self.read_serializer_class(instance, context=self.get_serializer_context()).data
        )

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = representation_etag(response.data)
        return response

    def check_if_match(self, request, instance):
        expected = request.headers.get("If-Match")
        if expected and expected.strip() != "*":
            tags = [tag.strip() for tag in expected.split(",")]
            if self.current_etag(instance) not in tags:
                raise PreconditionFailed()

    def update(self, request, *args, **kwargs):
        self.check_if_match(request, self.get_object())
        response = super().update(request, *args, **kwargs)
        response["ETag"] = representation_etag(response.data)
        return response

    def destroy(self, request, *args, **kwargs):
        self.check_if_match(request, self.get_object())
        return super().destroy(request, *args, **kwargs)


class PreconditionFailed(APIException):
    status_code = 412
    default_detail = "The record changed since you read it (If-Match does not match its ETag). Read it again."
    default_code = "precondition_failed"


class Gone(APIException):
    """410 with a body of dates and links, which DRF's own errors would turn into strings."""

    status_code = 410
    default_detail = "This incident was deleted."
    default_code = "gone"

    def __init__(self, body):
        super().__init__(body["detail"])
        self.body = body


def api_exception_handler(exc, context):
    if isinstance(exc, Gone):
        return Response(exc.body, status=exc.status_code)
    return exception_handler(exc, context)


class WriteSerializerMixin:
    """Reads and writes have different shapes: slugs in, the full record out."""

    write_serializer_class = None

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return self.write_serializer_class
        return super().get_serializer_class()


class ReasonSerializer(drf_serializers.Serializer):
    reason = drf_serializers.CharField(max_length=5000)


class MergeSerializer(drf_serializers.Serializer):
    into = drf_serializers.SlugRelatedField(slug_field="slug", queryset=Incident.objects.all())
    reason = drf_serializers.CharField(max_length=5000, required=False, allow_blank=True)


class IncidentViewSet(ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    """Incidents, newest first, each with its place, actors, claims, totals and sources."""

    serializer_class = serializers.IncidentSerializer
    read_serializer_class = serializers.IncidentSerializer
    write_serializer_class = serializers.IncidentWriteSerializer
    filterset_class = filters.IncidentFilter
    pagination_class = IncidentPagination
    # JSON stays first, so it is what a client gets unless it asks for an export format.
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, *EXPORT_RENDERERS]
    lookup_field = "slug"

    def get_queryset(self):
        # The history needs the incident alone, not everything its shape embeds.
        base = Incident.objects.all() if self.action == "history" else Incident.objects.for_api()
        return visible_incidents(self.request, base).order_by("-start_date", "-id")

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            tombstone = IncidentTombstone.objects.filter(slug=self.kwargs["slug"]).first()
            if tombstone is None:
                raise
            detail = {
                "detail": "This incident was deleted.",
                "deleted_at": tombstone.deleted_at,
                "merged_into": (
                    self.request.build_absolute_uri(
                        reverse("incident-detail", kwargs={"slug": tombstone.merged_into.slug})
                    )
                    if tombstone.merged_into
                    else None
                ),
            }
            raise Gone(detail) from None

    def list(self, request, *args, **kwargs):
        # Exports take the whole filtered set in one streamed response, without pages.
        if request.accepted_renderer.format in STREAMING_FORMATS:
            return stream_export(self.filter_queryset(self.get_queryset()), request.accepted_renderer.format)
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["ETag"] = representation_etag(response.data)
        return response

    @transaction.atomic
    def perform_destroy(self, instance):
        self._bury(instance, merged_into=None, reason="")

    def _bury(self, instance, merged_into, reason):
        if instance.children.exists():
            raise Conflict({"detail": "This incident has child incidents; move or delete them first."})
        IncidentTombstone.objects.update_or_create(
            slug=instance.slug,
            defaults={
                "title": instance.title,
                "deleted_by": self.request.user,
                "merged_into": merged_into,
                "reason": reason,
                "deleted_at": timezone.now(),
            },
        )
        instance.delete()

    def _transition(self, request, allowed_from, to, **fields):
        incident = self.get_object()
        self.check_if_match(request, incident)
        if incident.status not in allowed_from:
            raise Conflict({"status": [f"A {incident.status} incident cannot become {to}."]})
        incident.status = to
        for name, value in fields.items():
            setattr(incident, name, value)
        incident.save()
        return self._read(incident)

    def _read(self, incident):
        incident = Incident.objects.for_api().get(pk=incident.pk)
        data = self.read_serializer_class(incident, context=self.get_serializer_context()).data
        return Response(data, headers={"ETag": representation_etag(data)})

    @extend_schema(request=None, responses=serializers.IncidentSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def review(self, request, slug=None):
        """Mark a draft as reviewed, recording who reviewed it and when."""
        S = Incident.Status
        return self._transition(
            request, {S.DRAFT}, S.REVIEWED, reviewed_by=request.user, reviewed_at=timezone.now()
        )

    @extend_schema(request=None, responses=serializers.IncidentSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def publish(self, request, slug=None):
        """Publish a reviewed incident: it becomes visible to the public."""
        return self._transition(request, {Incident.Status.REVIEWED}, Incident.Status.PUBLISHED)

    @extend_schema(request=ReasonSerializer, responses=serializers.IncidentSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def retract(self, request, slug=None):
        """Withdraw an incident from the public, with a reason editors keep seeing."""
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        S = Incident.Status
        return self._transition(
            request,
            {S.DRAFT, S.REVIEWED, S.PUBLISHED},
            S.RETRACTED,
            retraction_reason=body.validated_data["reason"],
        )

    @extend_schema(request=None, responses=serializers.IncidentSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanChangeIncidents])
    def reopen(self, request, slug=None):
        """Bring a retracted incident back as a draft."""
        return self._transition(
            request, {Incident.Status.RETRACTED}, Incident.Status.DRAFT, retraction_reason=""
        )

    @extend_schema(request=MergeSerializer, responses=serializers.IncidentSerializer)
    @action(detail=True, methods=["post"], permission_classes=[CanDeleteIncidents])
    @transaction.atomic
    def merge(self, request, slug=None):
        """Fold this incident into another: its roles, claims, sources and children move there."""
        incident = self.get_object()
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = body.validated_data["into"]
        if target.pk == incident.pk:
            raise ValidationError({"into": ["An incident cannot be merged into itself."]})
        existing_roles = set(target.incident_actors.values_list("actor_id", "role"))
        for role in incident.incident_actors.all():
            if (role.actor_id, role.role) not in existing_roles:
                IncidentActor.objects.create(
                    incident=target,
                    actor=role.actor,
                    role=role.role,
                    claimed_by=role.claimed_by,
                    quote=role.quote,
                    note=role.note,
                )
        # Moved claims keep their own preference only where the target has none.
        taken = set(target.casualty_figures.filter(is_preferred=True).values_list("outcome", "group"))
        for figure in incident.casualty_figures.all():
            figure.incident = target
            figure.is_preferred = figure.is_preferred and (figure.outcome, figure.group) not in taken
            figure.save()
        target.sources.add(*incident.sources.all())
        incident.children.update(parent=target)
        self._bury(
            Incident.objects.get(pk=incident.pk),
            merged_into=target,
            reason=body.validated_data.get("reason", ""),
        )
        refresh_totals([target.pk])
        refresh_search_documents([target.pk])
        return self._read(target)

    @extend_schema(responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request, slug=None):
        """Every recorded change of this incident, its actor roles and its claims: who, when, what."""
        incident = self.get_object()
        return Response(HistoryEntrySerializer(incident_history(incident.pk), many=True).data)


class CasualtyFigureViewSet(ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    """Casualty claims: who says how many were killed, wounded, detained or went missing."""

    serializer_class = serializers.CasualtyFigureSerializer
    read_serializer_class = serializers.CasualtyFigureSerializer
    write_serializer_class = serializers.CasualtyFigureWriteSerializer
    filterset_class = filters.CasualtyFigureFilter

    def get_queryset(self):
        queryset = CasualtyFigure.objects.select_related("incident", "actor", "claimed_by", "source")
        if not can_edit_incidents(self.request.user):
            queryset = queryset.filter(incident__status=Incident.Status.PUBLISHED)
        return queryset.defer("source__text", "incident__search_document").order_by(
            "-incident__start_date", "incident_id", "outcome", "group", "id"
        )

    def perform_create(self, serializer):
        figure = serializer.save()
        self._refresh(figure.incident_id)

    def perform_update(self, serializer):
        before = serializer.instance.incident_id
        figure = serializer.save()
        self._refresh(before, figure.incident_id)

    def perform_destroy(self, instance):
        incident_id = instance.incident_id
        instance.delete()
        self._refresh(incident_id)

    def _refresh(self, *incident_ids):
        refresh_totals(set(incident_ids))


class ActorViewSet(ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    serializer_class = serializers.ActorSerializer
    read_serializer_class = serializers.ActorSerializer
    write_serializer_class = serializers.ActorWriteSerializer
    filterset_class = filters.ActorFilter
    lookup_field = "slug"

    def get_queryset(self):
        return Actor.objects.select_related("parent").order_by("name", "id")

    def perform_update(self, serializer):
        actor = serializer.save()
        refresh_search_documents(actor.incidents.values_list("pk", flat=True))

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as error:
            raise Conflict(
                {"detail": "This actor is still referred to by incidents, claims or members."}
            ) from error


class LocationViewSet(ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    serializer_class = serializers.LocationSerializer
    read_serializer_class = serializers.LocationSerializer
    write_serializer_class = serializers.LocationWriteSerializer
    filterset_class = filters.LocationFilter
    lookup_field = "slug"

    def get_queryset(self):
        return Location.objects.order_by("country_code", "admin1", "name", "id")

    def perform_update(self, serializer):
        location = serializer.save()
        refresh_search_documents(location.incidents.values_list("pk", flat=True))

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as error:
            raise Conflict({"detail": "This location is still the place of incidents."}) from error


class SourceViewSet(ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    serializer_class = serializers.SourceSerializer
    filterset_class = filters.SourceFilter
    read_serializer_class = serializers.SourceDetailSerializer
    write_serializer_class = serializers.SourceWriteSerializer
    lookup_field = "slug"

    def get_queryset(self):
        queryset = Source.objects.order_by("-published_on", "slug")
        # The list leaves the (long) text out, so it is not read from the database.
        return queryset.defer("text") if self.action == "list" else queryset

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.SourceDetailSerializer
        return super().get_serializer_class()

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as error:
            raise Conflict({"detail": "This source is still cited by casualty claims."}) from error


class StatsRowSerializer(drf_serializers.Serializer):
    key = drf_serializers.JSONField(
        help_text="The group's value: a code, a year (number), a YYYY-MM month or an actor slug."
    )
    country = drf_serializers.CharField(required=False, help_text="With group_by=admin1.")
    name = drf_serializers.CharField(required=False, help_text="With group_by=actor.")
    incidents = drf_serializers.IntegerField()
    low = drf_serializers.IntegerField(allow_null=True)
    best = drf_serializers.IntegerField(allow_null=True)
    high = drf_serializers.IntegerField(allow_null=True)


class StatsSerializer(drf_serializers.Serializer):
    group_by = drf_serializers.CharField()
    outcome = drf_serializers.CharField()
    results = StatsRowSerializer(many=True)


@extend_schema(
    parameters=[
        OpenApiParameter("group_by", str, enum=GROUP_BY_KEYS, required=True),
        OpenApiParameter(
            "outcome", str, enum=OUTCOMES, description="Default killed; ignored by group_by=outcome."
        ),
    ],
    responses=StatsSerializer,
)
class CasualtyStatsView(generics.GenericAPIView):
    """Incidents and their casualty totals (low, best, high) summed per key, for any incident filter."""

    filterset_class = filters.IncidentFilter
    pagination_class = None

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
