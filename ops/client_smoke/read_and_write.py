"""Reads anyone may make and one editor's write, as an outside client writes them in Python.

It uses the client openapi-python-client generates from /api/v1/schema/: reads go through
its plain `Client` (no token), the write through `AuthenticatedClient` (a Bearer token).
ops.client_smoke_check generates the client, type-checks this file with mypy and runs it:

    python ops/client_smoke/read_and_write.py BASE_URL TOKEN
"""

import csv
import io
import sys
import uuid

from incident_records_api_client import AuthenticatedClient, Client
from incident_records_api_client.api.incidents import incidents_export, incidents_list, incidents_retrieve
from incident_records_api_client.api.locations import locations_create
from incident_records_api_client.api.stats import stats_casualties_retrieve
from incident_records_api_client.models import (
    GeoPrecisionEnum,
    Incident,
    IncidentsExportEventTypeItem,
    IncidentsExportFormat,
    IncidentsListEventTypeItem,
    LocationWrite,
    LocationWriteRequest,
    PaginatedIncidentList,
    Stats,
    StatsCasualtiesRetrieveGroupBy,
)


def main(base_url: str, token: str) -> None:
    public = Client(base_url=base_url, raise_on_unexpected_status=True)
    battles = [IncidentsListEventTypeItem.BATTLES]
    page = incidents_list.sync(client=public, country=["TJ"], event_type=battles, page_size=5)
    assert isinstance(page, PaginatedIncidentList) and page.results, page
    print(f"list: {page.count} battles in TJ, newest {page.results[0].slug}")

    incident = incidents_retrieve.sync(page.results[0].slug, client=public)
    assert isinstance(incident, Incident), incident
    print(f"detail: {incident.title!r}, {incident.start_date}, killed best {incident.totals.killed.best}")

    stats = stats_casualties_retrieve.sync(client=public, group_by=StatsCasualtiesRetrieveGroupBy.YEAR)
    assert isinstance(stats, Stats) and stats.results, stats
    print("stats: killed per year " + ", ".join(f"{row.key}: {row.best}" for row in stats.results))

    export = incidents_export.sync_detailed(
        IncidentsExportFormat.CSV,
        client=public,
        country=["TJ"],
        event_type=[IncidentsExportEventTypeItem.BATTLES],
    )
    body: bytes = export.content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert export.status_code == 200 and len(rows) == page.count, (export.status_code, len(rows))
    print(f"export: {len(body)} bytes of CSV, {len(rows)} rows, the list's {page.count} incidents")

    editor = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
    slug = f"client-smoke-{uuid.uuid4().hex[:8]}"
    request = LocationWriteRequest(
        slug=slug, name="Client smoke", country_code="TJ", geo_precision=GeoPrecisionEnum.COUNTRY
    )
    created = locations_create.sync(client=editor, body=request)
    assert isinstance(created, LocationWrite) and created.slug == slug, created
    print(f"write: created location {created.slug} with a Bearer token")


if __name__ == "__main__":
    main(*sys.argv[1:3])
