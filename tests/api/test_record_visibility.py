"""Which actors, places and sources the public sees (docs/api.md, "Actors, locations, sources"):
those a published incident uses, and the parents of public actors. A record only unpublished
incidents use, or nothing at all, answers as a slug never used; editors see every record."""

from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse

from incidents import workflow
from incidents.models import Actor, Location, Source
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

RESOURCES = {"actor": Actor, "location": Location, "source": Source}


class VisibilityTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.editor = User.objects.create_user("editor")
        cls.editor.groups.add(Group.objects.get(name="editors"))

    def listed(self, resource, **query):
        response = self.client.get(reverse(f"{resource}-list"), {"page_size": 100, **query})
        self.assertEqual(response.status_code, 200)
        return {record["slug"] for record in response.json()["results"]}

    def shown(self, resource, slug):
        response = self.client.get(reverse(f"{resource}-detail", kwargs={"slug": slug}))
        self.assertIn(response.status_code, (200, 404))
        return response.status_code == 200

    def assert_public(self, resource, slugs):
        """Exactly these records of the resource are public, in the list and in details."""
        every = set(RESOURCES[resource].objects.values_list("slug", flat=True))
        self.assertEqual(self.listed(resource), set(slugs))
        for slug in every:
            with self.subTest(resource=resource, slug=slug):
                self.assertEqual(self.shown(resource, slug), slug in slugs)


class ActorVisibilityTests(VisibilityTestCase):
    def test_actors_of_published_incidents_in_every_use(self):
        published, draft = make_incident(), make_incident(status="draft")
        source = make_source()
        add_actor(published, make_actor(slug="in-a-role"))
        add_actor(published, make_actor(slug="role-target"), claimed_by=make_actor(slug="claims-a-role"))
        add_figure(published, source, actor=make_actor(slug="counted"), claimed_by=make_actor(slug="claims"))
        add_actor(draft, make_actor(slug="draft-role"), claimed_by=make_actor(slug="draft-claims-role"))
        add_figure(
            draft, source, actor=make_actor(slug="draft-counted"), claimed_by=make_actor(slug="draft-claims")
        )
        make_actor(slug="unused")
        self.assert_public("actor", {"in-a-role", "role-target", "claims-a-role", "counted", "claims"})

    def test_parents_of_public_actors_are_public_at_every_level(self):
        state = make_actor(slug="state", kind="state")
        ministry = make_actor(slug="ministry", parent=state)
        minister = make_actor(slug="minister", parent=ministry, kind="person")
        hidden_parent = make_actor(slug="hidden-parent")
        make_actor(slug="hidden-member", parent=hidden_parent)
        make_actor(slug="member-of-public", parent=state)  # a public parent does not make members public
        add_actor(make_incident(), minister)
        add_actor(make_incident(status="draft"), Actor.objects.get(slug="hidden-member"))
        self.assert_public("actor", {"state", "ministry", "minister"})
        body = self.client.get(reverse("actor-detail", kwargs={"slug": "ministry"})).json()
        self.assertEqual(body["parent"], "state")

    def test_a_cycle_of_parents_ends(self):
        first = make_actor(slug="first")
        second = make_actor(slug="second", parent=first)
        Actor.objects.filter(pk=first.pk).update(parent=second)
        add_actor(make_incident(), second)
        self.assert_public("actor", {"first", "second"})

    def test_filters_apply_to_public_actors_only(self):
        add_actor(make_incident(), make_actor(slug="public-group", kind="armed_group", name="Group A"))
        add_actor(
            make_incident(status="draft"), make_actor(slug="draft-group", kind="armed_group", name="Group B")
        )
        self.assertEqual(self.listed("actor", kind="armed_group"), {"public-group"})
        self.assertEqual(self.listed("actor", search="group"), {"public-group"})

    def test_publishing_shows_and_retracting_hides(self):
        incident = make_incident(status="reviewed")
        add_actor(incident, make_actor(slug="soon-public"))
        self.assertFalse(self.shown("actor", "soon-public"))
        workflow.publish(incident, self.editor)
        self.assertTrue(self.shown("actor", "soon-public"))
        workflow.retract(incident, self.editor, "Wrong.")
        self.assertFalse(self.shown("actor", "soon-public"))


class PlaceAndSourceVisibilityTests(VisibilityTestCase):
    def test_places_of_published_incidents(self):
        make_incident(location=make_location(slug="public-place"))
        make_incident(location=make_location(slug="draft-place"), status="draft")
        make_location(slug="unused-place")
        self.assert_public("location", {"public-place"})

    def test_sources_a_published_incident_lists_or_a_claim_of_it_cites(self):
        published, draft = make_incident(), make_incident(status="reviewed")
        published.sources.add(make_source(slug="listed"))
        add_figure(published, make_source(slug="cited"))
        draft.sources.add(make_source(slug="draft-listed"))
        add_figure(draft, make_source(slug="draft-cited"))
        make_source(slug="unused-source")
        self.assert_public("source", {"listed", "cited"})

    def test_hidden_and_nonexistent_answer_alike(self):
        make_incident(status="draft", location=make_location(slug="draft-place"))
        hidden = self.client.get(reverse("location-detail", kwargs={"slug": "draft-place"}))
        missing = self.client.get(reverse("location-detail", kwargs={"slug": "no-such-place"}))
        self.assertEqual((hidden.status_code, hidden.json()), (missing.status_code, missing.json()))

    def test_editors_see_every_record(self):
        make_incident(status="draft", location=make_location(slug="draft-place"))
        make_actor(slug="unused")
        make_source(slug="unused-source")
        self.client.force_login(self.editor)
        self.assertEqual(self.listed("location"), {"draft-place"})
        self.assertEqual(self.listed("actor"), {"unused"})
        self.assertEqual(self.listed("source"), {"unused-source"})
        self.assertTrue(self.shown("source", "unused-source"))


class VisibilityQueryCountTests(VisibilityTestCase):
    """The rule is EXISTS subqueries in the one query of a page or a detail (and the count)."""

    def test_lists_and_details_take_the_same_queries_at_one_record_and_at_many(self):
        source = make_source()
        for rows in (1, 25):
            for _ in range(rows):
                incident = make_incident(location=make_location())
                incident.sources.add(make_source())
                add_figure(incident, source, actor=make_actor(parent=make_actor()))
            for resource in RESOURCES:
                with self.subTest(resource=resource, rows=rows):
                    with self.assertNumQueries(2):  # the count, the page
                        self.client.get(reverse(f"{resource}-list"))
                    slug = RESOURCES[resource].objects.order_by("-pk").values_list("slug", flat=True)[0]
                    with self.assertNumQueries(1):
                        self.assertTrue(self.shown(resource, slug))
