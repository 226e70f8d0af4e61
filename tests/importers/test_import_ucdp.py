"""import_ucdp on real UCDP GED files (tests/importers/data, CC BY 4.0): every layout, the mapping rules,
re-imports, newer releases, withdrawals, bad input, and the API serving the result."""

import csv
import datetime
import io
import json
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse

from incidents.importers.records import row_hash
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.search import refresh_search_documents
from incidents.totals import refresh_totals
from tests.factories import add_actor, add_figure, make_actor, make_location, make_source

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "ucdp_ged_sample.csv"  # UCDP Candidate Events 26.0.4 layout
LEGACY = DATA / "ucdp_ged_v19_1_sample.csv"  # GED 19.1, with records that span several lines
WEB_EXPORT = DATA / "ucdp_ged_web_export_sample.csv"
HDX = DATA / "ucdp_ged_hdx_sample.csv"
API_RESPONSE = DATA / "ucdp_api_response.json"
TOTAL_COLUMNS = [
    f"{o}_{b}" for o in ("killed", "wounded", "detained", "missing") for b in ("low", "best", "high")
]


def run(path, *args, **options):
    out = io.StringIO()
    call_command("import_ucdp", str(path), *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def raw_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return {
            row["id"]: row for row in csv.DictReader(stream) if row["id"] and not row["id"].startswith("#")
        }


def snapshot():
    """Every value of every table an import writes."""
    models = [Source, Location, Actor, Incident, IncidentActor, CasualtyFigure, Incident.sources.through]
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def rewrite(source, target, change):
    """Copy a CSV file through the csv module, letting ``change(rows)`` edit the data rows."""
    with open(source, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    change(header, body)
    with open(target, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, lineterminator="\n").writerows([header, *body])
    return target


def figures(incident, group=None):
    queryset = incident.casualty_figures.select_related("source", "actor")
    return list(queryset.filter(group=group) if group else queryset)


class LayoutTests(TestCase):
    """Each layout users download imports every row."""

    def assert_imports(self, path, rows, *args):
        output = run(path, *args)
        self.assertIn(f"added {rows}, updated 0, unchanged 0, rejected 0", output)
        self.assertEqual(Incident.objects.count(), rows)

    def test_current_layout(self):
        self.assert_imports(SAMPLE, 60)

    def test_legacy_layout(self):
        self.assert_imports(LEGACY, 36)

    def test_website_export(self):
        # 47 header names, 48 fields a row, *_est columns, US dates, CRLF.
        self.assert_imports(WEB_EXPORT, 37)

    def test_hdx_edition_skips_its_hashtag_row(self):
        self.assert_imports(HDX, 40)

    def test_api_json_response(self):
        self.assert_imports(API_RESPONSE, 6)


class MappingTests(TestCase):
    """Spot checks of mapped values against the raw rows."""

    @classmethod
    def setUpTestData(cls):
        run(SAMPLE, release="26.0.4")
        cls.rows = raw_rows(SAMPLE)

    def incident(self, event_id):
        return Incident.objects.select_related("location").get(slug=f"ucdp-ged-{event_id}")

    def test_state_based_event(self):
        raw = self.rows["625373"]
        incident = self.incident(625373)
        self.assertEqual((incident.event_type, incident.sub_event_type), ("battles", "armed_clash"))
        self.assertEqual(incident.start_date, datetime.date(2026, 4, 2))
        self.assertEqual(incident.end_date, datetime.date(2026, 4, 2))
        self.assertEqual(incident.date_precision, "day")
        self.assertEqual(incident.status, "published")
        self.assertIn("Government of Iran", incident.title)

        place = incident.location
        self.assertEqual((place.name, place.country_code), ("Karaj town", "IR"))
        self.assertEqual((place.admin1, place.admin2), (raw["adm_1"], raw["adm_2"]))
        self.assertEqual(
            (place.latitude, place.longitude), (Decimal(raw["latitude"]), Decimal(raw["longitude"]))
        )
        self.assertEqual(place.geo_precision, "exact")

        roles = {r.role: r.actor for r in incident.incident_actors.select_related("actor")}
        self.assertEqual(roles["side_a"].name, "Government of Iran")
        self.assertEqual(roles["side_a"].kind, "state")
        self.assertEqual(roles["side_a"].external_ids, {"ucdp_side_id": 114})
        self.assertEqual(roles["side_b"].name, raw["side_b"])
        self.assertEqual(roles["side_b"].external_ids, {"ucdp_side_id": 9865})

        (total,) = figures(incident, "total")
        self.assertEqual((total.low, total.best, total.high, total.qualifier), (13, 13, 13, "exact"))
        self.assertEqual(total.outcome, "killed")
        self.assertEqual(total.quote, raw["source_article"])
        self.assertIn(raw["source_original"], total.notes)
        self.assertEqual(total.source.slug, "ucdp-ged-26-0-4")
        self.assertEqual((total.source.kind, total.source.version), ("dataset", "26.0.4"))
        self.assertIsNone(total.claimed_by)
        by_group = {f.group: f.best for f in figures(incident) if f.group != "total"}
        self.assertEqual(by_group, {"civilians": 8, "unknown": 5})
        self.assertEqual(incident.totals()["killed"], {"low": 13, "best": 13, "high": 13})

        self.assertEqual(incident.extra["dataset"], "ucdp-ged")
        self.assertEqual(incident.extra["row"], raw)
        self.assertEqual(incident.extra["row"]["country_id"], "630")
        self.assertEqual(list(incident.sources.values_list("slug", flat=True)), ["ucdp-ged-26-0-4"])

    def test_one_sided_violence(self):
        incident = self.incident(626556)
        self.assertEqual(
            (incident.event_type, incident.sub_event_type), ("violence_against_civilians", "attack")
        )
        roles = {r.role: r.actor for r in incident.incident_actors.select_related("actor")}
        self.assertEqual((roles["side_b"].name, roles["side_b"].kind), ("Civilians", "community"))
        self.assertEqual(
            [(f.group, f.best) for f in figures(incident) if f.group != "total"], [("civilians", 1)]
        )

    def test_side_deaths_are_claims_about_that_side(self):
        # 628089: one-sided violence by OPM, an armed group; 628075: the government against OPM.
        raw = self.rows["628075"]
        incident = self.incident(628075)
        groups = {f.group: f for f in figures(incident) if f.group != "total"}
        if int(raw["deaths_a"]):
            self.assertEqual(groups["state_forces"].best, int(raw["deaths_a"]))
            self.assertEqual(groups["state_forces"].actor.name, "Government of Indonesia")
        if int(raw["deaths_b"]):
            self.assertEqual(groups["non_state_armed"].best, int(raw["deaths_b"]))
            self.assertEqual(groups["non_state_armed"].actor.name, "OPM")
        self.assertEqual(sum(f.best for f in groups.values()), int(raw["best"]))

    def test_unnamed_actors_and_non_state_violence(self):
        incident = self.incident(628071)
        self.assertEqual(incident.event_type, "battles")
        actors = {r.actor for r in incident.incident_actors.select_related("actor")}
        self.assertEqual([(a.name, a.kind) for a in actors], [("XXX130", "unidentified")])
        self.assertEqual(incident.incident_actors.count(), 2)  # the same actor on both sides

    def test_date_ranges_keep_ucdp_bounds(self):
        for event_id, precision, start, end in [
            (628267, "week", datetime.date(2026, 4, 28), datetime.date(2026, 4, 29)),
            (628079, "month", datetime.date(2026, 4, 18), datetime.date(2026, 4, 28)),
            (629446, "year", datetime.date(2026, 3, 6), datetime.date(2026, 4, 6)),
        ]:
            incident = self.incident(event_id)
            self.assertEqual(
                (incident.date_precision, incident.start_date, incident.end_date), (precision, start, end)
            )

    def test_place_precision(self):
        expected = {
            628269: "near",
            628320: "district",
            628267: "province",
            624113: "country",
            627442: "country",
        }
        for event_id, precision in expected.items():
            self.assertEqual(self.incident(event_id).location.geo_precision, precision, event_id)

    def test_estimates_with_a_range(self):
        incident = self.incident(628079)  # best 0, low 0, high 4
        (total,) = figures(incident, "total")
        self.assertEqual((total.low, total.best, total.high, total.qualifier), (0, 0, 4, "about"))
        self.assertEqual(incident.totals()["killed"], {"low": 0, "best": 0, "high": 4})

    def test_derived_values_are_those_the_refresh_functions_give(self):
        ids = list(Incident.objects.values_list("pk", flat=True))

        def derived():
            incidents = list(Incident.objects.order_by("pk").values("pk", "search_document", *TOTAL_COLUMNS))
            flags = list(CasualtyFigure.objects.order_by("pk").values_list("pk", "counts_in_total"))
            return incidents, flags

        imported = derived()
        self.assertTrue(any(flag for _, flag in imported[1]))
        refresh_totals(ids)
        refresh_search_documents(ids)
        self.assertEqual(derived(), imported)

    def test_found_by_search(self):
        body = self.client.get(reverse("incident-list"), {"search": "Karaj"}).json()
        self.assertEqual([row["slug"] for row in body["results"]], ["ucdp-ged-625373"])

    def test_one_place_one_location(self):
        gaza = Location.objects.filter(name="Gaza town", country_code="IL")
        self.assertEqual(gaza.count(), 1)
        self.assertEqual(Incident.objects.filter(location=gaza.get()).count(), 6)
        self.assertEqual(Actor.objects.filter(name="Government of Israel").count(), 1)


class OtherLayoutTests(TestCase):
    def test_website_export_dates_are_month_first(self):
        run(WEB_EXPORT)
        incident = Incident.objects.get(slug="ucdp-ged-8676")
        self.assertEqual(
            (incident.start_date, incident.end_date), (datetime.date(2001, 6, 22), datetime.date(2001, 6, 28))
        )
        self.assertEqual(incident.date_precision, "week")
        self.assertEqual(Incident.objects.get(slug="ucdp-ged-8656").start_date, datetime.date(2001, 1, 12))
        (total,) = figures(incident, "total")
        self.assertEqual((total.low, total.best, total.high), (2, 2, 2))
        self.assertEqual(incident.location.country_code, "SD")
        self.assertEqual(incident.location.geo_precision, "district")
        # The trailing empty field is not part of the row.
        self.assertEqual(len(incident.extra["row"]), 47)

    def test_hdx_edition(self):
        run(HDX)
        self.assertFalse(Incident.objects.filter(slug__contains="#").exists())
        incident = Incident.objects.get(slug="ucdp-ged-71697")
        # UCDP's high (0) is below its best (118): the bound is left out, with a note.
        (total,) = figures(incident, "total")
        self.assertEqual((total.low, total.best, total.high), (118, 118, None))
        self.assertIn("high estimate (0) is below its best", total.notes)
        self.assertEqual(
            (incident.start_date, incident.end_date), (datetime.date(1995, 1, 1), datetime.date(1995, 12, 31))
        )
        self.assertEqual(incident.date_precision, "year")
        self.assertEqual(incident.location.geo_precision, "country")
        self.assertEqual(incident.extra["row"]["iso3"], "SDN")

    def test_legacy_layout(self):
        run(LEGACY)
        incident = Incident.objects.get(slug="ucdp-ged-209980")
        (total,) = figures(incident, "total")
        self.assertEqual((total.low, total.best, total.high, total.qualifier), (1, 1, 30, "about"))
        self.assertEqual(incident.location.country_code, "MM")
        self.assertEqual(
            (incident.start_date, incident.end_date, incident.date_precision),
            (datetime.date(2015, 5, 11), datetime.date(2015, 5, 12), "week"),
        )
        self.assertEqual(Source.objects.get().slug, "ucdp-ged-19-1")  # the version in the file name
        # A record whose source_original spans three lines arrives whole.
        self.assertIn("\n", Incident.objects.get(slug="ucdp-ged-209406").extra["row"]["source_original"])

    def test_json_response_maps_as_the_csv_does(self):
        def mapped():
            result = {}
            for incident in Incident.objects.select_related("location").order_by("slug"):
                numbers = sorted(
                    (f.group, f.low, f.best, f.high, f.qualifier) for f in incident.casualty_figures.all()
                )
                actors = sorted(
                    (r.role, r.actor.slug) for r in incident.incident_actors.select_related("actor")
                )
                result[incident.slug] = (
                    incident.title,
                    incident.start_date,
                    incident.end_date,
                    incident.date_precision,
                    incident.location.slug,
                    numbers,
                    actors,
                    incident.totals(),
                )
            return result

        run(API_RESPONSE, release="26.0.4")
        from_json = mapped()
        self.assertEqual(len(from_json), 6)
        output = run(SAMPLE, release="26.0.4")
        # The rows differ in form (typed JSON values, text in CSV), not in meaning.
        self.assertIn("added 54, updated 6, unchanged 0", output)
        from_csv = mapped()
        self.assertEqual({slug: from_csv[slug] for slug in from_json}, from_json)


class TempDirMixin:
    def setUp(self):
        super().setUp()
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)


class ReimportTests(TempDirMixin, TestCase):
    def test_each_written_incident_gets_a_history_entry_naming_the_import(self):
        run(SAMPLE, release="26.0.4")
        entries = Incident.history.filter(history_change_reason="import of UCDP GED: ucdp_ged_sample.csv")
        self.assertEqual(entries.count(), Incident.objects.count())
        run(SAMPLE, release="26.0.4")  # unchanged rows are not written, so not recorded again
        self.assertEqual(Incident.history.count(), Incident.objects.count())

    def test_row_fingerprints_do_not_change(self):
        # Databases keep them in extra.row_hash: another value for the same row would make
        # every record of the next import count as changed and be rewritten.
        row = {"id": "1", "best": "2", "Side A": "Government of Iran", "n": 3, "x": None}
        self.assertEqual(row_hash(row), "248574cd302d0bb9a1a5f723913484053887ebe9")

    def test_reimport_changes_nothing(self):
        run(SAMPLE, release="26.0.4")
        before = snapshot()
        output = run(SAMPLE, release="26.0.4")
        self.assertIn("added 0, updated 0, unchanged 60, rejected 0", output)
        self.assertEqual(snapshot(), before)

    def test_a_changed_figure_updates_exactly_that_record(self):
        run(SAMPLE, release="26.0.4")
        incident = Incident.objects.get(slug="ucdp-ged-626545")  # best 2, deaths_b 2
        news = make_source(slug="wire", text="Four militants were killed in Jabalia.")
        editors_figure = add_figure(
            incident, news, group="non_state_armed", low=4, best=4, quote="Four militants"
        )
        add_actor(incident, make_actor(name="Witness"), "commentator")
        incident.refresh_from_db()
        # The editor's 4 and UCDP's 2 are rival claims about Hamas's dead: the lower counts.
        self.assertEqual(incident.killed_best, 2)
        before = snapshot()

        def one_more_death(header, rows):
            row = next(r for r in rows if r[0] == "626545")
            for column in ("best", "high", "deaths_b"):
                row[header.index(column)] = "3"

        newer = rewrite(SAMPLE, self.dir / "GEDEvent_v26_0_5.csv", one_more_death)
        output = run(newer)
        self.assertIn("added 0, updated 1, unchanged 59, rejected 0", output)

        after = snapshot()
        changed = [row for row in after["Incident"] if row not in before["Incident"]]
        self.assertEqual([row["slug"] for row in changed], ["ucdp-ged-626545"])
        for name in ("Location", "Actor"):
            self.assertEqual(after[name], before[name])
        incident.refresh_from_db()
        dataset_figures = incident.casualty_figures.exclude(pk=editors_figure.pk)
        self.assertEqual({f.source.slug for f in dataset_figures}, {"ucdp-ged-26-0-5"})
        self.assertEqual(dataset_figures.get(group="total").best, 3)
        self.assertTrue(CasualtyFigure.objects.filter(pk=editors_figure.pk, best=4).exists())
        self.assertTrue(incident.incident_actors.filter(actor__name="Witness").exists())
        self.assertEqual(incident.incident_actors.filter(note__startswith="UCDP GED").count(), 2)
        # Totals follow the one rule over the dataset's and the editor's figures.
        self.assertEqual(incident.killed_best, 3)
        self.assertEqual(incident.extra["row"]["best"], "3")
        self.assertEqual(Source.objects.get(slug="ucdp-ged-26-0-5").version, "26.0.5")
        untouched = [row for row in before["CasualtyFigure"] if row["incident_id"] != incident.pk]
        self.assertTrue(all(row in after["CasualtyFigure"] for row in untouched))

    def test_missing_records_are_reported_and_withdrawn_only_when_asked(self):
        run(SAMPLE, release="26.0.4")

        def drop_two(header, rows):
            rows[:] = [r for r in rows if r[0] not in ("625373", "626545")]

        partial = rewrite(SAMPLE, self.dir / "partial.csv", drop_two)
        output = run(partial, release="26.0.5")
        self.assertIn("2 records of this dataset in the database are not in this file", output)
        self.assertIn("ucdp-ged-625373", output)
        self.assertFalse(Incident.objects.exclude(status="published").exists())

        output = run(partial, "--withdraw-missing", release="26.0.5")
        self.assertIn("Withdrawn (status retracted, reason in extra.withdrawn): 2.", output)
        withdrawn = Incident.objects.get(slug="ucdp-ged-625373")
        self.assertEqual(withdrawn.status, "retracted")
        self.assertIn("Not in UCDP GED release 26.0.5", withdrawn.extra["withdrawn"]["reason"])
        self.assertEqual(withdrawn.retraction_reason, withdrawn.extra["withdrawn"]["reason"])
        self.assertEqual(Incident.objects.count(), 60)  # nothing deleted
        self.assertTrue(withdrawn.casualty_figures.exists())

        output = run(SAMPLE, release="26.0.6")
        self.assertIn("added 0, updated 2, unchanged 58", output)
        withdrawn.refresh_from_db()
        self.assertEqual(withdrawn.status, "published")
        self.assertNotIn("withdrawn", withdrawn.extra)
        self.assertEqual(withdrawn.retraction_reason, "")

    def test_incidents_editors_deleted_are_not_recreated(self):
        run(SAMPLE, release="26.0.4")
        incident = Incident.objects.get(slug="ucdp-ged-625373")
        IncidentTombstone.objects.create(slug=incident.slug, title=incident.title, reason="duplicate")
        incident.delete()
        output = run(SAMPLE, release="26.0.4")
        self.assertIn("added 0, updated 0, unchanged 59, rejected 0", output)
        self.assertIn("Not re-created: 1 incidents that editors deleted or merged", output)
        self.assertFalse(Incident.objects.filter(slug="ucdp-ged-625373").exists())
        self.assertNotIn("not in this file", output)

    def test_status_draft_for_review(self):
        run(SAMPLE, status="draft")
        self.assertEqual(set(Incident.objects.values_list("status", flat=True)), {"draft"})
        Incident.objects.filter(slug="ucdp-ged-625373").update(status="reviewed")
        run(SAMPLE)
        self.assertEqual(Incident.objects.get(slug="ucdp-ged-625373").status, "reviewed")
        self.assertEqual(Incident.objects.filter(status="draft").count(), 59)

    def test_editors_extra_keys_survive_an_update(self):
        run(SAMPLE, release="26.0.4")
        incident = Incident.objects.get(slug="ucdp-ged-626545")
        incident.extra["reviewer_note"] = "checked against Wafa"
        incident.save()

        def change(header, rows):
            next(r for r in rows if r[0] == "626545")[header.index("where_description")] = "changed"

        run(rewrite(SAMPLE, self.dir / "changed.csv", change), release="26.0.5")
        incident.refresh_from_db()
        self.assertEqual(incident.extra["reviewer_note"], "checked against Wafa")
        self.assertEqual(incident.extra["row"]["where_description"], "changed")


class ReuseTests(TestCase):
    def test_an_actor_known_by_an_alias_is_reused(self):
        hamas = make_actor(slug="hamas-movement", name="Harakat al-Muqawama al-Islamiya", aliases=["Hamas"])
        run(SAMPLE)
        self.assertFalse(Actor.objects.filter(name="Hamas").exists())
        hamas.refresh_from_db()
        self.assertEqual(hamas.external_ids, {"ucdp_side_id": 209})
        self.assertEqual(hamas.kind, "armed_group")
        self.assertEqual(hamas.incident_roles.filter(role="side_b").count(), 17)

    def test_a_known_place_is_reused(self):
        karaj = make_location(
            slug="karaj",
            name="Karaj town",
            country_code="IR",
            admin1="Alborz",
            latitude="35.835556",
            longitude="51.010278",
            geo_precision="exact",
        )
        run(SAMPLE)
        self.assertEqual(Incident.objects.get(slug="ucdp-ged-625373").location, karaj)
        self.assertFalse(Location.objects.filter(name="Karaj town").exclude(pk=karaj.pk).exists())


class BadInputTests(TempDirMixin, TestCase):
    def broken_copy(self):
        """The legacy sample (records 2 and 3 span lines 3-5 and 6-7) with five bad rows."""

        def break_rows(header, rows):
            rows[2][header.index("id")] = ""  # line 6
            rows[3][header.index("date_start")] = "2013-13-45"  # line 8
            rows[4][header.index("latitude")] = "123.5"  # line 9
            rows[5][header.index("best")] = "many"  # line 10
            rows[6].pop()  # line 11

        return rewrite(LEGACY, self.dir / "broken.csv", break_rows)

    def test_bad_rows_are_reported_by_line_and_nothing_is_written(self):
        with self.assertRaises(CommandError) as raised:
            run(self.broken_copy())
        message = str(raised.exception)
        self.assertIn("5 invalid rows out of 36; nothing was written", message)
        for expected in [
            "line 6: id: is empty",
            "line 8: date_start: '2013-13-45' is not a date",
            "line 9: latitude: 123.5 is out of range",
            "line 10: best: 'many' is not a whole number",
            "line 11: has 41 fields where the header names 42",
        ]:
            self.assertIn(expected, message)
        for model in (Incident, Source, Location, Actor, CasualtyFigure):
            self.assertFalse(model.objects.exists(), model)

    def test_skip_invalid_loads_the_rest_and_writes_the_rejects(self):
        broken = self.broken_copy()
        output = run(broken, "--skip-invalid")
        self.assertIn("added 31, updated 0, unchanged 0, rejected 5", output)
        rejects = self.dir / "broken.rejects.csv"
        self.assertIn(str(rejects), output)
        with open(rejects, newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
        self.assertEqual(rows[0][:3], ["line", "reason", "id"])
        self.assertEqual([r[0] for r in rows[1:]], ["6", "8", "9", "10", "11"])
        self.assertIn("is out of range", rows[3][1])
        self.assertEqual(rows[3][2], "209857")  # the row itself follows

        elsewhere = self.dir / "out" / "rejects.csv"
        elsewhere.parent.mkdir()
        run(broken, "--skip-invalid", rejects=str(elsewhere))
        self.assertTrue(elsewhere.exists())

    def test_a_rejected_row_is_not_reported_missing(self):
        run(LEGACY)
        output = run(self.broken_copy(), "--skip-invalid", "--withdraw-missing")
        # Of the five rejected rows only the one without an id cannot be matched to its record.
        self.assertIn(
            "1 record of this dataset in the database is not in this file: ucdp-ged-210026\n", output
        )
        self.assertEqual(
            list(Incident.objects.filter(status="retracted").values_list("slug", flat=True)),
            ["ucdp-ged-210026"],
        )

    def test_duplicate_ids(self):
        def duplicate(header, rows):
            rows.append(list(rows[0]))

        with self.assertRaises(CommandError) as raised:
            run(rewrite(SAMPLE, self.dir / "dup.csv", duplicate))
        self.assertIn("line 77: the id of ucdp-ged-625373 is also on line 2", str(raised.exception))

    def test_whole_file_problems(self):
        cases = {
            "empty.csv": (b"", "the file is empty"),
            "blank.csv": (b"\xef\xbb\xbf\r\n\r\n", "the file is empty"),
            "header.csv": (SAMPLE.read_bytes().split(b"\n")[0] + b"\n", "a header but no rows"),
            "image.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
            "data.zip": (b"PK\x03\x04\x14\x00", "ZIP archive"),
            "notes.csv": (b"just some words\nnot a table\n", "lacks the columns id, type_of_violence"),
            "latin1.csv": (SAMPLE.read_bytes().replace(b"Karaj", b"K\xe4raj"), "not UTF-8"),
            "other.json": (json.dumps({"data": []}).encode(), "'Result' array"),
            "acled.csv": ((DATA / "acled_pre2023_layout.csv").read_bytes(), "use import_acled"),
        }
        for name, (content, expected) in cases.items():
            with self.subTest(name):
                path = self.dir / name
                path.write_bytes(content)
                with self.assertRaises(CommandError) as raised:
                    run(path)
                self.assertIn(expected, str(raised.exception))
        with self.assertRaises(CommandError):
            run(self.dir / "no-such-file.csv")
        self.assertFalse(Incident.objects.exists())

    def test_unknown_layout_names_every_missing_column(self):
        path = self.dir / "cut.csv"
        path.write_text("id,date_start,date_end\n1,2020-01-01,2020-01-01\n")
        with self.assertRaises(CommandError) as raised:
            run(path)
        self.assertIn("lacks the columns type_of_violence, side_a, side_b", str(raised.exception))
        self.assertIn("deaths_civilians", str(raised.exception))
        self.assertNotIn("date_start,", str(raised.exception))


class ApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        run(SAMPLE, release="26.0.4")

    def test_listed_by_country(self):
        body = self.client.get(reverse("incident-list"), {"country": "AF", "page_size": 100}).json()
        self.assertEqual(body["count"], 14)
        self.assertTrue(all(row["location"]["country_code"] == "AF" for row in body["results"]))

    def test_detail(self):
        body = self.client.get(reverse("incident-detail", kwargs={"slug": "ucdp-ged-625373"})).json()
        self.assertEqual(body["location"]["name"], "Karaj town")
        self.assertEqual(body["totals"]["killed"], {"low": 13, "best": 13, "high": 13})
        self.assertEqual({c["group"] for c in body["casualty_figures"]}, {"total", "civilians", "unknown"})
        self.assertEqual(body["sources"][0]["slug"], "ucdp-ged-26-0-4")
        source = self.client.get(reverse("source-detail", kwargs={"slug": "ucdp-ged-26-0-4"})).json()
        self.assertEqual(source["kind"], "dataset")
