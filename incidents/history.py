"""Change history: django-simple-history keeps a row per change of every record.

Loads bypass model saves (fixtures are saved raw), so they are recorded here, one
entry per record naming the load, and no change is left untraceable.
"""

from collections import defaultdict

HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def record_load_in_history(records, reason):
    """records: {(model, pk): ...} or an iterable of (model, pk) pairs."""
    by_model = defaultdict(list)
    for model, pk in records:
        by_model[model].append(pk)
    for model, pks in by_model.items():
        objects = list(model._default_manager.filter(pk__in=pks))
        model.history.bulk_history_create(objects, update=True, default_change_reason=reason[:100])


IGNORED_FIELDS = {
    "history_id",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user",
    "updated_at",
}


def _tracked_fields(record):
    return [f.attname for f in record._meta.concrete_fields if f.name not in IGNORED_FIELDS]


def _plain(value):
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _changes(record, previous):
    if record.history_type != "~" or previous is None:
        return []
    return [
        {
            "field": name.removesuffix("_id") if name.endswith("_id") else name,
            "old": _plain(old),
            "new": _plain(new),
        }
        for name in _tracked_fields(record)
        if (old := getattr(previous, name)) != (new := getattr(record, name))
    ]


def incident_history(incident_id):
    """Every recorded change of an incident, its actor roles and its casualty figures, newest first."""
    from incidents.models import CasualtyFigure, Incident, IncidentActor

    entries = []
    sources = (
        ("incident", Incident.history.filter(id=incident_id)),
        ("actor_role", IncidentActor.history.filter(incident_id=incident_id)),
        ("casualty_figure", CasualtyFigure.history.filter(incident_id=incident_id)),
    )
    for kind, queryset in sources:
        previous_by_object = {}
        for record in queryset.select_related("history_user").order_by("history_date", "history_id"):
            previous = previous_by_object.get(record.id)
            previous_by_object[record.id] = record
            entries.append(
                {
                    "record": kind,
                    "record_id": record.id,
                    "action": HISTORY_TYPES[record.history_type],
                    "at": record.history_date,
                    "by": record.history_user.get_username() if record.history_user else None,
                    "reason": record.history_change_reason or "",
                    "changes": _changes(record, previous),
                }
            )
    entries.sort(key=lambda e: (e["at"], e["record"], e["record_id"]), reverse=True)
    return entries
