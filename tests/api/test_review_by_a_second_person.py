"""Review takes a second person and changes after review are reviewed again (docs/api.md,
"Review"): the reviewer is never the last author, a content change to a reviewed incident
sends it back to draft, and a published incident changes through a revision the public does
not see until it is reviewed and published (incidents.workflow)."""

from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse

from incidents.models import CasualtyFigure, Incident, IncidentActor, IncidentTombstone
from tests.api.test_nested_writes import user_in
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_source

TEXT = "The ministry said at least 12 soldiers were killed. Dozens died, witnesses said. 15 died."


class ReviewTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.alice = user_in("editors", "alice")
        cls.bob = user_in("editors", "bob")
        cls.maintainer = user_in("maintainers", "maia")
        cls.wire = make_source(slug="wire", text=TEXT)
        cls.army = make_actor(slug="army", kind="state_forces")
        cls.rebels = make_actor(slug="rebels")

    def as_user(self, user):
        self.client.force_login(user)

    def url(self, slug, action=None):
        if action is None:
            return reverse("incident-detail", kwargs={"slug": slug})
        return reverse(f"incident-{action}", kwargs={"slug": slug})

    def step(self, user, slug, action, **body):
        self.as_user(user)
        return self.client.post(self.url(slug, action), body, content_type="application/json")

    def patch(self, user, slug, body):
        self.as_user(user)
        return self.client.patch(self.url(slug), body, content_type="application/json")

    def public_view(self, slug):
        self.client.logout()
        return self.client.get(self.url(slug))


class SecondPersonTests(ReviewTestCase):
    def setUp(self):
        self.as_user(self.alice)
        response = self.client.post(
            reverse("incident-list"),
            {
                "slug": "clash",
                "title": "Clash",
                "event_type": "battles",
                "sub_event_type": "armed_clash",
                "start_date": "2026-01-05",
                "end_date": "2026-01-05",
                "date_precision": "day",
            },
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 201, response.content)

    def test_the_author_of_a_new_incident_cannot_review_it(self):
        response = self.step(self.alice, "clash", "review")
        self.assertEqual(response.status_code, 409)
        self.assertIn("someone else must review it", response.json()["reviewed_by"][0])
        self.assertEqual(Incident.objects.get(slug="clash").status, "draft")

    def test_another_editor_reviews_and_either_publishes(self):
        self.assertEqual(self.step(self.bob, "clash", "review").status_code, 200)
        incident = Incident.objects.get(slug="clash")
        self.assertEqual(
            (incident.status, incident.reviewed_by, incident.last_edited_by),
            ("reviewed", self.bob, self.alice),
        )
        # Publishing a reviewed incident needs no third person: the content had its second look.
        self.assertEqual(self.step(self.alice, "clash", "publish").status_code, 200)
        self.assertEqual(self.public_view("clash").status_code, 200)

    def test_whoever_edits_last_is_the_one_who_may_not_review(self):
        self.assertEqual(self.patch(self.bob, "clash", {"title": "Clash at the bridge"}).status_code, 200)
        self.assertEqual(self.step(self.bob, "clash", "review").status_code, 409)
        self.assertEqual(self.step(self.alice, "clash", "review").status_code, 200)

    def test_a_maintainer_overrides_with_a_recorded_reason(self):
        self.patch(self.maintainer, "clash", {"title": "Clash (corrected)"})
        refused = self.step(self.maintainer, "clash", "review")
        self.assertEqual(refused.status_code, 409)
        done = self.step(
            self.maintainer, "clash", "review", override_reason="Typo fix; nobody else on shift."
        )
        self.assertEqual(done.status_code, 200, done.content)
        incident = Incident.objects.get(slug="clash")
        self.assertEqual(incident.review_override_reason, "Typo fix; nobody else on shift.")
        recorded = incident.history.filter(status="reviewed").get()
        self.assertEqual(
            (recorded.history_user, recorded.review_override_reason),
            (self.maintainer, "Typo fix; nobody else on shift."),
        )

    def test_an_editor_cannot_override(self):
        response = self.step(self.alice, "clash", "review", override_reason="I am sure")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(
            response.json(), {"override_reason": ["Only maintainers may review their own change."]}
        )
        self.assertEqual(Incident.objects.get(slug="clash").status, "draft")

    def test_an_override_reason_is_not_recorded_when_no_override_is_needed(self):
        self.step(self.bob, "clash", "review", override_reason="not needed")
        self.assertEqual(Incident.objects.get(slug="clash").review_override_reason, "")

    def test_a_blank_override_reason_is_no_override(self):
        self.patch(self.maintainer, "clash", {"title": "Clash (corrected)"})
        self.assertEqual(
            self.step(self.maintainer, "clash", "review", override_reason="   ").status_code, 409
        )

    def test_a_bad_override_reason_names_the_field(self):
        response = self.step(self.bob, "clash", "review", override_reason=12)
        self.assertEqual(response.status_code, 400)
        self.assertIn("override_reason", response.json())


class ChangeAfterReviewTests(ReviewTestCase):
    def setUp(self):
        self.incident = make_incident(
            slug="clash", status="reviewed", reviewed_by=self.bob, last_edited_by=self.alice
        )
        self.claim = add_figure(self.incident, self.wire)

    def assert_back_to_draft(self, by):
        self.incident.refresh_from_db()
        self.assertEqual(
            (
                self.incident.status,
                self.incident.reviewed_by,
                self.incident.reviewed_at,
                self.incident.last_edited_by,
            ),
            ("draft", None, None, by),
        )

    def test_an_edit_of_its_fields_sends_it_back_to_draft(self):
        self.assertEqual(self.patch(self.bob, "clash", {"summary": "New summary."}).status_code, 200)
        self.assert_back_to_draft(self.bob)
        # Bob wrote the last change, so Bob cannot review it now; Alice can.
        self.assertEqual(self.step(self.bob, "clash", "review").status_code, 409)
        self.assertEqual(self.step(self.alice, "clash", "review").status_code, 200)

    def test_a_nested_claim_change_sends_it_back_to_draft(self):
        body = {
            "casualty_figures": [
                {
                    "id": self.claim.pk,
                    "outcome": "killed",
                    "group": "state_forces",
                    "low": 12,
                    "best": 15,
                    "qualifier": "at_least",
                    "source": "wire",
                    "quote": self.claim.quote,
                }
            ]
        }
        self.assertEqual(self.patch(self.bob, "clash", body).status_code, 200)
        self.assert_back_to_draft(self.bob)

    def test_a_claim_written_on_its_own_sends_its_incident_back_to_draft(self):
        self.as_user(self.bob)
        url = reverse("casualtyfigure-detail", kwargs={"pk": self.claim.pk})
        self.assertEqual(
            self.client.patch(url, {"best": 14}, content_type="application/json").status_code, 200
        )
        self.assert_back_to_draft(self.bob)

    def test_a_new_claim_and_a_deleted_claim_each_send_it_back(self):
        self.as_user(self.maintainer)
        body = {
            "incident": "clash",
            "outcome": "wounded",
            "group": "civilians",
            "qualifier": "vague",
            "source": "wire",
            "quote": "Dozens died",
            "wording": "dozens",
        }
        created = self.client.post(reverse("casualtyfigure-list"), body, content_type="application/json")
        self.assertEqual(created.status_code, 201, created.content)
        self.assert_back_to_draft(self.maintainer)
        Incident.objects.filter(pk=self.incident.pk).update(status="reviewed", reviewed_by=self.bob)
        self.as_user(self.alice)
        deleted = self.client.delete(reverse("casualtyfigure-detail", kwargs={"pk": created.json()["id"]}))
        self.assertEqual(deleted.status_code, 403)  # editors do not delete; the maintainer does
        self.as_user(self.maintainer)
        self.assertEqual(
            self.client.delete(
                reverse("casualtyfigure-detail", kwargs={"pk": created.json()["id"]})
            ).status_code,
            204,
        )
        self.assert_back_to_draft(self.maintainer)

    def test_a_workflow_step_is_not_a_content_change(self):
        self.assertEqual(self.step(self.alice, "clash", "publish").status_code, 200)
        self.incident.refresh_from_db()
        self.assertEqual((self.incident.status, self.incident.last_edited_by), ("published", self.alice))


class PublishedChangesThroughARevisionTests(ReviewTestCase):
    def setUp(self):
        self.incident = make_incident(slug="clash", title="Clash", status="published", reviewed_by=self.bob)
        self.soldiers = add_figure(self.incident, self.wire, group="state_forces", is_preferred=True)
        self.dozens = add_figure(
            self.incident,
            self.wire,
            group="civilians",
            low=None,
            best=None,
            qualifier="vague",
            quote="Dozens died",
        )
        self.side_a = add_actor(self.incident, self.army, "side_a")
        self.side_b = add_actor(self.incident, self.rebels, "side_b")
        self.published = self.public_view("clash").json()

    def revise(self, user):
        response = self.step(user, "clash", "revise")
        self.assertIn(response.status_code, (200, 201), response.content)
        return response

    def test_a_direct_change_is_refused_and_says_how(self):
        whole = {
            name: self.published[name]
            for name in ("slug", "event_type", "sub_event_type", "start_date", "end_date", "date_precision")
        }
        for method, body in (("patch", {"title": "Changed"}), ("put", {**whole, "title": "Changed"})):
            self.as_user(self.alice)
            response = getattr(self.client, method)(self.url("clash"), body, content_type="application/json")
            self.assertEqual(response.status_code, 409, method)
            self.assertIn("/api/v1/incidents/clash/revise/", response.json()["status"][0])
        claim_url = reverse("casualtyfigure-detail", kwargs={"pk": self.soldiers.pk})
        self.assertEqual(
            self.client.patch(claim_url, {"best": 99}, content_type="application/json").status_code, 409
        )
        new_claim = {
            "incident": "clash",
            "outcome": "killed",
            "group": "unknown",
            "qualifier": "exact",
            "low": 15,
            "best": 15,
            "source": "wire",
            "quote": "15 died",
        }
        self.assertEqual(
            self.client.post(
                reverse("casualtyfigure-list"), new_claim, content_type="application/json"
            ).status_code,
            409,
        )
        self.as_user(self.maintainer)
        self.assertEqual(self.client.delete(claim_url).status_code, 409)
        self.assertEqual(self.public_view("clash").json(), self.published)

    def test_moving_a_claim_into_a_published_incident_is_refused(self):
        draft = make_incident(slug="draft", status="draft")
        claim = add_figure(draft, self.wire, group="unknown")
        self.as_user(self.alice)
        url = reverse("casualtyfigure-detail", kwargs={"pk": claim.pk})
        self.assertEqual(
            self.client.patch(url, {"incident": "clash"}, content_type="application/json").status_code, 409
        )
        self.assertEqual(CasualtyFigure.objects.get(pk=claim.pk).incident, draft)

    def test_revise_gives_a_draft_copy_and_the_same_one_again(self):
        first = self.revise(self.alice)
        self.assertEqual(first.status_code, 201)
        revision = first.json()
        self.assertEqual(first["Location"], self.url("clash--revision"))
        self.assertEqual(
            (revision["slug"], revision["status"], revision["revision_of"]),
            ("clash--revision", "draft", "clash"),
        )
        for field in ("title", "event_type", "start_date", "location", "summary", "sources", "totals"):
            self.assertEqual(revision[field], self.published[field], field)
        self.assertEqual(
            [(c["group"], c["best"], c["quote"]) for c in revision["casualty_figures"]],
            [(c["group"], c["best"], c["quote"]) for c in self.published["casualty_figures"]],
        )
        self.assertEqual(revision["actors"], self.published["actors"])
        again = self.revise(self.bob)
        self.assertEqual((again.status_code, again.json()["slug"]), (200, "clash--revision"))
        self.assertEqual(Incident.objects.filter(revision_of=self.incident).count(), 1)

    def test_the_public_sees_neither_the_revision_nor_that_one_is_pending(self):
        self.revise(self.alice)
        self.as_user(self.alice)
        self.assertEqual(self.client.get(self.url("clash")).json()["pending_revision"], "clash--revision")
        public = self.public_view("clash")
        self.assertEqual(public.json(), self.published)
        self.assertEqual(public.json()["pending_revision"], None)
        self.assertEqual(self.public_view("clash--revision").status_code, 404)
        listed = [i["slug"] for i in self.client.get(reverse("incident-list")).json()["results"]]
        self.assertEqual(listed, ["clash"])

    def test_only_a_published_incident_is_revised(self):
        make_incident(slug="draft", status="draft")
        response = self.step(self.alice, "draft", "revise")
        self.assertEqual(response.status_code, 409)
        self.assertIn("Only a published incident is revised", response.json()["status"][0])

    def test_the_public_keeps_the_published_version_until_the_change_is_reviewed_and_published(self):
        revision = self.revise(self.alice).json()
        by_quote = {c["quote"]: c for c in revision["casualty_figures"]}
        body = {
            "title": "Clash at the bridge",
            "casualty_figures": [
                # The soldiers' claim changes, the civilians' claim is dropped, a new claim comes in.
                {
                    "id": by_quote[self.soldiers.quote]["id"],
                    "outcome": "killed",
                    "group": "state_forces",
                    "low": 12,
                    "best": 14,
                    "qualifier": "at_least",
                    "source": "wire",
                    "quote": self.soldiers.quote,
                    "is_preferred": True,
                },
                {
                    "outcome": "killed",
                    "group": "unknown",
                    "low": 15,
                    "best": 15,
                    "qualifier": "exact",
                    "source": "wire",
                    "quote": "15 died",
                },
            ],
            "actors": [{"actor": "army", "role": "side_a", "note": "named by the ministry"}],
        }
        self.as_user(self.maintainer)  # removing a claim and a role takes the delete permission
        self.assertEqual(self.patch(self.maintainer, "clash--revision", body).status_code, 200)
        self.assertEqual(self.public_view("clash").json(), self.published)
        self.assertEqual(self.step(self.maintainer, "clash--revision", "review").status_code, 409)
        self.assertEqual(self.step(self.bob, "clash--revision", "review").status_code, 200)
        self.assertEqual(self.public_view("clash").json(), self.published)

        published = self.step(self.alice, "clash--revision", "publish")
        self.assertEqual(published.status_code, 200, published.content)
        self.assertEqual(published.json()["slug"], "clash")
        after = self.public_view("clash").json()
        self.assertEqual(
            (after["title"], after["status"], after["pending_revision"]),
            ("Clash at the bridge", "published", None),
        )
        claims = {c["group"]: c for c in after["casualty_figures"]}
        # In place: the changed claim keeps its id and uid, the dropped one is gone, the new one is new.
        self.assertEqual(
            (claims["state_forces"]["id"], claims["state_forces"]["uid"], claims["state_forces"]["best"]),
            (self.soldiers.pk, str(self.soldiers.uid), 14),
        )
        self.assertNotIn("civilians", claims)
        self.assertFalse(CasualtyFigure.objects.filter(pk=self.dozens.pk).exists())
        self.assertEqual(claims["unknown"]["best"], 15)
        self.assertEqual(
            [(a["actor"]["slug"], a["role"], a["note"]) for a in after["actors"]],
            [("army", "side_a", "named by the ministry")],
        )
        self.assertEqual(IncidentActor.objects.get(incident=self.incident, role="side_a").pk, self.side_a.pk)
        self.assertEqual(after["totals"]["killed"], {"low": 27, "best": 29, "high": None})
        incident = Incident.objects.get(slug="clash")
        self.assertEqual((incident.reviewed_by, incident.last_edited_by), (self.bob, self.maintainer))
        # The revision is gone, and says where it went, to editors only.
        self.assertFalse(Incident.objects.filter(slug="clash--revision").exists())
        self.assertEqual(IncidentTombstone.objects.get(slug="clash--revision").merged_into, incident)
        self.assertEqual(self.public_view("clash--revision").status_code, 404)
        self.as_user(self.alice)
        self.assertEqual(self.client.get(self.url("clash--revision")).status_code, 410)
        # The history tables hold the published version before the change.
        self.assertEqual(incident.history.filter(title="Clash", status="published").count(), 1)

    def test_the_preferred_mark_moves_between_claims_when_the_revision_is_applied(self):
        other = add_figure(self.incident, self.wire, group="state_forces", low=10, best=10, quote="15 died")
        revision = self.revise(self.alice).json()
        by_quote = {c["quote"]: c for c in revision["casualty_figures"]}
        figures = [
            {
                **{
                    k: by_quote[q][k] for k in ("id", "outcome", "group", "low", "best", "qualifier", "quote")
                },
                "source": "wire",
                "is_preferred": q == "15 died",
            }
            for q in (self.soldiers.quote, "15 died", "Dozens died")
        ]
        self.assertEqual(
            self.patch(self.alice, "clash--revision", {"casualty_figures": figures}).status_code, 200
        )
        self.step(self.bob, "clash--revision", "review")
        self.assertEqual(self.step(self.bob, "clash--revision", "publish").status_code, 200)
        self.assertEqual(
            set(CasualtyFigure.objects.filter(incident=self.incident, is_preferred=True)), {other}
        )

    def test_a_revision_of_an_incident_retracted_meanwhile_is_not_applied(self):
        self.revise(self.alice)
        self.patch(self.alice, "clash--revision", {"title": "Changed"})
        self.step(self.bob, "clash--revision", "review")
        self.assertEqual(self.step(self.bob, "clash", "retract", reason="Duplicate.").status_code, 200)
        response = self.step(self.bob, "clash--revision", "publish")
        self.assertEqual(response.status_code, 409)
        self.assertIn("no longer published", response.json()["revision_of"][0])
        self.assertEqual(Incident.objects.get(slug="clash").title, "Clash")

    def test_a_revision_and_its_incident_are_not_merged(self):
        self.revise(self.alice)
        other = make_incident(slug="other")
        self.as_user(self.maintainer)
        for slug, into in (("other", "clash"), ("clash", "other"), ("clash--revision", "other")):
            response = self.client.post(
                self.url(slug, "merge"), {"into": into}, content_type="application/json"
            )
            self.assertEqual(response.status_code, 409, (slug, into))
        self.assertTrue(Incident.objects.filter(pk=other.pk).exists())

    def test_deleting_the_published_incident_deletes_its_revision(self):
        self.revise(self.alice)
        self.as_user(self.maintainer)
        self.assertEqual(self.client.delete(self.url("clash")).status_code, 204)
        self.assertFalse(Incident.objects.filter(slug__startswith="clash").exists())

    def test_retracting_a_published_incident_needs_no_revision(self):
        self.assertEqual(self.step(self.alice, "clash", "retract", reason="Fabricated.").status_code, 200)
        self.assertEqual(self.public_view("clash").status_code, 404)


class OutsideFindingsTests(ReviewTestCase):
    """What an outside pass over real HTTP found in the first version of these rules."""

    def setUp(self):
        self.draft = make_incident(slug="draft", title="Draft", status="draft", last_edited_by=self.alice)
        self.claim = add_figure(self.draft, self.wire)

    def test_a_write_that_changes_nothing_does_not_make_its_sender_the_author(self):
        self.assertEqual(self.patch(self.bob, "draft", {}).status_code, 200)
        self.assertEqual(self.patch(self.bob, "draft", {"title": "Draft"}).status_code, 200)
        self.as_user(self.bob)
        url = reverse("casualtyfigure-detail", kwargs={"pk": self.claim.pk})
        self.assertEqual(
            self.client.patch(url, {"low": 12}, content_type="application/json").status_code, 200
        )
        self.assertEqual(Incident.objects.get(slug="draft").last_edited_by, self.alice)
        self.assertEqual(self.step(self.alice, "draft", "review").status_code, 409)
        # Nor does it write an empty history entry.
        self.assertEqual(Incident.objects.get(slug="draft").history.count(), 1)

    def test_public_history_names_no_user_and_no_draft(self):
        incident = make_incident(slug="clash", status="draft", last_edited_by=self.alice)
        self.patch(self.maintainer, "clash", {"title": "Clash (corrected)"})
        self.step(self.maintainer, "clash", "review", override_reason="Ali is away.")
        self.step(self.bob, "clash", "publish")
        self.step(self.bob, "clash", "revise")
        self.client.logout()
        body = self.client.get(self.url("clash", "history")).content.decode()
        for leak in (
            "last_edited_by",
            "revision_of",
            "review_override_reason",
            "Ali is away",
            "clash--revision",
        ):
            self.assertNotIn(leak, body)
        self.assertTrue(Incident.objects.filter(revision_of=incident).exists())

    def test_unreviewed_content_is_not_merged_into_a_published_incident(self):
        published = make_incident(slug="published")
        self.as_user(self.maintainer)
        response = self.client.post(
            self.url("draft", "merge"), {"into": "published"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 409)
        self.assertIn("revise", response.json()["into"][0])
        self.assertEqual(published.casualty_figures.count(), 0)
        # A published duplicate may be merged into a published incident: both were reviewed.
        duplicate = make_incident(slug="duplicate")
        add_figure(duplicate, self.wire)
        merged = self.client.post(
            self.url("duplicate", "merge"), {"into": "published"}, content_type="application/json"
        )
        self.assertEqual(merged.status_code, 200, merged.content)
        self.assertEqual(published.casualty_figures.count(), 1)

    def test_a_merge_into_a_reviewed_incident_sends_it_back_to_draft(self):
        reviewed = make_incident(
            slug="reviewed", status="reviewed", reviewed_by=self.bob, last_edited_by=self.alice
        )
        self.as_user(self.maintainer)
        response = self.client.post(
            self.url("draft", "merge"), {"into": "reviewed"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 200)
        reviewed.refresh_from_db()
        self.assertEqual(
            (reviewed.status, reviewed.reviewed_by, reviewed.last_edited_by), ("draft", None, self.maintainer)
        )

    def test_deleting_a_published_incident_whose_revision_has_a_child_is_refused(self):
        make_incident(slug="published")
        self.step(self.alice, "published", "revise")
        self.patch(self.alice, "draft", {"parent": "published--revision"})
        self.as_user(self.maintainer)
        response = self.client.delete(self.url("published"))
        self.assertEqual(response.status_code, 409)
        self.assertIn("child incidents", response.json()["detail"])
        self.assertTrue(Incident.objects.filter(slug="published--revision").exists())

    def test_deleting_a_published_incident_leaves_its_revision_a_tombstone(self):
        make_incident(slug="published")
        self.step(self.alice, "published", "revise")
        self.as_user(self.maintainer)
        self.assertEqual(self.client.delete(self.url("published")).status_code, 204)
        self.assertEqual(self.client.get(self.url("published--revision")).status_code, 410)
        self.assertEqual(self.public_view("published--revision").status_code, 404)

    def test_a_revision_older_than_its_incident_is_not_applied(self):
        make_incident(slug="published", title="Original")
        self.step(self.alice, "published", "revise")
        self.patch(self.alice, "published--revision", {"title": "Stale"})
        self.step(self.bob, "published--revision", "review")
        self.step(self.bob, "published", "retract", reason="Checking.")
        self.step(self.bob, "published", "reopen")
        self.patch(self.alice, "published", {"title": "Newer"})
        self.step(self.bob, "published", "review")
        self.step(self.bob, "published", "publish")
        response = self.step(self.bob, "published--revision", "publish")
        self.assertEqual(response.status_code, 409)
        self.assertIn("has changed since the revision was made", response.json()["revision_of"][0])
        self.assertEqual(self.public_view("published").json()["title"], "Newer")

    def test_a_parent_cycle_is_a_400_naming_parent(self):
        child = make_incident(slug="child", status="draft", parent=self.draft)
        for parent in ("draft", "child"):
            response = self.patch(self.alice, "draft", {"parent": parent})
            self.assertEqual(response.status_code, 400, parent)
            self.assertIn("own parent", response.json()["parent"][0])
        child.refresh_from_db()
        self.assertEqual(Incident.objects.get(slug="draft").parent, None)

    def test_a_revision_that_would_make_its_incident_a_childs_child_is_not_applied(self):
        published = make_incident(slug="published")
        make_incident(slug="child", parent=published)
        self.step(self.alice, "published", "revise")
        self.assertEqual(self.patch(self.alice, "published--revision", {"parent": "child"}).status_code, 200)
        self.step(self.bob, "published--revision", "review")
        response = self.step(self.bob, "published--revision", "publish")
        self.assertEqual(response.status_code, 409)
        self.assertIn("parent", response.json())
        published.refresh_from_db()
        self.assertIsNone(published.parent)

    def test_moving_a_claim_to_another_incident_needs_the_delete_permission(self):
        other = make_incident(slug="other", status="draft")
        url = reverse("casualtyfigure-detail", kwargs={"pk": self.claim.pk})
        self.as_user(self.alice)
        refused = self.client.patch(url, {"incident": "other"}, content_type="application/json")
        self.assertEqual(refused.status_code, 403)
        self.assertIn("incident", refused.json())
        self.as_user(self.maintainer)
        self.assertEqual(
            self.client.patch(url, {"incident": "other"}, content_type="application/json").status_code, 200
        )
        self.assertEqual(CasualtyFigure.objects.get(pk=self.claim.pk).incident, other)

    def test_reopening_clears_the_earlier_review(self):
        incident = make_incident(
            slug="clash", status="retracted", retraction_reason="x", reviewed_by=self.bob
        )
        self.assertEqual(self.step(self.alice, "clash", "reopen").status_code, 200)
        incident.refresh_from_db()
        self.assertEqual((incident.status, incident.reviewed_by, incident.reviewed_at), ("draft", None, None))

    def test_revise_honours_if_match(self):
        make_incident(slug="published")
        self.as_user(self.alice)
        response = self.client.post(self.url("published", "revise"), HTTP_IF_MATCH='"stale"')
        self.assertEqual(response.status_code, 412)
        self.assertFalse(Incident.objects.filter(slug="published--revision").exists())


class SourceTextKeepsItsQuotesTests(ReviewTestCase):
    def setUp(self):
        self.claim = add_figure(make_incident(slug="clash"), self.wire)
        self.url_ = reverse("source-detail", kwargs={"slug": "wire"})

    def test_an_edit_that_removes_a_quoted_passage_is_a_400_naming_text(self):
        self.as_user(self.alice)
        response = self.client.patch(
            self.url_, {"text": "Nobody was killed."}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn(f"claim ids {self.claim.pk}", response.json()["text"][0])
        self.assertEqual(self.client.get(self.url_).json()["text"], TEXT)

    def test_an_edit_that_keeps_the_passages_is_accepted(self):
        self.as_user(self.alice)
        response = self.client.patch(
            self.url_, {"text": TEXT + " Later: more."}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 200)

    def test_the_admin_refuses_it_too(self):
        staff = User.objects.create_user("staffer", is_staff=True)
        staff.groups.add(Group.objects.get(name="editors"))
        self.client.force_login(staff)
        source = self.wire
        url = reverse("admin:incidents_source_change", args=[source.pk])
        data = {
            "slug": "wire",
            "title": source.title,
            "language": "en",
            "kind": source.kind,
            "published_on_precision": "day",
            "text": "Nobody was killed.",
        }
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "would no longer contain")


class RevisionSlugTests(ReviewTestCase):
    def test_long_slugs_get_revisions_of_their_own(self):
        base = "x" * 195
        for suffix in ("a", "b"):
            make_incident(slug=base + suffix)
            response = self.step(self.alice, base + suffix, "revise")
            self.assertEqual(response.status_code, 201, response.content)
            self.assertTrue(response.json()["slug"].endswith("--revision"))
            self.assertLessEqual(len(response.json()["slug"]), 200)
        self.assertEqual(Incident.objects.filter(revision_of__isnull=False).count(), 2)

    def test_a_revision_slug_cannot_be_taken_by_another_incident(self):
        make_incident(slug="clash")
        self.as_user(self.alice)
        body = {
            "slug": "clash--revision",
            "title": "Squat",
            "event_type": "battles",
            "sub_event_type": "armed_clash",
            "start_date": "2026-01-05",
            "end_date": "2026-01-05",
            "date_precision": "day",
        }
        response = self.client.post(reverse("incident-list"), body, content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertIn("slug", response.json())
        self.assertEqual(self.step(self.alice, "clash", "revise").status_code, 201)
