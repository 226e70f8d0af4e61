"""The exports as tools read them without help: pandas, frictionless, the Table Schemas.

The records are built to trip readers: text holding `;`, quotes (both kinds), commas,
line breaks, tabs, `|` and formula triggers, in enough claims that a dialect-guessing
reader sees them on most lines; timestamps on whole seconds beside ones with microseconds;
an incident without a place, one that is part of another, a draft the public never sees.

Over HTTP: the test client for the answers themselves, and a live server for what reads
URLs (frictionless validating the data package against the live exports, and
ops/export_readers_check.py, the same check CI runs against a seeded server). On
PostgreSQL the incident CSV is PostgreSQL's COPY, byte for byte the Python writer's.
"""

import csv
import datetime
import io
import json
import re
import urllib.request

import pandas as pd
import pytest
from django.db import connection
from django.urls import reverse
from frictionless import Package, Resource

from incidents.api.columns import CLAIM_CSV, FORMULA_GUARD, FORMULA_TRIGGERS, INCIDENT_CSV, Kind, headers
from incidents.api.exports import _copy_csv, _incidents_csv_rows
from incidents.api.representation import TIMESTAMP_FORMAT
from incidents.importers import ucdp
from incidents.models import Incident
from ops import export_readers_check
from tests.factories import add_actor, add_figure, make_actor, make_incident, make_location, make_source

LIST_URL = reverse("incident-list")
# Text that trips readers: quotes of both kinds, commas, line breaks, tabs, `|`, formula
# triggers. The claims' quotes and notes also hold `;` beside quoted words, which made a
# dialect-guessing reader take the claims CSV for `;`-separated while only text holding a
# comma was quoted.
AWKWARD_TEXTS = (
    'He said: "we lost 3 men", others disagreed.',
    "pipes|between|words\tand a tab",
    "Two lines\nof text, with a comma",
    "=1+2",
    "-5 or so",
    "@someone said so",
    "Хорог — Khorugh, «Pamir»",
    "Nothing to quote",
)
QUOTE = "Officials said 5 died; 'dozens'; hurt."
NOTES = "Read as 'at least'; 'militants' is the government's word."
# Text built to fool a reader that guesses the dialect: in every text column, on every line.
FOOLING = "a; 'b'; c; 'd'; e; \"f\"; g"
CLAIMS = 40
MOMENTS = (
    datetime.datetime(2024, 3, 9, 23, 30, tzinfo=datetime.UTC),
    datetime.datetime(2024, 3, 9, 23, 30, 5, 120, tzinfo=datetime.UTC),
)


def awkward_records(fooling=False):
    """The published incidents (a parent and CLAIMS incidents with a claim each) and a draft;
    returns how many are published. `fooling`: every text is FOOLING."""
    texts = (FOOLING,) if fooling else AWKWARD_TEXTS
    quote, notes = (FOOLING, FOOLING) if fooling else (QUOTE, NOTES)
    source = make_source(slug="wire", title=texts[0], text=f"{QUOTE} {FOOLING}")
    place = make_location(name=texts[-1], admin2='Khorugh, "centre"')
    parent = make_incident(slug="operation", title=texts[0], location=place)
    incidents = []
    for n in range(CLAIMS):
        text = texts[n % len(texts)]
        incident = make_incident(
            slug=f"awkward-{n}",
            title=text,
            location=None if n == 3 else place,
            parent=parent if n % 2 else None,
            start_date=datetime.date(2012, 7, 1) + datetime.timedelta(days=n),
        )
        add_actor(incident, make_actor(name=text), "side_a")
        add_figure(
            incident, source, quote=quote, wording=text[:200], notes=notes, claimed_by=make_actor(name=text)
        )
        incidents.append(incident.pk)
    make_incident(slug="draft-never-shown", status=Incident.Status.DRAFT, title="Draft; 'hidden'")
    for n, pk in enumerate([parent.pk, *incidents]):
        Incident.objects.filter(pk=pk).update(updated_at=MOMENTS[n % 2] + datetime.timedelta(minutes=n))
    return Incident.objects.filter(status=Incident.Status.PUBLISHED).count()


@pytest.fixture
def records(db):
    return awkward_records()


def download(client, fmt):
    response = client.get(LIST_URL, {"format": fmt})
    assert response.status_code == 200
    return response, b"".join(response.streaming_content)


def table_schema(client, name):
    return client.get(reverse(f"table-schema-{name}")).json()


def dated_columns(schema):
    return [field["name"] for field in schema["fields"] if field["type"] in ("date", "datetime")]


# -- The one timestamp spelling ------------------------------------------------------------------


def test_every_timestamp_served_has_the_one_format(client, records):
    detail = client.get(reverse("incident-detail", kwargs={"slug": "awkward-1"})).json()
    page = client.get(LIST_URL, {"page_size": 100}).json()["results"]
    ndjson = [json.loads(line) for line in download(client, "ndjson")[1].decode().splitlines()]
    geojson = json.loads(download(client, "geojson")[1])["features"]
    rows = list(csv.DictReader(io.StringIO(download(client, "csv")[1].decode())))
    spelled = {
        "detail": {detail["slug"]: detail["updated_at"]},
        "list": {item["slug"]: item["updated_at"] for item in page},
        "ndjson": {item["slug"]: item["updated_at"] for item in ndjson},
        "geojson": {feature["id"]: feature["properties"]["updated_at"] for feature in geojson},
        "csv": {row["slug"]: row["updated_at"] for row in rows},
    }
    stored = {slug: moment for slug, moment in Incident.objects.values_list("slug", "updated_at")}
    for where, values in spelled.items():
        assert values, where
        for slug, value in values.items():
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", value), (where, slug, value)
            parsed = datetime.datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=datetime.UTC)
            assert parsed == stored[slug], (where, slug, value)
    # Whole seconds and microseconds both occur, each written the same way.
    assert {value[-8:] for value in spelled["csv"].values()} >= {".000000Z", ".000120Z"}
    assert all(re.fullmatch(r".*\.\d{6}Z", item["created_at"]) for item in [detail, *page, *ndjson]), (
        "created_at too"
    )


def test_pandas_parses_the_timestamps_of_every_export(client, records):
    for fmt, name in (("csv", "incidents"), ("claims-csv", "claims")):
        schema = table_schema(client, name)
        frame = pd.read_csv(io.BytesIO(download(client, fmt)[1]), parse_dates=dated_columns(schema))
        assert list(frame.columns) == [field["name"] for field in schema["fields"]]
        for column in dated_columns(schema):
            assert pd.api.types.is_datetime64_any_dtype(frame[column]), (fmt, column, frame[column].dtype)
    incidents = pd.read_csv(io.BytesIO(download(client, "csv")[1]), parse_dates=["updated_at"])
    assert len(incidents) == records
    assert str(incidents["updated_at"].dt.tz) == "UTC"
    assert (incidents["updated_at"].dt.microsecond == 120).any()
    claims = pd.read_csv(io.BytesIO(download(client, "claims-csv")[1]))
    assert len(claims) == CLAIMS
    assert set(claims["quote"]) == {QUOTE}
    # Every text read back whole: line breaks, tabs, quotes; the formula guard before triggers.
    assert set(claims["wording"]) == {
        FORMULA_GUARD + text if text.startswith(FORMULA_TRIGGERS) else text for text in AWKWARD_TEXTS
    }
    lines = pd.read_json(io.BytesIO(download(client, "ndjson")[1]), lines=True)
    for column in ("created_at", "updated_at"):
        assert pd.api.types.is_datetime64_any_dtype(lines[column]), (column, lines[column].dtype)
    features = json.loads(download(client, "geojson")[1])["features"]
    properties = pd.DataFrame([feature["properties"] for feature in features])
    assert pd.api.types.is_datetime64_any_dtype(pd.to_datetime(properties["updated_at"]))


# -- The dialect ---------------------------------------------------------------------------------


def test_csvs_say_they_have_a_header_and_link_their_description(client, records):
    for fmt, name in (("csv", "incidents"), ("claims-csv", "claims")):
        response, _ = download(client, fmt)
        assert response["Content-Type"] == "text/csv; charset=utf-8; header=present"
        links = re.findall(r'<([^>]+)>; rel="describedby"', response["Link"])
        assert links == [reverse(f"table-schema-{name}"), reverse("datapackage")]
        described = [client.get(link).json() for link in links]
        assert described[0] == next(r["schema"] for r in described[1]["resources"] if r["name"] == name)
    for fmt in ("geojson", "ndjson"):
        assert not download(client, fmt)[0].has_header("Link")


def test_frictionless_guesses_the_dialect_of_each_csv_without_hints(client, records, tmp_path):
    for fmt, layout in (("csv", INCIDENT_CSV), ("claims-csv", CLAIM_CSV)):
        body = download(client, fmt)[1]
        (tmp_path / f"{fmt}.csv").write_bytes(body)
        resource = Resource(path=f"{fmt}.csv", basepath=str(tmp_path))
        resource.infer()
        assert resource.schema.field_names == headers(layout), fmt
        assert resource.dialect.to_descriptor() == {}, "the defaults: comma, double quote"
        with Resource(path=f"{fmt}.csv", basepath=str(tmp_path)) as reading:
            cells = [
                [("" if cell is None else str(cell)) for cell in row.to_list()] for row in reading.row_stream
            ]
        written = list(csv.reader(io.StringIO(body.decode(), newline="")))[1:]
        assert len(cells) == len(written)
        for got, expected in zip(cells, written, strict=True):
            assert len(got) == len(expected), fmt


def test_text_is_quoted_and_nothing_else(client, records):
    body = download(client, "claims-csv")[1].decode()
    header, first = body.split("\n")[:2]
    assert header == ",".join(f'"{name}"' for name in headers(CLAIM_CSV))
    row = next(csv.reader([first]))
    fields = first.split(",")
    # figure_id, uid and the numbers stand bare; the slug and the outcome are quoted.
    assert fields[0] == f'"{row[0]}"' and fields[1] == row[1] and fields[2] == row[2]
    assert fields[3] == '"killed"'


# -- The Table Schemas and the data package ------------------------------------------------------


def test_the_table_schemas_follow_the_layouts(client, db):
    kinds = {
        Kind.TEXT: "string",
        Kind.ACTOR_ROLES: "string",
        Kind.DATE: "date",
        Kind.TIMESTAMP: "datetime",
        Kind.BOOLEAN: "boolean",
        Kind.UUID: "string",
    }
    for name, layout in (("incidents", INCIDENT_CSV), ("claims", CLAIM_CSV)):
        schema = table_schema(client, name)
        assert [field["name"] for field in schema["fields"]] == headers(layout)
        assert schema["missingValues"] == [""]
        for field, column in zip(schema["fields"], layout, strict=True):
            assert field["description"], column.header
            if column.kind == Kind.NUMBER:
                assert field["type"] in ("integer", "number"), column.header
            else:
                assert field["type"] == kinds[column.kind], column.header
    incidents = {field["name"]: field for field in table_schema(client, "incidents")["fields"]}
    claims = {field["name"]: field for field in table_schema(client, "claims")["fields"]}
    assert incidents["updated_at"]["format"] == TIMESTAMP_FORMAT
    assert incidents["updated_at"]["constraints"]["required"] is True
    assert incidents["slug"]["constraints"] == {"maxLength": 201, "required": True, "unique": True}
    assert incidents["latitude"] == {**incidents["latitude"], "type": "number"}
    assert incidents["latitude"]["constraints"] == {"minimum": -90, "maximum": 90}
    assert incidents["killed_best"]["type"] == "integer"
    assert incidents["killed_best"]["constraints"] == {"minimum": 0}
    assert "required" not in incidents["parent_slug"].get("constraints", {})
    assert "battles" in incidents["event_type"]["constraints"]["enum"]
    assert claims["figure_id"]["constraints"] == {"required": True, "unique": True}
    assert claims["uid"]["format"] == "uuid"
    assert claims["is_preferred"]["trueValues"] == ["true"]
    assert claims["wording"]["description"].startswith("The source's own words")
    assert table_schema(client, "incidents")["primaryKey"] == ["slug"]
    assert table_schema(client, "claims")["foreignKeys"] == [
        {"fields": ["incident_slug"], "reference": {"resource": "incidents", "fields": ["slug"]}}
    ]


def test_the_data_package_names_the_licence_the_sources_and_the_exports(
    client, db, django_assert_num_queries
):
    with django_assert_num_queries(0):
        package = client.get(reverse("datapackage")).json()
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    assert package["sources"][0]["description"] == ucdp.CITATION
    resources = {resource["name"]: resource for resource in package["resources"]}
    assert resources["incidents"]["path"] == f"http://testserver{LIST_URL}?format=csv"
    assert resources["claims"]["path"] == f"http://testserver{LIST_URL}?format=claims-csv"
    for resource in resources.values():
        assert resource["dialect"]["delimiter"] == ","
        assert resource["dialect"]["header"] is True
        assert resource["schema"] == table_schema(client, resource["name"])


def test_the_descriptions_are_read_only(client, db):
    for url in (reverse("datapackage"), reverse("table-schema-incidents"), reverse("table-schema-claims")):
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, {}, content_type="application/json")
            assert response.status_code == 405, (method, url, response.content[:200])
            assert response["Content-Type"] == "application/json"
        assert client.get(url)["Content-Type"] == "application/json"


def test_frictionless_validates_the_downloaded_csvs_and_catches_a_wrong_one(client, records, tmp_path):
    package = client.get(reverse("datapackage")).json()
    for resource, fmt in zip(package["resources"], ("csv", "claims-csv"), strict=True):
        (tmp_path / f"{resource['name']}.csv").write_bytes(download(client, fmt)[1])
        resource["path"] = f"{resource['name']}.csv"
    report = Package(package, basepath=str(tmp_path)).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "note"])[:5]
    assert [task.stats["rows"] for task in report.tasks] == [records, CLAIMS]
    # A timestamp in another spelling is caught: the schema's datetime format has teeth.
    path = tmp_path / "incidents.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(".000000Z", "Z", 1), encoding="utf-8")
    report = Package(package, basepath=str(tmp_path)).validate()
    assert not report.valid
    assert {error[0] for error in report.flatten(["fieldName"])} == {"updated_at"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_writes_the_awkward_records_as_python_does(records):
    queryset = Incident.objects.filter(status=Incident.Status.PUBLISHED).order_by("-start_date", "-id")
    by_copy = b"".join(_copy_csv(queryset, INCIDENT_CSV))
    by_python = "".join(_incidents_csv_rows(queryset, chunk_size=7)).encode()
    assert by_copy.count(b"\n") >= records
    assert by_copy == by_python


# -- Against a live server, as outside tools do ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_frictionless_validates_the_data_package_against_the_live_exports(live_server):
    # Text that fools guessing: the package declares the dialect, so nothing is guessed.
    rows = awkward_records(fooling=True)
    with urllib.request.urlopen(f"{live_server.url}{reverse('datapackage')}", timeout=30) as response:
        package = json.load(response)
    report = Package(package).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "note"])[:5]
    assert [task.stats["rows"] for task in report.tasks] == [rows, CLAIMS]


@pytest.mark.django_db(transaction=True)
def test_the_outside_check_passes_against_a_live_server(live_server, capsys):
    awkward_records()
    report = export_readers_check.check(live_server.url)
    printed = capsys.readouterr().out
    assert report.failed == 0, printed
    assert report.passed >= 25, printed
