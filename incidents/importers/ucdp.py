"""UCDP Georeferenced Event Dataset (GED and Candidate Events): layouts and mapping rules.

Column meanings are from UCDP's GED codebook; the rules chosen here are explained in
docs/importing.md, section "UCDP GED".
"""

import re
from pathlib import Path

from incidents.importers.records import (
    ActorRef,
    Dataset,
    Figure,
    Place,
    Record,
    Role,
    row_extra,
    shorten,
    version_in_name,
)
from incidents.importers.values import Checker, RowInvalid, fold
from incidents.models import Actor, CasualtyFigure, DatePrecision, Location
from incidents.taxonomy import EventType, SubEventType

Group = CasualtyFigure.Group
Qualifier = CasualtyFigure.Qualifier

# type_of_violence -> (label, event type, sub-event type)
VIOLENCE = {
    1: ("State-based violence", EventType.BATTLES, SubEventType.ARMED_CLASH),
    2: ("Non-state violence", EventType.BATTLES, SubEventType.ARMED_CLASH),
    3: ("One-sided violence", EventType.VIOLENCE_AGAINST_CIVILIANS, SubEventType.ATTACK),
}
STATE_BASED = 1

# date_prec: 1 exact day; 2 within 2-6 days; 3 the week; 4 8-30 days or the month;
# 5 more than a month, up to a year. date_start/date_end already bound the range.
DATE_PRECISION = {
    1: DatePrecision.DAY,
    2: DatePrecision.WEEK,
    3: DatePrecision.WEEK,
    4: DatePrecision.MONTH,
    5: DatePrecision.YEAR,
}

# where_prec: 1 exact place; 2 within ~25 km of a known point; 3 a second-order
# administrative unit; 4 a first-order unit; 5 a region larger than a province or a
# linear feature; 6 only the country; 7 international waters or airspace. Our nearest
# level that does not claim more than UCDP knows.
WHERE_PRECISION = {
    1: Location.GeoPrecision.EXACT,
    2: Location.GeoPrecision.NEAR,
    3: Location.GeoPrecision.DISTRICT,
    4: Location.GeoPrecision.PROVINCE,
    5: Location.GeoPrecision.COUNTRY,
    6: Location.GeoPrecision.COUNTRY,
    7: Location.GeoPrecision.COUNTRY,
}

DEATH_COLUMNS = ("deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown")

# UCDP Candidate Events name actors it has not identified yet "XXX" + a country code.
_PLACEHOLDER_ACTOR = re.compile(r"XXX\d*")

CITATION = (
    "Sundberg, Ralph, and Erik Melander (2013). Introducing the UCDP Georeferenced Event Dataset. "
    "Journal of Peace Research 50(4): 523-532. Davies, Shawn, Therese Pettersson, and Magnus Öberg "
    "(2023). Organized violence 1989-2022 and the return of conflicts between states. Journal of "
    "Peace Research 60(4). Data licensed under CC BY 4.0."
)


class UcdpGed(Dataset):
    key = "ucdp-ged"
    name = "UCDP GED"
    incident_prefix = "ucdp-ged-"
    source_prefix = "ucdp-ged-"
    role_note_prefix = "UCDP GED "
    json_key = "Result"
    required_columns = (
        "id",
        "type_of_violence",
        "side_a",
        "side_b",
        "source_article",
        "source_original",
        "where_prec",
        "where_coordinates",
        "adm_1",
        "adm_2",
        "latitude",
        "longitude",
        "country",
        "date_prec",
        "date_start",
        "date_end",
        *DEATH_COLUMNS,
        "best",
        "low",
        "high",
    )
    # The UCDP website's per-country export names the estimates best_est, low_est, high_est.
    column_aliases = {"best_est": "best", "low_est": "low", "high_est": "high"}

    def layout_name(self, columns):
        if "best_est" in columns:
            return "UCDP GED, website export"
        if "iso3" in columns:
            return "UCDP GED, HDX edition"
        if "relid" not in columns:
            return "UCDP GED, legacy layout (19.1 and earlier)"
        return "UCDP GED"

    def other_dataset_hint(self, columns):
        if "event_id_cnty" in columns:
            return "It looks like an ACLED file: use import_acled."
        return ""

    def release_from_path(self, path):
        stem = Path(path).stem
        return version_in_name(stem) or stem

    def source_fields(self, release):
        return {
            "title": f"UCDP Georeferenced Event Dataset (GED), release {release}",
            "publisher": "Uppsala Conflict Data Program (UCDP)",
            "url": "https://ucdp.uu.se/downloads/",
            "kind": "dataset",
            "version": release[:50],
            "language": "en",
            "text": CITATION,
        }

    def slug_of(self, row):
        event_id = (row.get("id") or "").strip()
        return f"{self.incident_prefix}{event_id}" if event_id.isascii() and event_id.isdigit() else ""

    def map_row(self, row, raw, line, fingerprint=None):
        c = Checker(row)
        event_id = c.required("id")
        slug = self.slug_of(row)
        if event_id and not slug:
            c.problem("id", f"{event_id!r} is not a UCDP event id (a whole number)")
        violence = c.code("type_of_violence", VIOLENCE)
        start, end = c.date("date_start"), c.date("date_end")
        if start and end and end < start:
            c.problem("date_end", f"{end} is before date_start {start}")
        date_precision = c.code("date_prec", DATE_PRECISION)
        geo_precision = c.code("where_prec", WHERE_PRECISION)
        latitude, longitude = c.coordinates("latitude", "longitude")
        country = c.country("country", alpha3_column="iso3" if "iso3" in row else None)
        best = c.count("best")
        low, high = c.count("low", required=False), c.count("high", required=False)
        deaths = {column: c.count(column, required=False) for column in DEATH_COLUMNS}
        side_a, side_b = c.required("side_a"), c.required("side_b")
        if c.problems:
            raise RowInvalid(c.problems, slug)

        label, event_type, sub_event_type = violence
        # In state-based conflicts side A is always a government (UCDP's definition);
        # elsewhere a side is one when it has a Gleditsch-Ward country code or says so.
        a_is_state = row.get("type_of_violence", "").strip() == str(STATE_BASED) or bool(
            c.text("gwnoa") or side_a.startswith("Government of")
        )
        b_is_state = bool(c.text("gwnob") or side_b.startswith("Government of"))
        actor_a = ActorRef(side_a, _actor_kind(side_a, a_is_state), _side_ids(c, "a"))
        actor_b = ActorRef(side_b, _actor_kind(side_b, b_is_state), _side_ids(c, "b"))
        roles = [
            Role(actor_a, "side_a", f"{self.role_note_prefix}side_a{_id_note(actor_a)}"),
            Role(actor_b, "side_b", f"{self.role_note_prefix}side_b{_id_note(actor_b)}"),
        ]

        place_name = c.name("where_coordinates") or c.name("adm_2") or c.name("adm_1") or c.name("country")
        place = Place(
            name=shorten(place_name, 300),
            country_code=country,
            admin1=shorten(c.name("adm_1"), 200),
            admin2=shorten(c.name("adm_2"), 200),
            latitude=latitude,
            longitude=longitude,
            geo_precision=geo_precision,
        )
        figures = self._figures(
            c,
            best,
            low,
            high,
            deaths,
            [(_group(side_a, a_is_state), actor_a), (_group(side_b, b_is_state), actor_b)],
        )
        return Record(
            line=line,
            slug=slug,
            title=shorten(f"{label}: {side_a} – {side_b}, {place_name}", 500),
            event_type=event_type,
            sub_event_type=sub_event_type,
            start_date=start,
            end_date=end,
            date_precision=date_precision,
            place=place,
            roles=roles,
            figures=figures,
            extra=row_extra(self.key, raw, fingerprint),
        )

    def _figures(self, c, best, low, high, deaths, sides):
        # The evidence travels with every claim: the articles UCDP cites and who they quote.
        quote = (c.row.get("source_article") or "").strip()
        notes = []
        if original := (c.row.get("source_original") or "").strip():
            notes.append(f"Original source: {original}")
        wording = f"best {best}, low {c.text('low') or '-'}, high {c.text('high') or '-'}"
        # A bound on the wrong side of the best estimate cannot be stored (the database
        # refuses low > best > high); it is left out and the claim says so.
        if low is not None and low > best:
            notes.append(f"UCDP's low estimate ({low}) is above its best estimate; left out")
            low = None
        if high is not None and high < best:
            notes.append(f"UCDP's high estimate ({high}) is below its best estimate; left out")
            high = None
        exact = low == best == high
        qualifier = Qualifier.EXACT if exact else Qualifier.ABOUT
        note_text = ". ".join(notes) + ("." if notes else "")
        figures = [Figure(Group.TOTAL, low, best, high, qualifier, quote, note_text, wording)]
        groups = [*sides, (Group.CIVILIANS, None), (Group.UNKNOWN, None)]
        for column, (group, actor) in zip(DEATH_COLUMNS, groups, strict=True):
            count = deaths[column]
            # A zero in the split only says the best estimate lies elsewhere; it stays in extra.
            if not count:
                continue
            bound = count if exact else None
            figures.append(
                Figure(group, bound, count, bound, qualifier, quote, note_text, f"{column} {count}", actor)
            )
        return figures


def _side_ids(c, side):
    # new_id is UCDP's actor id; older layouts only have the conflict dataset's id.
    value = c.text(f"side_{side}_new_id") or c.text(f"side_{side}_dset_id")
    return (("ucdp_side_id", int(value)),) if value.isascii() and value.isdigit() else ()


def _id_note(actor):
    ids = dict(actor.external_ids)
    return f" (UCDP actor {ids['ucdp_side_id']})" if "ucdp_side_id" in ids else ""


def _actor_kind(name, is_state):
    if _PLACEHOLDER_ACTOR.fullmatch(name):
        return Actor.Kind.UNIDENTIFIED
    if is_state:
        return Actor.Kind.STATE
    if fold(name) == "civilians":
        return Actor.Kind.COMMUNITY
    if name.startswith("Supporters of"):
        # UCDP's informally organised groups, e.g. a party's supporters.
        return Actor.Kind.POLITICAL_GROUP
    return Actor.Kind.ARMED_GROUP


def _group(name, is_state):
    if is_state:
        return Group.STATE_FORCES
    if fold(name) == "civilians":
        return Group.CIVILIANS
    return Group.NON_STATE_ARMED
