"""Every real UCDP GED and ACLED sample in ../shared/samples imports, maps as its rows say,
re-imports as a no-op, updates exactly a changed record, rejects broken rows by line, and
is served by the API.

The samples are not part of the repository (ACLED's terms do not allow redistributing its
rows); without the folder these tests are skipped.
"""

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path

import pycountry
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source
from incidents.taxonomy import EventType, SubEventType

SAMPLES = Path(settings.BASE_DIR).parent / "shared" / "samples"
NO_SAMPLES = (
    f"No sample folder at {SAMPLES}: the real UCDP/ACLED samples live in shared/samples "
    "beside the repository and are not distributed with it."
)


def sample_files():
    if not SAMPLES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_SAMPLES), id="no-samples")]
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".csv", ".json"))
    return [pytest.param(path, id=path.name) for path in files]


pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("path", sample_files())]


def read(path):
    """(header, [(start line, fields)]) as the file has them, hashtag rows left out."""
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        rows, end = [], reader.line_num
        for fields in reader:
            start, end = end + 1, reader.line_num
            if is_data(fields):
                rows.append((start, fields))
    return header, rows


def is_data(fields):
    # Not blank, and not HDX's row of HXL hashtags (#date, #country+name...).
    return any(fields) and not all(not f or f.startswith("#") for f in fields)


def as_dicts(path):
    header, rows = read(path)
    return [dict(zip(header, fields, strict=False)) for _, fields in rows]


def is_acled(path):
    return "event_id_cnty" in read(path)[0]


def slug(path, row):
    return f"acled-{row['event_id_cnty'].lower()}" if is_acled(path) else f"ucdp-ged-{row['id']}"


def run(path, *args, **options):
    out = io.StringIO()
    command = "import_acled" if is_acled(path) else "import_ucdp"
    call_command(command, str(path), *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def snapshot():
    models = [Source, Location, Actor, Incident, IncidentActor, CasualtyFigure, Incident.sources.through]
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def copy_with(path, target, change):
    """The sample rewritten through the csv module, ``change(header, rows)`` editing its data rows."""
    with open(path, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.reader(stream))
    header = rows[0]
    data = [i for i, fields in enumerate(rows) if i and is_data(fields)]
    change(header, [rows[i] for i in data])
    with open(target, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, lineterminator="\n").writerows(rows)
    return target


def parse_date(value):
    value = value.split(" ")[0] if "/" in value else value
    for layout in ("%Y-%m-%d", "%m/%d/%Y", "%d %B %Y"):
        try:
            return datetime.datetime.strptime(value[:10] if layout == "%Y-%m-%d" else value, layout).date()
        except ValueError:
            continue
    raise AssertionError(f"test cannot read the date {value!r}")


def test_every_row_imports(path):
    rows = as_dicts(path)
    output = run(path)
    assert f"added {len(rows)}, updated 0, unchanged 0, rejected 0" in output
    assert Incident.objects.count() == len(rows)


def test_mapped_values_match_the_raw_rows(path):
    run(path)
    for row in as_dicts(path):
        incident = Incident.objects.select_related("location").get(slug=slug(path, row))
        assert incident.extra["row"] == row or incident.extra["row"] == {k: v for k, v in row.items() if k}
        place = incident.location
        assert place.latitude == Decimal(row["latitude"]).quantize(Decimal("0.000001"))
        assert place.longitude == Decimal(row["longitude"]).quantize(Decimal("0.000001"))
        names = {r.actor.name for r in incident.incident_actors.select_related("actor")}
        total = incident.casualty_figures.get(group="total")
        if is_acled(path):
            date = parse_date(row["event_date"])
            assert incident.start_date <= date <= incident.end_date
            assert EventType(incident.event_type).label == row["event_type"]
            assert SubEventType(incident.sub_event_type).label == row["sub_event_type"]
            assert (total.low, total.best, total.qualifier) == (int(row["fatalities"]), None, "at_least")
            assert total.quote == row["notes"]
            assert row["actor1"] in names
            assert place.country_code == pycountry.countries.get(numeric=row["iso"].zfill(3)).alpha_2
        else:
            assert incident.start_date == parse_date(row["date_start"])
            assert incident.end_date == parse_date(row["date_end"])
            best = int(row.get("best") or row["best_est"])
            assert total.best == best
            assert total.quote == row["source_article"]
            assert {" ".join(row["side_a"].split()), " ".join(row["side_b"].split())} == names
            if row.get("iso3"):
                assert place.country_code == pycountry.countries.get(alpha_3=row["iso3"]).alpha_2
            assert incident.killed_best == best


def test_reimport_is_a_no_op(path):
    count = len(as_dicts(path))
    run(path)
    before = snapshot()
    assert f"added 0, updated 0, unchanged {count}, rejected 0" in run(path)
    assert snapshot() == before


def test_one_changed_figure_updates_exactly_that_record(path, tmp_path):
    rows = as_dicts(path)
    run(path, release="one")
    before = {row["slug"]: row for row in snapshot()["Incident"]}

    def one_more(header, data):
        fields = data[len(data) // 2]
        columns = (
            ["fatalities"]
            if is_acled(path)
            else [c for c in header if c in ("best", "high", "best_est", "high_est")]
        )
        for column in columns:
            fields[header.index(column)] = str(int(fields[header.index(column)]) + 1)

    changed_row = rows[len(rows) // 2]
    output = run(copy_with(path, tmp_path / path.name, one_more), release="two")
    assert f"added 0, updated 1, unchanged {len(rows) - 1}, rejected 0" in output
    after = {row["slug"]: row for row in snapshot()["Incident"]}
    assert [s for s in after if after[s] != before[s]] == [slug(path, changed_row)]
    figure = Incident.objects.get(slug=slug(path, changed_row)).casualty_figures.get(group="total")
    assert figure.source.version == "two"


def test_broken_rows_are_rejected_by_line(path, tmp_path):
    header, rows = read(path)
    first_line, last_line = rows[0][0], rows[-1][0]
    date = "event_date" if is_acled(path) else "date_start"

    def break_two(header, data):
        data[0][header.index(date)] = "not a date"
        data[-1][header.index("latitude")] = "999"

    broken = copy_with(path, tmp_path / path.name, break_two)
    with pytest.raises(CommandError) as raised:
        run(broken)
    assert f"line {first_line}: {date}: 'not a date' is not a date" in str(raised.value)
    assert f"line {last_line}: latitude: 999 is out of range" in str(raised.value)
    assert not Incident.objects.exists()

    output = run(broken, "--skip-invalid")
    assert f"added {len(rows) - 2}, updated 0, unchanged 0, rejected 2" in output
    with open(tmp_path / f"{path.stem}.rejects.csv", newline="", encoding="utf-8") as stream:
        rejects = list(csv.reader(stream))
    assert [r[0] for r in rejects[1:]] == [str(first_line), str(last_line)]


def test_served_by_the_api(path, client):
    run(path)
    row = as_dicts(path)[0]
    body = client.get(reverse("incident-detail", kwargs={"slug": slug(path, row)})).json()
    assert body["slug"] == slug(path, row)
    country = body["location"]["country_code"]
    listed = client.get(reverse("incident-list"), {"country": country, "page_size": 500}).json()
    assert slug(path, row) in [r["slug"] for r in listed["results"]]
    assert all(r["location"]["country_code"] == country for r in listed["results"])
