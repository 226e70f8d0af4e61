"""Nested writes of an incident's actor roles and claims (docs/api.md, "Writing"): matched ones are
updated in place, new ones created, and removing one takes the delete permission of its model."""

from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse

from incidents.models import CasualtyFigure, Incident, IncidentActor
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_source

TEXT = "The ministry said at least 12 soldiers were killed. Dozens died, witnesses said."


def user_in(group, name=None):
    user = User.objects.create_user(name or group)
    user.groups.add(Group.objects.get(name=group))
    return user


def claim_body(claim, **changes):
    """What a client sends back for a stored claim: its id and the fields it writes."""
    body = {
        "id": claim.pk,
        "outcome": claim.outcome,
        "group": claim.group,
        "low": claim.low,
        "best": claim.best,
        "qualifier": claim.qualifier,
        "source": claim.source.slug,
        "quote": claim.quote,
        "is_preferred": claim.is_preferred,
    }
    body.update(changes)
    return body


class NestedWriteTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.editor = user_in("editors", "editor")
        cls.maintainer = user_in("maintainers", "maintainer")
        cls.wire = make_source(slug="wire", text=TEXT)
        cls.army = make_actor(slug="army", kind="state_forces")
        cls.rebels = make_actor(slug="rebels")

    def setUp(self):
        # A draft: a published incident is not written in place but through a revision
        # (incidents.workflow.revise), itself a draft written like this one.
        self.incident = make_incident(slug="clash", title="Clash", status="draft")
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
        self.url = reverse("incident-detail", kwargs={"slug": "clash"})

    def patch(self, body, user=None):
        self.client.force_login(user or self.editor)
        return self.client.patch(self.url, body, content_type="application/json")

    def claims(self):
        return {c.pk: c for c in CasualtyFigure.objects.filter(incident=self.incident)}


class RemovingNeedsTheDeletePermissionTests(NestedWriteTestCase):
    def test_an_editor_cannot_empty_the_claims_nothing_is_written(self):
        before = self.claims()
        response = self.patch({"title": "Renamed", "casualty_figures": []})
        self.assertEqual(response.status_code, 403, response.content)
        self.assertEqual(list(response.json()), ["casualty_figures"])
        self.assertIn("permission", response.json()["casualty_figures"][0])
        self.assertEqual(set(self.claims()), set(before))
        self.assertEqual(Incident.objects.get(pk=self.incident.pk).title, "Clash")

    def test_as_the_single_claim_delete_is_refused(self):
        self.client.force_login(self.editor)
        url = reverse("casualtyfigure-detail", kwargs={"pk": self.soldiers.pk})
        self.assertEqual(self.client.delete(url).status_code, 403)

    def test_an_editor_cannot_leave_one_claim_out(self):
        response = self.patch({"casualty_figures": [claim_body(self.soldiers)]})
        self.assertEqual(response.status_code, 403, response.content)
        self.assertIn(f"id {self.dozens.pk}", response.json()["casualty_figures"][0])
        self.assertEqual(len(self.claims()), 2)

    def test_an_editor_cannot_remove_a_role(self):
        response = self.patch({"actors": [{"actor": "army", "role": "side_a"}]})
        self.assertEqual(response.status_code, 403, response.content)
        self.assertEqual(list(response.json()), ["actors"])
        self.assertIn("rebels as side_b", response.json()["actors"][0])
        self.assertEqual(IncidentActor.objects.filter(incident=self.incident).count(), 2)

    def test_without_claims_or_roles_in_the_body_nothing_is_removed(self):
        response = self.patch({"title": "Renamed"})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(len(self.claims()), 2)

    def test_a_maintainer_removes_claims_and_roles_and_history_says_deleted(self):
        response = self.patch(
            {
                "casualty_figures": [claim_body(self.soldiers)],
                "actors": [{"actor": "army", "role": "side_a"}],
            },
            user=self.maintainer,
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(set(self.claims()), {self.soldiers.pk})
        self.assertEqual(list(IncidentActor.objects.filter(incident=self.incident)), [self.side_a])
        history = self.client.get(reverse("incident-history", kwargs={"slug": "clash"})).json()
        deleted = {(e["record"], e["record_id"]) for e in history if e["action"] == "deleted"}
        self.assertEqual(deleted, {("casualty_figure", self.dozens.pk), ("actor_role", self.side_b.pk)})
        self.assertEqual(response.json()["totals"]["killed"]["low"], 12)

    def test_a_maintainer_empties_the_claims(self):
        response = self.patch({"casualty_figures": []}, user=self.maintainer)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(self.claims(), {})
        self.assertEqual(response.json()["totals"]["killed"]["low"], None)


class InPlaceTests(NestedWriteTestCase):
    def test_claims_named_by_id_keep_their_ids_and_uids(self):
        uids = {pk: claim.uid for pk, claim in self.claims().items()}
        response = self.patch(
            {"casualty_figures": [claim_body(self.soldiers, low=14, best=14), claim_body(self.dozens)]}
        )
        self.assertEqual(response.status_code, 200, response.content)
        served = {c["id"]: c for c in response.json()["casualty_figures"]}
        self.assertEqual(set(served), set(uids))
        self.assertEqual({pk: c["uid"] for pk, c in served.items()}, {pk: str(u) for pk, u in uids.items()})
        self.assertEqual(served[self.soldiers.pk]["low"], 14)
        self.assertEqual(response.json()["totals"]["killed"]["low"], 14)

    def test_history_shows_a_changed_claim_as_changed_and_an_unchanged_one_not_at_all(self):
        self.patch(
            {"casualty_figures": [claim_body(self.soldiers, low=14, best=14), claim_body(self.dozens)]}
        )
        history = self.client.get(reverse("incident-history", kwargs={"slug": "clash"})).json()
        claims = [e for e in history if e["record"] == "casualty_figure"]
        self.assertEqual({e["action"] for e in claims}, {"created", "changed"})
        changed = [e for e in claims if e["action"] == "changed"]
        self.assertEqual([e["record_id"] for e in changed], [self.soldiers.pk])
        self.assertEqual(
            {(c["field"], c["old"], c["new"]) for c in changed[0]["changes"]},
            {("low", 12, 14), ("best", 12, 14)},
        )
        self.assertEqual(changed[0]["by"], "editor")

    def test_a_claim_named_by_uid(self):
        body = claim_body(self.dozens, wording="dozens")
        del body["id"]
        body["uid"] = str(self.dozens.uid)
        response = self.patch({"casualty_figures": [claim_body(self.soldiers), body]})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(self.claims()[self.dozens.pk].wording, "dozens")

    def test_a_patch_item_changes_only_what_it_gives(self):
        response = self.patch(
            {"casualty_figures": [{"id": self.soldiers.pk, "high": 20}, {"id": self.dozens.pk}]}
        )
        self.assertEqual(response.status_code, 200, response.content)
        soldiers = self.claims()[self.soldiers.pk]
        self.assertEqual(
            (soldiers.low, soldiers.best, soldiers.high, soldiers.is_preferred), (12, 12, 20, True)
        )
        self.assertEqual(soldiers.quote, "at least 12 soldiers were killed")

    def test_an_editor_adds_a_claim_beside_the_stored_ones(self):
        new = {
            "outcome": "wounded",
            "group": "civilians",
            "qualifier": "vague",
            "source": "wire",
            "quote": "witnesses said",
        }
        response = self.patch({"casualty_figures": [claim_body(self.soldiers), claim_body(self.dozens), new]})
        self.assertEqual(response.status_code, 200, response.content)
        claims = self.claims()
        self.assertEqual(len(claims), 3)
        self.assertTrue({self.soldiers.pk, self.dozens.pk} < set(claims))

    def test_the_preferred_mark_moves_between_claims_in_one_write(self):
        rival = add_figure(self.incident, self.wire, group="state_forces", low=10, best=10)
        response = self.patch(
            {
                "casualty_figures": [
                    claim_body(self.soldiers, is_preferred=False),
                    claim_body(rival, is_preferred=True),
                    claim_body(self.dozens),
                ]
            }
        )
        self.assertEqual(response.status_code, 200, response.content)
        claims = self.claims()
        self.assertEqual(
            (claims[self.soldiers.pk].is_preferred, claims[rival.pk].is_preferred), (False, True)
        )
        self.assertEqual(response.json()["totals"]["killed"]["low"], 10)

    def test_a_preferred_claim_moves_to_another_group_while_another_takes_its_place(self):
        rival = add_figure(self.incident, self.wire, group="total", low=10, best=10, is_preferred=True)
        response = self.patch(
            {
                "casualty_figures": [
                    claim_body(self.soldiers, group="total"),
                    claim_body(rival, group="state_forces"),
                    claim_body(self.dozens),
                ]
            }
        )
        self.assertEqual(response.status_code, 200, response.content)
        claims = self.claims()
        self.assertEqual((claims[self.soldiers.pk].group, claims[rival.pk].group), ("total", "state_forces"))
        self.assertTrue(claims[self.soldiers.pk].is_preferred and claims[rival.pk].is_preferred)

    def test_two_preferred_claims_for_one_outcome_and_group_counting_stored_values(self):
        rival = add_figure(self.incident, self.wire, group="state_forces", low=10, best=10)
        response = self.patch(
            {
                "casualty_figures": [
                    {"id": self.soldiers.pk},
                    {"id": rival.pk, "is_preferred": True},
                    {"id": self.dozens.pk},
                ]
            }
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("casualty_figures", response.json())

    def test_roles_matched_by_actor_and_role_are_updated_in_place(self):
        response = self.patch(
            {
                "actors": [
                    {"actor": "army", "role": "side_a", "note": "Named by the ministry."},
                    {"actor": "rebels", "role": "side_b"},
                    {"actor": "rebels", "role": "target"},
                ]
            }
        )
        self.assertEqual(response.status_code, 200, response.content)
        roles = {(r.actor.slug, r.role): r for r in IncidentActor.objects.filter(incident=self.incident)}
        self.assertEqual(roles["army", "side_a"].pk, self.side_a.pk)
        self.assertEqual(roles["army", "side_a"].note, "Named by the ministry.")
        self.assertEqual(roles["rebels", "side_b"].pk, self.side_b.pk)
        self.assertIn(("rebels", "target"), roles)
        history = self.client.get(reverse("incident-history", kwargs={"slug": "clash"})).json()
        role_changes = [(e["action"], e["record_id"]) for e in history if e["record"] == "actor_role"]
        self.assertIn(("changed", self.side_a.pk), role_changes)
        self.assertNotIn(("changed", self.side_b.pk), role_changes)
        self.assertNotIn("deleted", {action for action, _ in role_changes})

    def test_a_role_needs_its_actor_and_role_in_a_patch_too(self):
        response = self.patch({"actors": [{"actor": "army", "role": "side_a"}, {"actor": "rebels"}]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("role", response.json()["actors"]["1"])


class NamingClaimsTests(NestedWriteTestCase):
    def test_an_id_of_no_claim_of_this_incident_is_a_400_naming_it(self):
        other = add_figure(make_incident(slug="other"), self.wire)
        for claim_id in (other.pk, 999_999):
            with self.subTest(claim_id=claim_id):
                response = self.patch({"casualty_figures": [claim_body(self.soldiers, id=claim_id)]})
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn("id", response.json()["casualty_figures"]["0"])
        self.assertEqual(CasualtyFigure.objects.get(pk=other.pk).incident.slug, "other")

    def test_an_unknown_uid_and_a_uid_naming_another_claim(self):
        body = claim_body(self.soldiers)
        body["uid"] = "00000000-0000-4000-8000-000000000000"
        response = self.patch({"casualty_figures": [body, claim_body(self.dozens)]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("uid", response.json()["casualty_figures"]["0"])
        body["uid"] = str(self.dozens.uid)
        response = self.patch({"casualty_figures": [body, claim_body(self.dozens)]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("uid", response.json()["casualty_figures"]["0"])

    def test_a_claim_listed_twice(self):
        response = self.patch({"casualty_figures": [claim_body(self.soldiers), claim_body(self.soldiers)]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("casualty_figures", response.json())

    def test_ids_must_be_json_numbers_and_uids_strings(self):
        for body in ({"id": str(self.soldiers.pk)}, {"uid": 5}):
            with self.subTest(body=body):
                response = self.patch({"casualty_figures": [body, claim_body(self.dozens)]})
                self.assertEqual(response.status_code, 400)

    def test_a_new_incident_has_no_claims_to_name(self):
        self.client.force_login(self.editor)
        body = {
            "slug": "new",
            "title": "New",
            "event_type": "battles",
            "sub_event_type": "armed_clash",
            "start_date": "2012-07-24",
            "end_date": "2012-07-24",
            "date_precision": "day",
            "casualty_figures": [claim_body(self.soldiers)],
        }
        response = self.client.post(reverse("incident-list"), body, content_type="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertIn("id", response.json()["casualty_figures"]["0"])
        self.assertFalse(Incident.objects.filter(slug="new").exists())

    def test_the_quote_check_uses_the_stored_source_and_quote(self):
        response = self.patch(
            {
                "casualty_figures": [
                    {"id": self.soldiers.pk, "quote": "at least 99 soldiers"},
                    {"id": self.dozens.pk},
                ]
            }
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("quote", response.json()["casualty_figures"]["0"])
        other = make_source(slug="other-wire", text="Nothing about soldiers.")
        response = self.patch(
            {"casualty_figures": [{"id": self.soldiers.pk, "source": other.slug}, {"id": self.dozens.pk}]}
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("quote", response.json()["casualty_figures"]["0"])
