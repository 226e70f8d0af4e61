"""The shipped seed data: it loads completely and repeatably, its quotes and totals hold, it is served."""

import json
import shutil
from collections import Counter
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from incidents.totals import compute_totals

FIXTURE_FILES = sorted(settings.FIXTURES_DIR.glob("*.json"))
MODELS = {
    "incidents.source": Source,
    "incidents.location": Location,
    "incidents.actor": Actor,
    "incidents.incident": Incident,
    "incidents.incidentactor": IncidentActor,
    "incidents.casualtyfigure": CasualtyFigure,
}
INCIDENT_SOURCES = "incidents.incident.sources"
TIMESTAMPS = {"created_at", "updated_at"}
TOTAL_COLUMNS = [
    f"{outcome}_{bound}"
    for outcome in ("killed", "wounded", "detained", "missing")
    for bound in ("low", "best", "high")
]


# -- Reading the shipped files ---------------------------------------------------------------


def read_records(path):
    return json.loads(path.read_text(encoding="utf-8"))


def fixture_records(label=None):
    records = [record for path in FIXTURE_FILES for record in read_records(path)]
    return [r for r in records if label is None or r["model"] == label]


def fixture_file_for(label):
    """The name of the (first) fixture file holding records of this model."""
    return next(p.name for p in FIXTURE_FILES if any(r["model"] == label for r in read_records(p)))


def seed_text(slug, seeds_dir=settings.SEEDS_DIR):
    return (seeds_dir / f"{slug}.txt").read_text(encoding="utf-8")


def expected_counts():
    counts = Counter(record["model"] for record in fixture_records())
    counts[INCIDENT_SOURCES] = sum(len(r["fields"]["sources"]) for r in fixture_records("incidents.incident"))
    return {label: counts[label] for label in [*MODELS, INCIDENT_SOURCES]}


def incident_slugs(**where):
    return {
        r["fields"]["slug"]
        for r in fixture_records("incidents.incident")
        if all(r["fields"][k] == v for k, v in where.items())
    }


# -- Reading the database ---------------------------------------------------------------------


def row_counts():
    counts = {label: model.objects.count() for label, model in MODELS.items()}
    counts[INCIDENT_SOURCES] = Incident.sources.through.objects.count()
    return counts


def snapshot():
    """Every row of the incident tables, timestamps aside, in primary-key order."""
    dump = {}
    for label, model in MODELS.items():
        columns = [f.attname for f in model._meta.concrete_fields if f.name not in TIMESTAMPS]
        dump[label] = list(model.objects.order_by("pk").values_list(*columns))
    dump[INCIDENT_SOURCES] = list(
        Incident.sources.through.objects.order_by("incident_id", "source_id").values_list(
            "incident_id", "source_id"
        )
    )
    return dump


def computed_totals(incident):
    return compute_totals(CasualtyFigure.objects.filter(incident=incident).order_by("pk"))


def stored_totals(incident):
    return {column: getattr(incident, column) for column in TOTAL_COLUMNS}


def assert_nothing_written():
    assert row_counts() == dict.fromkeys(row_counts(), 0)


# -- The seed data itself, without a database -------------------------------------------------


def test_fixtures_are_not_empty_and_name_only_known_models():
    labels = {record["model"] for record in fixture_records()}

    assert labels == set(MODELS)


@pytest.mark.parametrize(
    "figure", fixture_records("incidents.casualtyfigure"), ids=lambda r: r["fields"]["uid"]
)
def test_figure_quote_occurs_verbatim_in_its_source(figure):
    fields = figure["fields"]
    (source_slug,) = fields["source"]

    assert fields["quote"]
    assert fields["quote"] in seed_text(source_slug)


@pytest.mark.parametrize(
    "role",
    [r for r in fixture_records("incidents.incidentactor") if r["fields"]["quote"]],
    ids=lambda r: "{}/{}/{}".format(r["fields"]["incident"][0], r["fields"]["actor"][0], r["fields"]["role"]),
)
def test_incident_actor_quote_occurs_verbatim_in_one_of_the_incident_sources(role):
    (incident_slug,) = role["fields"]["incident"]
    incident = next(r for r in fixture_records("incidents.incident") if r["fields"]["slug"] == incident_slug)
    texts = [seed_text(slug) for (slug,) in incident["fields"]["sources"]]

    assert texts, f"{incident_slug} has no sources"
    assert any(role["fields"]["quote"] in text for text in texts)


# -- load_seeds ---------------------------------------------------------------------------------


class LoadSeedsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.output = StringIO()
        call_command("load_seeds", stdout=cls.output)

    def test_every_fixture_record_is_loaded(self):
        self.assertEqual(row_counts(), expected_counts())

    def test_reports_how_many_records_it_loaded(self):
        self.assertIn(
            f"Loaded {len(fixture_records())} new records; 0 already present, left as they are; "
            "0 deleted by editors, not restored.",
            self.output.getvalue(),
        )

    def test_each_source_text_is_its_seed_file(self):
        for record in fixture_records("incidents.source"):
            slug = record["fields"]["slug"]
            with self.subTest(source=slug):
                text = Source.objects.get(slug=slug).text
                self.assertTrue(text)
                self.assertEqual(text, seed_text(slug))

    def test_loading_again_leaves_the_same_rows(self):
        before = snapshot()

        call_command("load_seeds", verbosity=0)

        self.assertEqual(row_counts(), expected_counts())
        self.assertEqual(snapshot(), before)

    def test_stored_totals_equal_the_fixture_and_the_totals_rule(self):
        for record in fixture_records("incidents.incident"):
            incident = Incident.objects.get(slug=record["fields"]["slug"])
            with self.subTest(incident=incident.slug):
                self.assertEqual(stored_totals(incident), computed_totals(incident))
                self.assertEqual(stored_totals(incident), {c: record["fields"][c] for c in TOTAL_COLUMNS})

    def test_some_incidents_have_totals(self):
        # Guards the comparisons above against vacuous success.
        self.assertTrue(Incident.objects.filter(killed_low__isnull=False).exists())


class LoadDataTests(TestCase):
    def test_plain_loaddata_loads_every_record(self):
        call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)

        self.assertEqual(row_counts(), expected_counts())

    def test_plain_loaddata_twice_leaves_the_same_rows(self):
        call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)
        before = snapshot()

        call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)

        self.assertEqual(row_counts(), expected_counts())
        self.assertEqual(snapshot(), before)

    def test_totals_in_the_fixture_equal_the_totals_rule(self):
        call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)

        for record in fixture_records("incidents.incident"):
            incident = Incident.objects.get(slug=record["fields"]["slug"])
            with self.subTest(incident=incident.slug):
                self.assertEqual({c: record["fields"][c] for c in TOTAL_COLUMNS}, computed_totals(incident))
                self.assertEqual(stored_totals(incident), computed_totals(incident))

    def test_plain_loaddata_serves_search_too(self):
        call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)

        response = self.client.get(reverse("incident-list"), {"search": "snipers"})
        self.assertEqual(
            [row["slug"] for row in response.json()["results"]], ["khorugh-sniper-killings-2012"]
        )


# -- load_seeds failing: clear errors, nothing half-written -----------------------------------


class SeedCopy:
    """A copy of fixtures/ and seeds/ that a test may break before loading it."""

    def __init__(self, root):
        self.fixtures = root / "fixtures"
        self.seeds = root / "seeds"
        shutil.copytree(settings.FIXTURES_DIR, self.fixtures)
        shutil.copytree(settings.SEEDS_DIR, self.seeds)

    def edit(self, label, change):
        """Apply change(records) to the records of the file holding `label`; return the file name."""
        name = fixture_file_for(label)
        path = self.fixtures / name
        records = read_records(path)
        change(records)
        path.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
        return name

    def load(self):
        call_command(
            "load_seeds", "--fixtures-dir", str(self.fixtures), "--seeds-dir", str(self.seeds), verbosity=0
        )


@pytest.fixture
def seeds_copy(tmp_path):
    return SeedCopy(tmp_path)


def first_of(records, label, **where):
    return next(
        r for r in records if r["model"] == label and all(r["fields"].get(k) == v for k, v in where.items())
    )


@pytest.mark.django_db(transaction=True)
def test_unbroken_copy_loads(seeds_copy):
    seeds_copy.load()

    assert row_counts() == expected_counts()


@pytest.mark.django_db(transaction=True)
def test_broken_json_names_the_file_and_rolls_back_earlier_files(seeds_copy):
    name = fixture_file_for("incidents.incident")
    path = seeds_copy.fixtures / name
    path.write_text(path.read_text(encoding="utf-8")[:-20], encoding="utf-8")
    assert name != FIXTURE_FILES[0].name, "earlier files must be loaded before the broken one"

    with pytest.raises(CommandError, match=name):
        seeds_copy.load()

    assert_nothing_written()


@pytest.mark.django_db(transaction=True)
def test_quote_missing_from_its_source_names_file_record_and_uid(seeds_copy):
    def change(records):
        records[2]["fields"]["quote"] = "Hundreds were killed, the ministry said."

    name = seeds_copy.edit("incidents.casualtyfigure", change)
    figures = read_records(seeds_copy.fixtures / name)
    uid = figures[2]["fields"]["uid"]

    with pytest.raises(CommandError) as caught:
        seeds_copy.load()

    message = str(caught.value)
    assert name in message
    assert "record 3" in message
    assert uid in message
    assert_nothing_written()


@pytest.mark.django_db(transaction=True)
def test_incident_actor_quote_missing_from_the_sources_names_the_record(seeds_copy):
    def change(records):
        first_of(records, "incidents.incidentactor", actor=["tolib-ayombekov"])["fields"]["quote"] = (
            "Ayombekov surrendered."
        )

    name = seeds_copy.edit("incidents.incidentactor", change)

    with pytest.raises(CommandError) as caught:
        seeds_copy.load()

    assert name in str(caught.value)
    assert "tolib-ayombekov" in str(caught.value)
    assert_nothing_written()


DANGLING_REFERENCES = [
    pytest.param("incidents.casualtyfigure", "incident", ["no-such-incident"], id="figure-incident"),
    pytest.param("incidents.casualtyfigure", "source", ["no-such-source"], id="figure-source"),
    pytest.param("incidents.incidentactor", "actor", ["no-such-actor"], id="role-actor"),
    pytest.param("incidents.incidentactor", "incident", ["no-such-incident"], id="role-incident"),
    pytest.param("incidents.actor", "parent", ["no-such-actor"], id="actor-parent"),
    pytest.param("incidents.incident", "location", ["no-such-location"], id="incident-location"),
    pytest.param("incidents.incident", "sources", [["no-such-source"]], id="incident-sources"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("label", "field", "reference"), DANGLING_REFERENCES)
def test_dangling_reference_names_the_file(seeds_copy, label, field, reference):
    def change(records):
        first_of(records, label)["fields"][field] = reference

    name = seeds_copy.edit(label, change)

    with pytest.raises(CommandError, match=name):
        seeds_copy.load()

    assert_nothing_written()


@pytest.mark.django_db(transaction=True)
def test_unknown_model_label_is_a_command_error(seeds_copy):
    def change(records):
        records[-1]["model"] = "incidents.nosuchmodel"

    name = seeds_copy.edit("incidents.casualtyfigure", change)

    with pytest.raises(CommandError, match=name):
        seeds_copy.load()

    assert_nothing_written()


@pytest.mark.django_db(transaction=True)
def test_source_without_a_seed_text_names_the_source(seeds_copy):
    slug = fixture_records("incidents.source")[0]["fields"]["slug"]
    (seeds_copy.seeds / f"{slug}.txt").unlink()

    with pytest.raises(CommandError, match=slug):
        seeds_copy.load()

    assert_nothing_written()


@pytest.mark.django_db(transaction=True)
def test_figure_with_low_above_best_is_refused(seeds_copy):
    def change(records):
        fields = records[0]["fields"]
        fields.update(low=50, best=10, high=None)

    name = seeds_copy.edit("incidents.casualtyfigure", change)

    with pytest.raises(CommandError, match=name):
        seeds_copy.load()

    assert_nothing_written()


@pytest.mark.django_db
def test_load_seeds_recomputes_totals_the_fixture_got_wrong(seeds_copy):
    def change(records):
        for record in records:
            record["fields"].update(dict.fromkeys(TOTAL_COLUMNS, 999))

    seeds_copy.edit("incidents.incident", change)

    seeds_copy.load()

    fighting = Incident.objects.get(slug="gorno-badakhshan-fighting-2012-07-24")
    assert fighting.totals()["killed"] == {"low": 42, "best": 42, "high": None}
    for incident in Incident.objects.all():
        assert stored_totals(incident) == computed_totals(incident), incident.slug


@pytest.mark.django_db(transaction=True)
def test_failed_load_leaves_earlier_data_as_it_was(seeds_copy):
    seeds_copy.load()
    before = snapshot()

    def change(records):
        records[0]["fields"].update(title="Changed by a broken load")
        records.append({"model": "incidents.source", "fields": {"slug": "without-seed-text", "title": "X"}})

    seeds_copy.edit("incidents.source", change)

    with pytest.raises(CommandError, match="without-seed-text"):
        seeds_copy.load()

    assert snapshot() == before


# -- The seed data through the API -------------------------------------------------------------


class SeedApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("load_seeds", verbosity=0)

    def get(self, name, params=None, **kwargs):
        response = self.client.get(reverse(name, kwargs=kwargs or None), params or {})
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def incident_slugs(self, **params):
        page = self.get("incident-list", params)
        self.assertIsNone(page["next"], "the result must fit on one page")
        return {incident["slug"] for incident in page["results"]}

    def test_incident_list_counts_every_incident(self):
        page = self.get("incident-list")

        self.assertEqual(page["count"], len(fixture_records("incidents.incident")))

    def test_fighting_of_24_july_shows_the_government_claims_and_totals(self):
        incident = self.get("incident-detail", slug="gorno-badakhshan-fighting-2012-07-24")

        government_claims = [
            claim
            for claim in incident["casualty_figures"]
            if claim["outcome"] == "killed"
            and claim["claimed_by"]
            and claim["claimed_by"]["slug"] == "government-of-tajikistan"
        ]
        self.assertEqual(sorted(claim["low"] for claim in government_claims), [12, 30])
        self.assertEqual(incident["totals"]["killed"]["low"], 42)

    def test_actor_filter_finds_every_incident_of_the_actor(self):
        self.assertEqual(
            self.incident_slugs(actor="tolib-ayombekov"),
            {
                "abdullo-nazarov-assassination-2012-07-21",
                "gorno-badakhshan-amnesty-offer-2012-07-25",
                "tajikistan-civil-war-1992-1997",
            },
        )

    def test_country_filter_finds_the_kyrgyzstan_protest(self):
        self.assertEqual(self.incident_slugs(country="KG"), {"kyrgyzstan-ismaili-protests-2012"})

    def test_date_filter_includes_overlapping_incidents_only(self):
        found = self.incident_slugs(date_from="2012-07-24", date_to="2012-07-24")

        self.assertIn("gorno-badakhshan-fighting-2012-07-24", found)
        self.assertIn("gorno-badakhshan-military-operation-2012", found)
        self.assertNotIn("abdullo-nazarov-assassination-2012-07-21", found)
        self.assertNotIn("gorno-badakhshan-ceasefire-2012-07-25", found)

    def test_event_type_filter_finds_the_protests(self):
        found = self.incident_slugs(event_type="protests")

        self.assertEqual(len(found), 5)
        self.assertEqual(found, incident_slugs(event_type="protests"))

    def test_parent_filter_finds_the_children_of_the_operation(self):
        found = self.incident_slugs(parent="gorno-badakhshan-military-operation-2012")

        self.assertEqual(len(found), 4)
        self.assertEqual(found, incident_slugs(parent=["gorno-badakhshan-military-operation-2012"]))

    def test_search_finds_the_sniper_killings(self):
        self.assertIn("khorugh-sniper-killings-2012", self.incident_slugs(search="snipers"))

    def test_casualties_claimed_by_the_tajik_service(self):
        page = self.get("casualtyfigure-list", {"claimed_by": "rferl-tajik-service"})

        self.assertEqual(page["count"], 1)
        (claim,) = page["results"]
        self.assertEqual(claim["incident"], "khorugh-sniper-killings-2012")
        self.assertEqual((claim["group"], claim["low"]), ("civilians", 30))

    def test_every_actor_location_and_incident_has_a_detail_page(self):
        # The public sees the records published incidents use (docs/api.md, "Actors, locations,
        # sources"): in the seeds all but two actors that no incident names, which editors see.
        unused = {"border-guards-of-tajikistan", "interior-ministry-of-tajikistan"}
        for label, route in (
            ("incidents.actor", "actor-detail"),
            ("incidents.location", "location-detail"),
            ("incidents.incident", "incident-detail"),
            ("incidents.source", "source-detail"),
        ):
            for record in fixture_records(label):
                slug = record["fields"]["slug"]
                with self.subTest(route=route, slug=slug):
                    if slug in unused:
                        self.assertEqual(
                            self.client.get(reverse(route, kwargs={"slug": slug})).status_code, 404
                        )
                    else:
                        self.assertEqual(self.get(route, slug=slug)["slug"], slug)
        self.client.force_login(User.objects.create_user("editor", is_staff=True))
        User.objects.get(username="editor").groups.add(Group.objects.get(name="editors"))
        for slug in unused:
            with self.subTest(editor=True, slug=slug):
                self.assertEqual(self.get("actor-detail", slug=slug)["slug"], slug)
