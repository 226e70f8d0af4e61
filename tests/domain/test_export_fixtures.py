"""export_fixtures: the database written back to the six seed files, deterministically and losslessly."""

import datetime
import difflib
import json
import tempfile
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.test import TestCase, override_settings

from incidents.management.commands import export_fixtures
from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

FILE_NAMES = [name for name, *_ in export_fixtures.FILES]
SHIPPED_NAMES = sorted(path.name for path in settings.FIXTURES_DIR.glob("*.json"))
# What identifies a record of each model inside its file, as natural keys do.
IDENTITY = {
    "incidents.incidentactor": ("incident", "actor", "role"),
    "incidents.casualtyfigure": ("uid",),
}
MODELS = {model._meta.label_lower: model for _name, model, *_ in export_fixtures.FILES}


# -- Helpers -------------------------------------------------------------------------------------


def export(directory, *args):
    call_command("export_fixtures", "--output-dir", str(directory), *args, verbosity=0)
    return {name: (directory / name).read_bytes() for name in FILE_NAMES}


def read(directory, name):
    return json.loads((directory / name).read_text(encoding="utf-8"))


def load_seeds(directory):
    call_command("load_seeds", "--fixtures-dir", str(directory), verbosity=0)


def load_data(directory):
    call_command("loaddata", *(str(directory / name) for name in FILE_NAMES), verbosity=0)


def empty_incident_tables():
    """Delete every row of the six exported models (children before the parents they protect)."""
    CasualtyFigure.objects.all().delete()
    IncidentActor.objects.all().delete()
    Incident.sources.through.objects.all().delete()
    for model, children in ((Incident, "children"), (Actor, "members")):
        while model.objects.exists():
            model.objects.filter(**{f"{children}__isnull": True}).delete()
    Location.objects.all().delete()
    Source.objects.all().delete()
    # Nor any history: loads take a key in the history for a record editors deleted, and skip it.
    for model in MODELS.values():
        model.history.all().delete()
    assert all(not model.objects.exists() for model in MODELS.values())


def identity(record):
    fields = record["fields"]
    return (record["model"], *(json.dumps(fields[f]) for f in IDENTITY.get(record["model"], ("slug",))))


def canonical(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def normalised(record, shipped_fields):
    """An exported record as the shipped file would state it: M2M lists sorted, fields the shipped
    record leaves out dropped when they hold the model's default (they were added after it was written)."""
    model = MODELS[record["model"]]
    m2m = {f.name for f in model._meta.many_to_many}
    fields = {}
    for name, value in record["fields"].items():
        if name not in shipped_fields:
            field = model._meta.get_field(name)
            default = None if field.is_relation else field.get_default()
            assert value == canonical(default), f"{identity(record)}: {name}={value!r} is not the default"
            continue
        fields[name] = sorted(value) if name in m2m else value
    return {"model": record["model"], "fields": fields}


def changed_regions(before, after):
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    return [op for op in matcher.get_opcodes() if op[0] != "equal"]


# -- The shipped seed data -------------------------------------------------------------------------


def test_exports_the_six_files_the_project_ships():
    assert FILE_NAMES == SHIPPED_NAMES


def settled_seed_export(directory):
    """Load the shipped seeds, export them, and load that export into an empty database again.

    load_seeds rebuilds each incident's search_document with its actors in the order their rows were
    inserted, that is, in fixture order. The shipped fixtures predate export_fixtures and list incident
    actors in another order, so the first export's search_document lines can still change once the
    export itself is loaded; from then on the data is in export order and stays put.
    """
    call_command("load_seeds", verbosity=0)
    first = export(directory)
    empty_incident_tables()
    load_seeds(directory)
    return first


@pytest.mark.django_db(transaction=True)
def test_round_trip_through_load_seeds_is_byte_identical(tmp_path):
    settled_seed_export(tmp_path / "settle")
    first = export(tmp_path / "a")

    empty_incident_tables()
    load_seeds(tmp_path / "a")
    second = export(tmp_path / "b")

    assert first == second


@pytest.mark.django_db(transaction=True)
def test_first_export_of_the_shipped_seeds_differs_from_the_settled_one_at_most_in_search_order(tmp_path):
    first = settled_seed_export(tmp_path / "first")
    settled = export(tmp_path / "settled")

    for name in FILE_NAMES:
        old, new = first[name].decode("utf-8").splitlines(), settled[name].decode("utf-8").splitlines()
        assert len(old) == len(new), name
        for before, after in zip(old, new, strict=True):
            if before != after:
                assert before.strip().startswith('"search_document": '), (name, before)
                assert sorted(json.loads(before.split(": ", 1)[1].rstrip(",")).split("\n")) == sorted(
                    json.loads(after.split(": ", 1)[1].rstrip(",")).split("\n")
                )


class ShippedSeedExportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("load_seeds", verbosity=0)

    def setUp(self):
        self.tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def test_reproduces_the_shipped_fixtures_record_for_record(self):
        export(self.tmp)

        for name in FILE_NAMES:
            with self.subTest(file=name):
                shipped = {identity(r): r for r in read(settings.FIXTURES_DIR, name)}
                exported = {identity(r): r for r in read(self.tmp, name)}
                self.assertEqual(set(exported), set(shipped))
                for key, record in exported.items():
                    expected = dict(shipped[key], fields=dict(shipped[key]["fields"]))
                    for field in MODELS[record["model"]]._meta.many_to_many:
                        if field.name in expected["fields"]:
                            expected["fields"][field.name] = sorted(expected["fields"][field.name])
                    self.assertEqual(normalised(record, shipped[key]["fields"]), expected)

    def test_files_are_formatted_one_field_a_line_with_a_trailing_newline(self):
        files = export(self.tmp)

        for name, content in files.items():
            with self.subTest(file=name):
                text = content.decode("utf-8")
                self.assertTrue(text.endswith("}\n]\n"))
                records = json.loads(text)
                field_lines = [line for line in text.splitlines() if line.startswith("      ")]
                self.assertEqual(len(field_lines), sum(len(r["fields"]) for r in records))
                self.assertNotIn("\\u", text, "non-ASCII text is written as itself")

    def test_seeded_source_text_is_left_to_the_seed_file(self):
        export(self.tmp)

        (source,) = read(self.tmp, "01_sources.json")
        self.assertEqual(source["fields"]["text"], "")
        self.assertTrue(Source.objects.get(slug=source["fields"]["slug"]).text)

    def test_warns_when_the_database_text_differs_from_the_seed_file(self):
        Source.objects.update(text="Edited in the admin.")
        errors = StringIO()

        call_command("export_fixtures", "--output-dir", str(self.tmp), verbosity=0, stderr=errors)

        self.assertIn("differs from", errors.getvalue())
        (source,) = read(self.tmp, "01_sources.json")
        self.assertEqual(source["fields"]["text"], "")

    def test_two_exports_are_byte_identical(self):
        self.assertEqual(export(self.tmp / "one"), export(self.tmp / "two"))

    def test_editing_one_figure_changes_only_its_wording_line(self):
        before = export(self.tmp / "before")
        figure = CasualtyFigure.objects.order_by("uid").first()
        CasualtyFigure.objects.filter(pk=figure.pk).update(wording="Scores of people")

        after = export(self.tmp / "after")

        for name in FILE_NAMES[:-1]:
            self.assertEqual(before[name], after[name], name)
        old = before["06_casualty_figures.json"].decode("utf-8")
        new = after["06_casualty_figures.json"].decode("utf-8")
        ((tag, i1, i2, j1, j2),) = changed_regions(old, new)
        self.assertEqual((tag, i2 - i1, j2 - j1), ("replace", 1, 1))
        self.assertEqual(new.splitlines()[j1].strip(), '"wording": "Scores of people",')
        # The changed line lies inside the edited figure's record.
        record_start = max(i for i, line in enumerate(old.splitlines()[:i1]) if line == "  {")
        self.assertIn(str(figure.uid), "\n".join(old.splitlines()[record_start:i1]))

    def test_records_are_in_the_documented_order(self):
        export(self.tmp)

        def slugs(name):
            return [r["fields"]["slug"] for r in read(self.tmp, name)]

        self.assertEqual(slugs("01_sources.json"), sorted(slugs("01_sources.json")))
        self.assertEqual(slugs("02_locations.json"), sorted(slugs("02_locations.json")))
        for name in ("03_actors.json", "04_incidents.json"):
            records = read(self.tmp, name)
            position = {r["fields"]["slug"]: n for n, r in enumerate(records)}
            with self.subTest(file=name):
                for n, record in enumerate(records):
                    parent = record["fields"]["parent"]
                    if parent:
                        self.assertLess(position[parent[0]], n, record["fields"]["slug"])
                self.assertTrue(any(r["fields"]["parent"] for r in records))
        roles = [
            (r["fields"]["incident"], r["fields"]["role"], r["fields"]["actor"])
            for r in read(self.tmp, "05_incident_actors.json")
        ]
        self.assertEqual(roles, sorted(roles))
        figures = [
            (f["incident"], f["outcome"], f["group"], f["uid"])
            for f in (r["fields"] for r in read(self.tmp, "06_casualty_figures.json"))
        ]
        self.assertEqual(figures, sorted(figures))

    def test_writes_to_the_fixtures_dir_by_default(self):
        with override_settings(FIXTURES_DIR=self.tmp / "default"):
            call_command("export_fixtures", verbosity=0)

        self.assertEqual(sorted(p.name for p in (self.tmp / "default").iterdir()), FILE_NAMES)

    def test_reports_what_it_wrote(self):
        output = StringIO()

        call_command("export_fixtures", "--output-dir", str(self.tmp), stdout=output)

        total = sum(len(read(settings.FIXTURES_DIR, name)) for name in FILE_NAMES)
        self.assertIn(f"Wrote {total} records to 6 files in {self.tmp}.", output.getvalue())

    def test_a_failure_leaves_the_old_files_and_no_temporary_ones(self):
        export(self.tmp)
        before = {p.name: p.read_bytes() for p in self.tmp.iterdir()}
        Source.objects.update(title="Changed")
        # Rendering the last file fails, after the first five are rendered.
        renders = [*map(export_fixtures.render, [[]] * (len(FILE_NAMES) - 1)), RuntimeError("disk on fire")]

        with (
            mock.patch.object(export_fixtures, "render", side_effect=renders),
            self.assertRaises(RuntimeError),
        ):
            export(self.tmp)

        self.assertEqual({p.name: p.read_bytes() for p in self.tmp.iterdir()}, before)

    def test_a_failed_rename_leaves_no_temporary_files(self):
        (self.tmp / "04_incidents.json").mkdir()  # os.replace cannot put a file over a directory

        with self.assertRaisesMessage(Exception, "Cannot write the fixtures"):
            export(self.tmp)

        self.assertEqual(sorted(p.name for p in self.tmp.iterdir() if p.name.startswith(".")), [])


# -- Data entered by editors ---------------------------------------------------------------------


def make_editor_data():
    """An editor-added source without a seed file, actors and incidents nested so that a child's slug
    sorts before its parent's, a figure with non-ASCII wording and JSON fields with unsorted keys."""
    source = make_source(slug="editor-added-report", text="Officials said 7 people were killed in Khorugh.")
    place = make_location(slug="zz-place", name="Хорог")
    government = make_actor(slug="zz-government", name="Government", kind=Actor.Kind.STATE)
    ministry = make_actor(
        slug="aa-ministry", name="Ministry", parent=government, aliases=["the ministry", "МВД"]
    )
    make_actor(slug="aa-minister", name="Minister", kind=Actor.Kind.PERSON, parent=ministry)
    operation = make_incident(slug="zz-operation", title="Operation", location=place)
    clash = make_incident(
        slug="aa-clash",
        title="Clash",
        parent=operation,
        location=place,
        extra={"zeta": 1, "alpha": {"b": 2, "a": [3, 1]}},
    )
    clash.sources.add(source)
    operation.sources.add(source)
    add_actor(clash, ministry, role="side_a", quote="Officials said")
    add_actor(clash, government, role="side_a")
    add_figure(
        clash,
        source,
        low=7,
        best=7,
        qualifier="exact",
        wording="семь",
        quote="7 people were killed",
        claimed_by=government,
    )
    add_figure(clash, source, group="civilians", low=None, best=None, qualifier="vague", quote="killed")
    return source


@pytest.mark.django_db(transaction=True)
def test_editor_data_survives_export_and_loaddata_into_an_empty_database(tmp_path):
    make_editor_data()
    first = export(tmp_path / "a", "--seeds-dir", str(tmp_path / "no-seeds"))

    empty_incident_tables()
    load_data(tmp_path / "a")
    second = export(tmp_path / "b", "--seeds-dir", str(tmp_path / "no-seeds"))

    assert first == second
    (source,) = read(tmp_path / "b", "01_sources.json")
    assert source["fields"]["text"] == "Officials said 7 people were killed in Khorugh."
    assert Actor.objects.get(slug="aa-minister").parent.parent.slug == "zz-government"
    assert Incident.objects.get(slug="aa-clash").parent.slug == "zz-operation"
    assert [r["fields"]["slug"] for r in read(tmp_path / "b", "03_actors.json")] == [
        "zz-government",
        "aa-ministry",
        "aa-minister",
    ]
    assert [r["fields"]["slug"] for r in read(tmp_path / "b", "04_incidents.json")] == [
        "zz-operation",
        "aa-clash",
    ]
    (clash,) = (r for r in read(tmp_path / "b", "04_incidents.json") if r["fields"]["slug"] == "aa-clash")
    assert '"extra": {"alpha": {"a": [3, 1], "b": 2}, "zeta": 1}' in second["04_incidents.json"].decode()
    assert clash["fields"]["killed_low"] == 7
    assert "семь" in second["06_casualty_figures.json"].decode("utf-8")


@pytest.mark.django_db
def test_an_empty_database_gives_six_empty_lists(tmp_path):
    files = export(tmp_path)

    assert files == dict.fromkeys(FILE_NAMES, b"[]\n")


@pytest.mark.django_db
def test_incident_timestamps_keep_their_value_through_a_round_trip(tmp_path):
    incident = make_incident()
    Incident.objects.filter(pk=incident.pk).update(
        created_at=datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    )

    export(tmp_path)

    (record,) = read(tmp_path, "04_incidents.json")
    assert record["fields"]["created_at"] == "2020-01-02T03:04:05Z"


# -- Ordering ---------------------------------------------------------------------------------------


class _Node:
    def __init__(self, pk, slug, parent_id):
        self.pk, self.slug, self.parent_id = pk, slug, parent_id
        self._meta = Actor._meta


def test_parents_first_keeps_slug_order_where_the_hierarchy_allows():
    nodes = [
        _Node(1, "m-root", None),
        _Node(2, "a-child-of-m", 1),
        _Node(3, "b-root", None),
        _Node(4, "z-child-of-b", 3),
        _Node(5, "c-grandchild", 2),
    ]

    ordered = export_fixtures.parents_first(nodes, export_fixtures._by_slug, "parent")

    assert [n.slug for n in ordered] == ["b-root", "m-root", "a-child-of-m", "c-grandchild", "z-child-of-b"]


def test_parents_first_puts_a_cycle_last_rather_than_losing_it():
    nodes = [_Node(1, "a", 2), _Node(2, "b", 1), _Node(3, "c", None)]

    ordered = export_fixtures.parents_first(nodes, export_fixtures._by_slug, "parent")

    assert [n.slug for n in ordered] == ["c", "a", "b"]
