"""What a deleted incident's URL tells the public (docs/api.md, "History, deletion and merging"): a
410 only for an incident the public could see when it was deleted; otherwise the same 404 as a
slug never used. merged_into names the survivor only if the public may see it. Editors get 410s."""

from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse

from incidents import workflow
from incidents.models import Incident
from tests.factories import make_incident


def detail(slug):
    return reverse("incident-detail", kwargs={"slug": slug})


class PublicTombstoneTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.maintainer = User.objects.create_user("maintainer")
        cls.maintainer.groups.add(Group.objects.get(name="maintainers"))
        cls.editor = User.objects.create_user("editor")
        cls.editor.groups.add(Group.objects.get(name="editors"))

    def delete(self, status, slug="gone", **fields):
        if status == "retracted":
            fields["retraction_reason"] = "A duplicate."
        workflow.delete(make_incident(slug=slug, status=status, **fields), self.maintainer)

    def never_used(self):
        response = self.client.get(detail("never-used"))
        self.assertEqual(response.status_code, 404)
        return response.json()

    def test_a_deleted_unpublished_incident_answers_the_public_like_a_slug_never_used(self):
        for status in ("draft", "reviewed", "retracted"):
            with self.subTest(status=status):
                self.delete(status, slug=f"gone-{status}")
                for url in (
                    detail(f"gone-{status}"),
                    reverse("incident-history", kwargs={"slug": f"gone-{status}"}),
                ):
                    response = self.client.get(url)
                    self.assertEqual(response.status_code, 404)
                    self.assertEqual(response.json(), self.never_used())

    def test_a_deleted_published_incident_answers_the_public_410(self):
        self.delete("published")
        response = self.client.get(detail("gone"))
        self.assertEqual(response.status_code, 410)
        self.assertEqual(set(response.json()), {"detail", "deleted_at", "merged_into"})
        self.assertIsNone(response.json()["merged_into"])

    def test_editors_get_the_410_of_every_tombstone(self):
        self.delete("draft")
        self.client.force_login(self.editor)
        response = self.client.get(detail("gone"))
        self.assertEqual(response.status_code, 410)
        self.assertEqual(
            self.client.patch(detail("gone"), {"title": "x"}, content_type="application/json").status_code,
            410,
        )

    def test_the_last_deletion_of_a_slug_decides(self):
        self.delete("published")
        self.delete("draft")  # the slug used again, by a draft, deleted too
        self.assertEqual(self.client.get(detail("gone")).status_code, 404)

    def test_merged_into_names_the_survivor_only_if_the_public_may_see_it(self):
        draft_survivor = make_incident(slug="draft-survivor", status="draft")
        public_survivor = make_incident(slug="public-survivor")
        workflow.merge(make_incident(slug="into-draft"), draft_survivor, self.maintainer)
        workflow.merge(make_incident(slug="into-public"), public_survivor, self.maintainer)
        # A draft is merged into a draft (never into a published incident: that would skip
        # review), which is published afterwards.
        later_public = make_incident(slug="later-public", status="draft")
        workflow.merge(make_incident(slug="draft-into-public", status="draft"), later_public, self.maintainer)
        Incident.objects.filter(pk=later_public.pk).update(status="published")

        into_draft = self.client.get(detail("into-draft"))
        self.assertEqual(into_draft.status_code, 410)
        self.assertIsNone(into_draft.json()["merged_into"])
        into_public = self.client.get(detail("into-public"))
        self.assertTrue(into_public.json()["merged_into"].endswith("/api/v1/incidents/public-survivor/"))
        self.assertEqual(self.client.get(detail("draft-into-public")).status_code, 404)

        self.client.force_login(self.editor)
        for slug, survivor in (("into-draft", "draft-survivor"), ("draft-into-public", "later-public")):
            with self.subTest(slug=slug):
                response = self.client.get(detail(slug))
                self.assertEqual(response.status_code, 410)
                self.assertTrue(response.json()["merged_into"].endswith(f"/api/v1/incidents/{survivor}/"))
