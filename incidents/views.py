from rest_framework import viewsets

from incidents import filters, serializers
from incidents.models import Actor, CasualtyFigure, Incident, Location, Source
from incidents.pagination import IncidentPagination


class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    """Incidents, newest first, each with its place, actors, claims, totals and sources."""

    serializer_class = serializers.IncidentSerializer
    filterset_class = filters.IncidentFilter
    pagination_class = IncidentPagination
    lookup_field = "slug"

    def get_queryset(self):
        return Incident.objects.for_api().order_by("-start_date", "-id")


class CasualtyFigureViewSet(viewsets.ReadOnlyModelViewSet):
    """Casualty claims: who says how many were killed, wounded, detained or went missing."""

    serializer_class = serializers.CasualtyFigureSerializer
    filterset_class = filters.CasualtyFigureFilter

    def get_queryset(self):
        return CasualtyFigure.objects.select_related("incident", "actor", "claimed_by", "source").order_by(
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
