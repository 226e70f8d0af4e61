"""Seed records beside curated ones: the rule `load_seeds` and the project's `loaddata` share.

A seed fixture record is known by its natural key (KEY_FIELDS). Against a database it is
present (a record has the key: never overwritten without an explicit request), deleted by
editors (no record has it, but the model's history or an incident tombstone does: never
re-created) or new. Which fields count as curated (everything but NOT_CURATED), how a
present record differs from its fixture, and which quotes are not in their source are
decided here; the commands only read files and report.
"""

import uuid
from collections import defaultdict
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS

from incidents.evidence import quote_occurs_in
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.totals import TOTAL_COLUMNS

# The records seed fixtures hold, in load order, and the fields of each one's natural key.
KEY_FIELDS = {
    Source: ("slug",),
    Location: ("slug",),
    Actor: ("slug",),
    Incident: ("slug",),
    IncidentActor: ("incident", "actor", "role"),
    CasualtyFigure: ("uid",),
}
# Fields nobody edits: derived data (incidents.derived recomputes it) and timestamps.
NOT_CURATED = frozenset({"search_document", "counts_in_total", "created_at", "updated_at", *TOTAL_COLUMNS})
CHUNK = 500
# load_seeds writes, so it reads from where it writes too (never a replica, which lags behind).
PRIMARY = DEFAULT_DB_ALIAS

NEW, PRESENT, DELETED, DEPENDENT = "new", "present", "deleted", "dependent"
WHY_NOT_RESTORED = {
    DELETED: "deleted by editors (its key is in the history or a tombstone)",
    DEPENDENT: "refers to a record editors deleted",
}


def chunks(values, size=CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _ids_by_slug(model, slugs, using):
    """{id: {slugs}} of the records that have, or ever had, one of these slugs."""
    ids = defaultdict(set)
    for chunk in chunks(slugs):
        for queryset in (model._base_manager.using(using), model.history.using(using)):
            for pk, slug in queryset.filter(slug__in=chunk).values_list("id", "slug"):
                ids[pk].add(slug)
    return ids


def existing_keys(model, keys, using=DEFAULT_DB_ALIAS):
    """{natural key: pk} of those of `keys` (tuples of strings) that are in the database."""
    manager = model._base_manager.using(using)
    found = {}
    if model is IncidentActor:
        for chunk in chunks({key[0] for key in keys}):
            rows = manager.filter(incident__slug__in=chunk).values_list(
                "incident__slug", "actor__slug", "role", "pk"
            )
            found.update({(i, a, r): pk for i, a, r, pk in rows})
    elif model is CasualtyFigure:
        for chunk in chunks(uuid.UUID(uid) for (uid,) in keys):
            found.update(
                {(str(uid),): pk for uid, pk in manager.filter(uid__in=chunk).values_list("uid", "pk")}
            )
    else:
        for chunk in chunks(slug for (slug,) in keys):
            found.update(
                {(slug,): pk for slug, pk in manager.filter(slug__in=chunk).values_list("slug", "pk")}
            )
    return {key: pk for key, pk in found.items() if key in keys}


def deleted_keys(model, keys, using=DEFAULT_DB_ALIAS):
    """Those of `keys` that are in the model's history (or, for incidents, a tombstone).

    Meant for keys no record has now: such a key was deleted, or changed, by an editor.
    """
    keys = set(keys)
    seen = set()
    if model is IncidentActor:
        incidents = _ids_by_slug(Incident, {key[0] for key in keys}, using)
        actors = _ids_by_slug(Actor, {key[1] for key in keys}, using)
        for chunk in chunks(incidents):
            rows = (
                model.history.using(using)
                .filter(incident_id__in=chunk, actor_id__in=list(actors))
                .values_list("incident_id", "actor_id", "role")
                .distinct()
            )
            seen.update(
                (i, a, role) for i_id, a_id, role in rows for i in incidents[i_id] for a in actors[a_id]
            )
    elif model is CasualtyFigure:
        for chunk in chunks(uuid.UUID(uid) for (uid,) in keys):
            seen.update(
                (str(uid),)
                for uid in model.history.using(using).filter(uid__in=chunk).values_list("uid", flat=True)
            )
    else:
        for chunk in chunks(slug for (slug,) in keys):
            seen.update(
                (s,) for s in model.history.using(using).filter(slug__in=chunk).values_list("slug", flat=True)
            )
            if model is Incident:
                tombstones = IncidentTombstone.objects.using(using).filter(slug__in=chunk)
                seen.update((s,) for s in tombstones.values_list("slug", flat=True))
    return keys & seen


def natural_key_of(instance, using=DEFAULT_DB_ALIAS):
    """A saved or unsaved instance's natural key, as a tuple of strings."""
    if isinstance(instance, IncidentActor):
        incident = Incident._base_manager.using(using).filter(pk=instance.incident_id)
        actor = Actor._base_manager.using(using).filter(pk=instance.actor_id)
        return (
            incident.values_list("slug", flat=True).first() or "?",
            actor.values_list("slug", flat=True).first() or "?",
            instance.role,
        )
    return tuple(str(part) for part in instance.natural_key())


def seed_text(slug, text, seeds_dir):
    """The text a source loads with: its seeds/ file's, else the fixture's own (None if neither)."""
    seed = Path(seeds_dir) / f"{slug}.txt"
    if seed.is_file():
        return seed.read_text(encoding="utf-8")
    return text or None


def _shown(model_field, value, using):
    if value is not None and model_field.is_relation:
        related = model_field.related_model._base_manager.using(using).filter(pk=value).first()
        value = "/".join(natural_key_of(related, using)) if related is not None else value
    shown = repr(value)
    return shown if len(shown) <= 70 else shown[:67] + "..."


def differences(loaded, current, *, stated=None, deferred=(), m2m=None, using=DEFAULT_DB_ALIAS):
    """How the fixture's version of a record (`loaded`, unsaved) differs from the database's
    (`current`) in curated fields: ["title: 'in the database' -> 'in the fixture'", ...].

    stated: the names of the fields the fixture gives (None: all); deferred: fields whose
    reference the database cannot resolve yet (they always differ); m2m: {name: [pks]}.
    """
    found = []
    for model_field in loaded._meta.concrete_fields:
        name = model_field.name
        if model_field.primary_key or name in NOT_CURATED or (stated is not None and name not in stated):
            continue
        old = model_field.value_from_object(current)
        if name in deferred:
            found.append(f"{name}: {_shown(model_field, old, using)} -> a record not in the database yet")
            continue
        new = model_field.value_from_object(loaded)
        if new != old:
            found.append(f"{name}: {_shown(model_field, old, using)} -> {_shown(model_field, new, using)}")
    for model_field in loaded._meta.many_to_many:
        name = model_field.name
        if name in deferred:
            found.append(f"{name}: -> a record not in the database yet")
        elif name in (m2m or {}):
            now = set(getattr(current, name).using(using).values_list("pk", flat=True))
            if set(m2m[name]) != now:
                found.append(f"{name}: {len(now)} records -> {len(set(m2m[name]))}, not the same")
    return found


def misquoted(figures, roles):
    """(record, message) for each figure or role whose quote is not in its source(s).

    figures, roles: querysets. Sources of kind dataset are exempt: a figure's quote there is
    the dataset's row, not a passage of its (empty) text.
    """
    for figure in figures.select_related("source"):
        source = figure.source
        if source.kind != Source.Kind.DATASET and not quote_occurs_in(figure.quote, source.text):
            yield (
                figure,
                f"figure {figure.uid}: the quote {figure.quote!r} does not occur in source {source.slug!r}.",
            )
    for role in (
        roles.exclude(quote="").select_related("incident", "actor").prefetch_related("incident__sources")
    ):
        sources = list(role.incident.sources.all())
        if any(s.kind == Source.Kind.DATASET for s in sources):
            continue
        if not any(quote_occurs_in(role.quote, s.text) for s in sources):
            yield (
                role,
                (
                    f"{role.actor.slug} as {role.role} in {role.incident.slug}: "
                    f"the quote {role.quote!r} does not occur in the incident's sources."
                ),
            )
