"""Streaming exports: CSV, claims CSV, GeoJSON, NDJSON; their queries per chunk, memory, HTTP
negotiation and the cap on one download (EXPORT_MAX_ROWS)."""

import csv
import datetime
import gc
import io
import json
import tracemalloc
from unittest import mock, skipUnless

import jsonschema
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import TestCase, override_settings
from django.urls import reverse

from incidents.api.columns import CLAIM_CSV, INCIDENT_CSV, headers
from incidents.api.exports import (
    CHUNK_SIZE,
    EXPORT_RENDERERS,
    STREAMING_FORMATS,
    CSVRenderer,
    _copy_csv,
    _incidents_csv_rows,
    stream_export,
)
from incidents.api.views import IncidentViewSet
from incidents.models import Incident
from tests.factories import (
    add_actor,
    add_figure,
    build_incidents,
    make_actor,
    make_incident,
    make_location,
    make_source,
)

LIST_URL = reverse("incident-list")
FIXED_NOW = datetime.datetime(2024, 3, 9, 23, 30, tzinfo=datetime.UTC)

# RFC 7946 as far as these exports use it: Point features, with foreign members allowed.
GEOJSON_SCHEMA = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": {"const": "Feature"},
                    "id": {"type": ["string", "number"]},
                    "geometry": {
                        "type": "object",
                        "required": ["type", "coordinates"],
                        "properties": {
                            "type": {"const": "Point"},
                            "coordinates": {
                                "type": "array",
                                "minItems": 2,
                                "maxItems": 3,
                                "prefixItems": [
                                    {"type": "number", "minimum": -180, "maximum": 180},
                                    {"type": "number", "minimum": -90, "maximum": 90},
                                ],
                                "items": {"type": "number"},
                            },
                        },
                    },
                    "properties": {"type": ["object", "null"]},
                },
            },
        },
    },
}


def export(queryset, fmt, **kwargs):
    response = stream_export(queryset, fmt, **kwargs)
    return response, b"".join(response.streaming_content).decode()


def api_queryset():
    # What IncidentViewSet.list hands over before filtering.
    return Incident.objects.order_by("-start_date", "-id")


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def build_world():
    """Incidents with and without places, coordinates, parents, actors and claims."""
    world = {"wire": make_source(slug="wire", title="The Wire")}
    khorugh = make_location(slug="khorugh", name="Khorugh", admin2="Khorugh city")
    osh = make_location(
        slug="osh",
        name="Osh",
        country_code="KG",
        admin1="Osh Region",
        latitude="40.5140",
        longitude="72.8161",
    )
    unplaced = make_location(
        slug="somewhere-tj", name="Tajikistan", latitude=None, longitude=None, geo_precision="country"
    )
    army = make_actor(slug="army", name="Army", kind="state_forces")
    rebels = make_actor(slug="rebels", name="Rebel Front")
    gov = make_actor(slug="gov", name="Government", kind="state")
    world["operation"] = make_incident(
        slug="operation",
        title="Operation in Khorugh",
        start_date=datetime.date(2012, 7, 22),
        end_date=datetime.date(2012, 7, 28),
        date_precision="week",
        location=khorugh,
    )
    world["clash"] = clash = make_incident(
        slug="clash", title="Clash, with a comma", parent=world["operation"], location=khorugh
    )
    clash.sources.add(world["wire"])
    add_actor(clash, rebels, "side_b")
    add_actor(clash, army, "side_a")
    world["figures"] = [
        add_figure(
            clash, world["wire"], actor=army, claimed_by=gov, wording="at least 12", is_preferred=True
        ),
        add_figure(
            clash,
            world["wire"],
            group="civilians",
            low=3,
            best=3,
            high=3,
            qualifier="exact",
            quote='three "civilians",\nsaid one',
        ),
    ]
    world["protest"] = make_incident(
        slug="protest",
        title="Protest",
        event_type="protests",
        sub_event_type="peaceful_protest",
        start_date=datetime.date(2012, 7, 10),
        location=osh,
    )
    world["unplaced"] = make_incident(
        slug="unplaced", start_date=datetime.date(2012, 6, 1), location=unplaced
    )
    world["homeless"] = make_incident(slug="homeless", start_date=datetime.date(2012, 5, 1))
    return world


class ExportContentTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.world = build_world()

    def test_csv_has_one_flat_row_per_incident_in_the_list_order(self):
        _, text = export(api_queryset(), "csv")
        rows = csv_rows(text)
        self.assertEqual(list(rows[0]), headers(INCIDENT_CSV))
        self.assertEqual([r["slug"] for r in rows], ["clash", "operation", "protest", "unplaced", "homeless"])
        clash = rows[0]
        detail = self.client.get(reverse("incident-detail", kwargs={"slug": "clash"})).json()
        self.assertEqual(clash["title"], "Clash, with a comma")
        self.assertEqual(
            [clash[c] for c in ("event_type", "sub_event_type", "start_date", "end_date", "date_precision")],
            ["battles", "armed_clash", "2012-07-24", "2012-07-24", "day"],
        )
        self.assertEqual(
            [clash[c] for c in ("location_slug", "location_name", "country_code", "admin1", "admin2")],
            ["khorugh", "Khorugh", "TJ", "Gorno-Badakhshan", "Khorugh city"],
        )
        self.assertEqual((float(clash["latitude"]), float(clash["longitude"])), (37.4897, 71.5531))
        self.assertEqual(clash["geo_precision"], "exact")
        self.assertEqual(clash["parent_slug"], "operation")
        self.assertEqual(clash["actors"], "side_a:army|side_b:rebels")
        # Preferred 12 state forces (low, no high) plus 3 civilians (exact).
        self.assertEqual([clash[f"killed_{b}"] for b in ("low", "best", "high")], ["15", "15", ""])
        self.assertEqual(clash["wounded_best"], "")
        self.assertEqual(clash["status"], "published")
        self.assertEqual(clash["updated_at"], detail["updated_at"])

    def test_csv_leaves_place_columns_empty_without_a_place(self):
        homeless = csv_rows(export(api_queryset(), "csv")[1])[-1]
        self.assertEqual(homeless["slug"], "homeless")
        self.assertEqual({homeless[c] for c in headers(INCIDENT_CSV)[7:17]}, {""})

    def test_claims_csv_has_one_row_per_figure(self):
        rows = csv_rows(export(api_queryset(), "claims-csv")[1])
        self.assertEqual(len(rows), 2)
        self.assertEqual(list(rows[0]), headers(CLAIM_CSV))
        # The API's order within an incident: outcome, group, then as recorded.
        civilians, army_claim = rows
        first = self.world["figures"][0]
        self.assertEqual(army_claim["incident_slug"], "clash")
        self.assertEqual((army_claim["figure_id"], army_claim["uid"]), (str(first.pk), str(first.uid)))
        self.assertEqual(
            [army_claim[c] for c in ("outcome", "group", "actor_slug", "low", "best", "high", "qualifier")],
            ["killed", "state_forces", "army", "12", "12", "", "at_least"],
        )
        self.assertEqual(
            [army_claim[c] for c in ("wording", "claimed_by_slug", "claimed_by_name", "is_preferred")],
            ["at least 12", "gov", "Government", "true"],
        )
        self.assertEqual((army_claim["source_slug"], army_claim["source_title"]), ("wire", "The Wire"))
        self.assertEqual(civilians["quote"], 'three "civilians",\nsaid one')
        self.assertEqual((civilians["claimed_by_slug"], civilians["is_preferred"]), ("", "false"))

    def test_geojson_is_a_feature_collection_of_placed_incidents(self):
        body = json.loads(export(api_queryset(), "geojson")[1])
        jsonschema.Draft202012Validator(GEOJSON_SCHEMA).validate(body)
        self.assertEqual([f["id"] for f in body["features"]], ["clash", "operation", "protest"])
        self.assertEqual(body["metadata"], {"features": 3, "without_coordinates": 2})
        protest = body["features"][2]
        self.assertEqual(protest["geometry"]["coordinates"], [72.8161, 40.514])
        properties = body["features"][0]["properties"]
        self.assertEqual(properties["url"], reverse("incident-detail", kwargs={"slug": "clash"}))
        self.assertEqual(
            {k: properties[k] for k in ("slug", "event_type", "start_date", "geo_precision", "country_code")},
            {
                "slug": "clash",
                "event_type": "battles",
                "start_date": "2012-07-24",
                "geo_precision": "exact",
                "country_code": "TJ",
            },
        )
        self.assertEqual((properties["killed_low"], properties["killed_high"]), (15, None))
        self.assertEqual(properties["parent"], "operation")

    def test_ndjson_lines_are_the_api_incidents(self):
        text = export(api_queryset(), "ndjson")[1]
        self.assertTrue(text.endswith("\n"))
        lines = [json.loads(line) for line in text.split("\n")[:-1]]
        self.assertEqual(len(lines), 5)
        for line in lines:
            with self.subTest(slug=line["slug"]):
                detail = self.client.get(reverse("incident-detail", kwargs={"slug": line["slug"]}))
                self.assertEqual(line, detail.json())

    def test_ndjson_keeps_line_separators_inside_strings_escaped(self):
        Incident.objects.filter(slug="protest").update(title="One\u2028Two\nThree")
        text = export(api_queryset().filter(slug="protest"), "ndjson")[1]
        self.assertEqual(len(text.splitlines()), 1)
        self.assertEqual(json.loads(text)["title"], "One\u2028Two\nThree")

    def test_headers_name_the_format_and_a_dated_file(self):
        expected = {
            "csv": ("text/csv; charset=utf-8; header=present", "incidents-20240309.csv"),
            "claims-csv": ("text/csv; charset=utf-8; header=present", "incidents-20240309-claims.csv"),
            "geojson": ("application/geo+json", "incidents-20240309.geojson"),
            "ndjson": ("application/x-ndjson", "incidents-20240309.ndjson"),
        }
        self.assertEqual(set(expected), STREAMING_FORMATS)
        for fmt, (content_type, filename) in expected.items():
            with self.subTest(fmt=fmt), mock.patch("django.utils.timezone.now", return_value=FIXED_NOW):
                response = stream_export(api_queryset(), fmt)
                self.assertTrue(response.streaming)
                self.assertEqual(response["Content-Type"], content_type)
                self.assertEqual(response["Content-Disposition"], f'attachment; filename="{filename}"')
                self.assertIn("Accept", response["Vary"])

    def test_filename_stem(self):
        response = stream_export(api_queryset(), "geojson", filename_stem="tj-2012")
        self.assertRegex(response["Content-Disposition"], r'filename="tj-2012-\d{8}\.geojson"')

    def test_unknown_format_is_refused(self):
        with self.assertRaisesMessage(ValueError, "xlsx"):
            stream_export(api_queryset(), "xlsx")

    def test_small_chunks_give_the_same_export(self):
        for fmt in sorted(STREAMING_FORMATS):
            with self.subTest(fmt=fmt):
                self.assertEqual(export(api_queryset(), fmt, chunk_size=2)[1], export(api_queryset(), fmt)[1])

    def test_renderers_answer_anything_else_in_json(self):
        response = mock.MagicMock()
        for renderer in EXPORT_RENDERERS:
            with self.subTest(renderer=renderer.__name__):
                body = renderer().render(
                    {"country": ["Bad code."]}, renderer.media_type, {"response": response}
                )
                self.assertEqual(json.loads(body), {"country": ["Bad code."]})
                response.__setitem__.assert_called_with("Content-Type", "application/json")
        self.assertEqual(CSVRenderer().render(None), b"")


class ExportQueryCountTests(TestCase):
    # One query reads the incidents (with place and parent) through a cursor; each chunk
    # then fetches what its format shows:
    #   csv: actor roles; claims-csv: figures with actors and source; geojson: nothing;
    #   ndjson: the API's four (roles, figures, sources, children).
    QUERIES = {"csv": 2, "claims-csv": 2, "geojson": 1, "ndjson": 5}
    # On PostgreSQL the incident CSV is one COPY whatever the rows, inside a savepoint (a
    # transaction outside tests): SAVEPOINT, set_config(statement_timeout), COPY, RELEASE.
    COPY_QUERIES = 4

    def queries(self, fmt, chunks=1):
        if fmt == "csv" and connection.vendor == "postgresql":
            return self.COPY_QUERIES
        return 1 + chunks * (self.QUERIES[fmt] - 1)

    def test_queries_do_not_grow_with_rows_in_a_chunk(self):
        for count in (1, 50):
            build_incidents(count)
            for fmt in self.QUERIES:
                with self.subTest(incidents=count, fmt=fmt), self.assertNumQueries(self.queries(fmt)):
                    export(api_queryset(), fmt)
            Incident.objects.filter(parent__isnull=False).delete()
            Incident.objects.all().delete()

    def test_each_chunk_fetches_once(self):
        build_incidents(25)
        for fmt in self.QUERIES:
            with self.subTest(fmt=fmt), self.assertNumQueries(self.queries(fmt, chunks=3)):
                export(api_queryset(), fmt, chunk_size=10)


EXPORTS_WIRED = any(getattr(r, "format", None) in STREAMING_FORMATS for r in IncidentViewSet.renderer_classes)


@skipUnless(
    EXPORTS_WIRED, "IncidentViewSet does not offer the export renderers yet (see incidents/api/exports.py)"
)
class ExportOverHttpTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        build_world()

    def get(self, **params):
        accept = params.pop("accept", None)
        headers = {"HTTP_ACCEPT": accept} if accept else {}
        return self.client.get(LIST_URL, params, **headers)

    def test_format_parameter_selects_each_export(self):
        expected = {
            "csv": "text/csv; charset=utf-8; header=present",
            "claims-csv": "text/csv; charset=utf-8; header=present",
            "geojson": "application/geo+json",
            "ndjson": "application/x-ndjson",
        }
        for fmt, content_type in expected.items():
            with self.subTest(fmt=fmt):
                response = self.get(format=fmt)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.streaming)
                self.assertEqual(response["Content-Type"], content_type)
                self.assertRegex(response["Content-Disposition"], r'^attachment; filename="incidents-\d{8}')

    def test_accept_header_selects_each_export(self):
        accepts = {
            "text/csv": '"slug","title",',
            "application/vnd.incidents.claims+csv": '"incident_slug","figure_id",',
            "application/geo+json": '{"type":"FeatureCollection"',
            "application/x-ndjson": '{"slug":"clash"',
        }
        for accept, start in accepts.items():
            with self.subTest(accept=accept):
                response = self.get(accept=accept)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(b"".join(response.streaming_content).decode().startswith(start))

    def test_json_stays_the_paginated_default(self):
        body = self.get(page_size=2).json()
        self.assertEqual(body["count"], 5)
        self.assertEqual(len(body["results"]), 2)

    def test_filters_apply(self):
        response = self.get(country="KG", format="csv")
        self.assertEqual(
            [r["slug"] for r in csv_rows(b"".join(response.streaming_content).decode())], ["protest"]
        )
        response = self.get(search="protest", format="ndjson")
        lines = b"".join(response.streaming_content).decode().splitlines()
        self.assertEqual([json.loads(line)["slug"] for line in lines], ["protest"])
        response = self.get(search="clash", parent="operation", format="claims-csv")
        rows = csv_rows(b"".join(response.streaming_content).decode())
        self.assertEqual({r["incident_slug"] for r in rows}, {"clash"})
        response = self.get(event_type="protests", format="geojson")
        body = json.loads(b"".join(response.streaming_content))
        self.assertEqual([f["id"] for f in body["features"]], ["protest"])

    def test_bad_filters_answer_a_json_400(self):
        for fmt in sorted(STREAMING_FORMATS):
            with self.subTest(fmt=fmt):
                response = self.get(country="Tajikistan", format=fmt)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response["Content-Type"], "application/json")
                self.assertIn("country", response.json())

    def test_one_incident_asked_for_in_an_export_format_answers_json(self):
        response = self.client.get(reverse("incident-detail", kwargs={"slug": "clash"}), {"format": "csv"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertEqual(response.json()["slug"], "clash")


@skipUnless(
    EXPORTS_WIRED, "IncidentViewSet does not offer the export renderers yet (see incidents/api/exports.py)"
)
class ExportIsNotPaginatedTests(TestCase):
    def test_every_row_of_a_large_list(self):
        place = make_location()
        for n in range(120):
            Incident.objects.create(
                slug=f"bulk-{n}",
                title=f"Bulk {n}",
                event_type="battles",
                sub_event_type="armed_clash",
                start_date=datetime.date(2000, 1, 1) + datetime.timedelta(days=n),
                end_date=datetime.date(2000, 1, 1) + datetime.timedelta(days=n),
                date_precision="day",
                location=place,
                status="published",
            )
        self.assertEqual(len(self.client.get(LIST_URL).json()["results"]), 50)
        for fmt, header_lines in (("csv", 1), ("ndjson", 0)):
            with self.subTest(fmt=fmt):
                response = self.client.get(LIST_URL, {"format": fmt})
                lines = b"".join(response.streaming_content).decode().splitlines()
                self.assertEqual(len(lines), 120 + header_lines)
        body = json.loads(b"".join(self.client.get(LIST_URL, {"format": "geojson"}).streaming_content))
        self.assertEqual(body["metadata"], {"features": 120, "without_coordinates": 0})


class ExportCapTests(TestCase):
    def test_an_export_stops_at_the_configured_number_of_incidents(self):
        for _ in range(5):
            make_incident()
        with override_settings(EXPORT_MAX_ROWS=3):
            body = b"".join(self.client.get(reverse("incident-list"), {"format": "ndjson"}).streaming_content)
        self.assertEqual(len(body.splitlines()), 3)


# About 80 s (tracemalloc slows the NDJSON serializer several times over); CI runs it,
# `make test PYTEST_ARGS="-m 'not slow'"` skips it while developing.
@pytest.mark.slow
class ExportMemoryTests(TestCase):
    """Streaming 20,000 incidents peaks at the memory of streaming one chunk."""

    SIZES = (CHUNK_SIZE, 5_000, 20_000)

    @classmethod
    def setUpTestData(cls):
        call_command("generate_incidents", count=20_000, seed=11, verbosity=0)
        pks = list(Incident.objects.order_by("pk").values_list("pk", flat=True))
        cls.cutoffs = {size: pks[size - 1] for size in cls.SIZES}

    def peak(self, fmt, size):
        queryset = api_queryset().filter(pk__lte=self.cutoffs[size])
        gc.collect()
        tracemalloc.start()
        try:
            lines = 0
            for part in stream_export(queryset, fmt).streaming_content:
                lines += part.count(b"\n")
            return lines, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def test_peak_memory_does_not_grow_with_rows(self):
        for fmt, header_lines in (("csv", 1), ("ndjson", 0)):
            with self.subTest(fmt=fmt):
                # One-time allocations (URL resolver, serializer fields) are not the export's.
                self.peak(fmt, CHUNK_SIZE)
                peaks = {}
                for size in self.SIZES:
                    lines, peaks[size] = self.peak(fmt, size)
                    self.assertEqual(lines, size + header_lines)
                print(
                    f"\n{fmt}: peak "
                    + ", ".join(f"{peak / 1e6:.1f} MB for {size:,}" for size, peak in peaks.items())
                    + f" incidents (20,000 / 5,000: x{peaks[20_000] / peaks[5_000]:.2f})"
                )
                self.assertLess(peaks[20_000] / peaks[5_000], 1.5)
                # Chunks that outlive their turn (reference cycles, say) show up against one chunk.
                self.assertLess(peaks[20_000] / peaks[CHUNK_SIZE], 1.5)


class IncidentCSVSpellingTests(TestCase):
    """The incident CSV follows PostgreSQL COPY's CSV rules on every database, and PostgreSQL's
    own COPY output is byte for byte what the Python path writes."""

    AWKWARD_TITLES = {
        "comma": "Clash, with a comma",
        "quote": 'The "so-called" ceasefire',
        "newline": "Two lines\nof title",
        "return": "Carriage\rreturn",
        "marker": "\\.",
        "unicode": "Хорог — Khorugh, «Pamir»",
        "plain": "Nothing to quote",
    }

    @classmethod
    def setUpTestData(cls):
        place = make_location(admin1="", admin2="Khorugh, city")
        homeless = None
        for n, (key, title) in enumerate(cls.AWKWARD_TITLES.items()):
            incident = make_incident(
                slug=f"awkward-{key}",
                title=title,
                location=homeless if key == "plain" else place,
                start_date=datetime.date(2012, 7, 1) + datetime.timedelta(days=n),
            )
            add_actor(incident, make_actor(slug=f"b-{key}", name="B"), "side_b")
            add_actor(incident, make_actor(slug=f"a-{key}", name="A"), "side_a")
        # One timestamp on a whole second, one with microseconds.
        Incident.objects.filter(slug="awkward-comma").update(
            updated_at=datetime.datetime(2024, 3, 9, 23, 30, tzinfo=datetime.UTC)
        )
        Incident.objects.filter(slug="awkward-quote").update(
            updated_at=datetime.datetime(2024, 3, 9, 23, 30, 5, 120, tzinfo=datetime.UTC)
        )

    def test_fields_read_back_as_written(self):
        text = export(api_queryset(), "csv")[1]
        self.assertNotIn("\r\n", text.replace("Carriage\rreturn", ""))
        rows = {row["slug"]: row for row in csv_rows(text)}
        for key, title in self.AWKWARD_TITLES.items():
            with self.subTest(key=key):
                self.assertEqual(rows[f"awkward-{key}"]["title"], title)
        self.assertEqual(rows["awkward-comma"]["admin2"], "Khorugh, city")
        self.assertEqual(rows["awkward-comma"]["admin1"], "")
        self.assertEqual(rows["awkward-comma"]["actors"], "side_a:a-comma|side_b:b-comma")
        self.assertEqual(rows["awkward-comma"]["updated_at"], "2024-03-09T23:30:00.000000Z")
        self.assertEqual(rows["awkward-quote"]["updated_at"], "2024-03-09T23:30:05.000120Z")
        self.assertEqual(rows["awkward-plain"]["latitude"], "")
        # Text is always quoted, COPY's end-of-data marker too.
        self.assertIn(',"\\.",', text)

    @skipUnless(connection.vendor == "postgresql", "COPY is PostgreSQL's; the Python path is tested above")
    def test_copy_writes_the_same_bytes_as_python(self):
        queryset = api_queryset()
        by_copy = b"".join(_copy_csv(queryset, INCIDENT_CSV))
        by_python = "".join(_incidents_csv_rows(queryset, chunk_size=3)).encode()
        self.assertEqual(
            by_copy.count(b'\n"awkward-') + by_copy.startswith(b'"awkward-'), len(self.AWKWARD_TITLES)
        )
        self.assertEqual(by_copy, by_python)
