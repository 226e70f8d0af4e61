"""The admin's editor features: workflow actions, stale-form guard, evidence, history, tombstones."""

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from incidents.models import CasualtyFigure, Incident, IncidentTombstone
from tests.factories import add_figure, make_incident, make_source

CHANGELIST = reverse("admin:incidents_incident_changelist")


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
        "status": incident.status,
        "retraction_reason": incident.retraction_reason,
        "extra": "{}",
        "opened_at_version": incident.updated_at.isoformat(),
        "incident_actors-TOTAL_FORMS": "0",
        "incident_actors-INITIAL_FORMS": "0",
        "casualty_figures-TOTAL_FORMS": "0",
        "casualty_figures-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


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

    def test_retracting_needs_a_reason(self):
        incident = make_incident()
        url = reverse("admin:incidents_incident_change", args=[incident.pk])
        response = self.client.post(url, incident_form_data(incident, status="retracted"))
        self.assertContains(response, "Give the reason for retracting this incident.")
        self.assertEqual(Incident.objects.get(pk=incident.pk).status, "published")

    def test_editors_cannot_delete(self):
        incident = make_incident()
        response = self.client.post(
            reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"}
        )
        self.assertEqual(response.status_code, 403)
        self.assertTrue(Incident.objects.filter(pk=incident.pk).exists())


class StaleFormTests(TestCase):
    def test_a_form_opened_before_someone_elses_save_is_refused(self):
        self.client.force_login(staff("editor", "editors"))
        incident = make_incident(title="Original")
        stale = incident_form_data(incident, title="My edit")
        Incident.objects.filter(pk=incident.pk).update(title="Their edit")
        Incident.objects.get(pk=incident.pk).save()  # moves updated_at on, as any save does
        url = reverse("admin:incidents_incident_change", args=[incident.pk])
        response = self.client.post(url, stale)
        self.assertContains(response, "Someone changed this incident after you opened it.")
        self.assertEqual(Incident.objects.get(pk=incident.pk).title, "Their edit")

    def test_a_fresh_form_saves(self):
        self.client.force_login(staff("editor", "editors"))
        incident = make_incident(title="Original")
        url = reverse("admin:incidents_incident_change", args=[incident.pk])
        response = self.client.post(url, incident_form_data(incident, title="My edit"))
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Incident.objects.get(pk=incident.pk).title, "My edit")


class EvidenceTests(TestCase):
    def setUp(self):
        self.client.force_login(staff("editor", "editors"))
        self.source = make_source(slug="wire", text="The ministry said at least 12 soldiers were killed.")
        self.incident = make_incident()

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
        incident = make_incident(title="Original")
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
