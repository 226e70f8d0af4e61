from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from incidents import filters, serializers
from incidents.exports import EXPORT_RENDERERS, STREAMING_FORMATS, stream_export
from incidents.models import Actor, CasualtyFigure, Incident, Location, Source
from incidents.pagination import IncidentPagination
from incidents.stats import GROUP_BY_KEYS, OUTCOMES, casualty_stats


class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    """Incidents, newest first, each with its place, actors, claims, totals and sources."""

    serializer_class = serializers.IncidentSerializer
    filterset_class = filters.IncidentFilter
    pagination_class = IncidentPagination
    # JSON stays first, so it is what a client gets unless it asks for an export format.
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, *EXPORT_RENDERERS]
    lookup_field = "slug"

    def get_queryset(self):
        return Incident.objects.for_api().order_by("-start_date", "-id")

    def list(self, request, *args, **kwargs):
        # Exports take the whole filtered set in one streamed response, without pages.
        if request.accepted_renderer.format in STREAMING_FORMATS:
            return stream_export(self.filter_queryset(self.get_queryset()), request.accepted_renderer.format)
        return super().list(request, *args, **kwargs)


class CasualtyFigureViewSet(viewsets.ReadOnlyModelViewSet):
    """Casualty claims: who says how many were killed, wounded, detained or went missing."""

    serializer_class = serializers.CasualtyFigureSerializer
    filterset_class = filters.CasualtyFigureFilter

    def get_queryset(self):
        queryset = CasualtyFigure.objects.select_related("incident", "actor", "claimed_by", "source")
        return queryset.defer("source__text", "incident__search_document").order_by(
            "-incident__start_date", "incident_id", "outcome", "group", "id"
        )


class ActorViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.ActorSerializer
    filterset_class = filters.ActorFilter
    lookup_field = "slug"

    def get_queryset(self):
        return Actor.objects.select_related("parent").order_by("name", "id")


class LocationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.LocationSerializer
    filterset_class = filters.LocationFilter
    lookup_field = "slug"

    def get_queryset(self):
        return Location.objects.order_by("country_code", "admin1", "name", "id")


class SourceViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_class = filters.SourceFilter
    lookup_field = "slug"

    def get_queryset(self):
        queryset = Source.objects.order_by("-published_on", "slug")
        # The list leaves the (long) text out, so it is not read from the database.
        return queryset.defer("text") if self.action == "list" else queryset

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.SourceDetailSerializer
        return serializers.SourceSerializer


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
        return Incident.objects.all()

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
