"""The public change history names no editor and lists no derived field (docs/security.md)."""

import json

from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse
from rest_framework.authtoken.models import Token

from incidents import workflow
from incidents.history import ROLES, incident_history, record_load_in_history
from incidents.models import Incident
from tests.factories import add_figure, make_incident, make_source

DERIVED = {
    "search_document",
    "updated_at",
    "created_at",
    "reviewed_by",
    "reviewed_at",
    "counts_in_total",
    *(f"{o}_{b}" for o in ("killed", "wounded", "detained", "missing") for b in ("low", "best", "high")),
}


def member(name, group):
    user = User.objects.create_user(name, password=None)
    user.groups.add(Group.objects.get(name=group))
    return user


class HistoryPrivacyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.eve = member("eve", "editors")
        cls.max = member("max-the-maintainer", "maintainers")
        cls.ian = member("ian-the-reviewer", "editors")
        cls.token = Token.objects.create(user=cls.eve)
        source = make_source(text="The ministry said at least 12 soldiers were killed, later 15 soldiers.")
        cls.incident = make_incident(slug="khorugh-clash", title="Clash", status="draft")
        cls.figure = add_figure(cls.incident, source)
        cls.url = reverse("incident-history", kwargs={"slug": "khorugh-clash"})

    def edit_as_eve(self):
        """Changes as an editor through the API (the request's user is recorded), then review
        by a second editor, publish by the maintainer and an import, as the workflow records them."""
        auth = {"HTTP_AUTHORIZATION": f"Token {self.token.key}"}
        detail = reverse("incident-detail", kwargs={"slug": "khorugh-clash"})
        etag = self.client.get(detail, **auth)["ETag"]
        response = self.client.patch(
            detail, {"title": "Clash in Khorugh"}, content_type="application/json", HTTP_IF_MATCH=etag, **auth
        )
        self.assertEqual(response.status_code, 200, response.content)
        claim = reverse("casualtyfigure-detail", kwargs={"pk": self.figure.pk})
        etag = self.client.get(claim, **auth)["ETag"]
        response = self.client.patch(
            claim, {"low": 15, "best": 15}, content_type="application/json", HTTP_IF_MATCH=etag, **auth
        )
        self.assertEqual(response.status_code, 200, response.content)
        incident = Incident.objects.get(pk=self.incident.pk)
        workflow.review(incident, self.ian)
        workflow.publish(Incident.objects.get(pk=self.incident.pk), self.max)
        record_load_in_history([(Incident, self.incident.pk)], "import_ucdp: ged251.csv")

    def test_the_public_sees_roles_never_names_or_user_ids(self):
        self.edit_as_eve()
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        text = response.content.decode()
        for secret in ("eve", "max-the-maintainer", "ian-the-reviewer", "reviewed_by", "last_edited_by"):
            self.assertNotIn(secret, text)
        entries = response.json()
        self.assertTrue({e["by"] for e in entries} <= set(ROLES), {e["by"] for e in entries})
        by_change = {(e["record"], c["field"]): e["by"] for e in entries for c in e["changes"]}
        self.assertEqual(by_change[("incident", "title")], "editor")
        self.assertEqual(by_change[("casualty_figure", "low")], "editor")
        status_changes = [
            (c["new"], e["by"]) for e in entries for c in e["changes"] if c["field"] == "status"
        ]
        self.assertIn(("reviewed", "editor"), status_changes)
        self.assertIn(("published", "maintainer"), status_changes)
        self.assertIn("import", {e["by"] for e in entries if e["reason"].startswith("import_ucdp")})

    def test_no_user_id_of_any_kind_in_the_public_answer(self):
        self.edit_as_eve()
        for entry in self.client.get(self.url).json():
            for change in entry["changes"]:
                self.assertNotIn(change["field"], {"reviewed_by", "history_user"})
            self.assertNotIn("history_user", json.dumps(entry))

    def test_derived_fields_are_not_listed_as_changes(self):
        self.edit_as_eve()
        fields = {
            c["field"] for e in incident_history(self.incident.pk, show_names=True) for c in e["changes"]
        }
        self.assertIn("title", fields)
        self.assertIn("low", fields)
        self.assertFalse(fields & DERIVED, fields & DERIVED)

    def test_editors_are_named_to_editors(self):
        self.edit_as_eve()
        entries = incident_history(self.incident.pk, show_names=True)
        named = {(c["field"], e["by"], e["role"]) for e in entries for c in e["changes"]}
        self.assertIn(("title", "eve", "editor"), named)
        self.assertIn(("status", "max-the-maintainer", "maintainer"), named)

    def test_names_are_hidden_unless_asked_for(self):
        self.edit_as_eve()
        self.assertNotIn("eve", json.dumps(incident_history(self.incident.pk), default=str))

    def test_a_superuser_is_a_maintainer_and_changes_without_a_user_are_the_system(self):
        root = User.objects.create_superuser("root-account", password=None)
        incident = Incident.objects.get(pk=self.incident.pk)
        incident.title = "By the superuser"
        incident._history_user = root
        incident.save()
        incident = Incident.objects.get(pk=self.incident.pk)
        incident.summary = "From a shell"
        incident.save()
        roles = {c["field"]: e["by"] for e in incident_history(self.incident.pk) for c in e["changes"]}
        self.assertEqual(roles["title"], "maintainer")
        self.assertEqual(roles["summary"], "system")

    def test_signed_in_editors_see_names_through_the_api(self):
        self.edit_as_eve()
        response = self.client.get(self.url, HTTP_AUTHORIZATION=f"Token {self.token.key}")
        self.assertIn("eve", {e["by"] for e in response.json()})
