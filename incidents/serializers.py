from rest_framework import serializers

from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    Location,
    Source,
)


class ActorRefSerializer(serializers.ModelSerializer):
    """How an actor appears inside another record."""

    class Meta:
        model = Actor
        fields = ("slug", "name", "kind")


class SourceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ("slug", "title", "publisher", "url")


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = (
            "slug",
            "title",
            "publisher",
            "published_on",
            "published_on_precision",
            "url",
            "language",
            "kind",
            "version",
            "notes",
        )


class SourceDetailSerializer(SourceSerializer):
    """A source with its full text, which the list leaves out to stay light."""

    class Meta(SourceSerializer.Meta):
        fields = (*SourceSerializer.Meta.fields, "text")


class ActorSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Actor
        fields = ("slug", "name", "kind", "country", "aliases", "parent", "description", "external_ids")


class LocationSerializer(serializers.ModelSerializer):
    latitude = serializers.FloatField(read_only=True)
    longitude = serializers.FloatField(read_only=True)

    class Meta:
        model = Location
        fields = (
            "slug",
            "name",
            "country_code",
            "admin1",
            "admin2",
            "latitude",
            "longitude",
            "geo_precision",
        )


class ClaimSerializer(serializers.ModelSerializer):
    """A casualty figure as embedded in its incident."""

    actor = ActorRefSerializer(read_only=True)
    claimed_by = ActorRefSerializer(read_only=True)
    source = SourceRefSerializer(read_only=True)

    class Meta:
        model = CasualtyFigure
        fields = (
            "id",
            "uid",
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


class CasualtyFigureSerializer(ClaimSerializer):
    """A casualty figure on its own, naming its incident."""

    incident = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta(ClaimSerializer.Meta):
        fields = ("id", "uid", "incident", *ClaimSerializer.Meta.fields[2:])


class IncidentActorSerializer(serializers.ModelSerializer):
    actor = ActorRefSerializer(read_only=True)
    claimed_by = ActorRefSerializer(read_only=True)

    class Meta:
        model = IncidentActor
        fields = ("actor", "role", "claimed_by", "quote", "note")


class BoundsSerializer(serializers.Serializer):
    low = serializers.IntegerField(allow_null=True)
    best = serializers.IntegerField(allow_null=True)
    high = serializers.IntegerField(allow_null=True)


class TotalsSerializer(serializers.Serializer):
    killed = BoundsSerializer()
    wounded = BoundsSerializer()
    detained = BoundsSerializer()
    missing = BoundsSerializer()


class IncidentSerializer(serializers.ModelSerializer):
    """The one incident shape, used by the list and the detail alike."""

    location = LocationSerializer(read_only=True)
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    children = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    actors = IncidentActorSerializer(source="incident_actors", many=True, read_only=True)
    casualty_figures = ClaimSerializer(many=True, read_only=True)
    sources = SourceRefSerializer(many=True, read_only=True)
    totals = TotalsSerializer(read_only=True)

    class Meta:
        model = Incident
        fields = (
            "slug",
            "title",
            "event_type",
            "sub_event_type",
            "start_date",
            "end_date",
            "date_precision",
            "location",
            "parent",
            "children",
            "summary",
            "actors",
            "casualty_figures",
            "totals",
            "sources",
            "status",
            "created_at",
            "updated_at",
        )
