"""Nothing unpublished leaks: relations, filters, filter forms and CSV cells.

The public (anonymous, or any user without `incidents.change_incident`) sees published
incidents only, and a published incident names no unpublished one: `children` lists
published children, `parent` is null unless published, in every format and in the ETag.
A slug filter answers an unpublished incident's slug as it answers one that names nothing.
The browsable API's filter forms list no records at all (a text box per slug filter). CSV
cells that a spreadsheet would run as a formula are neutralised, alike on both CSV paths.

The whole matrix of URLs, formats, roles and statuses is tests/contract/test_access_matrix.py.
"""

import csv
import datetime
import decimal
import io
import json
import re
from unittest import skipUnless

from django.contrib.auth.models import Group, User
from django.db import connection
from django.http import QueryDict
from django.test import RequestFactory, TestCase
from django.urls import reverse

from incidents.api import columns
from incidents.api.columns import CLAIM_CSV, FORMULA_TRIGGERS, INCIDENT_CSV, Kind, csv_line
from incidents.api.exports import _copy_csv, _incidents_csv_rows, stream_export
from incidents.api.filters import CasualtyFigureFilter, IncidentFilter
from incidents.api.representation import (
    etag,
    incident_by_id,
    incident_by_slug,
    incident_rows,
    represent,
)
from incidents.models import CasualtyFigure, Incident
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

LIST_URL = reverse("incident-list")
CLAIMS_URL = reverse("casualtyfigure-list")
STATS_URL = reverse("stats-casualties")
UNPUBLISHED = ("draft", "reviewed", "retracted")


def detail_url(slug):
    return reverse("incident-detail", kwargs={"slug": slug})


def editor(name="editor", group="editors"):
    user = User.objects.create_user(name, password="x")
    user.groups.add(Group.objects.get(name=group))
    return user


def export_text(queryset, fmt, **kwargs):
    response = stream_export(queryset, fmt, **kwargs)
    return b"".join(response.streaming_content).decode()


def build_family():
    """For each unpublished status: a published parent, the unpublished incident under it (with
    its own claim, actor, place and source) and a published child under that."""
    family = {}
    for status in UNPUBLISHED:
        place = make_location(slug=f"hidden-place-{status}")
        source = make_source(slug=f"hidden-source-{status}")
        parent = make_incident(slug=f"open-parent-{status}", start_date=datetime.date(2012, 7, 1))
        hidden = make_incident(
            slug=f"hidden-{status}",
            title=f"Hidden {status} title",
            status=status,
            parent=parent,
            location=place,
            start_date=datetime.date(2012, 7, 2),
            retraction_reason="Withdrawn." if status == "retracted" else "",
        )
        hidden.sources.add(source)
        add_actor(hidden, make_actor(slug=f"hidden-actor-{status}"))
        add_figure(hidden, source, wording=f"hidden {status} wording")
        child = make_incident(
            slug=f"open-child-{status}",
            parent=hidden,
            location=make_location(),
            start_date=datetime.date(2012, 7, 3),
        )
        family[status] = {"parent": parent, "hidden": hidden, "child": child}
    return family


class RelationsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.family = build_family()

    def queryset(self, **filters):
        return Incident.objects.filter(**filters).order_by("-start_date", "-id")

    def test_public_representation_names_only_published_relations(self):
        for status in UNPUBLISHED:
            with self.subTest(status=status):
                parent, _ = incident_by_slug(f"open-parent-{status}")
                child, _ = incident_by_slug(f"open-child-{status}")
                self.assertEqual(parent["children"], [])
                self.assertIsNone(child["parent"])
                self.assertIsNone(incident_by_id(self.family[status]["child"].pk)["parent"])

    def test_editors_see_every_relation(self):
        for status in UNPUBLISHED:
            with self.subTest(status=status):
                parent, _ = incident_by_slug(f"open-parent-{status}", public=False)
                child, _ = incident_by_slug(f"open-child-{status}", public=False)
                self.assertEqual(parent["children"], [f"hidden-{status}"])
                self.assertEqual(child["parent"], f"hidden-{status}")
                hidden = incident_by_id(self.family[status]["hidden"].pk, public=False)
                self.assertEqual(hidden["parent"], f"open-parent-{status}")
                self.assertEqual(hidden["children"], [f"open-child-{status}"])

    def test_published_relations_stay_for_everyone(self):
        operation = make_incident(slug="operation")
        make_incident(slug="clash", parent=operation)
        for public in (True, False):
            with self.subTest(public=public):
                self.assertEqual(incident_by_slug("operation", public=public)[0]["children"], ["clash"])
                self.assertEqual(incident_by_slug("clash", public=public)[0]["parent"], "operation")

    def test_the_default_is_the_public_view(self):
        rows = list(incident_rows(self.queryset()))
        self.assertEqual(represent(rows), represent(rows, public=True))
        self.assertNotEqual(represent(rows), represent(rows, public=False))

    def test_public_etag_ignores_unpublished_records(self):
        parent = self.family["draft"]["parent"]
        before = etag(incident_by_id(parent.pk))
        editors_before = etag(incident_by_id(parent.pk, public=False))
        late = make_incident(slug="late-draft", status="draft", parent=parent)
        self.assertEqual(etag(incident_by_id(parent.pk)), before)
        self.assertNotEqual(etag(incident_by_id(parent.pk, public=False)), editors_before)
        Incident.objects.filter(pk=late.pk).update(status="reviewed", slug="late-reviewed")
        self.assertEqual(etag(incident_by_id(parent.pk)), before)
        # Published, the child is the public's too.
        Incident.objects.filter(pk=late.pk).update(status="published")
        self.assertNotEqual(etag(incident_by_id(parent.pk)), before)

    def test_exports_name_only_published_relations(self):
        published = self.queryset(status="published")
        text = {fmt: export_text(published, fmt) for fmt in ("csv", "claims-csv", "geojson", "ndjson")}
        for fmt, body in text.items():
            with self.subTest(fmt=fmt):
                self.assertNotIn("hidden-", body)
                self.assertNotIn("Hidden", body)
        rows = {row["slug"]: row for row in csv.DictReader(io.StringIO(text["csv"]))}
        lines = {item["slug"]: item for item in map(json.loads, text["ndjson"].splitlines())}
        features = {f["id"]: f["properties"] for f in json.loads(text["geojson"])["features"]}
        for status in UNPUBLISHED:
            with self.subTest(status=status):
                self.assertEqual(rows[f"open-child-{status}"]["parent_slug"], "")
                self.assertIsNone(lines[f"open-child-{status}"]["parent"])
                self.assertEqual(lines[f"open-parent-{status}"]["children"], [])
                self.assertIsNone(features[f"open-child-{status}"]["parent"])

    def test_editors_exports_keep_every_relation(self):
        everything = self.queryset()
        rows = {
            row["slug"]: row
            for row in csv.DictReader(io.StringIO(export_text(everything, "csv", public=False)))
        }
        lines = {
            item["slug"]: item
            for item in map(json.loads, export_text(everything, "ndjson", public=False).splitlines())
        }
        features = {
            f["id"]: f["properties"]
            for f in json.loads(export_text(everything, "geojson", public=False))["features"]
        }
        for status in UNPUBLISHED:
            with self.subTest(status=status):
                self.assertEqual(rows[f"open-child-{status}"]["parent_slug"], f"hidden-{status}")
                self.assertEqual(rows[f"hidden-{status}"]["parent_slug"], f"open-parent-{status}")
                self.assertEqual(lines[f"open-parent-{status}"]["children"], [f"hidden-{status}"])
                self.assertEqual(features[f"open-child-{status}"]["parent"], f"hidden-{status}")

    def test_ndjson_lines_are_the_representation_of_each_viewer(self):
        everything = self.queryset()
        for public in (True, False):
            with self.subTest(public=public):
                lines = [
                    json.loads(line)
                    for line in export_text(everything, "ndjson", public=public).split("\n")[:-1]
                ]
                self.assertEqual(lines, represent(incident_rows(everything), public=public))

    def test_python_csv_reads_the_guarded_parent_for_each_viewer(self):
        everything = self.queryset()
        for public in (True, False):
            with self.subTest(public=public):
                text = "".join(_incidents_csv_rows(everything, chunk_size=2, public=public))
                self.assertIn("open-parent-draft", text)
                self.assertEqual(',"hidden-draft",' in text, not public)

    @skipUnless(connection.vendor == "postgresql", "COPY is PostgreSQL's")
    def test_copy_writes_the_same_bytes_as_python_for_each_viewer(self):
        everything = self.queryset()
        for public in (True, False):
            with self.subTest(public=public):
                by_copy = b"".join(_copy_csv(everything, INCIDENT_CSV, public))
                by_python = "".join(_incidents_csv_rows(everything, chunk_size=3, public=public)).encode()
                self.assertEqual(by_copy, by_python)
                self.assertEqual(b',"hidden-draft",' in by_copy, not public)


class FilterTests(TestCase):
    """For the public an unpublished incident's slug is answered like a slug of nothing."""

    @classmethod
    def setUpTestData(cls):
        cls.family = build_family()
        cls.editor = editor()

    def assert_alike(self, url, param, hidden, **extra):
        hidden_answer = self.client.get(url, {param: hidden, **extra})
        nothing_answer = self.client.get(url, {param: "no-such-incident", **extra})
        self.assertEqual(hidden_answer.status_code, 400)
        self.assertEqual(
            (hidden_answer.status_code, hidden_answer.content),
            (nothing_answer.status_code, nothing_answer.content),
        )

    def test_unpublished_slugs_answer_like_unknown_ones(self):
        for status in UNPUBLISHED:
            hidden = f"hidden-{status}"
            with self.subTest(status=status):
                self.assert_alike(LIST_URL, "parent", hidden)
                self.assert_alike(LIST_URL, "parent", hidden, format="csv")
                self.assert_alike(CLAIMS_URL, "incident", hidden)
                self.assert_alike(CLAIMS_URL, "parent", hidden)
                self.assert_alike(STATS_URL, "parent", hidden, group_by="country")

    def test_a_user_without_the_permission_is_the_public(self):
        self.client.force_login(User.objects.create_user("reader"))
        self.assert_alike(LIST_URL, "parent", "hidden-draft")

    def test_editors_filter_by_any_incident(self):
        self.client.force_login(self.editor)
        for status in UNPUBLISHED:
            with self.subTest(status=status):
                response = self.client.get(LIST_URL, {"parent": f"hidden-{status}"})
                self.assertEqual(response.status_code, 200)
                self.assertEqual([r["slug"] for r in response.json()["results"]], [f"open-child-{status}"])
                claims = self.client.get(CLAIMS_URL, {"incident": f"hidden-{status}"})
                self.assertEqual(claims.status_code, 200)
                self.assertEqual(claims.json()["count"], 1)

    def test_has_children_counts_the_children_the_viewer_sees(self):
        lonely = make_incident(slug="lonely-parent")
        make_incident(slug="draft-only-child", status="draft", parent=lonely)

        def containers():
            response = self.client.get(LIST_URL, {"has_children": "true", "page_size": 100})
            return {row["slug"] for row in response.json()["results"]}

        def leaves():
            response = self.client.get(LIST_URL, {"has_children": "false", "page_size": 100})
            return {row["slug"] for row in response.json()["results"]}

        self.assertNotIn("lonely-parent", containers())
        self.assertIn("lonely-parent", leaves())
        self.client.force_login(self.editor)
        self.assertIn("lonely-parent", containers())

    def test_a_filterset_without_a_request_is_the_public(self):
        public = IncidentFilter(QueryDict("parent=hidden-draft"), queryset=Incident.objects.all())
        self.assertFalse(public.is_valid())
        self.assertIn("parent", public.errors)
        claims = CasualtyFigureFilter(
            QueryDict("incident=hidden-draft"), queryset=CasualtyFigure.objects.all()
        )
        self.assertFalse(claims.is_valid())

    def test_filtersets_for_different_viewers_side_by_side(self):
        # The form class is shared by every IncidentFilter; which slugs a form accepts is not.
        request = RequestFactory().get(LIST_URL)
        request.user = self.editor
        for_editor = IncidentFilter(QueryDict("parent=hidden-draft"), Incident.objects.all(), request=request)
        for_public = IncidentFilter(QueryDict("parent=hidden-draft"), Incident.objects.all())
        self.assertTrue(for_editor.is_valid())
        self.assertFalse(for_public.is_valid())
        self.assertEqual([i.slug for i in for_editor.qs], ["open-child-draft"])
        self.assertFalse(IncidentFilter(QueryDict("parent=hidden-draft"), Incident.objects.all()).is_valid())


class FilterFormTests(TestCase):
    """The browsable API's filter form: a text box per slug filter, and nothing grows with a table."""

    SLUG_FILTERS = {
        LIST_URL: ("parent", "actor", "claimed_by", "location", "source"),
        CLAIMS_URL: ("incident", "parent", "actor", "claimed_by", "location", "source"),
    }

    @classmethod
    def setUpTestData(cls):
        cls.family = build_family()

    def page(self, url, **params):
        response = self.client.get(url, {"format": "api", "page_size": 1, **params})
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_slug_filters_are_text_inputs(self):
        for url, names in self.SLUG_FILTERS.items():
            page = self.page(url)
            for name in names:
                with self.subTest(url=url, name=name):
                    self.assertRegex(page, rf'<input type="text" name="{name}"')
                    self.assertNotIn(f'<select name="{name}"', page)

    def test_no_unpublished_incident_on_the_page(self):
        for url in self.SLUG_FILTERS:
            page = self.page(url, page_size=100)
            with self.subTest(url=url):
                self.assertNotIn("hidden-", page)
                self.assertNotIn("Hidden ", page)

    def test_the_form_does_not_grow_with_the_tables(self):
        def options(url):
            return re.findall(r"<option\b", self.page(url))

        before = {url: options(url) for url in self.SLUG_FILTERS}
        place, source = make_location(), make_source()
        for _ in range(15):
            incident = make_incident(location=place, status="draft")
            add_figure(incident, source, claimed_by=make_actor())
            make_incident(location=make_location())
        self.assertEqual({url: options(url) for url in self.SLUG_FILTERS}, before)

    def test_a_slug_typed_in_is_kept_in_the_box(self):
        page = self.page(LIST_URL, parent="open-parent-draft")
        self.assertIn('name="parent" value="open-parent-draft"', page)

    def test_the_page_queries_do_not_grow_with_the_tables(self):
        from django.test.utils import CaptureQueriesContext

        def queries():
            with CaptureQueriesContext(connection) as captured:
                self.page(LIST_URL)
            return len(captured)

        before = queries()
        for _ in range(10):
            make_incident(location=make_location(), status="draft")
            make_actor()
            make_source()
        self.assertEqual(queries(), before)


class FormulaInjectionTests(TestCase):
    """OWASP's rule for cells a spreadsheet would read as a formula, on both CSV paths."""

    CELLS = {
        "equals": '=HYPERLINK("http://example.com","click")',
        "plus": "+1+1",
        "minus": "-2+3",
        "at": "@SUM(A1:A2)",
        "tab": "\tindented",
        "return": "\rreturned",
        "plain": "Nothing special = here",
        "inner": "a=b, c",
    }

    @classmethod
    def setUpTestData(cls):
        place = make_location(
            slug="odd-place", name="=cmd|' /C calc'!A0", admin1="+admin", admin2="@two", latitude="-7.5"
        )
        source = make_source(slug="odd-source", title="-Source title", text="=quote said here.")
        cls.actor = make_actor(slug="odd-actor", name="@Actor Name")
        for n, (key, text) in enumerate(cls.CELLS.items()):
            incident = make_incident(
                slug=f"cell-{key}",
                title=text,
                location=place,
                start_date=datetime.date(2012, 7, 1) + datetime.timedelta(days=n),
            )
            add_actor(incident, cls.actor)
            add_figure(
                incident,
                source,
                wording=text,
                quote="=quote said here",
                notes=text,
                claimed_by=cls.actor,
            )

    def queryset(self):
        return Incident.objects.order_by("-start_date", "-id")

    def test_text_cells_beginning_with_a_trigger_get_a_quote(self):
        self.assertEqual(FORMULA_TRIGGERS, ("=", "+", "-", "@", "\t", "\r"))
        rows = {row["slug"]: row for row in csv.DictReader(io.StringIO(export_text(self.queryset(), "csv")))}
        for key, text in self.CELLS.items():
            with self.subTest(key=key):
                expected = "'" + text if text[0] in FORMULA_TRIGGERS else text
                self.assertEqual(rows[f"cell-{key}"]["title"], expected)
        row = rows["cell-plain"]
        self.assertEqual(row["location_name"], "'=cmd|' /C calc'!A0")
        self.assertEqual((row["admin1"], row["admin2"]), ("'+admin", "'@two"))
        # Numbers stay numbers, a negative one too.
        self.assertEqual(row["latitude"], "-7.500000")

    def test_claims_csv_cells_get_a_quote(self):
        rows = list(csv.DictReader(io.StringIO(export_text(self.queryset(), "claims-csv"))))
        by_incident = {row["incident_slug"]: row for row in rows}
        for key, text in self.CELLS.items():
            with self.subTest(key=key):
                row = by_incident[f"cell-{key}"]
                expected = "'" + text if text[0] in FORMULA_TRIGGERS else text
                self.assertEqual((row["wording"], row["notes"]), (expected, expected))
                self.assertEqual(row["quote"], "'=quote said here")
                self.assertEqual(row["claimed_by_name"], "'@Actor Name")
                self.assertEqual(row["source_title"], "'-Source title")

    def test_quoting_rules_are_kept(self):
        layout = (columns.Column("text", "text"),)
        self.assertEqual(csv_line(layout, ["=1,2"]), '"\'=1,2"\n')
        self.assertEqual(csv_line(layout, ['=say "x"']), '"\'=say ""x"""\n')
        self.assertEqual(csv_line(layout, ["\rreturn"]), '"\'\rreturn"\n')
        self.assertEqual(csv_line(layout, ["\tx"]), '"\'\tx"\n')
        self.assertEqual(csv_line(layout, ["x=1"]), '"x=1"\n')
        self.assertEqual(csv_line(layout, [""]), "\n")

    def test_only_text_is_neutralised(self):
        spelled = {
            Kind.NUMBER: (decimal.Decimal("-7.077729"), "-7.077729"),
            Kind.ACTOR_ROLES: ("side_a:-odd", '"side_a:-odd"'),
            Kind.BOOLEAN: (False, "false"),
        }
        for kind, (value, text) in spelled.items():
            with self.subTest(kind=kind):
                self.assertEqual(csv_line((columns.Column("c", "c", kind),), [value]), text + "\n")
        self.assertEqual(
            {c.kind for c in INCIDENT_CSV if c.header in ("latitude", "killed_low")}, {Kind.NUMBER}
        )

    @skipUnless(connection.vendor == "postgresql", "COPY is PostgreSQL's")
    def test_copy_writes_the_same_bytes_as_python(self):
        by_copy = b"".join(_copy_csv(self.queryset(), INCIDENT_CSV))
        by_python = "".join(_incidents_csv_rows(self.queryset(), chunk_size=3)).encode()
        self.assertIn(b"'=HYPERLINK", by_copy)
        self.assertIn(b'"\'\rreturned"', by_copy)
        self.assertEqual(by_copy, by_python)

    @skipUnless(connection.vendor == "postgresql", "COPY is PostgreSQL's")
    def test_copy_spells_the_claims_layout_as_python_does(self):
        # The claims CSV is written in Python only; COPY of the same spec must agree all the same.
        claims = CasualtyFigure.objects.order_by("id")
        by_copy = b"".join(_copy_csv(claims, CLAIM_CSV))
        paths = [column.path for column in CLAIM_CSV]
        by_python = "".join(csv_line(CLAIM_CSV, list(row)) for row in claims.values_list(*paths)).encode()
        self.assertIn(b"'@Actor Name", by_copy)
        self.assertEqual(by_copy, by_python)
