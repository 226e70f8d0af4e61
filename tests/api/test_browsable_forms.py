"""The browsable API's write forms name related records by slug in text inputs: no page lists a
whole table (docs/api.md, "Writing"), and anonymous visitors get no write form at all."""

import re

from django.contrib.auth.models import Group, User
from django.test import TestCase
from django.urls import reverse

from incidents.models import Incident
from tests.factories import add_figure, make_actor, make_incident, make_location, make_source

HTML = {"HTTP_ACCEPT": "text/html"}
RECORDS = 30


def selects(page):
    return re.findall(r'<select[^>]*name="([^"]+)"', page)


def selects_and_options(page):
    return "".join(re.findall(r"<select.*?</select>", page, re.S))


class BrowsableFormTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.editor = User.objects.create_user("editor")
        cls.editor.groups.add(Group.objects.get(name="editors"))
        source = make_source(slug="wire")
        parent_actor = make_actor(slug="parent-actor")
        for n in range(RECORDS):
            incident = make_incident(slug=f"incident-{n:03}", location=make_location(slug=f"place-{n:03}"))
            incident.sources.add(make_source(slug=f"source-{n:03}"))
            add_figure(incident, source, actor=make_actor(slug=f"actor-{n:03}", parent=parent_actor))
        cls.figure = add_figure(Incident.objects.get(slug="incident-000"), source)

    def page(self, url):
        response = self.client.get(url, **HTML)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/html"))
        return response.content.decode()

    def pages(self):
        return {
            "incidents": reverse("incident-list"),
            "incident": reverse("incident-detail", kwargs={"slug": "incident-001"}),
            "claims": reverse("casualtyfigure-list"),
            "claim": reverse("casualtyfigure-detail", kwargs={"pk": self.figure.pk}),
            "actors": reverse("actor-list"),
            "actor": reverse("actor-detail", kwargs={"slug": "actor-001"}),
            "sources": reverse("source-list"),
            "locations": reverse("location-list"),
        }

    def test_editors_get_forms_with_slugs_as_text(self):
        self.client.force_login(self.editor)
        for name, url in self.pages().items():
            with self.subTest(page=name):
                page = self.page(url)
                self.assertIn("<form", page)
                self.assertNotIn("incident-029</option>", page)
                for field in ("parent", "location", "sources", "incident", "actor", "claimed_by", "source"):
                    self.assertNotIn(field, selects(page))
        incidents = self.page(reverse("incident-list"))
        for field in ("parent", "location", "sources"):
            self.assertRegex(
                incidents, rf'<input[^>]*name="{field}"[^>]*type="text"|type="text"[^>]*name="{field}"'
            )
        claims = self.page(reverse("casualtyfigure-list"))
        for field in ("incident", "actor", "claimed_by", "source"):
            self.assertRegex(claims, rf'name="{field}"')
        actor = self.page(reverse("actor-detail", kwargs={"slug": "actor-001"}))
        self.assertRegex(
            actor, r'name="parent"[^>]*value="parent-actor"|value="parent-actor"[^>]*name="parent"'
        )

    def test_no_page_grows_with_the_tables(self):
        self.client.force_login(self.editor)
        before = {name: self.page(url) for name, url in self.pages().items()}
        for n in range(RECORDS, 3 * RECORDS):
            make_incident(slug=f"incident-{n:03}", location=make_location(slug=f"place-{n:03}"))
            make_source(slug=f"source-{n:03}")
            make_actor(slug=f"actor-{n:03}")
        for name, url in self.pages().items():
            with self.subTest(page=name):
                page = self.page(url)
                # A list shows more records (its count, its page), but no page more choices.
                self.assertEqual(page.count("<option"), before[name].count("<option"))
                self.assertNotIn("incident-089", selects_and_options(page))

    def test_anonymous_visitors_get_no_write_form(self):
        for name, url in self.pages().items():
            with self.subTest(page=name):
                page = self.page(url)
                self.assertNotRegex(page, r'<form[^>]*method="(POST|post)"[^>]*(enctype|data-method)')
                self.assertNotIn('name="_content"', page)

    def test_a_form_post_takes_sources_as_slugs_in_one_text_input(self):
        self.client.force_login(self.editor)
        body = {
            "slug": "from-a-form",
            "title": "From a form",
            "event_type": "battles",
            "sub_event_type": "armed_clash",
            "start_date": "2012-07-24",
            "end_date": "2012-07-24",
            "date_precision": "day",
            "location": "place-001",
            "parent": "",
            "sources": "source-001, source-002 source-003",
        }
        response = self.client.post(reverse("incident-list"), body)
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(
            [s["slug"] for s in response.json()["sources"]], ["source-001", "source-002", "source-003"]
        )
