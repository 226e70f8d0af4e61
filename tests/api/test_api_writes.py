"""Writes through the API: who may write (anonymous writes refused), validation, nested atomic
writes, ETags, workflow steps, history, tombstones and merges."""

from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse
from rest_framework.authtoken.models import Token

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Source
from tests.factories import add_figure, make_actor, make_incident, make_location, make_source

LIST_URL = reverse("incident-list")
TEXT = "The ministry said at least 12 soldiers were killed. Dozens died, witnesses said."


def editor(name="editor", group="editors"):
    user = User.objects.create_user(name, password="x")
    user.groups.add(Group.objects.get(name=group))
    return user


def incident_payload(**overrides):
    payload = {
        "slug": "new-clash",
        "title": "New clash",
        "event_type": "battles",
        "sub_event_type": "armed_clash",
        "start_date": "2012-07-24",
        "end_date": "2012-07-24",
        "date_precision": "day",
        "location": "khorugh",
        "sources": ["wire"],
        "actors": [{"actor": "army", "role": "side_a"}, {"actor": "rebels", "role": "side_b"}],
        "casualty_figures": [
            {
                "outcome": "killed",
                "group": "state_forces",
                "actor": "army",
                "low": 12,
                "qualifier": "at_least",
                "wording": "at least 12 soldiers",
                "claimed_by": "army",
                "source": "wire",
                "quote": "at least 12 soldiers were killed",
            }
        ],
    }
    payload.update(overrides)
    return payload


class WriteTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_source(slug="wire", text=TEXT)
        make_location(slug="khorugh")
        make_actor(slug="army", kind="state_forces")
        make_actor(slug="rebels")
        cls.editor = editor()
        cls.token = Token.objects.create(user=cls.editor)

    def as_editor(self):
        self.client.defaults["HTTP_AUTHORIZATION"] = f"Token {self.token.key}"

    def post(self, url, data):
        return self.client.post(url, data, content_type="application/json")


class PermissionTests(WriteTestCase):
    def test_anonymous_writes_get_401_and_change_nothing(self):
        response = self.post(LIST_URL, incident_payload())
        self.assertEqual(response.status_code, 401)
        self.assertFalse(Incident.objects.exists())
        incident = make_incident(slug="kept", title="Kept")
        detail = reverse("incident-detail", kwargs={"slug": "kept"})
        payload = {"slug": "new", "title": "New"}
        for method, url in (
            ("post", LIST_URL),
            ("put", detail),
            ("patch", detail),
            ("delete", detail),
        ):
            with self.subTest(method=method):
                response = getattr(self.client, method)(url, payload, content_type="application/json")
                self.assertIn(response.status_code, (401, 403))
        incident.refresh_from_db()
        self.assertEqual(incident.title, "Kept")
        self.assertEqual(Incident.objects.count(), 1)

    def test_users_without_permission_get_403(self):
        self.client.force_login(User.objects.create_user("reader"))
        response = self.post(LIST_URL, incident_payload())
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Incident.objects.exists())

    def test_editors_cannot_delete_but_maintainers_can(self):
        incident = make_incident(slug="gone-soon")
        url = reverse("incident-detail", kwargs={"slug": "gone-soon"})
        self.as_editor()
        self.assertEqual(self.client.delete(url).status_code, 403)
        self.client.defaults.pop("HTTP_AUTHORIZATION")
        self.client.force_login(editor("maintainer", group="maintainers"))
        self.assertEqual(self.client.delete(url).status_code, 204)
        self.assertFalse(Incident.objects.filter(pk=incident.pk).exists())


class NestedWriteTests(WriteTestCase):
    def test_incident_with_actors_and_figures_in_one_request(self):
        self.as_editor()
        response = self.post(LIST_URL, incident_payload())
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(body["status"], "draft")
        self.assertEqual(body["totals"]["killed"], {"low": 12, "best": 12, "high": None})
        self.assertEqual({a["actor"]["slug"] for a in body["actors"]}, {"army", "rebels"})
        self.assertIn("ETag", response)

    def test_a_bad_nested_figure_writes_nothing(self):
        self.as_editor()
        bad = incident_payload()
        bad["casualty_figures"][0].update(low=20, best=10)
        response = self.post(LIST_URL, bad)
        self.assertEqual(response.status_code, 400)
        self.assertIn("casualty_figures", response.json())
        self.assertFalse(Incident.objects.exists())
        self.assertFalse(CasualtyFigure.objects.exists())

    def test_model_constraints_are_400s_naming_the_field(self):
        self.as_editor()
        cases = {
            "end_date": incident_payload(end_date="2012-07-01"),
            "sub_event_type": incident_payload(sub_event_type="peaceful_protest"),
            "location": incident_payload(location="nowhere"),
            "actors": incident_payload(actors=[{"actor": "army", "role": "side_a"}] * 2),
        }
        for field, payload in cases.items():
            with self.subTest(field=field):
                response = self.post(LIST_URL, payload)
                self.assertEqual(response.status_code, 400)
                # Constraints across several fields are reported as non-field errors.
                expected = "non_field_errors" if field in ("end_date", "sub_event_type") else field
                self.assertIn(expected, response.json())
        make_incident(slug="new-clash")
        response = self.post(LIST_URL, incident_payload())
        self.assertEqual(response.status_code, 400)
        self.assertIn("slug", response.json())
        self.assertEqual(Incident.objects.count(), 1)

    def test_a_quote_missing_from_its_source_is_refused(self):
        self.as_editor()
        payload = incident_payload()
        payload["casualty_figures"][0]["quote"] = "at least 99 soldiers were killed"
        response = self.post(LIST_URL, payload)
        self.assertEqual(response.status_code, 400)
        # DRF names a nested list item by its index.
        self.assertIn("quote", response.json()["casualty_figures"]["0"])
        self.assertFalse(Incident.objects.exists())

    def test_patch_updates_figures_in_place_and_refreshes_totals(self):
        self.as_editor()
        created = self.post(LIST_URL, incident_payload()).json()
        url = reverse("incident-detail", kwargs={"slug": "new-clash"})
        figures = incident_payload()["casualty_figures"]
        # A claim named by its id is updated in place (tests/api/test_nested_writes.py).
        figures[0].update(
            id=created["casualty_figures"][0]["id"],
            low=None,
            best=None,
            qualifier="vague",
            wording="Dozens",
            quote="Dozens died",
        )
        response = self.client.patch(url, {"casualty_figures": figures}, content_type="application/json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["totals"]["killed"]["low"], None)
        self.assertEqual(response.json()["casualty_figures"][0]["uid"], created["casualty_figures"][0]["uid"])
        self.assertEqual(CasualtyFigure.objects.count(), 1)
        self.assertEqual(IncidentActor.objects.count(), 2)

    def test_actor_aliases_must_be_a_list_of_strings(self):
        self.as_editor()
        url = reverse("actor-list")
        response = self.post(url, {"slug": "x", "name": "X", "kind": "person", "aliases": {"a": 1}})
        self.assertEqual(response.status_code, 400)
        self.assertIn("aliases", response.json())
        response = self.post(url, {"slug": "x", "name": "X", "kind": "person", "country": "XX"})
        self.assertIn("country", response.json())
        self.assertFalse(Actor.objects.filter(slug="x").exists())

    def test_standalone_figure_write_checks_preference_and_refreshes_totals(self):
        # A draft: a published incident's claims are changed through a revision.
        incident = make_incident(slug="target", status="draft")
        source = Source.objects.get(slug="wire")
        add_figure(incident, source, is_preferred=True)
        self.as_editor()
        payload = {
            "incident": "target",
            "outcome": "killed",
            "group": "state_forces",
            "low": 20,
            "qualifier": "at_least",
            "source": "wire",
            "quote": "at least 12 soldiers were killed",
            "is_preferred": True,
        }
        response = self.post(reverse("casualtyfigure-list"), payload)
        self.assertEqual(response.status_code, 400)
        self.assertIn("non_field_errors", response.json())
        payload["is_preferred"] = False
        self.assertEqual(self.post(reverse("casualtyfigure-list"), payload).status_code, 201)
        incident.refresh_from_db()
        self.assertEqual(incident.killed_low, 12)


class ConcurrencyTests(WriteTestCase):
    def test_stale_if_match_gets_412_and_changes_nothing(self):
        # A draft, which only editors see: a published incident is changed through a revision.
        make_incident(slug="shared", title="Original", status="draft")
        url = reverse("incident-detail", kwargs={"slug": "shared"})
        self.as_editor()
        etag = self.client.get(url)["ETag"]
        first = self.client.patch(
            url, {"title": "First edit"}, content_type="application/json", HTTP_IF_MATCH=etag
        )
        self.assertEqual(first.status_code, 200)
        self.assertNotEqual(first["ETag"], etag)
        second = self.client.patch(
            url, {"title": "Second edit"}, content_type="application/json", HTTP_IF_MATCH=etag
        )
        self.assertEqual(second.status_code, 412)
        self.assertEqual(Incident.objects.get(slug="shared").title, "First edit")
        third = self.client.patch(
            url, {"title": "Second edit"}, content_type="application/json", HTTP_IF_MATCH=first["ETag"]
        )
        self.assertEqual(third.status_code, 200)


class WorkflowTests(WriteTestCase):
    def action(self, slug, name, data=None):
        return self.post(reverse(f"incident-{name}", kwargs={"slug": slug}), data or {})

    def test_draft_reviewed_published_and_the_public_view(self):
        make_incident(slug="flow", status="draft")
        detail = reverse("incident-detail", kwargs={"slug": "flow"})
        self.assertEqual(self.client.get(detail).status_code, 404)
        self.as_editor()
        self.assertEqual(self.client.get(detail).json()["status"], "draft")
        self.assertEqual(self.action("flow", "publish").status_code, 409)
        reviewed = self.action("flow", "review")
        self.assertEqual(reviewed.json()["status"], "reviewed")
        incident = Incident.objects.get(slug="flow")
        self.assertEqual((incident.reviewed_by, incident.reviewed_at is not None), (self.editor, True))
        self.assertEqual(self.action("flow", "publish").json()["status"], "published")
        self.client.defaults.pop("HTTP_AUTHORIZATION")
        self.assertEqual(self.client.get(detail).status_code, 200)

    def test_retraction_needs_a_reason_and_hides_from_the_public(self):
        incident = make_incident(slug="wrong")
        add_figure(incident, make_source())
        self.as_editor()
        self.assertEqual(self.action("wrong", "retract").status_code, 400)
        response = self.action("wrong", "retract", {"reason": "Duplicate of another report."})
        self.assertEqual(response.json()["retraction_reason"], "Duplicate of another report.")
        self.assertEqual(len(self.client.get(LIST_URL, {"status": "retracted"}).json()["results"]), 1)
        self.client.defaults.pop("HTTP_AUTHORIZATION")
        self.assertEqual(self.client.get(LIST_URL).json()["count"], 0)
        self.assertEqual(self.client.get(reverse("casualtyfigure-list")).json()["count"], 0)

    def test_anonymous_cannot_move_the_workflow(self):
        make_incident(slug="flow", status="draft")
        self.assertEqual(self.action("flow", "review").status_code, 401)


class HistoryAndTombstoneTests(WriteTestCase):
    def test_history_lists_who_changed_what(self):
        self.as_editor()
        self.post(LIST_URL, incident_payload())
        url = reverse("incident-detail", kwargs={"slug": "new-clash"})
        self.client.patch(url, {"title": "Renamed clash"}, content_type="application/json")
        history = self.client.get(reverse("incident-history", kwargs={"slug": "new-clash"})).json()
        change = next(e for e in history if e["record"] == "incident" and e["action"] == "changed")
        self.assertEqual(change["by"], "editor")
        self.assertIn({"field": "title", "old": "New clash", "new": "Renamed clash"}, change["changes"])
        self.assertTrue(any(e["record"] == "casualty_figure" and e["action"] == "created" for e in history))

    def test_deleted_incident_answers_410_with_when(self):
        make_incident(slug="doomed")
        self.client.force_login(editor("maintainer", group="maintainers"))
        self.client.delete(reverse("incident-detail", kwargs={"slug": "doomed"}))
        response = self.client.get(reverse("incident-detail", kwargs={"slug": "doomed"}))
        self.assertEqual(response.status_code, 410)
        self.assertIn("deleted_at", response.json())
        self.assertIsNone(response.json()["merged_into"])

    def test_merge_moves_everything_and_links_from_the_tombstone(self):
        source = Source.objects.get(slug="wire")
        keep = make_incident(slug="keep")
        dupe = make_incident(slug="dupe")
        add_figure(dupe, source, quote="at least 12 soldiers were killed")
        self.client.force_login(editor("maintainer", group="maintainers"))
        response = self.post(reverse("incident-merge", kwargs={"slug": "dupe"}), {"into": "keep"})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["totals"]["killed"]["low"], 12)
        gone = self.client.get(reverse("incident-detail", kwargs={"slug": "dupe"}))
        self.assertEqual(gone.status_code, 410)
        self.assertTrue(gone.json()["merged_into"].endswith("/api/v1/incidents/keep/"))
        self.assertEqual(keep.casualty_figures.count(), 1)

    def test_editors_cannot_merge(self):
        make_incident(slug="a")
        make_incident(slug="b")
        self.as_editor()
        self.assertEqual(
            self.post(reverse("incident-merge", kwargs={"slug": "a"}), {"into": "b"}).status_code, 403
        )
        self.assertEqual(Incident.objects.count(), 2)
