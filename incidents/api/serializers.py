import copy
from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import derived
from incidents.api import representation
from incidents.evidence import quote_occurs_in
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


class ActorRefSerializer(serializers.ModelSerializer):
    """How an actor appears inside another record."""

    class Meta:
        model = Actor
        fields = representation.ACTOR_REF


class SourceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = representation.SOURCE_REF


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
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Actor
        fields = ("slug", "name", "kind", "country", "aliases", "parent", "description", "external_ids")


class LocationSerializer(serializers.ModelSerializer):
    latitude = serializers.FloatField(read_only=True, allow_null=True)
    longitude = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Location
        fields = representation.LOCATION_FIELDS


class ClaimSerializer(serializers.ModelSerializer):
    """A casualty figure as embedded in its incident (for the schema; see IncidentSerializer)."""

    actor = ActorRefSerializer(read_only=True, allow_null=True)
    claimed_by = ActorRefSerializer(read_only=True, allow_null=True)
    source = SourceRefSerializer(read_only=True)

    class Meta:
        model = CasualtyFigure
        fields = representation.CLAIM_FIELDS


class CasualtyFigureSerializer(ClaimSerializer):
    """A casualty figure on its own, naming its incident (for the schema; see IncidentSerializer)."""

    incident = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta(ClaimSerializer.Meta):
        fields = representation.STANDALONE_CLAIM_FIELDS


class IncidentActorSerializer(serializers.ModelSerializer):
    actor = ActorRefSerializer(read_only=True)
    claimed_by = ActorRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = IncidentActor
        fields = representation.ROLE_FIELDS


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
    """The incident shape, for the schema: incidents.api.representation builds what is served,
    and tests/contract checks that this describes it field for field."""

    location = LocationSerializer(read_only=True, allow_null=True)
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    children = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    actors = IncidentActorSerializer(source="incident_actors", many=True, read_only=True)
    casualty_figures = ClaimSerializer(many=True, read_only=True)
    sources = SourceRefSerializer(many=True, read_only=True)
    totals = TotalsSerializer(read_only=True)

    class Meta:
        model = Incident
        fields = representation.INCIDENT_FIELDS


# ---- Writes -------------------------------------------------------------------------
# Writes take related records by slug and answer with the read shape above. Each
# serializer runs the model's own validation (field validators, unique slugs and the
# database constraints), so a write the database would refuse is a 400 naming the
# field, never an IntegrityError.


def _as_drf_error(error):
    if hasattr(error, "message_dict"):
        return {
            ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": error.messages}


def json_type_error(field, value):
    """Why a JSON value has the wrong type for this field, or None.

    DRF converts quietly: 12 into the text "12", "12" and 12.0 into the number 12, "yes"
    and 1 into true, an object into the list of its keys. A JSON body must give each
    field its own type instead, so a client's mix-up is a 400 naming the field.
    """
    if value is None:
        return None  # allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, serializers.DecimalField):
        number = isinstance(value, (int, float, str)) and not isinstance(value, bool)
        return None if number else "Must be a number."
    if isinstance(field, (serializers.CharField, serializers.RelatedField)):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ManyRelatedField):
        if not isinstance(value, list):
            return "Must be a list of slugs."
        return None if all(isinstance(item, str) for item in value) else "Must be a list of slugs."
    strings = isinstance(field, serializers.ListField) and isinstance(field.child, serializers.CharField)
    if strings and isinstance(value, list) and not all(isinstance(item, str) for item in value):
        return "Must be a list of strings."
    return None


class StrictJSONTypesMixin:
    """In a JSON body every field has its JSON type (see json_type_error); forms send text only."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = {}
            for name, field in self.fields.items():
                if not field.read_only and name in data:
                    message = json_type_error(field, data[name])
                    if message:
                        errors[name] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class ModelRulesMixin(StrictJSONTypesMixin):
    """Validate attrs as the admin does: full_clean on the instance they would produce."""

    nested_fields = ()

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        m2m = {f.name for f in model._meta.many_to_many}
        for name, value in attrs.items():
            if name not in m2m and name not in self.nested_fields:
                setattr(instance, name, value)
        exclude = [
            f.name
            for f in model._meta.fields
            if f.name not in attrs and self.instance is None and f.has_default()
        ]
        exclude += self.excluded_from_model_checks()
        try:
            instance.full_clean(exclude=exclude)
        except DjangoValidationError as error:
            raise serializers.ValidationError(_as_drf_error(error)) from error
        return attrs

    def excluded_from_model_checks(self):
        return []


def unstorable_text(value):
    """Why PostgreSQL cannot take this text (NUL, or half a surrogate pair), or None."""
    if "\x00" in value:
        return "NUL characters are not allowed."
    if any("\ud800" <= char <= "\udfff" for char in value):
        return "Surrogate characters are not allowed."
    return None


class SlugField(serializers.SlugRelatedField):
    """A record named by its slug; text the database cannot compare is refused before the lookup."""

    def to_internal_value(self, data):
        if isinstance(data, str) and unstorable_text(data):
            raise serializers.ValidationError(unstorable_text(data))
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "description": "A slug; null or an empty string for none."})
class OptionalSlugField(SlugField):
    """DRF takes an empty string for null in a relation (an HTML form's empty choice)."""


def _slug_field(model, **kwargs):
    field_class = OptionalSlugField if kwargs.get("allow_null") else SlugField
    return field_class(slug_field="slug", queryset=model.objects.all(), **kwargs)


class JSONObjectField(serializers.DictField):
    """A JSON object stored as is, that the database and the JSON encoder can take.

    No NUL or lone surrogates anywhere in it (PostgreSQL's jsonb refuses them), and at
    most MAX_DEPTH levels, so that writing and reading it never reaches the recursion limit.
    """

    MAX_DEPTH = 10

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        stack = [(data, 1)]
        while stack:  # iteratively: a deep object must not hit the recursion limit here
            value, depth = stack.pop()
            if depth > self.MAX_DEPTH:
                raise serializers.ValidationError(f"Nested more than {self.MAX_DEPTH} levels deep.")
            if isinstance(value, dict):
                stack.extend((item, depth + 1) for item in [*value.keys(), *value.values()])
            elif isinstance(value, list):
                stack.extend((item, depth + 1) for item in value)
            elif isinstance(value, str) and unstorable_text(value):
                raise serializers.ValidationError(unstorable_text(value))
        return data


class SourceWriteSerializer(ModelRulesMixin, serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = (*SourceDetailSerializer.Meta.fields,)


class ActorWriteSerializer(ModelRulesMixin, serializers.ModelSerializer):
    parent = _slug_field(Actor, required=False, allow_null=True)
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=300), max_length=100, required=False, default=list
    )
    external_ids = JSONObjectField(required=False, default=dict)

    class Meta:
        model = Actor
        fields = ActorSerializer.Meta.fields


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "format": "decimal"}]})
class CoordinateField(serializers.DecimalField):
    """Degrees as a JSON number or a decimal string; answered as a string, like any decimal."""


class LocationWriteSerializer(ModelRulesMixin, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: CoordinateField,
    }

    class Meta:
        model = Location
        fields = (*LocationSerializer.Meta.fields, "notes")


def check_quote_in_source(attrs, instance=None):
    source = attrs.get("source", getattr(instance, "source", None))
    quote = attrs.get("quote", getattr(instance, "quote", ""))
    if source is not None and source.kind != Source.Kind.DATASET and not quote_occurs_in(quote, source.text):
        raise serializers.ValidationError(
            {"quote": [f"This quote does not occur in the text of source '{source.slug}'."]}
        )


# PostgreSQL's integer; SQLite would store more, and a fixture must load into either.
MAX_COUNT = 2_147_483_647


class NestedClaimSerializer(ModelRulesMixin, serializers.ModelSerializer):
    """A casualty figure written inside its incident."""

    actor = _slug_field(Actor, required=False, allow_null=True)
    claimed_by = _slug_field(Actor, required=False, allow_null=True)
    source = _slug_field(Source)

    class Meta:
        model = CasualtyFigure
        extra_kwargs = {bound: {"max_value": MAX_COUNT} for bound in ("low", "best", "high")}
        # What a client writes of a claim: all it reads but the ids.
        fields = CLAIM_EDITED_FIELDS

    def excluded_from_model_checks(self):
        # The incident may not exist yet; the incident serializer checks preferred figures.
        return ["incident"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        check_quote_in_source(attrs, self.instance)
        return attrs


class CasualtyFigureWriteSerializer(NestedClaimSerializer):
    incident = _slug_field(Incident)

    class Meta(NestedClaimSerializer.Meta):
        fields = ("incident", *NestedClaimSerializer.Meta.fields)

    def excluded_from_model_checks(self):
        return []

    def to_representation(self, instance):
        return representation.claim_by_id(instance.pk)


class NestedRoleSerializer(StrictJSONTypesMixin, serializers.ModelSerializer):
    actor = _slug_field(Actor)
    claimed_by = _slug_field(Actor, required=False, allow_null=True)

    class Meta:
        model = IncidentActor
        fields = representation.ROLE_FIELDS


class IncidentWriteSerializer(ModelRulesMixin, serializers.ModelSerializer):
    """An incident with, optionally, its actor roles and figures, written in one transaction.

    Given `actors` or `casualty_figures` replace the incident's current ones; left out,
    they are kept.
    """

    nested_fields = ("actors", "casualty_figures")

    location = _slug_field(Location, required=False, allow_null=True)
    parent = _slug_field(Incident, required=False, allow_null=True)
    sources = _slug_field(Source, many=True, required=False)
    actors = NestedRoleSerializer(many=True, required=False)
    casualty_figures = NestedClaimSerializer(many=True, required=False)

    class Meta:
        model = Incident
        fields = (*INCIDENT_EDITED_FIELDS, "actors", "casualty_figures")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        roles = [(r["actor"].pk, r["role"]) for r in attrs.get("actors", [])]
        if len(roles) != len(set(roles)):
            raise serializers.ValidationError({"actors": ["An actor is listed twice in the same role."]})
        preferred = [
            (f["outcome"], f["group"]) for f in attrs.get("casualty_figures", []) if f.get("is_preferred")
        ]
        if len(preferred) != len(set(preferred)):
            raise serializers.ValidationError(
                {"casualty_figures": ["Only one figure per outcome and group can be preferred."]}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        nested = {name: validated_data.pop(name, None) for name in self.nested_fields}
        sources = validated_data.pop("sources", [])
        incident = Incident.objects.create(**validated_data)
        incident.sources.set(sources)
        self._write_nested(incident, nested)
        return incident

    @transaction.atomic
    def update(self, instance, validated_data):
        nested = {name: validated_data.pop(name, None) for name in self.nested_fields}
        sources = validated_data.pop("sources", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save()
        if sources is not None:
            instance.sources.set(sources)
        self._write_nested(instance, nested)
        return instance

    def _write_nested(self, incident, nested):
        if nested["actors"] is not None:
            incident.incident_actors.all().delete()
            for role in nested["actors"]:
                IncidentActor.objects.create(incident=incident, **role)
        if nested["casualty_figures"] is not None:
            incident.casualty_figures.all().delete()
            for figure in nested["casualty_figures"]:
                CasualtyFigure.objects.create(incident=incident, **figure)
        derived.incidents_changed([incident.pk])

    def to_representation(self, instance):
        return representation.incident_by_id(instance.pk)


# ---- Workflow bodies, history and stats --------------------------------------------


class ReasonSerializer(StrictJSONTypesMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class MergeSerializer(StrictJSONTypesMixin, serializers.Serializer):
    into = SlugField(slug_field="slug", queryset=Incident.objects.all())
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    record = serializers.ChoiceField(choices=["incident", "actor_role", "casualty_figure"])
    record_id = serializers.IntegerField()
    action = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    changes = HistoryChangeSerializer(many=True)


class StatsRowSerializer(serializers.Serializer):
    key = serializers.JSONField(
        help_text="The group's value: a code, a year (number), a YYYY-MM month or an actor slug."
    )
    country = serializers.CharField(required=False, help_text="With group_by=admin1.")
    name = serializers.CharField(required=False, help_text="With group_by=actor.")
    incidents = serializers.IntegerField()
    low = serializers.IntegerField(allow_null=True)
    best = serializers.IntegerField(allow_null=True)
    high = serializers.IntegerField(allow_null=True)


class StatsSerializer(serializers.Serializer):
    group_by = serializers.CharField()
    outcome = serializers.CharField()
    results = StatsRowSerializer(many=True)
