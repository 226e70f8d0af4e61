"""incidents.workflow on its own: every step from every status, deletes, merges, history, derived data."""

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction

from incidents import caching, workflow
from incidents.models import CasualtyFigure, Incident, IncidentActor, IncidentTombstone
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_source

pytestmark = pytest.mark.django_db

STATUSES = ("draft", "reviewed", "published", "retracted")
# The API's rules, written out here so the module is checked against them rather than itself.
ALLOWED = {
    "review": ({"draft"}, "reviewed"),
    "publish": ({"reviewed"}, "published"),
    "retract": ({"draft", "reviewed", "published"}, "retracted"),
    "reopen": ({"retracted"}, "draft"),
}


@pytest.fixture
def editor():
    return User.objects.create_user("editor", password="x", is_staff=True)


def incident_in(status, **fields):
    if status == "retracted":
        fields.setdefault("retraction_reason", "A duplicate.")
    return make_incident(status=status, **fields)


def take(step, incident, user):
    if step == "retract":
        return workflow.retract(incident, user, "Wrongly attributed.")
    return getattr(workflow, step)(incident, user)


def test_the_steps_and_their_names():
    assert workflow.STEPS == ("review", "publish", "retract", "reopen")
    for step in workflow.STEPS:
        assert callable(getattr(workflow, step))


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("step", workflow.STEPS)
def test_every_step_from_every_status(step, status, editor):
    incident = incident_in(status)
    allowed_from, to = ALLOWED[step]
    if status in allowed_from:
        result = take(step, incident, editor)
        assert isinstance(result, Incident)
        assert result.status == to
        assert Incident.objects.get(pk=incident.pk).status == to
    else:
        before = Incident.history.filter(id=incident.pk).count()
        with pytest.raises(workflow.TransitionRefused) as refused:
            take(step, incident, editor)
        assert refused.value.field == "status"
        assert refused.value.message == f"A {status} incident cannot become {to}."
        assert str(refused.value) == refused.value.message
        assert Incident.objects.get(pk=incident.pk).status == status
        assert Incident.history.filter(id=incident.pk).count() == before


@pytest.mark.parametrize("status", STATUSES)
def test_allowed_steps_are_the_steps_that_pass(status):
    incident = incident_in(status)
    expected = [step for step in workflow.STEPS if status in ALLOWED[step][0]]
    assert workflow.allowed_steps(incident) == expected


def test_the_status_is_read_from_the_database_not_the_instance(editor):
    incident = make_incident(status="draft")
    Incident.objects.filter(pk=incident.pk).update(status="published")
    # The caller's copy still says draft; the row says published, which review refuses.
    with pytest.raises(workflow.TransitionRefused, match="A published incident cannot become reviewed."):
        workflow.review(incident, editor)


def test_review_records_the_reviewer_and_the_time(editor):
    incident = make_incident(status="draft")
    reviewed = workflow.review(incident, editor)
    incident.refresh_from_db()
    assert (incident.reviewed_by, reviewed.reviewed_by) == (editor, editor)
    assert incident.reviewed_at is not None


def test_publish_keeps_the_reviewer(editor):
    other = User.objects.create_user("publisher")
    incident = workflow.review(make_incident(status="draft"), editor)
    workflow.publish(incident, other)
    incident.refresh_from_db()
    assert (incident.status, incident.reviewed_by) == ("published", editor)


@pytest.mark.parametrize("reason", ["", "   \n", None])
def test_retracting_needs_a_reason(reason, editor):
    incident = make_incident(status="published")
    with pytest.raises(workflow.TransitionRefused) as refused:
        workflow.retract(incident, editor, reason)
    assert (refused.value.field, refused.value.message) == (
        "reason",
        "Give the reason for retracting this incident.",
    )
    assert Incident.objects.get(pk=incident.pk).status == "published"


def test_retract_keeps_the_reason_and_reopen_clears_it(editor):
    incident = make_incident(status="published")
    workflow.retract(incident, editor, "  Duplicate of another report. ")
    incident.refresh_from_db()
    assert (incident.status, incident.retraction_reason) == ("retracted", "Duplicate of another report.")
    workflow.reopen(incident, editor)
    incident.refresh_from_db()
    assert (incident.status, incident.retraction_reason) == ("draft", "")


def test_steps_are_recorded_in_history_with_their_user(editor):
    # No request here, as in a management command: the user is still recorded.
    incident = make_incident(status="draft")
    workflow.review(incident, editor)
    workflow.publish(incident, editor)
    workflow.retract(incident, editor, "Wrong place.")
    workflow.reopen(incident, editor)
    records = list(Incident.history.filter(id=incident.pk).order_by("history_date", "history_id"))
    assert [(r.status, r.history_user) for r in records[1:]] == [
        ("reviewed", editor),
        ("published", editor),
        ("retracted", editor),
        ("draft", editor),
    ]


@pytest.mark.parametrize("step", workflow.STEPS)
def test_each_step_empties_the_read_cache_when_it_commits(step, editor, django_capture_on_commit_callbacks):
    incident = incident_in(next(s for s in STATUSES if s in ALLOWED[step][0]))
    before = caching.generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        take(step, incident, editor)
    assert callbacks  # emptied again once the step commits
    assert caching.generation() > before


def test_a_refused_step_leaves_the_read_cache(editor, django_capture_on_commit_callbacks):
    incident = make_incident(status="draft")
    before = caching.generation()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(workflow.TransitionRefused),
    ):
        workflow.publish(incident, editor)
    assert (callbacks, caching.generation()) == ([], before)


# ---- delete ------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_and_records_the_user(editor, django_capture_on_commit_callbacks):
    incident = make_incident(slug="bad-record", title="Bad record")
    role = add_actor(incident, make_actor())
    before = caching.generation()
    with django_capture_on_commit_callbacks(execute=True):
        tombstone = workflow.delete(incident, editor, reason="Invented.")
    assert isinstance(tombstone, IncidentTombstone)
    assert (
        tombstone.slug,
        tombstone.title,
        tombstone.deleted_by,
        tombstone.reason,
        tombstone.merged_into,
    ) == (
        "bad-record",
        "Bad record",
        editor,
        "Invented.",
        None,
    )
    assert not Incident.objects.filter(pk=incident.pk).exists()
    assert Incident.history.filter(id=incident.pk, history_type="-").get().history_user == editor
    # The role went with it, and its history names the user too, though the cascade deleted it.
    assert IncidentActor.history.filter(id=role.pk, history_type="-").get().history_user == editor
    assert caching.generation() > before


def test_delete_is_refused_while_the_incident_has_children(editor):
    parent = make_incident(slug="operation")
    make_incident(parent=parent)
    with pytest.raises(workflow.TransitionRefused) as refused:
        workflow.delete(parent, editor)
    assert (refused.value.field, refused.value.message) == (
        "children",
        "This incident has child incidents; move or delete them first.",
    )
    assert Incident.objects.filter(pk=parent.pk).exists()
    assert not IncidentTombstone.objects.exists()


def test_deleting_again_under_a_reused_slug_replaces_the_old_tombstone(editor):
    target = make_incident()
    workflow.merge(make_incident(slug="reused"), target, editor, reason="Duplicate.")
    workflow.delete(make_incident(slug="reused"), editor)
    tombstone = IncidentTombstone.objects.get(slug="reused")
    assert (tombstone.merged_into, tombstone.reason) == (None, "")


# ---- merge -------------------------------------------------------------------------------


def test_merge_moves_roles_claims_sources_and_children(editor, django_capture_on_commit_callbacks):
    source_a, source_b = make_source(), make_source()
    government, militia = make_actor(), make_actor()
    keep = make_incident(slug="keep")
    dupe = make_incident(slug="dupe")
    keep.sources.add(source_a)
    dupe.sources.add(source_a, source_b)
    add_actor(keep, government, role="side_a")
    add_actor(dupe, government, role="side_a", note="duplicate role")  # already on the target
    add_actor(dupe, government, role="perpetrator")  # same actor, another role: moves
    add_actor(dupe, militia, role="side_b", claimed_by=government, quote="q", note="n")
    kept_preferred = add_figure(keep, source_a, best=10, low=10, is_preferred=True)
    clashing = add_figure(dupe, source_a, best=20, low=20, is_preferred=True)  # same outcome and group
    own = add_figure(dupe, source_b, group="civilians", best=3, low=3, is_preferred=True)
    child = make_incident(parent=dupe)

    before = caching.generation()
    with django_capture_on_commit_callbacks(execute=True):
        result = workflow.merge(dupe, keep, editor, reason="Same clash.")

    assert result.pk == keep.pk
    assert not Incident.objects.filter(pk=dupe.pk).exists()
    tombstone = IncidentTombstone.objects.get(slug="dupe")
    assert (tombstone.merged_into, tombstone.reason, tombstone.deleted_by) == (keep, "Same clash.", editor)
    roles = set(keep.incident_actors.values_list("actor_id", "role", "claimed_by_id", "quote", "note"))
    assert roles == {
        (government.pk, "side_a", None, "", ""),
        (government.pk, "perpetrator", None, "", ""),
        (militia.pk, "side_b", government.pk, "q", "n"),
    }
    figures = {f.pk: f for f in CasualtyFigure.objects.filter(incident=keep)}
    assert set(figures) == {kept_preferred.pk, clashing.pk, own.pk}
    # A moved claim keeps its preference only where the target had none.
    assert [figures[kept_preferred.pk].is_preferred, figures[clashing.pk].is_preferred] == [True, False]
    assert figures[own.pk].is_preferred
    assert set(keep.sources.all()) == {source_a, source_b}
    child.refresh_from_db()
    assert child.parent == keep
    # Totals and search text of the target are recomputed: 10 state forces + 3 civilians.
    keep.refresh_from_db()
    assert keep.killed_best == 13
    assert (result.killed_best, caching.generation() > before) == (13, True)


def test_merge_is_recorded_in_history_with_the_user(editor):
    source = make_source()
    keep, dupe = make_incident(), make_incident()
    role = add_actor(dupe, make_actor())
    figure = add_figure(dupe, source)
    child = make_incident(parent=dupe)
    dupe.sources.add(source)
    workflow.merge(dupe, keep, editor)
    assert CasualtyFigure.history.filter(id=figure.pk).first().history_user == editor
    assert (
        IncidentActor.history.filter(incident_id=keep.pk, actor_id=role.actor_id).get().history_user == editor
    )
    assert Incident.history.filter(id=child.pk).first().history_user == editor
    assert Incident.history.filter(id=keep.pk).first().history_user == editor  # its sources changed
    assert Incident.history.filter(id=dupe.pk, history_type="-").get().history_user == editor


def test_merge_into_itself_is_refused(editor):
    incident = make_incident()
    with pytest.raises(workflow.TransitionRefused) as refused:
        workflow.merge(incident, Incident.objects.get(pk=incident.pk), editor)
    assert (refused.value.field, refused.value.message) == (
        "into",
        "An incident cannot be merged into itself.",
    )
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_merge_into_its_own_descendant_is_refused(editor):
    operation = make_incident()
    clash = make_incident(parent=operation)
    skirmish = make_incident(parent=clash)
    for target in (clash, skirmish):
        with pytest.raises(workflow.TransitionRefused) as refused:
            workflow.merge(operation, target, editor)
        assert refused.value.field == "into"
    assert Incident.objects.filter(pk=operation.pk).exists()
    assert not IncidentTombstone.objects.exists()


# ---- two steps at once -------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks to wait for")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_steps_cannot_both_pass_the_status_check():
    editor = User.objects.create_user("editor")
    incident = make_incident(status="draft")
    outcome = {}

    def second_reviewer():
        try:
            workflow.review(incident, editor)
            outcome["result"] = "reviewed"
        except workflow.TransitionRefused as refused:
            outcome["result"] = refused.message
        finally:
            connections.close_all()

    with transaction.atomic():
        workflow.review(incident, editor)  # holds the row's lock until this block commits
        thread = threading.Thread(target=second_reviewer)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), "the second step did not wait for the first one's lock"
    thread.join(timeout=10)
    assert outcome["result"] == "A reviewed incident cannot become reviewed."
    assert Incident.history.filter(id=incident.pk, status="reviewed").count() == 1
