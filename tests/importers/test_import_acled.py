"""import_acled on ACLED-layout files written for these tests (tests/importers/data; no ACLED data):
both layouts, text and numeric actor types, both date formats, the mapping rules,
re-imports, bad input and the API serving the result."""

import csv
import datetime
import io
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from incidents.search import refresh_search_documents
from incidents.totals import refresh_totals
from tests.factories import make_actor

DATA = Path(__file__).parent / "data"
PRE_2023 = DATA / "acled_pre2023_layout.csv"  # numeric inter codes, "24 July 2012" dates, CRLF
TEXT_INTER = DATA / "acled_2023_text_inter.csv"  # inter codes as text, ISO dates
NUMERIC_INTER = DATA / "acled_2023_numeric_inter.csv"  # numeric inter codes, "01 November 2024" dates


def run(path, *args, **options):
    out = io.StringIO()
    call_command("import_acled", str(path), *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def raw_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return {row["event_id_cnty"]: row for row in csv.DictReader(stream)}


def snapshot():
    models = [Source, Location, Actor, Incident, IncidentActor, CasualtyFigure, Incident.sources.through]
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def rewrite(source, target, change):
    with open(source, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    change(header, body)
    with open(target, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, lineterminator="\n").writerows([header, *body])
    return target


def roles(incident):
    return sorted(
        (r.role, r.actor.name, r.actor.kind) for r in incident.incident_actors.select_related("actor")
    )


class LayoutTests(TestCase):
    def test_every_layout_imports(self):
        for path, count in [(PRE_2023, 6), (TEXT_INTER, 5), (NUMERIC_INTER, 3)]:
            with self.subTest(path.name):
                output = run(path)
                self.assertIn(f"added {count}, updated 0, unchanged 0, rejected 0", output)
        self.assertIn("ACLED, 2023 layout", run(TEXT_INTER))
        self.assertEqual(Incident.objects.count(), 14)


class MappingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        for path in (PRE_2023, TEXT_INTER, NUMERIC_INTER):
            run(path)

    def incident(self, event_id):
        return Incident.objects.select_related("location").get(slug=f"acled-{event_id.lower()}")

    def test_battle_in_the_pre_2023_layout(self):
        raw = raw_rows(PRE_2023)["TJK9001"]
        incident = self.incident("TJK9001")
        self.assertEqual((incident.event_type, incident.sub_event_type), ("battles", "armed_clash"))
        self.assertEqual((incident.start_date, incident.end_date), (datetime.date(2012, 7, 24),) * 2)
        self.assertEqual(incident.date_precision, "day")
        place = incident.location
        self.assertEqual(
            (place.name, place.country_code, place.admin1, place.admin2),
            ("Khorugh", "TJ", "Gorno-Badakhshan", "Khorugh"),
        )
        self.assertEqual((place.latitude, place.longitude), (Decimal("37.489700"), Decimal("71.553100")))
        self.assertEqual(place.geo_precision, "exact")
        self.assertEqual(
            roles(incident),
            [
                ("side_a", "Military Forces of Tajikistan (1994-)", "state_forces"),
                ("side_b", "Militia (Ayombekov)", "armed_group"),
            ],
        )
        (figure,) = incident.casualty_figures.select_related("source")
        self.assertEqual((figure.outcome, figure.group), ("killed", "total"))
        self.assertEqual(
            (figure.low, figure.best, figure.high, figure.qualifier), (12, None, None, "at_least")
        )
        self.assertEqual(figure.quote, raw["notes"])
        self.assertIn("Test Wire; Example Daily", figure.notes)
        self.assertIn("most conservative", figure.notes)
        self.assertEqual(figure.source.slug, "acled-export-acled_pre2023_layout")
        self.assertEqual(figure.source.kind, "dataset")
        self.assertEqual(incident.totals()["killed"], {"low": 12, "best": 12, "high": None})
        self.assertEqual(incident.extra["row"], raw)
        self.assertEqual(incident.extra["row"]["iso"], "762")

    def test_week_precision_widens_to_the_week_around_the_date(self):
        incident = self.incident("TJK9002")  # time_precision 2, 02 March 2020
        self.assertEqual(incident.date_precision, "week")
        self.assertEqual(
            (incident.start_date, incident.end_date), (datetime.date(2020, 2, 28), datetime.date(2020, 3, 5))
        )
        self.assertEqual(incident.location.geo_precision, "near")

    def test_month_precision_widens_to_the_month(self):
        incident = self.incident("KGZ9003")  # time_precision 3, 15 May 2019
        self.assertEqual(incident.date_precision, "month")
        self.assertEqual(
            (incident.start_date, incident.end_date), (datetime.date(2019, 5, 1), datetime.date(2019, 5, 31))
        )
        self.assertEqual(incident.location.geo_precision, "province")
        self.assertEqual(incident.location.country_code, "KG")
        # No second actor (inter2 0): one role only.
        self.assertEqual(roles(incident), [("side_a", "Protesters (Kyrgyzstan)", "community")])
        self.assertEqual(incident.killed_low, 0)

    def test_associated_actors_join_their_side(self):
        incident = self.incident("TJK9002")
        self.assertEqual(
            roles(incident),
            [
                ("side_a", "Unidentified Armed Group (Tajikistan)", "unidentified"),
                ("side_b", "Civilians (Tajikistan)", "community"),
                ("side_b", "Teachers (Tajikistan)", "community"),
                ("side_b", "Women (Tajikistan)", "community"),
            ],
        )
        note = incident.incident_actors.get(actor__name="Teachers (Tajikistan)").note
        self.assertEqual(note, "ACLED assoc_actor_2, associated with Civilians (Tajikistan)")

    def test_actor_types_from_text_and_numbers(self):
        text = roles(self.incident("KGZ9101"))
        self.assertIn(("side_a", "Military Forces of Kyrgyzstan (2021-)", "state_forces"), text)
        self.assertIn(("side_a", "Rioters (Kyrgyzstan)", "community"), roles(self.incident("KGZ9102")))
        self.assertIn(("side_b", "Jamaat Ansarullah", "armed_group"), roles(self.incident("TJK9103")))
        self.assertIn(
            ("side_a", "United Nations Observer Mission (Test)", "international_organisation"),
            roles(self.incident("UZB9105")),
        )
        # inter 8, external forces, named as a state's military.
        self.assertIn(
            ("side_a", "Military Forces of Russia (2000-)", "state_forces"), roles(self.incident("TJK9006"))
        )
        self.assertIn(
            ("side_b", "Police Forces of Tajikistan (1994-)", "state_forces"), roles(self.incident("TJK9202"))
        )

    def test_event_types_map_to_the_taxonomy(self):
        expected = {
            "TJK9005": ("explosions_remote_violence", "remote_explosive_landmine_ied"),
            "KGZ9102": ("riots", "mob_violence"),
            "TJK9104": ("violence_against_civilians", "abduction_forced_disappearance"),
            "TJK9202": ("protests", "protest_with_intervention"),
            "TJK9203": ("strategic_developments", "arrests"),
            "TJK9004": ("strategic_developments", "agreement"),
        }
        for event_id, types in expected.items():
            incident = self.incident(event_id)
            self.assertEqual((incident.event_type, incident.sub_event_type), types, event_id)

    def test_text_dates_in_the_current_layout(self):
        incident = self.incident("TJK9201")
        self.assertEqual(incident.start_date, datetime.date(2024, 11, 1))
        month = self.incident("TJK9202")
        self.assertEqual(
            (month.start_date, month.end_date), (datetime.date(2024, 11, 1), datetime.date(2024, 11, 30))
        )

    def test_derived_values_are_those_the_refresh_functions_give(self):
        ids = list(Incident.objects.values_list("pk", flat=True))

        def derived():
            totals = [f"killed_{bound}" for bound in ("low", "best", "high")]
            incidents = list(Incident.objects.order_by("pk").values("pk", "search_document", *totals))
            flags = list(CasualtyFigure.objects.order_by("pk").values_list("pk", "counts_in_total"))
            return incidents, flags

        imported = derived()
        refresh_totals(ids)
        refresh_search_documents(ids)
        self.assertEqual(derived(), imported)
        self.assertIn("Teachers (Tajikistan)", self.incident("TJK9002").search_document)

    def test_same_place_and_actor_across_files(self):
        khorugh = Location.objects.filter(name="Khorugh")
        self.assertEqual(khorugh.count(), 1)
        self.assertEqual(
            set(khorugh.get().incidents.values_list("slug", flat=True)), {"acled-tjk9001", "acled-tjk9201"}
        )
        army = Actor.objects.get(name="Military Forces of Tajikistan (1994-)")
        self.assertEqual(army.external_ids, {"acled_actor": "Military Forces of Tajikistan (1994-)"})
        self.assertEqual(army.incident_roles.count(), 5)


class ReimportTests(TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)

    def test_reimport_changes_nothing(self):
        run(PRE_2023)
        before = snapshot()
        self.assertIn("added 0, updated 0, unchanged 6, rejected 0", run(PRE_2023))
        self.assertEqual(snapshot(), before)

    def test_a_changed_fatality_count_updates_exactly_that_record(self):
        run(TEXT_INTER, release="2024-09-20")
        before = snapshot()

        def more_dead(header, rows):
            next(r for r in rows if r[0] == "KGZ9101")[header.index("fatalities")] = "6"

        output = run(rewrite(TEXT_INTER, self.dir / "update.csv", more_dead), release="2024-09-27")
        self.assertIn("added 0, updated 1, unchanged 4, rejected 0", output)
        after = snapshot()
        changed = [row["slug"] for row in after["Incident"] if row not in before["Incident"]]
        self.assertEqual(changed, ["acled-kgz9101"])
        incident = Incident.objects.get(slug="acled-kgz9101")
        (figure,) = incident.casualty_figures.select_related("source")
        self.assertEqual((figure.low, figure.source.slug), (6, "acled-export-2024-09-27"))
        self.assertEqual(incident.killed_low, 6)
        self.assertEqual(after["IncidentActor"][0]["note"], before["IncidentActor"][0]["note"])

    def test_an_actor_known_by_an_alias_is_reused(self):
        army = make_actor(
            name="Tajik Armed Forces", kind="state_forces", aliases=["Military Forces of Tajikistan (1994-)"]
        )
        run(PRE_2023)
        self.assertFalse(Actor.objects.filter(name="Military Forces of Tajikistan (1994-)").exists())
        army.refresh_from_db()
        self.assertEqual(army.external_ids, {"acled_actor": "Military Forces of Tajikistan (1994-)"})
        self.assertEqual(army.incident_roles.count(), 2)


class ActorKindOrderTests(TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)

    def test_a_new_actor_rows_give_different_kinds_takes_the_first_rows_kind(self):
        def same_actor(header, rows):
            for row, inter in zip(rows[:3], ("Protesters", "Rebel group", "Rebel group"), strict=True):
                row[header.index("actor1")] = "Band of Neighbours"
                row[header.index("assoc_actor_1")] = ""
                row[header.index("inter1")] = inter

        # The file's order decides, not the order of a set (which varied from run to run).
        run(rewrite(TEXT_INTER, self.dir / "same_actor.csv", same_actor))
        self.assertEqual(Actor.objects.get(name="Band of Neighbours").kind, "community")


class BadInputTests(TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)

    def broken_copy(self):
        def break_rows(header, rows):
            rows[0][header.index("event_id_cnty")] = ""  # line 2
            rows[1][header.index("event_date")] = "31 Febtember 2020"  # line 3
            rows[2][header.index("longitude")] = "-181"  # line 4
            rows[3][header.index("fatalities")] = "a few"  # line 5
            rows[4][header.index("sub_event_type")] = "Armed clash"  # line 6, not a kind of explosion
            rows[5][header.index("inter1")] = "Pirates"  # line 7
            rows.append(rows[5][:10])  # line 8

        return rewrite(PRE_2023, self.dir / "broken.csv", break_rows)

    def test_bad_rows_are_reported_by_line_and_nothing_is_written(self):
        with self.assertRaises(CommandError) as raised:
            run(self.broken_copy())
        message = str(raised.exception)
        for expected in [
            "7 invalid rows out of 7",
            "line 2: event_id_cnty: is empty",
            "line 3: event_date: '31 Febtember 2020' is not a date",
            "line 4: longitude: -181 is out of range",
            "line 5: fatalities: 'a few' is not a whole number",
            "line 6: sub_event_type: 'Armed clash' is not a kind of 'Explosions/Remote violence'",
            "line 7: inter1: 'Pirates' is not an ACLED actor type",
            "line 8: has 10 fields where the header names 31",
        ]:
            self.assertIn(expected, message)
        self.assertFalse(Incident.objects.exists())
        self.assertFalse(Source.objects.exists())

    def test_skip_invalid_writes_the_rejects_next_to_the_file(self):
        def break_one(header, rows):
            rows[2][header.index("event_type")] = "Skirmish"

        broken = rewrite(PRE_2023, self.dir / "one-bad.csv", break_one)
        output = run(broken, "--skip-invalid")
        self.assertIn("added 5, updated 0, unchanged 0, rejected 1", output)
        with open(self.dir / "one-bad.rejects.csv", newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
        self.assertEqual(rows[1][:2], ["4", "event_type: 'Skirmish' is not an ACLED event type"])

    def test_a_country_without_an_iso_code_is_rejected(self):
        def kosovo(header, rows):
            row = rows[0]
            row[header.index("country")], row[header.index("iso")] = "Kosovo", "0"

        with self.assertRaises(CommandError) as raised:
            run(rewrite(PRE_2023, self.dir / "kosovo.csv", kosovo))
        self.assertIn(
            "line 2: country: 'Kosovo', '0' is not a country with an ISO 3166-1 code", str(raised.exception)
        )

    def test_a_ucdp_file_is_refused_with_a_hint(self):
        with self.assertRaises(CommandError) as raised:
            run(DATA / "ucdp_ged_sample.csv")
        self.assertIn("lacks the columns event_id_cnty, event_date", str(raised.exception))
        self.assertIn("use import_ucdp", str(raised.exception))


class ApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        for path in (PRE_2023, TEXT_INTER, NUMERIC_INTER):
            run(path)

    def test_listed_by_country(self):
        body = self.client.get(reverse("incident-list"), {"country": "kg"}).json()
        self.assertEqual(
            sorted(row["slug"] for row in body["results"]),
            ["acled-kgz9003", "acled-kgz9101", "acled-kgz9102"],
        )

    def test_detail(self):
        body = self.client.get(reverse("incident-detail", kwargs={"slug": "acled-tjk9005"})).json()
        self.assertEqual(body["totals"]["killed"], {"low": 4, "best": 4, "high": None})
        self.assertEqual(body["casualty_figures"][0]["qualifier"], "at_least")
        self.assertEqual(body["location"]["country_code"], "TJ")
        self.assertEqual(len(body["actors"]), 3)
