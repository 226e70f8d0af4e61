"""The one state machine of an incident: which steps its status allows, and what each step writes.

States::

    draft ──review──> reviewed ──publish──> published
      │                  │                      │
      └──────────────────┴──────retract─────────┴──> retracted ──reopen──> draft

- review: a draft becomes reviewed, recording who reviewed it and when;
- publish: a reviewed incident becomes published, visible to the public;
- retract: a draft, reviewed or published incident is withdrawn, with a reason editors keep seeing;
- reopen: a retracted incident comes back as a draft, its retraction reason cleared.

Besides the status steps an incident can be deleted (it leaves an IncidentTombstone, so its URL
answers 410 Gone), which its child incidents refuse, and merged into another incident: its actor
roles, casualty claims, sources and children move to the target, and its tombstone names the target.

Who calls it: the API's incident actions (review, publish, retract, reopen, destroy, merge), the
admin (its changelist actions, the step buttons of the change page, its deletes) and management
commands. None of them changes `status`, `reviewed_by`, `reviewed_at` or `retraction_reason`, or
deletes an incident, any other way.

Each function runs in one transaction and re-reads the incident with SELECT ... FOR UPDATE, so two
concurrent steps cannot both pass the status check; a refused step raises TransitionRefused and
writes nothing. Writes go through save(), so django-simple-history keeps a row per change, naming
`user` (the request's user in the admin and the API; the given one in a command). Each step ends
with incidents.derived, which keeps derived data and the read cache true.
"""

from contextlib import contextmanager
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents import derived
from incidents.models import Incident, IncidentActor, IncidentTombstone

STEPS = ("review", "publish", "retract", "reopen")

_S = Incident.Status
# step: (the statuses it starts from, the status it leads to)
_TRANSITIONS = {
    "review": ({_S.DRAFT}, _S.REVIEWED),
    "publish": ({_S.REVIEWED}, _S.PUBLISHED),
    "retract": ({_S.DRAFT, _S.REVIEWED, _S.PUBLISHED}, _S.RETRACTED),
    "reopen": ({_S.RETRACTED}, _S.DRAFT),
}

RETRACTION_NEEDS_REASON = "Give the reason for retracting this incident."
HAS_CHILDREN = "This incident has child incidents; move or delete them first."
MERGE_INTO_ITSELF = "An incident cannot be merged into itself."
MERGE_INTO_OWN_CHILD = "An incident cannot be merged into one of its own child incidents."


class TransitionRefused(Exception):
    """The incident's state refuses this step. .field names what is at fault ("status", "reason",
    "children", "into"); .message says why, for people."""

    def __init__(self, message, field="status"):
        super().__init__(message)
        self.message = message
        self.field = field


def allowed_steps(incident):
    """The step names possible from the incident's status, in STEPS order, for buttons."""
    return [step for step in STEPS if incident.status in _TRANSITIONS[step][0]]


def review(incident, user):
    """Draft -> reviewed, recording who reviewed it and when."""
    return _step(incident, user, "review", reviewed_by=user, reviewed_at=timezone.now())


def publish(incident, user):
    """Reviewed -> published: the public sees it."""
    return _step(incident, user, "publish")


def retract(incident, user, reason):
    """Draft, reviewed or published -> retracted, with a reason (a blank one is refused)."""
    reason = (reason or "").strip()
    if not reason:
        raise TransitionRefused(RETRACTION_NEEDS_REASON, field="reason")
    return _step(incident, user, "retract", retraction_reason=reason)


def reopen(incident, user):
    """Retracted -> draft; the retraction reason is cleared."""
    return _step(incident, user, "reopen", retraction_reason="")


def delete(incident, user, *, reason=""):
    """Delete the incident, leaving a tombstone so its URL answers 410 Gone. Refused while it has
    child incidents. Returns the tombstone."""
    with transaction.atomic(), _history_names(user):
        locked = _lock(incident)
        tombstone = _bury(locked, user, merged_into=None, reason=reason)
        derived.records_changed()
    return tombstone


def merge(incident, into, user, *, reason=""):
    """Fold the incident into `into`: its actor roles (those the target lacks), casualty claims,
    sources and child incidents move there, and it is deleted with a tombstone naming the target.
    Returns the target."""
    if into.pk == incident.pk:
        raise TransitionRefused(MERGE_INTO_ITSELF, field="into")
    with transaction.atomic(), _history_names(user):
        # Both rows locked, always in the same order, so two merges cannot deadlock.
        locked = {
            row.pk: row
            for row in Incident.objects.select_for_update()
            .filter(pk__in=[incident.pk, into.pk])
            .order_by("pk")
        }
        if incident.pk not in locked or into.pk not in locked:
            raise Incident.DoesNotExist("The incident or the one to merge it into no longer exists.")
        source, target = locked[incident.pk], locked[into.pk]
        if _descends_from(target, source):
            # Its children would be re-parented under their own descendant: a cycle.
            raise TransitionRefused(MERGE_INTO_OWN_CHILD, field="into")
        target._history_user = user

        existing_roles = set(target.incident_actors.values_list("actor_id", "role"))
        for role in source.incident_actors.all():
            if (role.actor_id, role.role) not in existing_roles:
                moved = IncidentActor(
                    incident=target,
                    actor_id=role.actor_id,
                    role=role.role,
                    claimed_by_id=role.claimed_by_id,
                    quote=role.quote,
                    note=role.note,
                )
                moved._history_user = user
                moved.save()
        # Moved claims keep their own preference only where the target has none.
        taken = set(target.casualty_figures.filter(is_preferred=True).values_list("outcome", "group"))
        for figure in source.casualty_figures.all():
            figure.incident = target
            figure.is_preferred = figure.is_preferred and (figure.outcome, figure.group) not in taken
            figure._history_user = user
            figure.save()
        target.sources.add(*source.sources.all())
        for child in source.children.all():
            child.parent = target
            child._history_user = user
            child.save()

        _bury(source, user, merged_into=target, reason=reason)
        derived.incidents_changed([target.pk])
        target.refresh_from_db()  # with the totals and search text just recomputed
    return target


def _step(incident, user, step, **fields):
    allowed_from, to = _TRANSITIONS[step]
    with transaction.atomic(), _history_names(user):
        locked = _lock(incident)
        if locked.status not in allowed_from:
            raise TransitionRefused(f"A {locked.status} incident cannot become {to}.", field="status")
        locked.status = to
        for name, value in fields.items():
            setattr(locked, name, value)
        locked._history_user = user
        locked.save()
        derived.records_changed()
    return locked


def _lock(incident):
    """The incident as it is now, its row locked until the transaction ends."""
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _bury(incident, user, *, merged_into, reason):
    if incident.children.exists():
        raise TransitionRefused(HAS_CHILDREN, field="children")
    tombstone, _ = IncidentTombstone.objects.update_or_create(
        slug=incident.slug,
        defaults={
            "title": incident.title,
            "deleted_by": user,
            "merged_into": merged_into,
            "reason": reason,
            "deleted_at": timezone.now(),
        },
    )
    incident._history_user = user
    incident.delete()
    return tombstone


def _descends_from(incident, ancestor):
    seen = set()
    parent_id = incident.parent_id
    while parent_id is not None and parent_id not in seen:
        if parent_id == ancestor.pk:
            return True
        seen.add(parent_id)
        parent_id = Incident.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()
    return False


@contextmanager
def _history_names(user):
    """History rows written inside name `user` when no request does (a command, a shell).

    Rows of records saved here carry `_history_user`; this covers the others: the roles and
    claims a delete cascades to, and the source list a merge adds to. Within a request (the
    admin, the API) simple_history's middleware already names the request's user.
    """
    context = HistoricalRecords.context
    if getattr(context, "request", None) is not None:
        yield
        return
    context.request = SimpleNamespace(user=user)
    try:
        yield
    finally:
        del context.request
