import hashlib
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import transaction
from django.db.models import ProtectedError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import generics, parsers, permissions, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ParseError, ValidationError
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
from incidents.rows import INCIDENTS_BY_SLUG, incident_rows, represent
from incidents.search import refresh_search_documents
from incidents.stats import GROUP_BY_KEYS, OUTCOMES, casualty_stats
from incidents.totals import refresh_totals


class SafeJSONParser(parsers.JSONParser):
    """JSON nested past Python's recursion limit is a 400 like any other malformed body, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


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


class ErrorSerializer(drf_serializers.Serializer):
    detail = drf_serializers.CharField()


class GoneSerializer(drf_serializers.Serializer):
    detail = drf_serializers.CharField()
    deleted_at = drf_serializers.DateTimeField()
    merged_into = drf_serializers.URLField(allow_null=True)


# Validation errors name each bad parameter or field: {"name": ["message", ...]}, nested
# like the request for nested writes ({"casualty_figures": {"0": {"quote": [...]}}}).
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {},
    "description": "Each key is a parameter or field at fault (or non_field_errors, or detail).",
}


class ApiSchema(AutoSchema):
    """Documents the error answers each operation can give, next to its success.

    400: a bad parameter or body (and a body or query string over Django's limits);
    401: a token that is not valid; 403: a write without the permission (or CSRF token);
    404: an unknown record, page or ?format=; 406: an Accept header no renderer meets;
    409: a workflow step or deletion the record's state refuses; 410: a deleted incident;
    412: a stale If-Match; 413: a body over Django's size limit;
    415: a body in a media type the API does not parse;
    429: throttled; 503: the database is down.
    """

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        # An empty value counts as if the parameter were absent (docs/api.md, General rules).
        for parameter in (operation or {}).get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return operation

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, response in self._error_responses().items():
            responses.setdefault(
                str(code), self._get_response_for_code(response, str(code), ["application/json"])
            )
        return responses

    def _error_responses(self):
        detail = ErrorSerializer
        errors = {
            400: OpenApiResponse(FIELD_ERRORS, description="Bad parameters or body."),
            401: OpenApiResponse(detail, description="The token is not valid."),
            404: OpenApiResponse(detail, description="No such record, page or format."),
            406: OpenApiResponse(detail, description="No renderer meets the Accept header."),
            429: OpenApiResponse(detail, description="Throttled; Retry-After says when to try again."),
            503: OpenApiResponse(detail, description="The database is unavailable; try again shortly."),
        }
        writes = self.method not in ("GET", "HEAD", "OPTIONS")
        action = getattr(self.view, "action", None)
        if writes:
            errors[403] = OpenApiResponse(detail, description="No permission for this write.")
            if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
                errors[413] = OpenApiResponse(detail, description="A body over DATA_UPLOAD_MAX_MEMORY_SIZE.")
                errors[415] = OpenApiResponse(detail, description="A body in an unsupported media type.")
        protected = self.method == "DELETE" and not isinstance(self.view, CasualtyFigureViewSet)
        if protected or action in TRANSITIONS or action == "merge":
            errors[409] = OpenApiResponse(FIELD_ERRORS, description="The record's state refuses this.")
        if isinstance(self.view, ETagMixin) and (
            self.method in ("PUT", "PATCH", "DELETE") or action in TRANSITIONS
        ):
            errors[412] = OpenApiResponse(detail, description="If-Match does not match the current ETag.")
        if isinstance(self.view, IncidentViewSet) and "{slug}" in self.path:
            errors[410] = OpenApiResponse(GoneSerializer, description="This incident was deleted.")
        return errors

    def map_renderers(self, attribute):
        # Only the incident list answers in the export formats; elsewhere they give JSON.
        values = super().map_renderers(attribute)
        if attribute == "media_type" and getattr(self.view, "action", None) != "list":
            exports = {renderer.media_type for renderer in EXPORT_RENDERERS}
            values = [value for value in values if value not in exports]
        return values

    def get_filter_backends(self):
        # The stats view is no list, but it takes every incident filter.
        if isinstance(self.view, CasualtyStatsView):
            return self.view.filter_backends
        return super().get_filter_backends()


TRANSITIONS = ("review", "publish", "retract", "reopen")


# What a slug can be (models.SlugField); anything else in the URL is a 404 without a lookup,
# so text the database cannot compare (a NUL byte) never reaches it.
SLUG_PATTERN = "[-a-zA-Z0-9_]+"


class ApiViewMixin:
    """What every API view shares: the schema that documents its errors, and a safe JSON parser."""

    schema = ApiSchema()
    parser_classes = [SafeJSONParser, parsers.FormParser, parsers.MultiPartParser]


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
    # Django's own limits on a request, met while DRF reads it: JSON answers, in DEBUG too.
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"The request body is larger than {limit} bytes."}, status=413)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response({"detail": str(exc)}, status=400)
    return exception_handler(exc, context)


class WriteSerializerMixin:
    """Reads and writes have different shapes: slugs in, the full record out."""

    write_serializer_class = None

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return self.write_serializer_class
        return super().get_serializer_class()


class ReasonSerializer(serializers.StrictJSONTypesMixin, drf_serializers.Serializer):
    reason = drf_serializers.CharField(max_length=5000)


class MergeSerializer(serializers.StrictJSONTypesMixin, drf_serializers.Serializer):
    into = serializers.SlugField(slug_field="slug", queryset=Incident.objects.all())
    reason = drf_serializers.CharField(max_length=5000, required=False, allow_blank=True)


def _answers_with(read_serializer):
    """Writes take the write shape and answer with the read shape (the write serializers say so)."""
    return {
        action: extend_schema(responses=read_serializer) for action in ("create", "update", "partial_update")
    }


@extend_schema_serializer(many=False)
class GeoJSONExportSerializer(drf_serializers.Serializer):
    type = drf_serializers.CharField(help_text='Always "FeatureCollection".')
    features = drf_serializers.ListField(child=drf_serializers.DictField())
    metadata = drf_serializers.DictField(
        help_text="How many incidents are in it and how many lack coordinates."
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
    read_serializer_class = serializers.IncidentSerializer
    write_serializer_class = serializers.IncidentWriteSerializer
    filterset_class = filters.IncidentFilter
    pagination_class = IncidentPagination
    # JSON stays first, so it is what a client gets unless it asks for an export format.
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, *EXPORT_RENDERERS]
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

    def get_queryset(self):
        if self.action in ("list", "retrieve"):
            # Read from plain rows (incidents.rows, incidents.exports), which fetch what they embed.
            base = Incident.objects.select_related("location", "parent")
        elif self.action == "history":
            # The history needs the incident alone, not everything its shape embeds.
            base = Incident.objects.all()
        else:
            base = Incident.objects.for_api()
        return visible_incidents(self.request, base).order_by("-start_date", "-id")

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            self.raise_gone_or_404()

    def raise_gone_or_404(self):
        """Why no incident answers to this slug: deleted (410, with where it went) or never there."""
        tombstone = IncidentTombstone.objects.filter(slug=self.kwargs["slug"]).first()
        if tombstone is None:
            raise Http404
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
        raise Gone(detail)

    def retrieve(self, request, *args, **kwargs):
        # Built from plain rows like the list (incidents.rows), the same JSON as the serializer.
        # Query parameters do not filter a detail: the slug names the record, which the
        # public sees only once published (as visible_incidents says for lists).
        rows = [
            row
            for row in INCIDENTS_BY_SLUG([kwargs["slug"]])
            if row["status"] == Incident.Status.PUBLISHED or can_edit_incidents(request.user)
        ]
        if not rows:
            self.raise_gone_or_404()
        data = represent(rows)[0]
        return Response(data, headers={"ETag": representation_etag(data)})

    def list(self, request, *args, **kwargs):
        # Exports take the whole filtered set in one streamed response, without pages.
        queryset = self.filter_queryset(self.get_queryset())
        if request.accepted_renderer.format in STREAMING_FORMATS:
            # A bound on one download; past it, narrow the export with filters.
            return stream_export(queryset[: settings.EXPORT_MAX_ROWS], request.accepted_renderer.format)
        # Pages are built from plain rows (incidents.rows): the same JSON as the
        # serializer, without a model instance per incident, role and claim.
        page = self.paginate_queryset(incident_rows(queryset))
        return self.get_paginated_response(represent(page))

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


CLAIM_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The claim's id.")


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
    read_serializer_class = serializers.CasualtyFigureSerializer
    write_serializer_class = serializers.CasualtyFigureWriteSerializer
    filterset_class = filters.CasualtyFigureFilter
    lookup_value_regex = "[0-9]+"

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


class ActorViewSet(ApiViewMixin, ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    serializer_class = serializers.ActorSerializer
    read_serializer_class = serializers.ActorSerializer
    write_serializer_class = serializers.ActorWriteSerializer
    filterset_class = filters.ActorFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

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


class LocationViewSet(ApiViewMixin, ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    serializer_class = serializers.LocationSerializer
    read_serializer_class = serializers.LocationSerializer
    write_serializer_class = serializers.LocationWriteSerializer
    filterset_class = filters.LocationFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

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


class SourceViewSet(ApiViewMixin, ETagMixin, WriteSerializerMixin, viewsets.ModelViewSet):
    serializer_class = serializers.SourceSerializer
    filterset_class = filters.SourceFilter
    read_serializer_class = serializers.SourceDetailSerializer
    write_serializer_class = serializers.SourceWriteSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

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
class CasualtyStatsView(ApiViewMixin, generics.GenericAPIView):
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
