"""Streaming exports of a filtered incident list: CSV, claims CSV, GeoJSON and NDJSON.

The incident list hands its filtered, ordered queryset to stream_export when content
negotiation (``?format=`` or ``Accept``) picked one of these formats. An export takes
every filter the list takes but no pagination: the whole set is streamed, read through
one cursor CHUNK_SIZE incidents at a time with the related rows prefetched per chunk,
so memory and queries per chunk stay the same however many incidents there are.
"""

import csv
import datetime
import itertools
import json

from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from incidents.models import OUTCOMES_WITH_TOTALS, CasualtyFigure, IncidentActor
from incidents.serializers import IncidentSerializer

CHUNK_SIZE = 1000
TOTAL_COLUMNS = [
    f"{outcome}_{bound}" for outcome in OUTCOMES_WITH_TOTALS for bound in ("low", "best", "high")
]
INCIDENT_COLUMNS = [
    "slug",
    "title",
    "event_type",
    "sub_event_type",
    "start_date",
    "end_date",
    "date_precision",
    "location_slug",
    "location_name",
    "country_code",
    "admin1",
    "admin2",
    "latitude",
    "longitude",
    "geo_precision",
    "parent_slug",
    "actors",
    *TOTAL_COLUMNS,
    "status",
    "updated_at",
]
CLAIM_COLUMNS = [
    "incident_slug",
    "figure_id",
    "uid",
    "outcome",
    "group",
    "actor_slug",
    "low",
    "best",
    "high",
    "qualifier",
    "wording",
    "claimed_by_slug",
    "claimed_by_name",
    "source_slug",
    "source_title",
    "quote",
    "is_preferred",
    "notes",
]
# Large text the flat exports never show, left in the database.
UNUSED_TEXT = ("summary", "search_document", "parent__summary", "parent__search_document")


# -- Renderers: how content negotiation names the exports ------------------------------------


class _ExportRenderer(BaseRenderer):
    """Names an export for content negotiation; the list view streams the export itself.

    Anything else answered in an export format (a 400 for a bad filter, a 404, a single
    incident) reaches render() and is sent as JSON, labelled as JSON.
    """

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data, "application/json", renderer_context)


class CSVRenderer(_ExportRenderer):
    media_type = "text/csv"
    format = "csv"


class ClaimsCSVRenderer(_ExportRenderer):
    # Not "text/csv; profile=claims": DRF matches a renderer only when the Accept header
    # repeats all its parameters, so ?format=claims-csv would answer 406 to "*/*".
    media_type = "application/vnd.incidents.claims+csv"
    format = "claims-csv"


class GeoJSONRenderer(_ExportRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class NDJSONRenderer(_ExportRenderer):
    media_type = "application/x-ndjson"
    format = "ndjson"


# In this order after the default renderers: plain "text/csv" picks the incident CSV.
EXPORT_RENDERERS = (CSVRenderer, ClaimsCSVRenderer, GeoJSONRenderer, NDJSONRenderer)
STREAMING_FORMATS = {renderer.format for renderer in EXPORT_RENDERERS}


# -- Values ------------------------------------------------------------------------------------


def _timestamp(value):
    # The API's own spelling (DRF's DateTimeField): ISO 8601 in UTC with a Z.
    return value.astimezone(datetime.UTC).isoformat().removesuffix("+00:00") + "Z"


def _dumps(value):
    # DRF's encoder handles dates, UUIDs and decimals as the API does; U+2028/9 are escaped
    # so that tools splitting lines on them (str.splitlines, JavaScript) do not break a record.
    text = json.dumps(value, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class _Echo:
    """A file-like object that hands back what csv.writer writes, so rows are formatted, not stored."""

    def write(self, value):
        return value


def _chunks(queryset, chunk_size):
    """Lists of incidents read through one cursor; Django runs the prefetches once per list."""
    incidents = queryset.iterator(chunk_size=chunk_size)
    while chunk := list(itertools.islice(incidents, chunk_size)):
        yield chunk
        # Prefetched rows point back at their incident. Left alone, these cycles wait for the
        # garbage collector, and memory grows by several chunks between its passes.
        for incident in chunk:
            incident._prefetched_objects_cache = {}


def _lean(queryset, *prefetches):
    """The queryset with only the prefetches a flat export uses, instead of the API's."""
    return queryset.prefetch_related(None).prefetch_related(*prefetches).defer(*UNUSED_TEXT)


# -- Formats -----------------------------------------------------------------------------------


def _incident_row(incident):
    location = incident.location
    place = (
        [
            location.slug,
            location.name,
            location.country_code,
            location.admin1,
            location.admin2,
            location.latitude,
            location.longitude,
            location.geo_precision,
        ]
        if location
        else [None] * 8
    )
    actors = "|".join(f"{role.role}:{role.actor.slug}" for role in incident.incident_actors.all())
    return [
        incident.slug,
        incident.title,
        incident.event_type,
        incident.sub_event_type,
        incident.start_date,
        incident.end_date,
        incident.date_precision,
        *place,
        incident.parent.slug if incident.parent_id else None,
        actors,
        *(getattr(incident, column) for column in TOTAL_COLUMNS),
        incident.status,
        _timestamp(incident.updated_at),
    ]


def _incidents_csv(queryset, chunk_size):
    roles = Prefetch("incident_actors", queryset=IncidentActor.objects.select_related("actor"))
    writer = csv.writer(_Echo())
    yield writer.writerow(INCIDENT_COLUMNS)
    for chunk in _chunks(_lean(queryset, roles), chunk_size):
        yield "".join(writer.writerow(_incident_row(incident)) for incident in chunk)


def _claim_row(incident, figure):
    actor, claimed_by, source = figure.actor, figure.claimed_by, figure.source
    return [
        incident.slug,
        figure.pk,
        figure.uid,
        figure.outcome,
        figure.group,
        actor.slug if actor else None,
        figure.low,
        figure.best,
        figure.high,
        figure.qualifier,
        figure.wording,
        claimed_by.slug if claimed_by else None,
        claimed_by.name if claimed_by else None,
        source.slug,
        source.title,
        figure.quote,
        "true" if figure.is_preferred else "false",
        figure.notes,
    ]


def _claims_csv(queryset, chunk_size):
    figures = Prefetch(
        "casualty_figures",
        queryset=CasualtyFigure.objects.select_related("actor", "claimed_by", "source").defer("source__text"),
    )
    writer = csv.writer(_Echo())
    yield writer.writerow(CLAIM_COLUMNS)
    for chunk in _chunks(_lean(queryset, figures), chunk_size):
        yield "".join(
            writer.writerow(_claim_row(incident, figure))
            for incident in chunk
            for figure in incident.casualty_figures.all()
        )


def _feature(incident):
    location = incident.location
    properties = {
        "slug": incident.slug,
        "title": incident.title,
        "event_type": incident.event_type,
        "sub_event_type": incident.sub_event_type,
        "start_date": incident.start_date.isoformat(),
        "end_date": incident.end_date.isoformat(),
        "date_precision": incident.date_precision,
        "location": location.slug,
        "location_name": location.name,
        "geo_precision": location.geo_precision,
        "country_code": location.country_code,
        "admin1": location.admin1,
        "admin2": location.admin2,
        "parent": incident.parent.slug if incident.parent_id else None,
        **{column: getattr(incident, column) for column in TOTAL_COLUMNS},
        "status": incident.status,
        "updated_at": _timestamp(incident.updated_at),
        "url": reverse("incident-detail", kwargs={"slug": incident.slug}),
    }
    return {
        "type": "Feature",
        "id": incident.slug,
        "geometry": {"type": "Point", "coordinates": [float(location.longitude), float(location.latitude)]},
        "properties": properties,
    }


def _geojson(queryset, chunk_size):
    # The count of incidents left out is only known at the end, so it closes the document
    # as a foreign member (RFC 7946, section 6.1).
    placed = unplaced = 0
    yield '{"type":"FeatureCollection","features":['
    for chunk in _chunks(_lean(queryset), chunk_size):
        features = []
        for incident in chunk:
            location = incident.location
            if location is None or location.latitude is None or location.longitude is None:
                unplaced += 1
                continue
            features.append(("," if placed else "") + _dumps(_feature(incident)))
            placed += 1
        yield "".join(features)
    yield '],"metadata":' + _dumps({"features": placed, "without_coordinates": unplaced}) + "}"


def _ndjson(queryset, chunk_size):
    # The queryset keeps the API's prefetches, so each line is exactly the API's incident.
    # One serializer for all chunks; `.data` would keep each chunk's output in a cycle.
    serializer = IncidentSerializer(many=True)
    for chunk in _chunks(queryset, chunk_size):
        yield "".join(_dumps(item) + "\n" for item in serializer.to_representation(chunk))


# format: (file name ending, Content-Type, row generator)
EXPORTS = {
    "csv": (".csv", "text/csv; charset=utf-8", _incidents_csv),
    "claims-csv": ("-claims.csv", "text/csv; charset=utf-8", _claims_csv),
    "geojson": (".geojson", GeoJSONRenderer.media_type, _geojson),
    "ndjson": (".ndjson", NDJSONRenderer.media_type, _ndjson),
}


def stream_export(queryset, fmt, filename_stem="incidents", chunk_size=CHUNK_SIZE):
    """A streamed download of every incident in the queryset (filtered and ordered by the caller).

    The queryset is expected to be Incident.objects.for_api() or derived from it.
    """
    try:
        ending, content_type, rows = EXPORTS[fmt]
    except KeyError:
        raise ValueError(f"Unknown export format {fmt!r}; one of {', '.join(EXPORTS)}.") from None
    response = StreamingHttpResponse(rows(queryset, chunk_size), content_type=content_type)
    filename = f"{filename_stem}-{timezone.now():%Y%m%d}{ending}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # The same URL answers in other formats by Accept, so caches must keep them apart.
    patch_vary_headers(response, ["Accept"])
    return response
