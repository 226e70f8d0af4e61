"""The admin's editor features: workflow actions and buttons, stale-form guard, evidence, history, tombstones.

The workflow's rules are written out here (ALLOWED) as the API states them, so the admin is
checked against those rules and not against incidents.workflow itself.
"""

from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.test import Client, TestCase
from django.urls import reverse

from incidents.models import CasualtyFigure, Incident, IncidentTombstone
from tests.factories import add_figure, make_incident, make_source

CHANGELIST = reverse("admin:incidents_incident_changelist")
ADD = reverse("admin:incidents_incident_add")
STATUSES = ("draft", "reviewed", "published", "retracted")
STEPS = ("review", "publish", "retract", "reopen")
# step: (statuses it is taken from, the status it leads to), as the API has them.
ALLOWED = {
    "review": ({"draft"}, "reviewed"),
    "publish": ({"reviewed"}, "published"),
    "retract": ({"draft", "reviewed", "published"}, "retracted"),
    "reopen": ({"retracted"}, "draft"),
}
REFUSED = "A {status} incident cannot become {to}."
NEEDS_REASON = "Give the reason for retracting this incident."
HAS_CHILDREN = "This incident has child incidents; move or delete them first."
# The changelist action of each step, the word of its report and who it applies to.
ACTIONS = {
    "review": ("mark_reviewed", "reviewed", "drafts"),
    "publish": ("publish", "published", "reviewed incidents"),
    "retract": ("retract_selected", "retracted", "drafts, reviewed and published incidents"),
    "reopen": ("reopen_selected", "reopened", "retracted incidents"),
}


def staff(name, group):
    user = User.objects.create_user(name, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def incident_form_data(incident, **overrides):
    data = {
        "title": incident.title,
        "slug": incident.slug,
        "event_type": incident.event_type,
        "sub_event_type": incident.sub_event_type,
        "start_date": incident.start_date.isoformat(),
        "end_date": incident.end_date.isoformat(),
        "date_precision": incident.date_precision,
        "summary": incident.summary,
        "extra": "{}",
        # As the page posts it: a field with a callable default sends its initial value too,
        # without which Django counts the field as changed.
        "initial-extra": "{}",
        "opened_at_version": incident.updated_at.isoformat(),
        "incident_actors-TOTAL_FORMS": "0",
        "incident_actors-INITIAL_FORMS": "0",
        "casualty_figures-TOTAL_FORMS": "0",
        "casualty_figures-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def incident_in(status, **fields):
    if status == "retracted":
        fields.setdefault("retraction_reason", "A duplicate.")
    return make_incident(status=status, **fields)


def step_url(incident, step):
    return reverse("admin:incidents_incident_step", args=[incident.pk, step])


def change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def messages_of(response):
    """The (level, text) of each message a followed response showed."""
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def status_of(incident):
    return Incident.objects.values_list("status", flat=True).get(pk=incident.pk)


class ChangesThroughARevision:
    """A published incident is changed through a revision (incidents.workflow.revise): its
    "Propose a change" button makes it, a second editor reviews it and publishes it."""

    def propose_a_change(self, published):
        response = self.client.post(step_url(published, "revise"))
        revision = Incident.objects.get(revision_of=published)
        self.assertRedirects(response, change_url(revision))
        return revision

    def review_and_publish(self, revision, author):
        """The revision's review by another editor, who publishes it; then `author` is logged in again."""
        self.client.force_login(staff("reviewer", "editors"))
        for step in ("review", "publish"):
            self.assertEqual(self.client.post(step_url(revision, step)).status_code, 302, step)
        self.assertFalse(Incident.objects.filter(pk=revision.pk).exists())
        self.client.force_login(author)


class WorkflowActionTests(TestCase):
    def setUp(self):
        self.editor = staff("editor", "editors")
        self.client.force_login(self.editor)

    def test_review_then_publish_records_the_reviewer(self):
        draft = make_incident(status="draft")
        reviewed_only = make_incident(status="draft")
        self.client.post(
            CHANGELIST, {"action": "mark_reviewed", "_selected_action": [draft.pk, reviewed_only.pk]}
        )
        draft.refresh_from_db()
        self.assertEqual((draft.status, draft.reviewed_by), ("reviewed", self.editor))
        response = self.client.post(
            CHANGELIST, {"action": "publish", "_selected_action": [draft.pk]}, follow=True
        )
        draft.refresh_from_db()
        self.assertEqual(draft.status, "published")
        self.assertContains(response, "1 incident(s) published.")

    def test_publish_skips_drafts_with_a_warning(self):
        draft = make_incident(status="draft")
        response = self.client.post(
            CHANGELIST, {"action": "publish", "_selected_action": [draft.pk]}, follow=True
        )
        draft.refresh_from_db()
        self.assertEqual(draft.status, "draft")
        self.assertContains(response, "1 skipped")

    def test_actions_keep_their_names(self):
        response = self.client.get(CHANGELIST)
        choices = dict(response.context["action_form"].fields["action"].choices)
        for name in ("mark_reviewed", "publish", "retract_selected", "reopen_selected"):
            self.assertIn(name, choices)
        self.assertEqual(choices["mark_reviewed"], "Mark selected drafts as reviewed")
        self.assertEqual(choices["publish"], "Publish selected reviewed incidents")

    def test_editors_cannot_delete(self):
        incident = make_incident()
        response = self.client.post(
            reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"}
        )
        self.assertEqual(response.status_code, 403)
        self.assertTrue(Incident.objects.filter(pk=incident.pk).exists())


class FormCannotMoveTheStatusTests(ChangesThroughARevision, TestCase):
    """The status changes only through the workflow: posting it through the form does nothing."""

    def setUp(self):
        self.editor = staff("editor", "editors")
        self.client.force_login(self.editor)

    def test_change_form_does_not_publish_a_draft(self):
        draft = make_incident(status="draft")
        data = incident_form_data(
            draft, title="Edited", status="published", retraction_reason="x", reviewed_by=self.editor.pk
        )
        response = self.client.post(change_url(draft), data)
        self.assertEqual(response.status_code, 302)
        draft.refresh_from_db()
        self.assertEqual((draft.title, draft.status), ("Edited", "draft"))
        self.assertEqual((draft.reviewed_by, draft.reviewed_at, draft.retraction_reason), (None, None, ""))

    def test_change_form_does_not_retract_or_reopen(self):
        for status, posted in (("draft", "retracted"), ("retracted", "draft")):
            with self.subTest(status=status):
                incident = incident_in(status)
                data = incident_form_data(incident, status=posted, retraction_reason="")
                self.assertEqual(self.client.post(change_url(incident), data).status_code, 302)
                incident.refresh_from_db()
                self.assertEqual(incident.status, status)
                if status == "retracted":
                    self.assertEqual(incident.retraction_reason, "A duplicate.")
        with self.subTest(status="published"):
            # A published incident's page is read-only: its form is changed through a revision,
            # whose form cannot retract the published incident either.
            published = incident_in("published")
            data = incident_form_data(published, status="retracted", retraction_reason="")
            self.assertEqual(self.client.post(change_url(published), data).status_code, 403)
            self.assertEqual(status_of(published), "published")
            revision = self.propose_a_change(published)
            data = incident_form_data(revision, title="Edited", status="retracted", retraction_reason="")
            self.assertEqual(self.client.post(change_url(revision), data).status_code, 302)
            self.assertEqual(status_of(revision), "draft")
            self.review_and_publish(revision, self.editor)
            published.refresh_from_db()
            self.assertEqual((published.title, published.status), ("Edited", "published"))

    def test_add_form_always_makes_a_draft(self):
        data = incident_form_data(
            make_incident(status="draft"), slug="new-one", title="New one", status="published"
        )
        data.pop("opened_at_version")
        response = self.client.post(ADD, data)
        self.assertEqual(response.status_code, 302)
        created = Incident.objects.get(slug="new-one")
        self.assertEqual((created.status, created.reviewed_by, created.reviewed_at), ("draft", None, None))

    def test_status_is_shown_but_not_editable(self):
        incident = make_incident(status="reviewed", retraction_reason="")
        for url in (change_url(incident), ADD):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                form = response.context["adminform"].form
                for name in ("status", "reviewed_by", "reviewed_at", "retraction_reason"):
                    self.assertNotIn(name, form.fields)
                self.assertNotContains(response, 'name="status"')
                self.assertNotContains(response, 'name="retraction_reason"')
        self.assertContains(self.client.get(change_url(incident)), "Reviewed")

    def test_a_save_does_not_undo_a_step_taken_meanwhile(self):
        # The API takes a step while the editor's page is open; the editor's save (with a
        # fresh version, so the stale-form guard does not stop it) keeps the step. A review
        # is kept by a save that changes nothing: a content change after review sends the
        # incident back to draft, by rule (tests/api/test_review_by_a_second_person.py).
        for step, meanwhile, title in (
            ("review", {"status": "reviewed"}, "Original"),
            ("retract", {"status": "retracted", "retraction_reason": "Duplicate."}, "Edited"),
        ):
            with self.subTest(step=step):
                incident = make_incident(status="draft", title="Original")
                data = incident_form_data(incident, title=title)
                Incident.objects.filter(pk=incident.pk).update(**meanwhile)
                self.assertEqual(self.client.post(change_url(incident), data).status_code, 302)
                self.assertEqual(status_of(incident), meanwhile["status"])
                incident.refresh_from_db()
                self.assertEqual(incident.title, title)
                self.assertEqual(incident.retraction_reason, meanwhile.get("retraction_reason", ""))


class ActionTests(TestCase):
    """Each changelist action takes exactly the API's transitions and refuses the others."""

    def setUp(self):
        self.editor = staff("editor", "editors")
        self.client.force_login(self.editor)
        self.incidents = {status: incident_in(status) for status in STATUSES}
        self.selected = [incident.pk for incident in self.incidents.values()]

    def run_action(self, step):
        action = ACTIONS[step][0]
        data = {"action": action, "_selected_action": self.selected}
        if step == "retract":
            data.update(post="yes", reason="Wrongly attributed.")
        return self.client.post(CHANGELIST, data, follow=True)

    def test_each_action_from_every_status(self):
        for step in STEPS:
            with self.subTest(step=step):
                for status, incident in self.incidents.items():
                    Incident.objects.filter(pk=incident.pk).update(
                        status=status, retraction_reason="A duplicate." if status == "retracted" else ""
                    )
                response = self.run_action(step)
                allowed_from, to = ALLOWED[step]
                _, verb, eligible = ACTIONS[step]
                for status, incident in self.incidents.items():
                    self.assertEqual(status_of(incident), to if status in allowed_from else status, status)
                refused = [s for s in STATUSES if s not in allowed_from]
                reasons = " ".join(sorted(REFUSED.format(status=s, to=to) for s in refused))
                self.assertEqual(
                    messages_of(response),
                    [
                        ("info", f"{len(allowed_from)} incident(s) {verb}."),
                        ("warning", f"{len(refused)} skipped: only {eligible} can be {verb}. {reasons}"),
                    ],
                )

    def test_review_action_records_the_reviewer(self):
        self.run_action("review")
        incident = Incident.objects.get(pk=self.incidents["draft"].pk)
        self.assertEqual(incident.reviewed_by, self.editor)
        self.assertIsNotNone(incident.reviewed_at)
        latest = Incident.history.filter(id=incident.pk).first()
        self.assertEqual((latest.status, latest.history_user), ("reviewed", self.editor))

    def test_reopen_action_clears_the_reason(self):
        self.run_action("reopen")
        incident = Incident.objects.get(pk=self.incidents["retracted"].pk)
        self.assertEqual((incident.status, incident.retraction_reason), ("draft", ""))

    def test_only_eligible_selected_no_warning(self):
        self.selected = [self.incidents["draft"].pk]
        response = self.run_action("review")
        self.assertEqual(messages_of(response), [("info", "1 incident(s) reviewed.")])


class RetractActionTests(TestCase):
    def setUp(self):
        self.client.force_login(staff("editor", "editors"))
        self.published = make_incident(status="published", title="Wrong one")
        self.draft = make_incident(status="draft")
        self.selected = [self.published.pk, self.draft.pk]

    def test_asks_for_the_reason_first(self):
        response = self.client.post(
            CHANGELIST, {"action": "retract_selected", "_selected_action": self.selected}
        )
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "admin/incidents/incident/retract.html")
        self.assertContains(response, "Wrong one")
        self.assertContains(response, 'name="reason"')
        self.assertContains(response, f'name="_selected_action" value="{self.published.pk}"')
        self.assertEqual((status_of(self.published), status_of(self.draft)), ("published", "draft"))

    def test_a_blank_reason_is_refused(self):
        for reason in ("", "   "):
            with self.subTest(reason=reason):
                data = {
                    "action": "retract_selected",
                    "_selected_action": self.selected,
                    "post": "yes",
                    "reason": reason,
                }
                response = self.client.post(CHANGELIST, data)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, NEEDS_REASON)
                self.assertEqual((status_of(self.published), status_of(self.draft)), ("published", "draft"))

    def test_retracts_with_the_reason(self):
        data = {
            "action": "retract_selected",
            "_selected_action": self.selected,
            "post": "yes",
            "reason": "Duplicates of another report.",
        }
        response = self.client.post(CHANGELIST, data, follow=True)
        self.assertEqual(messages_of(response), [("info", "2 incident(s) retracted.")])
        for incident in (self.published, self.draft):
            incident.refresh_from_db()
            self.assertEqual(
                (incident.status, incident.retraction_reason), ("retracted", "Duplicates of another report.")
            )


class ChangePageButtonTests(TestCase):
    """The change page has a button for each step the status allows; each takes the API's step."""

    def setUp(self):
        self.editor = staff("editor", "editors")
        self.client.force_login(self.editor)

    def take(self, incident, step, **data):
        if step == "retract":
            data.setdefault("reason", "Wrongly attributed.")
        return self.client.post(step_url(incident, step), data, follow=True)

    def test_buttons_are_the_steps_the_status_allows(self):
        for status in STATUSES:
            with self.subTest(status=status):
                incident = incident_in(status)
                response = self.client.get(change_url(incident))
                steps = [step["name"] for step in response.context["workflow_steps"]]
                # A published incident also has "Propose a change": it changes through a revision.
                revise = ["revise"] if status == "published" else []
                self.assertEqual(steps, [step for step in STEPS if status in ALLOWED[step][0]] + revise)
                for step in (*STEPS, "revise"):
                    if step in steps:
                        self.assertContains(response, step_url(incident, step))
                    else:
                        self.assertNotContains(response, step_url(incident, step))

    def test_each_button_from_every_status(self):
        for step in STEPS:
            for status in STATUSES:
                with self.subTest(step=step, status=status):
                    incident = incident_in(status)
                    response = self.take(incident, step)
                    self.assertRedirects(response, change_url(incident))
                    allowed_from, to = ALLOWED[step]
                    if status in allowed_from:
                        self.assertEqual(status_of(incident), to)
                        [(level, _)] = messages_of(response)
                        self.assertEqual(level, "success")
                    else:
                        self.assertEqual(status_of(incident), status)
                        self.assertEqual(
                            messages_of(response), [("error", REFUSED.format(status=status, to=to))]
                        )

    def test_review_button_records_the_reviewer_in_the_record_and_its_history(self):
        incident = make_incident(status="draft")
        self.take(incident, "review")
        incident.refresh_from_db()
        self.assertEqual(incident.reviewed_by, self.editor)
        self.assertIsNotNone(incident.reviewed_at)
        latest = Incident.history.filter(id=incident.pk).first()
        self.assertEqual((latest.status, latest.history_user), ("reviewed", self.editor))

    def test_retract_button_asks_for_the_reason(self):
        incident = make_incident(status="published", title="Wrong one")
        response = self.client.get(step_url(incident, "retract"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'name="reason"')
        self.assertContains(response, "csrfmiddlewaretoken")
        self.assertEqual(status_of(incident), "published")

        response = self.client.post(step_url(incident, "retract"), {"reason": " "})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, NEEDS_REASON)
        self.assertEqual(status_of(incident), "published")

        response = self.take(incident, "retract", reason="Duplicate of another report.")
        incident.refresh_from_db()
        self.assertEqual(
            (incident.status, incident.retraction_reason), ("retracted", "Duplicate of another report.")
        )
        self.assertContains(response, "Duplicate of another report.")  # shown read-only on the page

    def test_a_step_keeps_the_changelist_filters_the_editor_came_from(self):
        incident = make_incident(status="draft")
        filters = "_changelist_filters=status__exact%3Ddraft"
        response = self.client.get(f"{change_url(incident)}?{filters}")
        [review, _] = response.context["workflow_steps"]
        self.assertEqual(review["url"], f"{step_url(incident, 'review')}?{filters}")
        response = self.client.post(review["url"])
        self.assertRedirects(response, f"{change_url(incident)}?{filters}")
        self.assertEqual(status_of(incident), "reviewed")

    def test_steps_other_than_retract_need_a_post(self):
        incident = make_incident(status="draft")
        self.assertEqual(self.client.get(step_url(incident, "review")).status_code, 405)
        self.assertEqual(status_of(incident), "draft")

    def test_an_unknown_step_is_not_found(self):
        incident = make_incident(status="draft")
        self.assertEqual(self.client.post(step_url(incident, "approve")).status_code, 404)
        self.assertEqual(self.client.post(step_url(incident, "delete")).status_code, 404)

    def test_a_step_needs_the_change_permission(self):
        viewer = User.objects.create_user("viewer", password="x", is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_incident"))
        self.client.force_login(viewer)
        incident = make_incident(status="draft")
        response = self.client.get(change_url(incident))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["workflow_steps"], [])
        self.assertEqual(self.client.post(step_url(incident, "review")).status_code, 403)
        self.assertEqual(self.client.get(step_url(incident, "retract")).status_code, 403)
        self.assertEqual(status_of(incident), "draft")

    def test_a_step_needs_the_csrf_token_of_the_page(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.editor)
        incident = make_incident(status="draft")
        self.assertEqual(client.post(step_url(incident, "review")).status_code, 403)
        self.assertEqual(status_of(incident), "draft")
        page = client.get(change_url(incident))
        token = page.context["csrf_token"]
        response = client.post(step_url(incident, "review"), {"csrfmiddlewaretoken": str(token)})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(status_of(incident), "reviewed")

    def test_a_button_of_a_page_older_than_the_record_does_nothing(self):
        incident = make_incident(status="draft")
        opened = incident.updated_at.isoformat()
        Incident.objects.get(pk=incident.pk).save()  # someone else's edit moves updated_at on
        response = self.take(incident, "review", opened_at_version=opened)
        self.assertEqual(status_of(incident), "draft")
        [(level, text)] = messages_of(response)
        self.assertEqual(level, "error")
        self.assertIn("Someone changed this incident after you opened it", text)


class DeleteThroughWorkflowTests(TestCase):
    def setUp(self):
        self.client.force_login(staff("maintainer", "maintainers"))
        self.parent = make_incident(slug="operation")
        self.child = make_incident(slug="clash", parent=self.parent)

    def test_delete_with_children_is_refused_with_the_message(self):
        url = reverse("admin:incidents_incident_delete", args=[self.parent.pk])
        response = self.client.post(url, {"post": "yes"}, follow=True)
        self.assertRedirects(response, change_url(self.parent))
        self.assertEqual(messages_of(response), [("error", HAS_CHILDREN)])
        self.assertTrue(Incident.objects.filter(pk=self.parent.pk).exists())
        self.assertFalse(IncidentTombstone.objects.exists())

    def test_the_delete_page_of_an_incident_with_children_says_so_before_asking(self):
        response = self.client.get(reverse("admin:incidents_incident_delete", args=[self.parent.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "protected")
        self.assertContains(response, str(self.child))

    def test_bulk_delete_with_children_deletes_nothing(self):
        other = make_incident(slug="other")
        data = {"action": "delete_selected", "_selected_action": [other.pk, self.parent.pk], "post": "yes"}
        response = self.client.post(CHANGELIST, data, follow=True)
        self.assertEqual(response.status_code, 200)
        [(level, text)] = messages_of(response)
        self.assertEqual(level, "error")
        self.assertIn(HAS_CHILDREN, text)
        self.assertIn("Nothing was deleted.", text)
        self.assertEqual(Incident.objects.filter(pk__in=[other.pk, self.parent.pk]).count(), 2)
        self.assertFalse(IncidentTombstone.objects.exists())

    def test_bulk_delete_leaves_tombstones(self):
        other = make_incident(slug="other")
        data = {"action": "delete_selected", "_selected_action": [other.pk, self.child.pk], "post": "yes"}
        response = self.client.post(CHANGELIST, data, follow=True)
        self.assertContains(response, "Successfully deleted 2 incidents.")
        self.assertEqual(set(IncidentTombstone.objects.values_list("slug", flat=True)), {"other", "clash"})
        tombstone = IncidentTombstone.objects.get(slug="other")
        self.assertEqual(tombstone.deleted_by.username, "maintainer")


class StaleFormTests(TestCase):
    def test_a_form_opened_before_someone_elses_save_is_refused(self):
        self.client.force_login(staff("editor", "editors"))
        incident = make_incident(title="Original", status="draft")
        stale = incident_form_data(incident, title="My edit")
        Incident.objects.filter(pk=incident.pk).update(title="Their edit")
        Incident.objects.get(pk=incident.pk).save()  # moves updated_at on, as any save does
        url = reverse("admin:incidents_incident_change", args=[incident.pk])
        response = self.client.post(url, stale)
        self.assertContains(response, "Someone changed this incident after you opened it.")
        self.assertEqual(Incident.objects.get(pk=incident.pk).title, "Their edit")

    def test_a_fresh_form_saves(self):
        self.client.force_login(staff("editor", "editors"))
        incident = make_incident(title="Original", status="draft")
        url = reverse("admin:incidents_incident_change", args=[incident.pk])
        response = self.client.post(url, incident_form_data(incident, title="My edit"))
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Incident.objects.get(pk=incident.pk).title, "My edit")


class EvidenceTests(TestCase):
    def setUp(self):
        self.client.force_login(staff("editor", "editors"))
        self.source = make_source(slug="wire", text="The ministry said at least 12 soldiers were killed.")
        # A draft: a published incident's claims are changed through a revision.
        self.incident = make_incident(status="draft")

    def test_a_quote_not_in_the_source_is_a_form_error(self):
        data = {
            "incident": self.incident.pk,
            "outcome": "killed",
            "group": "state_forces",
            "low": "12",
            "qualifier": "at_least",
            "source": self.source.pk,
            "quote": "at least 15 soldiers were killed",
        }
        response = self.client.post(reverse("admin:incidents_casualtyfigure_add"), data)
        self.assertContains(response, "This quote does not occur in the text of source")
        self.assertFalse(CasualtyFigure.objects.exists())
        data["quote"] = "at  least 12 soldiers\nwere killed"  # whitespace differences are fine
        self.assertEqual(
            self.client.post(reverse("admin:incidents_casualtyfigure_add"), data).status_code, 302
        )

    def test_source_page_marks_quoted_passages_and_links_their_figures(self):
        figure = add_figure(self.incident, self.source, quote="at least 12 soldiers were killed")
        page = self.client.get(
            reverse("admin:incidents_source_change", args=[self.source.pk])
        ).content.decode()
        link = reverse("admin:incidents_casualtyfigure_change", args=[figure.pk])
        self.assertIn("The ministry said <mark>at least 12 soldiers were killed</mark>", page)
        self.assertIn(f'href="{link}"', page)


class HistoryTests(TestCase):
    def test_admin_edits_are_recorded_with_their_user_and_can_be_reverted(self):
        editor = staff("editor", "editors")
        self.client.force_login(editor)
        incident = make_incident(title="Original", status="draft")
        url = reverse("admin:incidents_incident_change", args=[incident.pk])
        self.client.post(url, incident_form_data(incident, title="Changed"))
        latest = Incident.history.filter(id=incident.pk).first()
        self.assertEqual((latest.title, latest.history_user), ("Changed", editor))
        original = Incident.history.filter(id=incident.pk, title="Original").first()
        history_page = reverse("admin:incidents_incident_history", args=[incident.pk])
        self.assertContains(self.client.get(history_page), "Changed")
        revert_url = reverse(
            "admin:incidents_incident_simple_history", args=[incident.pk, original.history_id]
        )
        self.assertEqual(self.client.get(revert_url).status_code, 200)

    def test_seed_load_is_recorded_as_one_named_entry_per_record(self):
        call_command("load_seeds", verbosity=0)
        records = Incident.history.filter(history_change_reason__startswith="load_seeds")
        self.assertEqual(records.count(), Incident.objects.count())


class TombstoneTests(TestCase):
    def test_admin_deletion_leaves_a_tombstone_served_as_410(self):
        self.client.force_login(staff("maintainer", "maintainers"))
        incident = make_incident(slug="bad-record")
        self.client.post(reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"})
        self.assertTrue(IncidentTombstone.objects.filter(slug="bad-record").exists())
        self.client.logout()
        response = self.client.get(reverse("incident-detail", kwargs={"slug": "bad-record"}))
        self.assertEqual(response.status_code, 410)
