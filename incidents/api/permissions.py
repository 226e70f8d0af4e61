"""Who may do what through the API: anyone reads published records; writes need the model permissions."""

from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from rest_framework import permissions

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source


class ModelPermissionsOrAnonReadOnly(permissions.DjangoModelPermissionsOrAnonReadOnly):
    """DRF's rule (anyone reads; writes need the model's add/change/delete permission), without
    building the view's queryset on reads.

    DRF builds it only to learn the model, and a read needs no permission at all; for the
    incident detail that queryset cost about 0.9 ms of an 8 ms request.
    """

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return super().has_permission(request, view)


def can_edit_incidents(user):
    return user.is_authenticated and user.has_perm("incidents.change_incident")


def visible_incidents(request, queryset):
    """The public sees published incidents only; editors see every status."""
    if can_edit_incidents(request.user):
        return queryset
    return queryset.filter(status="published")


class CanChangeIncidents(permissions.BasePermission):
    """Moving an incident along the review workflow is a change to it."""

    def has_permission(self, request, view):
        return can_edit_incidents(request.user)


class CanDeleteIncidents(permissions.BasePermission):
    """Merging removes an incident, so it takes the maintainers' delete permission."""

    def has_permission(self, request, view):
        return request.user.is_authenticated and request.user.has_perm("incidents.delete_incident")


# ---- Who sees which actors, places and sources -------------------------------------------
# The public sees a record only if a published incident uses it (docs/api.md, "Actors,
# locations, sources"); one that only unpublished incidents use, or nothing at all (an
# editor's work in progress), is hidden, and its URL answers as a slug never used. Each rule
# is EXISTS subqueries, so a list or a detail keeps its one query (and the count).

PUBLISHED = Incident.Status.PUBLISHED


def _uses(model, field, **published):
    """EXISTS a row of `model` whose foreign key `field` is the outer record, with `published`.

    The key is compared as a range of one value, not with an equality, on purpose: with an
    equality PostgreSQL may turn an EXISTS inside an OR into a hashed subplan, reading the
    whole subquery once (every role of every published incident: 25 ms for the actor list at
    20k incidents, growing with them), where probing the key's index per record takes 4 ms
    for 1,000 actors whatever the number of incidents. SQLite probes either way.
    """
    column = f"{field}_id"
    return Exists(
        model.objects.filter(
            **{f"{column}__gte": OuterRef("pk"), f"{column}__lte": OuterRef("pk")}, **published
        )
    )


def actors_used_by_published_incidents():
    """An actor with a role in a published incident, or named there as who attributes a role
    (claimed_by), or a claim's actor (whose members are counted) or claimant there."""
    on_role = {"incident__status": PUBLISHED}
    return (
        _uses(IncidentActor, "actor", **on_role)
        | _uses(IncidentActor, "claimed_by", **on_role)
        | _uses(CasualtyFigure, "actor", **on_role)
        | _uses(CasualtyFigure, "claimed_by", **on_role)
    )


def public_actors():
    """Actors used by a published incident, and their parents, grandparents and so on: a
    public actor never names a parent the public cannot see."""
    used_members = Actor.objects.filter(actors_used_by_published_incidents(), parent__isnull=False)
    anchor, params = used_members.order_by().values("parent_id").query.sql_with_params()
    table = Actor._meta.db_table
    ancestors = RawSQL(
        f"WITH RECURSIVE public_ancestor(id) AS ({anchor} UNION SELECT a.parent_id FROM {table} a "
        "JOIN public_ancestor ON a.id = public_ancestor.id WHERE a.parent_id IS NOT NULL) "
        "SELECT id FROM public_ancestor",
        params,
    )
    return Q(actors_used_by_published_incidents()) | Q(pk__in=ancestors)


def public_locations():
    """Places of published incidents."""
    return Q(_uses(Incident, "location", status=PUBLISHED))


def public_sources():
    """Sources a published incident lists, or that a claim of one cites."""
    return Q(_uses(Incident.sources.through, "source", incident__status=PUBLISHED)) | Q(
        _uses(CasualtyFigure, "source", incident__status=PUBLISHED)
    )


PUBLIC_RECORDS = {Actor: public_actors, Location: public_locations, Source: public_sources}


def visible_records(request, queryset):
    """The actors, places or sources of `queryset` this request may see: editors every one."""
    if can_edit_incidents(request.user):
        return queryset
    return queryset.filter(PUBLIC_RECORDS[queryset.model]())
