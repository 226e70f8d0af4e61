"""Loading fixtures into a database that editors have worked on: nothing curated is overwritten.

load_seeds adds only what the database lacks, never re-creates what editors deleted, and writes
nothing at all when nothing is missing; `load_seeds --replace` reloads on purpose, refusing
without --yes when that undoes curated changes; the project's loaddata checks quotes, records
history and refuses to undo curated changes.
"""

import io
import json
import shutil
import sys
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command, get_commands
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import derived, workflow
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.totals import TOTAL_COLUMNS, compute_totals

SEED_MODELS = (Source, Location, Actor, Incident, IncidentActor, CasualtyFigure)
FIXTURE_FILES = sorted(settings.FIXTURES_DIR.glob("*.json"))
RECORDS = sum(len(json.loads(path.read_text(encoding="utf-8"))) for path in FIXTURE_FILES)

EDITED = "abdullo-nazarov-assassination-2012-07-21"
FIGHTING = "gorno-badakhshan-fighting-2012-07-24"
DELETED_CLAIM = "b7fa8a44-da16-452e-ad4c-04482e4a6412"
CHANGED_CLAIM = "e699b680-9ab6-4cdc-9227-cd9def124869"
DELETED_ROLE = ("gorno-badakhshan-amnesty-offer-2012-07-25", "government-of-tajikistan", "side_a")
FIXTURE_TITLE = "Assassination of General Abdullo Nazarov"


# -- Helpers --------------------------------------------------------------------------------------


def load_seeds(*args, fixtures_dir=None):
    out = io.StringIO()
    options = {"fixtures_dir": fixtures_dir} if fixtures_dir else {}
    call_command("load_seeds", *args, stdout=out, **options)
    return out.getvalue()


def history_rows():
    return {model.__name__: model.history.count() for model in SEED_MODELS}


def snapshot():
    """Every row of the seed tables, timestamps included, in primary-key order."""
    dump = {model.__name__: list(model.objects.order_by("pk").values_list()) for model in SEED_MODELS}
    dump["sources"] = list(Incident.sources.through.objects.order_by("pk").values_list())
    return dump


def writes(queries):
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]


def curate():
    """What an editor does to the seed data: a title, a deleted claim and role, an added claim, a figure."""
    incident = Incident.objects.get(slug=EDITED)
    incident.title = "Killing of General Abdullo Nazarov"
    incident.save()
    CasualtyFigure.objects.get(uid=DELETED_CLAIM).delete()
    IncidentActor.objects.get(
        incident__slug=DELETED_ROLE[0], actor__slug=DELETED_ROLE[1], role=DELETED_ROLE[2]
    ).delete()
    changed = CasualtyFigure.objects.get(uid=CHANGED_CLAIM)
    changed.low, changed.notes = 13, "Corrected by an editor."
    changed.save()
    fighting = Incident.objects.get(slug=FIGHTING)
    added = CasualtyFigure.objects.create(
        incident=fighting,
        outcome="wounded",
        group="state_forces",
        low=1,
        qualifier="at_least",
        source=fighting.sources.get(),
        quote=changed.quote,
        notes="Added by an editor.",
    )
    derived.incidents_changed([incident.pk, fighting.pk])
    return added


def assert_curated_state(added):
    assert Incident.objects.get(slug=EDITED).title == "Killing of General Abdullo Nazarov"
    assert not CasualtyFigure.objects.filter(uid=DELETED_CLAIM).exists()
    assert not IncidentActor.objects.filter(
        incident__slug=DELETED_ROLE[0], actor__slug=DELETED_ROLE[1], role=DELETED_ROLE[2]
    ).exists()
    changed = CasualtyFigure.objects.get(uid=CHANGED_CLAIM)
    assert (changed.low, changed.notes) == (13, "Corrected by an editor.")
    assert CasualtyFigure.objects.filter(pk=added.pk, notes="Added by an editor.").exists()


def assert_totals_follow_the_claims():
    for incident in Incident.objects.all():
        figures = CasualtyFigure.objects.filter(incident=incident).order_by("pk")
        assert {c: getattr(incident, c) for c in TOTAL_COLUMNS} == compute_totals(figures), incident.slug


@pytest.fixture
def fixtures_copy(tmp_path):
    directory = tmp_path / "fixtures"
    shutil.copytree(settings.FIXTURES_DIR, directory)
    return directory


def edit_fixture(directory, name, change):
    path = directory / name
    records = json.loads(path.read_text(encoding="utf-8"))
    change(records)
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


# -- load_seeds: only what is missing ---------------------------------------------------------------


@pytest.mark.django_db
def test_curated_edits_survive_load_seeds():
    load_seeds()
    added = curate()

    output = load_seeds()

    assert_curated_state(added)
    assert output.strip() == (
        f"Loaded 0 new records; {RECORDS - 2} already present, left as they are; "
        "2 deleted by editors, not restored."
    )
    assert_totals_follow_the_claims()


@pytest.mark.django_db
def test_a_second_load_writes_nothing_at_all():
    load_seeds()
    curate()
    rows, updated, before = (
        history_rows(),
        dict(Incident.objects.values_list("slug", "updated_at")),
        snapshot(),
    )

    with CaptureQueriesContext(connection) as queries:
        load_seeds()

    assert writes(queries.captured_queries) == []
    assert history_rows() == rows
    assert dict(Incident.objects.values_list("slug", "updated_at")) == updated
    assert snapshot() == before


@pytest.mark.django_db
def test_an_unchanged_seeded_database_is_loaded_into_without_a_write():
    load_seeds()
    rows, before = history_rows(), snapshot()

    with CaptureQueriesContext(connection) as queries:
        output = load_seeds()

    assert writes(queries.captured_queries) == []
    assert (history_rows(), snapshot()) == (rows, before)
    assert f"Loaded 0 new records; {RECORDS} already present" in output


@pytest.mark.django_db
def test_an_incident_editors_deleted_is_not_restored_nor_its_claims_and_roles():
    load_seeds()
    incident = Incident.objects.get(slug="rasht-security-operation-2010")
    roles, claims = incident.incident_actors.count(), incident.casualty_figures.count()
    workflow.delete(incident, None, reason="Duplicate record.")

    output = load_seeds("-v2")

    assert not Incident.objects.filter(slug="rasht-security-operation-2010").exists()
    assert IncidentTombstone.objects.filter(slug="rasht-security-operation-2010").exists()
    assert f"{1 + roles + claims} deleted by editors, not restored" in output
    assert "not restored: 04_incidents.json" in output


@pytest.mark.django_db
def test_a_renamed_slug_is_not_loaded_again_under_its_old_name():
    load_seeds()
    actor = Actor.objects.get(slug="tolib-ayombekov")
    actor.slug = "tolib-ayombekov-1962"
    actor.save()

    load_seeds()

    assert not Actor.objects.filter(slug="tolib-ayombekov").exists()
    assert IncidentActor.objects.filter(actor__slug="tolib-ayombekov-1962").exists()


@pytest.mark.django_db
def test_only_new_fixture_records_are_added_and_recorded(fixtures_copy):
    load_seeds()
    workflow.delete(Incident.objects.get(slug="khorugh-demonstrations-2008"), None)
    new_uid, orphan_uid = str(uuid.uuid4()), str(uuid.uuid4())

    def add_figures(records):
        template = next(r for r in records if r["fields"]["uid"] == CHANGED_CLAIM)
        records.append({**template, "fields": {**template["fields"], "uid": new_uid, "group": "total"}})
        orphan = {**template["fields"], "uid": orphan_uid, "incident": ["khorugh-demonstrations-2008"]}
        records.append({**template, "fields": orphan})

    edit_fixture(fixtures_copy, "06_casualty_figures.json", add_figures)
    rows = history_rows()

    output = load_seeds(fixtures_dir=fixtures_copy)

    assert output.startswith("Loaded 1 new records;")
    figure = CasualtyFigure.objects.get(uid=new_uid)
    assert not CasualtyFigure.objects.filter(uid=orphan_uid).exists()
    assert figure.history.get().history_change_reason.startswith("load_seeds")
    assert history_rows() == {**rows, "CasualtyFigure": rows["CasualtyFigure"] + 1}
    assert_totals_follow_the_claims()


@pytest.mark.django_db
def test_a_broken_fixture_is_refused_even_when_its_records_are_present(fixtures_copy):
    load_seeds()
    before = snapshot()

    def misquote(records):
        records[0]["fields"]["quote"] = "Hundreds were killed, the ministry said."

    edit_fixture(fixtures_copy, "06_casualty_figures.json", misquote)

    with pytest.raises(CommandError, match=r"06_casualty_figures.json, record 1.*does not occur"):
        load_seeds(fixtures_dir=fixtures_copy)
    assert snapshot() == before


# -- load_seeds --replace: reloading on purpose ----------------------------------------------------


@pytest.mark.django_db(transaction=True)  # a real rollback, not a savepoint's
def test_replace_without_yes_refuses_and_lists_what_would_be_lost():
    load_seeds()
    curate()
    workflow.delete(Incident.objects.get(slug="khorugh-demonstrations-2008"), None)
    rows, before = history_rows(), snapshot()

    with pytest.raises(CommandError) as refused:
        load_seeds("--replace")

    message = str(refused.value)
    assert "--yes" in message
    assert (
        f"{EDITED}: changed by editors: title: 'Killing of General Abdullo Nazarov' -> {FIXTURE_TITLE!r}"
        in (message)
    )
    assert f"{DELETED_CLAIM}: deleted by editors" in message
    assert "/".join(DELETED_ROLE) + ": deleted by editors" in message
    assert f"{CHANGED_CLAIM}: changed by editors: low: 13 -> 12; notes:" in message
    assert "khorugh-demonstrations-2008: deleted by editors" in message
    assert (history_rows(), snapshot()) == (rows, before)
    assert IncidentTombstone.objects.filter(slug="khorugh-demonstrations-2008").exists()


@pytest.mark.django_db
def test_replace_with_yes_restores_the_fixtures_and_keeps_added_records():
    load_seeds()
    added = curate()
    workflow.delete(Incident.objects.get(slug="khorugh-demonstrations-2008"), None)
    created_at = Incident.objects.get(slug=EDITED).created_at

    output = load_seeds("--replace", "--yes")

    edited = Incident.objects.get(slug=EDITED)
    assert (edited.title, edited.created_at) == (FIXTURE_TITLE, created_at)
    assert edited.history.first().history_change_reason.startswith("load_seeds --replace")
    assert CasualtyFigure.objects.filter(uid=DELETED_CLAIM).exists()
    assert IncidentActor.objects.filter(
        incident__slug=DELETED_ROLE[0], actor__slug=DELETED_ROLE[1], role=DELETED_ROLE[2]
    ).exists()
    assert CasualtyFigure.objects.get(uid=CHANGED_CLAIM).low == 12
    assert Incident.objects.filter(slug="khorugh-demonstrations-2008").exists()
    assert not IncidentTombstone.objects.filter(slug="khorugh-demonstrations-2008").exists()
    assert CasualtyFigure.objects.filter(pk=added.pk).exists()
    assert "overwritten" in output and "Records not in the fixtures were kept." in output
    assert_totals_follow_the_claims()

    # Replaced, the database is as the fixtures say: a plain load finds nothing to do.
    rows = history_rows()
    assert f"Loaded 0 new records; {RECORDS} already present" in load_seeds()
    assert history_rows() == rows


@pytest.mark.django_db
def test_replace_needs_no_yes_when_nothing_curated_is_lost():
    load_seeds()
    rows = history_rows()

    load_seeds("--replace")

    assert history_rows() == rows


def test_yes_alone_is_refused():
    with pytest.raises(CommandError, match="--replace"):
        call_command("load_seeds", "--yes")


# -- The project's loaddata -----------------------------------------------------------------------


def test_loaddata_is_the_projects():
    assert get_commands()["loaddata"] == "incidents"


@pytest.mark.django_db(transaction=True)  # a real rollback, not a savepoint's
def test_loaddata_refuses_a_quote_not_in_its_source_and_writes_nothing(fixtures_copy):
    def misquote(records):
        records[2]["fields"]["quote"] = "Hundreds were killed, the ministry said."

    edit_fixture(fixtures_copy, "06_casualty_figures.json", misquote)

    with pytest.raises(CommandError, match="Hundreds were killed"):
        call_command("loaddata", *sorted(map(str, fixtures_copy.glob("*.json"))), verbosity=0)

    assert all(not model.objects.exists() for model in SEED_MODELS)
    assert all(count == 0 for count in history_rows().values())


@pytest.mark.django_db
def test_loaddata_fills_texts_records_history_and_refreshes_derived_data():
    call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)

    for model in SEED_MODELS:
        # One named row per record (an incident's source list adds a row of its own, as any save of it does).
        named = model.history.filter(history_change_reason__startswith=f"loaddata: {RECORDS} records from ")
        assert named.count() == model.objects.count() > 0, model.__name__
    source = Source.objects.get()
    assert source.text == (settings.SEEDS_DIR / f"{source.slug}.txt").read_text(encoding="utf-8")
    assert_totals_follow_the_claims()


@pytest.mark.django_db
def test_loaddata_again_of_the_same_data_changes_nothing():
    call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)
    rows, before = history_rows(), snapshot()

    call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)

    assert (history_rows(), snapshot()) == (rows, before)


@pytest.mark.django_db(transaction=True)  # a real rollback, not a savepoint's
def test_loaddata_refuses_to_overwrite_or_resurrect_curated_records():
    load_seeds()
    added = curate()
    rows, before = history_rows(), snapshot()

    with pytest.raises(CommandError) as refused:
        call_command("loaddata", *map(str, FIXTURE_FILES), verbosity=0)

    message = str(refused.value)
    assert (
        f"incidents.incident {EDITED}: title: 'Killing of General Abdullo Nazarov' -> {FIXTURE_TITLE!r}"
        in (message)
    )
    assert f"incidents.casualtyfigure {DELETED_CLAIM}: deleted by editors" in message
    assert "load_seeds --replace" in message
    assert (history_rows(), snapshot()) == (rows, before)
    assert_curated_state(added)


@pytest.mark.django_db
def test_loaddata_keeps_djangos_options(fixtures_copy):
    files = sorted(map(str, fixtures_copy.glob("*.json")))

    call_command("loaddata", *files, exclude=["incidents.casualtyfigure"], database="default", verbosity=0)
    assert not CasualtyFigure.objects.exists() and Incident.objects.exists()

    call_command("loaddata", *files, app_label="incidents", verbosity=0)
    assert CasualtyFigure.objects.exists()


@pytest.mark.django_db
def test_loaddata_reads_stdin_and_loads_other_apps_as_django_does(monkeypatch):
    monkeypatch.setattr(
        sys, "stdin", io.StringIO(json.dumps([{"model": "auth.group", "fields": {"name": "x"}}]))
    )

    call_command("loaddata", "-", format="json", verbosity=0)

    assert Group.objects.filter(name="x").exists()
    assert all(count == 0 for count in history_rows().values())
