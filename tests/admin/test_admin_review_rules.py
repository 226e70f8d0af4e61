"""The review rules in the admin, as in the API (docs/security.md, "Review"): the last author does
not review, a change to a reviewed incident sends it back to draft, and a published incident is
read-only, changed through "Propose a change" (a revision) that is reviewed and published."""

from django.test import TestCase
from django.urls import reverse

from incidents.models import CasualtyFigure, Incident
from tests.admin.test_admin_workflow import change_url, incident_form_data, messages_of, staff, step_url
from tests.factories import add_figure, make_incident, make_source


class AdminReviewRulesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alice = staff("alice", "editors")
        cls.bob = staff("bob", "editors")
        cls.source = make_source(slug="wire", text="at least 12 soldiers were killed; 14 soldiers died")

    def save(self, user, incident, **changes):
        self.client.force_login(user)
        incident.refresh_from_db()
        # The admin posts a field with a callable default (extra) with its initial value too.
        data = incident_form_data(incident, **{"initial-extra": "{}", **changes})
        return self.client.post(change_url(incident), data)

    def test_the_author_of_a_new_incident_cannot_review_it_and_another_editor_can(self):
        self.client.force_login(self.alice)
        data = {
            "title": "New clash",
            "slug": "new",
            "event_type": "battles",
            "sub_event_type": "armed_clash",
            "start_date": "2026-01-05",
            "end_date": "2026-01-05",
            "date_precision": "day",
            "extra": "{}",
            "incident_actors-TOTAL_FORMS": "0",
            "incident_actors-INITIAL_FORMS": "0",
            "casualty_figures-TOTAL_FORMS": "0",
            "casualty_figures-INITIAL_FORMS": "0",
        }
        self.assertEqual(self.client.post(reverse("admin:incidents_incident_add"), data).status_code, 302)
        incident = Incident.objects.get(slug="new")
        self.assertEqual((incident.status, incident.last_edited_by), ("draft", self.alice))
        refused = self.client.post(
            step_url(incident, "review"), {"opened_at_version": incident.updated_at.isoformat()}, follow=True
        )
        self.assertIn("someone else must review it", " ".join(text for _, text in messages_of(refused)))
        incident.refresh_from_db()
        self.assertEqual(incident.status, "draft")
        self.client.force_login(self.bob)
        self.client.post(step_url(incident, "review"), {"opened_at_version": incident.updated_at.isoformat()})
        incident.refresh_from_db()
        self.assertEqual((incident.status, incident.reviewed_by), ("reviewed", self.bob))

    def test_the_changelist_action_skips_incidents_the_user_last_changed(self):
        mine = make_incident(slug="mine", status="draft", last_edited_by=self.alice)
        theirs = make_incident(slug="theirs", status="draft", last_edited_by=self.bob)
        self.client.force_login(self.alice)
        self.client.post(
            reverse("admin:incidents_incident_changelist"),
            {"action": "mark_reviewed", "_selected_action": [mine.pk, theirs.pk]},
        )
        statuses = dict(Incident.objects.values_list("slug", "status"))
        self.assertEqual(statuses, {"mine": "draft", "theirs": "reviewed"})

    def test_saving_a_change_to_a_reviewed_incident_sends_it_back_to_draft(self):
        incident = make_incident(
            slug="clash", status="reviewed", reviewed_by=self.bob, last_edited_by=self.alice
        )
        self.assertEqual(self.save(self.bob, incident, summary="Corrected.").status_code, 302)
        incident.refresh_from_db()
        self.assertEqual(
            (incident.status, incident.reviewed_by, incident.last_edited_by, incident.summary),
            ("draft", None, self.bob, "Corrected."),
        )

    def test_saving_without_a_change_keeps_the_review(self):
        incident = make_incident(
            slug="clash", status="reviewed", reviewed_by=self.bob, last_edited_by=self.alice
        )
        self.assertEqual(self.save(self.bob, incident).status_code, 302)
        incident.refresh_from_db()
        self.assertEqual((incident.status, incident.last_edited_by), ("reviewed", self.alice))

    def test_a_claim_changed_on_its_own_page_sends_its_incident_back_to_draft(self):
        incident = make_incident(
            slug="clash", status="reviewed", reviewed_by=self.bob, last_edited_by=self.alice
        )
        claim = add_figure(incident, self.source)
        self.client.force_login(self.bob)
        url = reverse("admin:incidents_casualtyfigure_change", args=[claim.pk])
        data = {
            "incident": incident.pk,
            "outcome": "killed",
            "group": "state_forces",
            "low": 12,
            "best": 14,
            "qualifier": "at_least",
            "source": self.source.pk,
            "quote": "14 soldiers died",
        }
        self.assertEqual(self.client.post(url, data).status_code, 302)
        incident.refresh_from_db()
        self.assertEqual((incident.status, incident.last_edited_by), ("draft", self.bob))


class AdminPublishedIsReadOnlyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alice = staff("alice", "editors")
        cls.bob = staff("bob", "editors")
        cls.maintainer = staff("maia", "maintainers")
        cls.source = make_source(slug="wire", text="at least 12 soldiers were killed; 14 soldiers died")

    def setUp(self):
        self.incident = make_incident(slug="clash", title="Clash", status="published")
        self.claim = add_figure(self.incident, self.source)

    def test_the_change_page_is_read_only_and_a_post_is_refused(self):
        self.client.force_login(self.alice)
        page = self.client.get(change_url(self.incident))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'name="title"')
        self.assertContains(page, "Propose a change")
        self.assertContains(page, "Retract")
        data = incident_form_data(self.incident, title="Changed")
        self.assertEqual(self.client.post(change_url(self.incident), data).status_code, 403)
        self.incident.refresh_from_db()
        self.assertEqual(self.incident.title, "Clash")

    def test_the_claim_and_role_pages_refuse_a_published_incidents_records(self):
        self.client.force_login(self.maintainer)
        url = reverse("admin:incidents_casualtyfigure_change", args=[self.claim.pk])
        self.assertNotContains(self.client.get(url), 'name="best"')
        self.assertEqual(self.client.post(url, {"best": 99}).status_code, 403)
        delete = reverse("admin:incidents_casualtyfigure_delete", args=[self.claim.pk])
        self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 403)
        add = self.client.post(
            reverse("admin:incidents_casualtyfigure_add"),
            {
                "incident": self.incident.pk,
                "outcome": "killed",
                "group": "unknown",
                "low": 14,
                "best": 14,
                "qualifier": "exact",
                "source": self.source.pk,
                "quote": "14 soldiers died",
            },
        )
        self.assertEqual(add.status_code, 200)
        self.assertContains(add, "A published incident is changed through a revision")
        bulk = self.client.post(
            reverse("admin:incidents_casualtyfigure_changelist"),
            {"action": "delete_selected", "_selected_action": [self.claim.pk], "post": "yes"},
        )
        self.assertEqual(bulk.status_code, 403)
        self.assertEqual(list(CasualtyFigure.objects.filter(incident=self.incident)), [self.claim])

    def test_propose_a_change_review_and_publish(self):
        self.client.force_login(self.alice)
        response = self.client.post(step_url(self.incident, "revise"))
        revision = Incident.objects.get(revision_of=self.incident)
        self.assertRedirects(response, change_url(revision))
        self.assertEqual((revision.slug, revision.status), ("clash--revision", "draft"))
        # The published page links to the pending change instead of offering another.
        page = self.client.get(change_url(self.incident))
        self.assertContains(page, "Pending change")
        self.assertNotContains(page, "Propose a change")
        self.client.post(step_url(self.incident, "revise"))
        self.assertEqual(Incident.objects.filter(revision_of=self.incident).count(), 1)

        copied = revision.casualty_figures.get()
        data = incident_form_data(
            revision,
            title="Clash at the bridge",
            **{
                "casualty_figures-TOTAL_FORMS": "1",
                "casualty_figures-INITIAL_FORMS": "1",
                "casualty_figures-0-id": copied.pk,
                "casualty_figures-0-incident": revision.pk,
                "casualty_figures-0-outcome": "killed",
                "casualty_figures-0-group": "state_forces",
                "casualty_figures-0-low": "12",
                "casualty_figures-0-best": "14",
                "casualty_figures-0-qualifier": "at_least",
                "casualty_figures-0-source": self.source.pk,
                "casualty_figures-0-quote": "14 soldiers died",
            },
        )
        saved = self.client.post(change_url(revision), data)
        self.assertEqual(saved.status_code, 302, saved.content[:2000])
        self.client.logout()
        self.assertEqual(
            self.client.get(reverse("incident-detail", kwargs={"slug": "clash"})).json()["title"], "Clash"
        )
        revision.refresh_from_db()
        self.client.force_login(self.bob)
        self.client.post(step_url(revision, "review"), {"opened_at_version": revision.updated_at.isoformat()})
        revision.refresh_from_db()
        self.assertEqual(revision.status, "reviewed")
        published = self.client.post(
            step_url(revision, "publish"), {"opened_at_version": revision.updated_at.isoformat()}, follow=True
        )
        self.assertEqual(published.status_code, 200)
        self.incident.refresh_from_db()
        self.assertEqual((self.incident.title, self.incident.status), ("Clash at the bridge", "published"))
        claim = self.incident.casualty_figures.get()
        self.assertEqual((claim.pk, claim.best, claim.quote), (self.claim.pk, 14, "14 soldiers died"))
        self.assertFalse(Incident.objects.filter(slug="clash--revision").exists())


class AdminOutsideFindingsTests(TestCase):
    """What an outside pass through the admin found in the first version of these rules."""

    @classmethod
    def setUpTestData(cls):
        cls.alice = staff("alice", "editors")
        cls.bob = staff("bob", "editors")
        cls.maintainer = staff("maia", "maintainers")
        cls.source = make_source(slug="wire", text="at least 12 soldiers were killed")

    def test_reverting_to_an_earlier_version_on_the_history_page_works(self):
        incident = make_incident(title="Original", status="draft")
        self.client.force_login(self.alice)
        self.client.post(
            change_url(incident), incident_form_data(incident, title="Changed", **{"initial-extra": "{}"})
        )
        incident.refresh_from_db()
        self.assertEqual(incident.title, "Changed")
        original = Incident.history.filter(id=incident.pk, title="Original").first()
        revert_url = reverse(
            "admin:incidents_incident_simple_history", args=[incident.pk, original.history_id]
        )
        page = self.client.get(revert_url)
        # The page carries the version it was opened at, which is the current one.
        self.assertContains(page, f'value="{incident.updated_at.isoformat()}"')
        data = incident_form_data(
            incident, title="Original", opened_at_version=incident.updated_at.isoformat()
        )
        response = self.client.post(revert_url, data)
        self.assertEqual(response.status_code, 302, response.content[:3000])
        incident.refresh_from_db()
        self.assertEqual(incident.title, "Original")

    def test_a_maintainer_deletes_a_published_incident_with_its_claims(self):
        incident = make_incident(slug="clash", status="published")
        add_figure(incident, self.source)
        self.client.force_login(self.maintainer)
        url = reverse("admin:incidents_incident_delete", args=[incident.pk])
        self.assertNotContains(self.client.get(url), "permission to delete")
        self.client.post(url, {"post": "yes"})
        self.assertFalse(Incident.objects.filter(slug="clash").exists())

    def test_publishing_a_revision_leads_to_the_incident_it_changed(self):
        incident = make_incident(slug="clash", status="published")
        self.client.force_login(self.alice)
        self.client.post(step_url(incident, "revise"))
        revision = Incident.objects.get(revision_of=incident)
        Incident.objects.filter(pk=revision.pk).update(status="reviewed", reviewed_by=self.bob)
        revision.refresh_from_db()
        response = self.client.post(
            step_url(revision, "publish"), {"opened_at_version": revision.updated_at.isoformat()}
        )
        self.assertRedirects(response, change_url(incident))

    def test_the_changelist_says_why_an_own_change_was_skipped(self):
        make_incident(slug="mine", status="draft", last_edited_by=self.alice)
        self.client.force_login(self.alice)
        mine = Incident.objects.get(slug="mine")
        response = self.client.post(
            reverse("admin:incidents_incident_changelist"),
            {"action": "mark_reviewed", "_selected_action": [mine.pk]},
            follow=True,
        )
        text = " ".join(t for _, t in messages_of(response))
        self.assertIn("1 skipped: You made the last change", text)
        self.assertNotIn("only drafts", text)
