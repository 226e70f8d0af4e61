import copy
from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.fields import empty
from rest_framework.utils import html

from incidents import derived, workflow
from incidents.api import representation
from incidents.api.permissions import can_edit_incidents
from incidents.evidence import claims_losing_their_quote, normalise, quotes_lost_message
from incidents.history import ROLES
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
    revision_of = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="In a revision (a draft of changes, editors only): the published incident it changes.",
    )
    pending_revision = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Editors only: the revision of this published incident awaiting review; null for the public.",
    )

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
    if isinstance(field, (serializers.CharField, serializers.RelatedField, serializers.UUIDField)):
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
        self.check_model_rules(attrs, self.instance)
        return attrs

    def check_model_rules(self, attrs, current):
        """full_clean on `current` (a stored record, or None for a new one) with attrs applied."""
        model = self.Meta.model
        instance = copy.copy(current) if current is not None else model()
        m2m = {f.name for f in model._meta.many_to_many}
        for name, value in attrs.items():
            if name not in m2m and name not in self.nested_fields:
                setattr(instance, name, value)
        exclude = [
            f.name for f in model._meta.fields if f.name not in attrs and current is None and f.has_default()
        ]
        exclude += self.excluded_from_model_checks(instance)
        try:
            instance.full_clean(exclude=exclude)
        except DjangoValidationError as error:
            raise serializers.ValidationError(_as_drf_error(error)) from error

    def excluded_from_model_checks(self, instance):
        return []


def unstorable_text(value):
    """Why PostgreSQL cannot take this text (NUL, or half a surrogate pair), or None."""
    if "\x00" in value:
        return "NUL characters are not allowed."
    if any("\ud800" <= char <= "\udfff" for char in value):
        return "Surrogate characters are not allowed."
    return None


def write_lookups(field):
    """What one write (one root serializer) has looked up: records by slug, normalised source texts.

    A nested write of a thousand claims citing one source would otherwise read that source, and
    normalise its text for the evidence check, a thousand times (43 s for a 1 MB source).
    """
    root = field.root
    lookups = root.__dict__.get("_write_lookups")
    if lookups is None:
        lookups = root._write_lookups = {}
    return lookups


# The browsable API's forms take a slug as typed text: a select would list the whole table.
TEXT_INPUT = {"base_template": "input.html", "input_type": "text"}


class SlugField(serializers.SlugRelatedField):
    """A record named by its slug; text the database cannot compare is refused before the lookup.

    Each slug is looked up once per write (every queryset here is the model's whole table), and
    the browsable API's form shows a text input, never the table as a select.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("style", TEXT_INPUT)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            return super().to_internal_value(data)
        if unstorable_text(data):
            raise serializers.ValidationError(unstorable_text(data))
        lookups = write_lookups(self)
        key = ("slug", self.queryset.model, data)
        if key not in lookups:
            lookups[key] = super().to_internal_value(data)
        return lookups[key]


@extend_schema_field({"type": "string", "description": "A slug; null or an empty string for none."})
class OptionalSlugField(SlugField):
    """DRF takes an empty string for null in a relation (an HTML form's empty choice)."""


class SlugListField(serializers.ManyRelatedField):
    """Records named by their slugs: a JSON list, or in an HTML form one text input of slugs
    separated by commas or spaces."""

    def get_value(self, dictionary):
        if not html.is_html_input(dictionary):
            return super().get_value(dictionary)
        if self.field_name not in dictionary and getattr(self.root, "partial", False):
            return empty
        return [
            slug for typed in dictionary.getlist(self.field_name) for slug in typed.replace(",", " ").split()
        ]


def _slug_field(model, *, many=False, **kwargs):
    if many:
        child = SlugField(slug_field="slug", queryset=model.objects.all())
        return SlugListField(child_relation=child, style=TEXT_INPUT, **kwargs)
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

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is not None and ("text" in attrs or "kind" in attrs):
            # A claim's evidence is a passage of this text: an edit may not take it away.
            lost = claims_losing_their_quote(
                self.instance, attrs.get("text", self.instance.text), attrs.get("kind", self.instance.kind)
            )
            if lost:
                raise serializers.ValidationError({"text": [quotes_lost_message(lost)]})
        return attrs


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


def _cached(lookups, key, compute):
    if lookups is None:
        return compute()
    if key not in lookups:
        lookups[key] = compute()
    return lookups[key]


def check_quote_in_source(attrs, instance=None, lookups=None):
    """The evidence check (incidents.evidence.quote_occurs_in), each source's text normalised once
    per write when `lookups` (write_lookups) is given."""
    if "source" in attrs:
        source = attrs["source"]
    elif instance is not None and instance.source_id is not None:
        source = _cached(lookups, ("source", instance.source_id), lambda: instance.source)
    else:
        source = None
    if source is None or source.kind == Source.Kind.DATASET:
        return
    quote = normalise(attrs.get("quote", getattr(instance, "quote", "")))
    text = _cached(lookups, ("normalised text", source.pk), lambda: normalise(source.text))
    if not quote or quote not in text:
        raise serializers.ValidationError(
            {"quote": [f"This quote does not occur in the text of source '{source.slug}'."]}
        )


# PostgreSQL's integer; SQLite would store more, and a fixture must load into either.
MAX_COUNT = 2_147_483_647


# The stored claim a nested claim names (by id or uid), kept in its validated data.
STORED = "stored"


class ClaimWriteSerializer(ModelRulesMixin, serializers.ModelSerializer):
    """What a write of a casualty claim takes, inside its incident or on its own."""

    actor = _slug_field(Actor, required=False, allow_null=True)
    claimed_by = _slug_field(Actor, required=False, allow_null=True)
    source = _slug_field(Source)

    class Meta:
        model = CasualtyFigure
        extra_kwargs = {bound: {"max_value": MAX_COUNT} for bound in ("low", "best", "high")}
        # What a client writes of a claim: all it reads but the ids.
        fields = CLAIM_EDITED_FIELDS

    def validate(self, attrs):
        return self.validate_claim(attrs, self.instance)

    def validate_claim(self, attrs, current):
        self.check_model_rules(attrs, current)
        check_quote_in_source(attrs, current, write_lookups(self))
        return attrs

    def excluded_from_model_checks(self, instance):
        # A record named by slug was found by its lookup, and a stored claim's own exist (foreign
        # keys): checking each again would cost a query apiece. No constraint names them.
        return [name for name in ("actor", "claimed_by", "source") if getattr(instance, f"{name}_id")]


class NestedClaimSerializer(ClaimWriteSerializer):
    """A casualty figure written inside its incident: named by its `id` (or `uid`), the stored
    claim is updated in place; without either, a new claim."""

    id = serializers.IntegerField(
        required=False, min_value=1, help_text="The stored claim to update; left out for a new claim."
    )
    uid = serializers.UUIDField(required=False, help_text="The stored claim to update, by its uid.")

    class Meta(ClaimWriteSerializer.Meta):
        fields = ("id", "uid", *CLAIM_EDITED_FIELDS)

    def excluded_from_model_checks(self, instance):
        # The incident may not exist yet; the incident serializer checks preferred figures. A
        # claim's uid is never written: a new claim gets a new one.
        return ["incident", "uid", *super().excluded_from_model_checks(instance)]

    def validate(self, attrs):
        stored = self.stored_claim(attrs.pop("id", None), attrs.pop("uid", None))
        attrs = self.validate_claim(attrs, stored)
        if stored is not None:
            attrs[STORED] = stored
        return attrs

    def stored_claim(self, claim_id, uid):
        if claim_id is None and uid is None:
            return None
        by_id, by_uid = self.root.stored_claims()
        if claim_id is not None and claim_id not in by_id:
            raise serializers.ValidationError(
                {"id": [f"This incident has no claim {claim_id}; leave id out for a new claim."]}
            )
        if uid is not None and uid not in by_uid:
            raise serializers.ValidationError(
                {"uid": [f"This incident has no claim {uid}; leave uid out for a new claim."]}
            )
        if claim_id is not None and uid is not None and by_id[claim_id] is not by_uid[uid]:
            raise serializers.ValidationError({"uid": ["This uid names another claim than the id."]})
        return by_id[claim_id] if claim_id is not None else by_uid[uid]


class CasualtyFigureWriteSerializer(ClaimWriteSerializer):
    incident = _slug_field(Incident)

    class Meta(ClaimWriteSerializer.Meta):
        fields = ("incident", *CLAIM_EDITED_FIELDS)

    def to_representation(self, instance):
        return representation.claim_by_id(instance.pk)


class NestedRoleSerializer(StrictJSONTypesMixin, serializers.ModelSerializer):
    """An actor role written inside its incident, named by its actor and role: a stored role
    with both is updated in place, otherwise it is a new one."""

    actor = _slug_field(Actor)
    claimed_by = _slug_field(Actor, required=False, allow_null=True)

    class Meta:
        model = IncidentActor
        fields = representation.ROLE_FIELDS

    def validate(self, attrs):
        # In a PATCH DRF leaves out missing fields, required or not; these two name the role.
        missing = {name: ["This field is required."] for name in ("actor", "role") if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


def _assign(record, values):
    """Set on the record the values that differ from its own; whether any did."""
    changed = False
    for name, value in values.items():
        field = record._meta.get_field(name)
        if field.is_relation:
            old, new = getattr(record, field.attname), None if value is None else value.pk
        else:
            old, new = getattr(record, name), value
        if old != new:
            setattr(record, name, value)
            changed = True
    return changed


def _final(claim, name):
    """A nested claim's value of a field once written: given, stored, or the model's default."""
    if name in claim:
        return claim[name]
    if STORED in claim:
        return getattr(claim[STORED], name)
    return CasualtyFigure._meta.get_field(name).get_default()


REMOVAL_NEEDS = {
    "actors": (
        "incidents.delete_incidentactor",
        "This would remove actor roles ({}), which needs the permission to delete them. "
        "List every current role (by actor and role) to keep it.",
    ),
    "casualty_figures": (
        "incidents.delete_casualtyfigure",
        "This would remove stored claims ({}), which needs the permission to delete them. "
        "List every current claim, by its id, to keep it.",
    ),
}


# What an incident write saves of the incident row: what editors write and what the workflow
# notes of a change; never the derived columns, which incidents.derived keeps.
OWN_COLUMNS = (
    *(name for name in INCIDENT_EDITED_FIELDS if name != "sources"),
    "status",
    "reviewed_by",
    "reviewed_at",
    "review_override_reason",
    "last_edited_by",
)


class IncidentWriteSerializer(ModelRulesMixin, serializers.ModelSerializer):
    """An incident with, optionally, its actor roles and figures, written in one transaction.

    Given, `actors` and `casualty_figures` are the incident's whole lists: a role is matched to
    a stored one by (actor, role), a claim by its `id` (or `uid`); matched ones are updated in
    place (their ids, uids and history kept), the others created, and stored ones left out are
    removed, which needs the delete permission of their model (403 naming the field otherwise).
    Left out, the lists are kept as they are.
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

    def stored_claims(self):
        """The incident's stored claims (none for a new incident) by id and by uid, read once."""
        if "_stored_claims" not in self.__dict__:
            claims = list(CasualtyFigure.objects.filter(incident=self.instance)) if self.instance else []
            self._stored_claims = ({c.pk: c for c in claims}, {c.uid: c for c in claims})
        return self._stored_claims

    def stored_roles(self):
        """The incident's stored actor roles by (actor id, role), read once."""
        if "_stored_roles" not in self.__dict__:
            roles = list(IncidentActor.objects.filter(incident=self.instance)) if self.instance else []
            self._stored_roles = {(r.actor_id, r.role): r for r in roles}
        return self._stored_roles

    def validate_slug(self, value):
        is_revision = self.instance is not None and self.instance.revision_of_id is not None
        if value.endswith(workflow.REVISION_SLUG_SUFFIX) and not is_revision:
            raise serializers.ValidationError(
                f"Slugs ending in {workflow.REVISION_SLUG_SUFFIX} are kept for revisions (POST …/revise/)."
            )
        return value

    def validate(self, attrs):
        # Before the model's checks, which would name a self-parent only as a constraint.
        if workflow.makes_parent_cycle(self.instance, attrs.get("parent")):
            raise serializers.ValidationError({"parent": [workflow.PARENT_CYCLE]})
        attrs = super().validate(attrs)
        roles = [(r["actor"].pk, r["role"]) for r in attrs.get("actors", [])]
        if len(roles) != len(set(roles)):
            raise serializers.ValidationError({"actors": ["An actor is listed twice in the same role."]})
        figures = attrs.get("casualty_figures", [])
        named = [f[STORED].pk for f in figures if STORED in f]
        if len(named) != len(set(named)):
            raise serializers.ValidationError({"casualty_figures": ["A stored claim is listed twice."]})
        preferred = [(_final(f, "outcome"), _final(f, "group")) for f in figures if _final(f, "is_preferred")]
        if len(preferred) != len(set(preferred)):
            raise serializers.ValidationError(
                {"casualty_figures": ["Only one figure per outcome and group can be preferred."]}
            )
        self.check_removals(attrs)
        return attrs

    def removals(self, attrs):
        """The stored roles and claims the given lists leave out: {field: [records]}."""
        removed = {}
        if "actors" in attrs:
            kept = {(r["actor"].pk, r["role"]) for r in attrs["actors"]}
            removed["actors"] = [role for key, role in self.stored_roles().items() if key not in kept]
        if "casualty_figures" in attrs:
            kept = {f[STORED].pk for f in attrs["casualty_figures"] if STORED in f}
            removed["casualty_figures"] = [c for pk, c in self.stored_claims()[0].items() if pk not in kept]
        return removed

    def check_removals(self, attrs):
        """Removing a role or a claim is deleting it: without that permission, 403 naming the field."""
        user = getattr(self.context.get("request"), "user", None)
        if user is None:
            return  # not a request (a command, a test): the caller answers for it
        for name, records in self.removals(attrs).items():
            permission, message = REMOVAL_NEEDS[name]
            if records and not user.has_perm(permission):
                names = ", ".join(
                    f"id {r.pk}" if name == "casualty_figures" else f"{r.actor.slug} as {r.role}"
                    for r in records
                )
                raise PermissionDenied({name: [message.format(names)]})

    @transaction.atomic
    def create(self, validated_data):
        nested = {name: validated_data.pop(name, None) for name in self.nested_fields}
        sources = validated_data.pop("sources", [])
        incident = Incident.objects.create(**validated_data)
        incident.sources.set(sources)
        self._write_nested(incident, nested)
        derived.incidents_changed([incident.pk])
        return incident

    @transaction.atomic
    def update(self, instance, validated_data):
        """Writes what differs from the stored incident. A write that changes nothing saves
        nothing; one that changes something is a content change (incidents.workflow): its
        author becomes the last author, and a reviewed incident goes back to draft."""
        nested = {name: validated_data.pop(name, None) for name in self.nested_fields}
        sources = validated_data.pop("sources", None)
        changed = _assign(instance, validated_data)
        if sources is not None and set(instance.sources.values_list("pk", flat=True)) != {
            s.pk for s in sources
        }:
            instance.sources.set(sources)
            changed = True
        changed = self._write_nested(instance, nested) or changed
        if changed:
            request = self.context.get("request")
            workflow.note_content_change(instance, getattr(request, "user", None))
            # Saved before the derived data is computed from it (the title is in the search
            # text), and without the stale totals this instance still holds.
            instance.save(update_fields=[*OWN_COLUMNS, "updated_at"])
            derived.incidents_changed([instance.pk])
        return instance

    def _write_nested(self, incident, nested):
        """Writes the given lists; whether anything changed. The caller keeps the derived data."""
        changed = False
        if nested["actors"] is not None:
            changed = self._write_roles(incident, nested["actors"]) or changed
        if nested["casualty_figures"] is not None:
            changed = self._write_claims(incident, nested["casualty_figures"]) or changed
        return changed

    def _write_roles(self, incident, roles):
        stored = self.stored_roles()
        removed = self.removals({"actors": roles})["actors"]
        if removed:
            IncidentActor.objects.filter(pk__in=[r.pk for r in removed]).delete()
        changed = bool(removed)
        for values in roles:
            role = stored.get((values["actor"].pk, values["role"]))
            if role is None:
                IncidentActor.objects.create(incident=incident, **values)
                changed = True
            elif _assign(role, values):
                role.save()
                changed = True
        return changed

    def _write_claims(self, incident, claims):
        removed = self.removals({"casualty_figures": claims})["casualty_figures"]
        if removed:
            CasualtyFigure.objects.filter(pk__in=[c.pk for c in removed]).delete()
        changed, new = [], []
        for values in claims:
            values = dict(values)
            claim = values.pop(STORED, None)
            if claim is None:
                new.append(values)
                continue
            before = (claim.outcome, claim.group, claim.is_preferred)
            if _assign(claim, values):
                changed.append((claim, before))
        # Saved one by one, a preferred mark moving between claims could briefly be on two: the
        # marks that move are cleared first (no history row: each claim's save records its change).
        moving = [
            claim.pk
            for claim, before in changed
            if before[2] and (claim.outcome, claim.group, claim.is_preferred) != before
        ]
        if moving:
            CasualtyFigure.objects.filter(pk__in=moving).update(is_preferred=False)
        for claim, _ in changed:
            claim.save()
        for values in new:
            CasualtyFigure.objects.create(incident=incident, **values)
        return bool(removed or changed or new)

    def to_representation(self, instance):
        request = self.context.get("request")
        public = not (request is not None and can_edit_incidents(request.user))
        return representation.incident_by_id(instance.pk, public=public)

    def __getitem__(self, key):
        # The browsable API's form shows a list of slugs in its one text input as typed there.
        bound = super().__getitem__(key)
        if isinstance(self.fields[key], SlugListField) and isinstance(bound.value, list):
            bound.value = ", ".join(str(slug) for slug in bound.value)
        return bound


# ---- Workflow bodies, history and stats --------------------------------------------


class ReasonSerializer(StrictJSONTypesMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class ReviewSerializer(StrictJSONTypesMixin, serializers.Serializer):
    override_reason = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        help_text=(
            "Only for a maintainer reviewing a change of their own: why no second person "
            "reviews it. Recorded with the review."
        ),
    )


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
    by = serializers.CharField(
        allow_null=True,
        help_text="Who made the change: the username for signed-in editors, the role for everyone else.",
    )
    role = serializers.ChoiceField(
        choices=ROLES, help_text="maintainer, editor, import (fixture loads, imports) or system."
    )
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
