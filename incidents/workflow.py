"""The one state machine of an incident: which steps its status allows, and what each step writes.

States::

    draft ──review──> reviewed ──publish──> published
      │                  │                      │
      └──────────────────┴──────retract─────────┴──> retracted ──reopen──> draft

- review: a draft becomes reviewed, recording who reviewed it and when;
- publish: a reviewed incident becomes published, visible to the public;
- retract: a draft, reviewed or published incident is withdrawn, with a reason editors keep seeing;
- reopen: a retracted incident comes back as a draft, its retraction reason cleared.

Review takes a second person: the reviewer is never the incident's last author
(`last_edited_by`, kept by every content write through `note_content_change` and
`content_changed`), unless a maintainer (permission `review_own_changes`) overrides with a
reason, which is stored (`review_override_reason`) and kept in history. A content change to
a reviewed incident sends it back to draft. A published incident's content is not changed
in place: `revise` makes a draft revision of it (`revision_of`), which editors change and
review like any draft while the public keeps the published version; publishing the revision
applies it to the published incident in place (same slug, claims and roles updated where
they came from, so their ids stay) and removes the revision.

Besides the status steps an incident can be deleted (it leaves an IncidentTombstone, so its URL
answers 410 Gone), which its child incidents refuse, and merged into another incident: its actor
roles, casualty claims, sources and children move to the target, and its tombstone names the target.

Who calls it: the API's incident actions (review, publish, retract, reopen, destroy, merge), the
admin (its changelist actions, the step buttons of the change page, its deletes) and management
commands. None of them changes `status`, `reviewed_by`, `reviewed_at`, `review_override_reason`,
`last_edited_by` or `retraction_reason`, or deletes an incident, any other way.

Each function runs in one transaction and re-reads the incident with SELECT ... FOR UPDATE, so two
concurrent steps cannot both pass the status check; a refused step raises TransitionRefused and
writes nothing. Writes go through save(), so django-simple-history keeps a row per change, naming
`user` (the request's user in the admin and the API; the given one in a command). Each step ends
with incidents.derived, which keeps derived data and the read cache true.
"""

import hashlib
from contextlib import contextmanager
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords

from incidents import derived
from incidents.models import (
    CLAIM_EDITED_FIELDS,
    INCIDENT_EDITED_FIELDS,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
)

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
MERGE_UNREVIEWED_INTO_PUBLISHED = (
    "Only a published incident is merged into a published one; merge into a revision of it "
    "(POST /api/v1/incidents/{slug}/revise/) so the change is reviewed."
)
MERGE_WITH_REVISION = (
    "An incident being revised, or a revision, cannot be merged: publish or delete the revision first."
)
PUBLISHED_IS_REVISED = (
    "A published incident is changed through a revision, so the public keeps seeing it until the "
    "change is reviewed: POST /api/v1/incidents/{slug}/revise/ (in the admin: “Propose a change”), "
    "then edit, review and publish the draft it gives."
)
SELF_REVIEW = (
    "You made the last change to this incident; someone else must review it "
    "(a maintainer may override with a reason, through the API's review action)."
)
OVERRIDE_NOT_ALLOWED = "Only maintainers may review their own change."
ONLY_PUBLISHED_REVISED = "Only a published incident is revised; change a {status} incident directly."
REVISED_NO_LONGER_PUBLISHED = "The incident this revision changes is no longer published; reopen and publish it, or delete this revision."
REVISION_NAMES_ITS_INCIDENT = (
    "A revision cannot make the incident it revises its own parent or the child of its descendant."
)
REVISION_OUTDATED = (
    "The incident this revision changes has changed since the revision was made (it was "
    "retracted, reopened or published again); make a new revision of it and delete this one."
)
REVISION_SLUG_SUFFIX = "--revision"


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


def review(incident, user, *, override_reason=""):
    """Draft -> reviewed, recording who reviewed it and when. Refused to the incident's last
    author, unless `override_reason` is given by a maintainer: then the reason is recorded."""
    override_reason = (override_reason or "").strip()

    def second_person(locked):
        if locked.last_edited_by_id is None or locked.last_edited_by_id != user.pk:
            return ""
        if not override_reason:
            raise TransitionRefused(SELF_REVIEW, field="reviewed_by")
        if not user.has_perm("incidents.review_own_changes"):
            raise TransitionRefused(OVERRIDE_NOT_ALLOWED, field="override_reason")
        return override_reason

    return _step(
        incident,
        user,
        "review",
        reviewed_by=user,
        reviewed_at=timezone.now(),
        review_override_reason=second_person,
    )


def publish(incident, user):
    """Reviewed -> published: the public sees it. A revision is instead applied to the
    incident it revises (which stays published, now with the reviewed change) and removed;
    that incident is returned."""
    with transaction.atomic(), _history_names(user):
        # The revised incident's row is locked before the revision's, the order in which
        # deleting that incident (which deletes its revision) locks them: no deadlock.
        revised_id = Incident.objects.filter(pk=incident.pk).values_list("revision_of_id", flat=True).first()
        target = Incident.objects.select_for_update().filter(pk=revised_id).first() if revised_id else None
        locked = _lock(incident)
        if locked.revision_of_id is None:
            return _step(locked, user, "publish")
        if locked.status not in _TRANSITIONS["publish"][0]:
            raise TransitionRefused(f"A {locked.status} incident cannot become published.", field="status")
        if target is None or target.pk != locked.revision_of_id:
            raise Incident.DoesNotExist("The incident this revision changes no longer exists.")
        return _apply_revision(locked, target, user)


def note_content_change(incident, user):
    """Set on `incident` (unsaved) what a change of its content means: `user` is its last
    author, and a reviewed incident is a draft again, its review void. A published incident
    refuses: it changes through a revision (`revise`)."""
    refuse_if_published(incident)
    incident.last_edited_by = user if user is not None and user.is_authenticated else None
    if incident.status == Incident.Status.REVIEWED:
        incident.status = Incident.Status.DRAFT
        incident.reviewed_by = None
        incident.reviewed_at = None
        incident.review_override_reason = ""


def refuse_if_published(incident):
    """A published incident's content changes through a revision (`revise`), never in place."""
    if incident.status == Incident.Status.PUBLISHED:
        raise TransitionRefused(PUBLISHED_IS_REVISED.format(slug=incident.slug), field="status")


def content_changed(incident_ids, user):
    """Before a write to incidents' roles or claims made outside the incident's own form or
    body (the claims endpoint, the admin's claim and role pages): each incident is locked and
    notes the change (note_content_change), refusing it if published. Call it inside the
    write's transaction, so a refusal writes nothing."""
    ids = sorted({pk for pk in incident_ids if pk is not None})
    for locked in Incident.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        before = (locked.status, locked.last_edited_by_id)
        note_content_change(locked, user)
        if (locked.status, locked.last_edited_by_id) != before:
            locked._history_user = user
            locked.save()


def revision_slug(slug):
    """`{slug}--revision`; a slug too long for that is cut and told apart by a hash of it."""
    room = 200 - len(REVISION_SLUG_SUFFIX)
    if len(slug) > room:
        slug = f"{slug[: room - 9]}-{hashlib.sha256(slug.encode()).hexdigest()[:8]}"
    return slug + REVISION_SLUG_SUFFIX


def can_revise(incident):
    return incident.status == Incident.Status.PUBLISHED


def revise(incident, user):
    """The draft revision of a published incident, made now (a copy of its fields, sources,
    actor roles and claims, each claim naming the one it copies) or the one already pending.
    Returns (revision, created)."""
    with transaction.atomic(), _history_names(user):
        locked = _lock(incident)
        if locked.status != Incident.Status.PUBLISHED:
            raise TransitionRefused(ONLY_PUBLISHED_REVISED.format(status=locked.status), field="status")
        pending = Incident.objects.filter(revision_of=locked).first()
        if pending is not None:
            return pending, False
        slug = revision_slug(locked.slug)
        if Incident.objects.filter(slug=slug).exists():
            raise TransitionRefused(f"The slug {slug} a revision would take is in use.", field="slug")
        revision = Incident(
            **{name: getattr(locked, name) for name in _COPIED_FIELDS},
            slug=slug,
            extra=locked.extra,
            revision_of=locked,
            last_edited_by=user,
        )
        revision._history_user = user
        revision.save()
        revision.sources.set(locked.sources.all())
        for role in locked.incident_actors.all():
            IncidentActor.objects.create(incident=revision, **{n: getattr(role, n) for n in _ROLE_FIELDS})
        for claim in locked.casualty_figures.all():
            CasualtyFigure.objects.create(
                incident=revision, revises=claim, **{n: getattr(claim, n) for n in CLAIM_EDITED_FIELDS}
            )
        derived.incidents_changed([revision.pk])
    return revision, True


def retract(incident, user, reason):
    """Draft, reviewed or published -> retracted, with a reason (a blank one is refused)."""
    reason = (reason or "").strip()
    if not reason:
        raise TransitionRefused(RETRACTION_NEEDS_REASON, field="reason")
    return _step(incident, user, "retract", retraction_reason=reason)


def reopen(incident, user):
    """Retracted -> draft; the retraction reason and any earlier review are cleared."""
    return _step(
        incident,
        user,
        "reopen",
        retraction_reason="",
        reviewed_by=None,
        reviewed_at=None,
        review_override_reason="",
    )


def delete(incident, user, *, reason=""):
    """Delete the incident, leaving a tombstone so its URL answers 410 Gone. Refused while it has
    child incidents. Returns the tombstone."""
    with transaction.atomic(), _history_names(user):
        locked = _lock(incident)
        pending = Incident.objects.select_for_update().filter(revision_of=locked).first()
        if pending is not None:
            # Its revision goes with it, leaving a tombstone of its own (410 to editors).
            _bury(
                pending,
                user,
                merged_into=None,
                reason=f"The incident it revised, {locked.slug}, was deleted.",
            )
        tombstone = _bury(locked, user, merged_into=None, reason=reason)
        derived.records_changed()
    return tombstone


def merge(incident, into, user, *, reason=""):
    """Fold the incident into `into`: its actor roles (those the target lacks), casualty claims,
    sources and child incidents move there, and it is deleted with a tombstone naming the target.
    Returns the target."""
    if into.pk == incident.pk:
        raise TransitionRefused(MERGE_INTO_ITSELF, field="into")
    # A revision is applied by replacing its incident's claims and roles with its own; records
    # a merge moved in meanwhile would be lost.
    being_revised = Incident.objects.filter(revision_of__in=[incident.pk, into.pk]).exists()
    if being_revised or incident.revision_of_id or into.revision_of_id:
        raise TransitionRefused(MERGE_WITH_REVISION, field="into")
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
        # The target's content changes. Into a published incident only published content
        # moves (both were reviewed and are public); anything else would skip review.
        if target.status == Incident.Status.PUBLISHED:
            if source.status != Incident.Status.PUBLISHED:
                raise TransitionRefused(
                    MERGE_UNREVIEWED_INTO_PUBLISHED.format(slug=target.slug), field="into"
                )
        else:
            note_content_change(target, user)
        target.last_edited_by = user
        target._history_user = user
        target.save()

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
    """The step on the locked incident; a field's value may be a function of the locked
    incident, which may refuse the step."""
    allowed_from, to = _TRANSITIONS[step]
    with transaction.atomic(), _history_names(user):
        locked = _lock(incident)
        if locked.status not in allowed_from:
            raise TransitionRefused(f"A {locked.status} incident cannot become {to}.", field="status")
        values = {name: value(locked) if callable(value) else value for name, value in fields.items()}
        locked.status = to
        for name, value in values.items():
            setattr(locked, name, value)
        locked._history_user = user
        locked.save()
        derived.records_changed()
    return locked


# What a revision copies from its incident and gives back when published; the slug stays
# the published incident's, the sources are a list of their own.
_COPIED_FIELDS = tuple(name for name in INCIDENT_EDITED_FIELDS if name not in ("slug", "sources"))
_ROLE_FIELDS = ("actor_id", "role", "claimed_by_id", "quote", "note")


def _apply_revision(revision, target, user):
    """The reviewed revision's content onto its (published, locked) incident, in place, and
    the revision removed: its URL answers 410 naming that incident, to editors only."""
    if target.status != Incident.Status.PUBLISHED:
        raise TransitionRefused(REVISED_NO_LONGER_PUBLISHED, field="revision_of")
    if target.updated_at > revision.created_at:
        # Only the workflow saves a published incident; a save since means its base changed.
        raise TransitionRefused(REVISION_OUTDATED, field="revision_of")
    if revision.parent_id is not None and (
        revision.parent_id == target.pk or _descends_from(revision.parent, target)
    ):
        raise TransitionRefused(REVISION_NAMES_ITS_INCIDENT, field="parent")
    for name in (*_COPIED_FIELDS, "extra"):
        setattr(target, name, getattr(revision, name))
    target.last_edited_by_id = revision.last_edited_by_id
    target.reviewed_by_id = revision.reviewed_by_id
    target.reviewed_at = revision.reviewed_at
    target.review_override_reason = revision.review_override_reason
    target._history_user = user
    target.save()
    target.sources.set(revision.sources.all())

    roles = {(r.actor_id, r.role): r for r in revision.incident_actors.all()}
    for role in target.incident_actors.all():
        wanted = roles.pop((role.actor_id, role.role), None)
        if wanted is None:
            role._history_user = user
            role.delete()
        elif any(getattr(role, n) != getattr(wanted, n) for n in _ROLE_FIELDS):
            for name in _ROLE_FIELDS:
                setattr(role, name, getattr(wanted, name))
            role._history_user = user
            role.save()
    for wanted in roles.values():
        IncidentActor(incident=target, **{n: getattr(wanted, n) for n in _ROLE_FIELDS}).save()

    fields = [f"{n}_id" if n in ("actor", "claimed_by", "source") else n for n in CLAIM_EDITED_FIELDS]
    claims = list(revision.casualty_figures.all())
    kept = {c.revises_id: c for c in claims if c.revises_id is not None}
    stored = {c.pk: c for c in target.casualty_figures.all()}
    for pk, claim in stored.items():
        if pk not in kept:
            claim._history_user = user
            claim.delete()
    changed = []
    for claim in claims:
        published = stored.get(claim.revises_id) or CasualtyFigure(incident=target)
        before = (published.outcome, published.group, published.is_preferred)
        if published.pk is None or any(getattr(published, n) != getattr(claim, n) for n in fields):
            for name in fields:
                setattr(published, name, getattr(claim, name))
            changed.append((published, before))
    # Preferred marks that move are cleared first, so two claims are never preferred at once.
    moving = [
        claim.pk
        for claim, before in changed
        if claim.pk is not None and before[2] and (claim.outcome, claim.group, claim.is_preferred) != before
    ]
    CasualtyFigure.objects.filter(pk__in=moving).update(is_preferred=False)
    for claim, _ in changed:
        claim._history_user = user
        claim.save()

    _bury(revision, user, merged_into=target, reason=f"Published as a change of {target.slug}.")
    derived.incidents_changed([target.pk])
    target.refresh_from_db()
    return target


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


PARENT_CYCLE = "An incident cannot be its own parent, nor the child of one of its own child incidents."


def makes_parent_cycle(incident, parent):
    """Whether giving `incident` this parent would make it its own ancestor."""
    if incident is None or incident.pk is None or parent is None:
        return False
    return parent.pk == incident.pk or _descends_from(parent, incident)


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
