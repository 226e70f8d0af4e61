"""Change history: django-simple-history keeps a row per change of every record.

Loads bypass model saves (fixtures are saved raw), so they are recorded here, one
entry per record naming the load, and no change is left untraceable.

Who made a change is told by role to the public and by name only to editors: in the
places these records describe, an editor's name next to a casualty figure can put that
person in danger (docs/security.md). Derived fields, which nobody edits, are not listed
as changes.
"""

from collections import defaultdict

HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}

# What the public sees in place of a name: who made the change, by role.
MAINTAINER, EDITOR, IMPORT, SYSTEM = "maintainer", "editor", "import", "system"
ROLES = (MAINTAINER, EDITOR, IMPORT, SYSTEM)


def record_load_in_history(records, reason):
    """records: {(model, pk): ...} or an iterable of (model, pk) pairs."""
    by_model = defaultdict(list)
    for model, pk in records:
        by_model[model].append(pk)
    for model, pks in by_model.items():
        objects = list(model._default_manager.filter(pk__in=pks))
        model.history.bulk_history_create(objects, update=True, default_change_reason=reason[:100])


# The history row's own bookkeeping.
HISTORY_FIELDS = {"history_id", "history_date", "history_change_reason", "history_type", "history_user"}


def _derived_fields():
    """Fields nobody edits, per record kind: what derived.py and the workflow keep, and timestamps."""
    from incidents.models import OUTCOMES_WITH_TOTALS

    totals = {f"{outcome}_{bound}" for outcome in OUTCOMES_WITH_TOTALS for bound in ("low", "best", "high")}
    return {
        # reviewed_by and last_edited_by are users: the review shows as the status change and
        # each edit as its entry, by role. revision_of names a draft (docs/api.md, "Review").
        "incident": totals
        | {"search_document", "created_at", "updated_at", "reviewed_by", "reviewed_at"}
        | {"last_edited_by", "revision_of"},
        "actor_role": set(),
        "casualty_figure": {"counts_in_total", "revises"},
    }


def _tracked_fields(record, left_out):
    return [
        f.attname
        for f in record._meta.concrete_fields
        if f.name not in HISTORY_FIELDS and f.name not in left_out
    ]


def _plain(value):
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _changes(record, previous, left_out):
    if record.history_type != "~" or previous is None:
        return []
    return [
        {
            "field": name.removesuffix("_id") if name.endswith("_id") else name,
            "old": _plain(old),
            "new": _plain(new),
        }
        for name in _tracked_fields(record, left_out)
        if (old := getattr(previous, name)) != (new := getattr(record, name))
    ]


def _role(record):
    user = record.history_user
    if user is None:
        # Fixture loads and imports name themselves in the reason; anything else without a
        # user (a shell, a data migration, a command) is the system.
        return IMPORT if record.history_change_reason else SYSTEM
    if user.is_superuser or record.by_maintainer:
        return MAINTAINER
    return EDITOR


def _maintainers():
    """Whether the row's user is in the maintainers group, as a subquery of the history query."""
    from django.contrib.auth import get_user_model
    from django.db.models import Exists, OuterRef

    membership = get_user_model().groups.through.objects.filter(
        user_id=OuterRef("history_user_id"), group__name="maintainers"
    )
    return Exists(membership)


def incident_history(incident_id, *, show_names=False):
    """Every recorded change of an incident, its actor roles and its casualty figures, newest first.

    Each entry's `role` says who made it (maintainer, editor, import, system). `by` is the
    editor's username when `show_names` (for signed-in editors), and the role otherwise,
    which is the default: the public never sees a username or a user id.
    """
    from incidents.models import CasualtyFigure, Incident, IncidentActor

    derived = _derived_fields()
    if not show_names:
        # A maintainer's reason for reviewing their own change may name people.
        derived["incident"] = derived["incident"] | {"review_override_reason"}
    entries = []
    sources = (
        ("incident", Incident.history.filter(id=incident_id)),
        ("actor_role", IncidentActor.history.filter(incident_id=incident_id)),
        ("casualty_figure", CasualtyFigure.history.filter(incident_id=incident_id)),
    )
    for kind, queryset in sources:
        previous_by_object = {}
        rows = queryset.select_related("history_user").annotate(by_maintainer=_maintainers())
        for record in rows.order_by("history_date", "history_id"):
            previous = previous_by_object.get(record.id)
            previous_by_object[record.id] = record
            user, role = record.history_user, _role(record)
            entries.append(
                {
                    "record": kind,
                    "record_id": record.id,
                    "action": HISTORY_TYPES[record.history_type],
                    "at": record.history_date,
                    "by": (user.get_username() if user else None) if show_names else role,
                    "role": role,
                    "reason": record.history_change_reason or "",
                    "changes": _changes(record, previous, derived[kind]),
                }
            )
    entries.sort(key=lambda e: (e["at"], e["record"], e["record_id"]), reverse=True)
    return entries
