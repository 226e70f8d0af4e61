"""ACLED exports (the pre-2023 and the current layout): layouts and mapping rules.

Column meanings are from ACLED's codebook; the rules chosen here are explained in
docs/importing.md, section "ACLED".
"""

import calendar
import datetime
import re

from django.utils.text import slugify

from incidents.importers.records import (
    ActorRef,
    Dataset,
    Figure,
    Place,
    Record,
    Role,
    row_extra,
    shorten,
)
from incidents.importers.values import Checker, RowInvalid, fold, parse_whole_number
from incidents.models import Actor, CasualtyFigure, DatePrecision, Location
from incidents.taxonomy import SUB_EVENT_TYPES_BY_EVENT_TYPE, EventType, SubEventType

Kind = Actor.Kind

EVENT_TYPES = {fold(label): value for value, label in EventType.choices}
SUB_EVENT_TYPES = {fold(label): value for value, label in SubEventType.choices}
SUB_EVENT_LABELS = dict(SubEventType.choices)
# ACLED spells it both ways over the years.
SUB_EVENT_TYPES[fold("Excessive force against protestors")] = SubEventType.EXCESSIVE_FORCE_AGAINST_PROTESTERS

GEO_PRECISION = {
    1: Location.GeoPrecision.EXACT,  # the named town or village
    2: Location.GeoPrecision.NEAR,  # near it, or somewhere in its district
    3: Location.GeoPrecision.PROVINCE,  # only a larger region, coded to its capital
}
TIME_PRECISION = {1: 1, 2: 2, 3: 3}

# inter1/inter2: numeric in the pre-2023 layout and some exports, text in others.
INTER_LABELS = {
    "state forces": 1,
    "rebel group": 2,
    "political militia": 3,
    "identity militia": 4,
    "rioters": 5,
    "protesters": 6,
    "civilians": 7,
    "external/other forces": 8,
}
INTER_KINDS = {
    1: Kind.STATE_FORCES,
    2: Kind.ARMED_GROUP,
    3: Kind.ARMED_GROUP,
    4: Kind.ARMED_GROUP,
    5: Kind.COMMUNITY,
    6: Kind.COMMUNITY,
    7: Kind.COMMUNITY,
    8: Kind.ARMED_GROUP,  # unless the name says otherwise, see _kind_from_name
}
NO_ACTOR = 0
_INTERNATIONAL = re.compile(r"United Nations|\bUN\b|Africa(n)? Union|\bNATO\b|European Union|Mission\b")
_STATE_KINDS = (Kind.STATE, Kind.STATE_FORCES, Kind.INTERNATIONAL_ORGANISATION)

CITATION = (
    "Raleigh, Clionadh, Roudabeh Kishi, and Andrew Linke (2023). Political instability patterns are "
    "obscured by conflict dataset scope conditions, sources, and coding choices. Humanities and "
    "Social Sciences Communications 10(74). Data from the Armed Conflict Location & Event Data "
    "Project (ACLED), acleddata.com, used under ACLED's terms of use (attribution required)."
)


class Acled(Dataset):
    key = "acled"
    name = "ACLED"
    incident_prefix = "acled-"
    source_prefix = "acled-export-"
    role_note_prefix = "ACLED "
    json_key = "data"
    required_columns = (
        "event_id_cnty",
        "event_date",
        "time_precision",
        "event_type",
        "sub_event_type",
        "actor1",
        "assoc_actor_1",
        "inter1",
        "actor2",
        "assoc_actor_2",
        "inter2",
        "country",
        "admin1",
        "admin2",
        "location",
        "latitude",
        "longitude",
        "geo_precision",
        "source",
        "notes",
        "fatalities",
    )

    def layout_name(self, columns):
        return "ACLED, 2023 layout" if "disorder_type" in columns else "ACLED, pre-2023 layout"

    def other_dataset_hint(self, columns):
        if "type_of_violence" in columns:
            return "It looks like a UCDP GED file: use import_ucdp."
        return ""

    def source_fields(self, release):
        return {
            "title": f"ACLED data export {release}",
            "publisher": "Armed Conflict Location & Event Data Project (ACLED)",
            "url": "https://acleddata.com/",
            "kind": "dataset",
            "version": release[:50],
            "language": "en",
            "text": CITATION,
        }

    def slug_of(self, row):
        # event_id_cnty is stable across ACLED's updates; data_id is not.
        event_id = (row.get("event_id_cnty") or "").strip()
        # slugify() of letters and digits alone lower-cases them; it is slow, and asked twice a row.
        event_id = event_id.lower() if event_id.isascii() and event_id.isalnum() else slugify(event_id)
        return f"{self.incident_prefix}{event_id}" if event_id else ""

    def map_row(self, row, raw, line, fingerprint=None):
        c = Checker(row)
        event_id = c.required("event_id_cnty")
        slug = self.slug_of(row)
        if event_id and not slug:
            c.problem("event_id_cnty", f"{event_id!r} is not an ACLED event id")
        event_type, sub_event_type = _types(c)
        event_date = c.date("event_date")
        time_precision = c.code("time_precision", TIME_PRECISION)
        geo_precision = c.code("geo_precision", GEO_PRECISION)
        latitude, longitude = c.coordinates("latitude", "longitude")
        country = c.country("country", numeric_column="iso" if "iso" in row else None)
        fatalities = c.count("fatalities")
        actor1 = c.required("actor1")
        actor2 = c.name("actor2")
        inter1 = _inter(c, "inter1", actor1)
        inter2 = _inter(c, "inter2", actor2)
        if c.problems:
            raise RowInvalid(c.problems, slug)

        start, end, date_precision = _date_range(event_date, time_precision)
        roles = self._roles(c, actor1, inter1, "1", "side_a") + self._roles(c, actor2, inter2, "2", "side_b")
        location = c.name("location") or c.name("admin2") or c.name("admin1") or c.name("country")
        place = Place(
            name=shorten(location, 300),
            country_code=country,
            admin1=shorten(c.name("admin1"), 200),
            admin2=shorten(c.name("admin2"), 200),
            latitude=latitude,
            longitude=longitude,
            geo_precision=geo_precision,
        )
        sources = c.text("source")
        # ACLED codes the most conservative figure reported, so it is a floor.
        figure = Figure(
            group=CasualtyFigure.Group.TOTAL,
            low=fatalities,
            best=None,
            high=None,
            qualifier=CasualtyFigure.Qualifier.AT_LEAST,
            quote=(row.get("notes") or "").strip(),
            notes=(f"ACLED's sources: {sources}. " if sources else "")
            + "ACLED records the most conservative fatality figure its sources report.",
            wording=f"fatalities {fatalities}",
        )
        sub_label = SUB_EVENT_LABELS[sub_event_type]
        against = f" – {actor2}" if actor2 else ""
        return Record(
            line=line,
            slug=slug,
            title=shorten(f"{sub_label}: {actor1}{against}, {location}", 500),
            event_type=event_type,
            sub_event_type=sub_event_type,
            start_date=start,
            end_date=end,
            date_precision=date_precision,
            place=place,
            roles=roles,
            figures=[figure],
            extra=row_extra(self.key, raw, fingerprint),
        )

    def _roles(self, c, name, inter, number, role):
        if not name:
            return []
        kind = _kind_from_name(name) or INTER_KINDS.get(inter, Kind.UNIDENTIFIED)
        main = ActorRef(name, kind, (("acled_actor", name),))
        roles = [Role(main, role, f"{self.role_note_prefix}actor{number}")]
        # Associated actors fight alongside, or identify, the main actor: same side, noted.
        # They have no type code of their own; an associate that its name does not show to
        # be a state body is not one because the main actor is.
        associate_kind = Kind.ARMED_GROUP if kind in _STATE_KINDS else kind
        for associate in c.name(f"assoc_actor_{number}").split(";"):
            associate = associate.strip()
            if associate and associate != name:
                ref = ActorRef(
                    associate, _kind_from_name(associate) or associate_kind, (("acled_actor", associate),)
                )
                roles.append(
                    Role(ref, role, f"{self.role_note_prefix}assoc_actor_{number}, associated with {name}")
                )
        unique = {}
        for r in roles:
            unique.setdefault((r.actor.name, r.role), r)
        return list(unique.values())


def _types(c):
    event_label, sub_label = c.required("event_type"), c.required("sub_event_type")
    event_type = EVENT_TYPES.get(fold(event_label))
    sub_event_type = SUB_EVENT_TYPES.get(fold(sub_label))
    if event_label and event_type is None:
        c.problem("event_type", f"{event_label!r} is not an ACLED event type")
    if sub_label and sub_event_type is None:
        c.problem("sub_event_type", f"{sub_label!r} is not an ACLED sub-event type")
    if event_type and sub_event_type and sub_event_type not in SUB_EVENT_TYPES_BY_EVENT_TYPE[event_type]:
        c.problem("sub_event_type", f"{sub_label!r} is not a kind of {event_label!r}")
    return event_type, sub_event_type


def _inter(c, column, actor):
    """The actor type code (1-8), from a number or ACLED's label; 0 when there is no actor."""
    value = c.text(column)
    if not actor:
        return NO_ACTOR
    code = parse_whole_number(value) if value else None
    if code is None:
        code = INTER_LABELS.get(fold(value))
    if code not in INTER_KINDS:
        c.problem(column, f"{value!r} is not an ACLED actor type (1-8 or its label)")
        return None
    return code


def _kind_from_name(name):
    if name.startswith("Unidentified"):
        return Kind.UNIDENTIFIED
    if name.startswith(("Military Forces of", "Police Forces of")):
        return Kind.STATE_FORCES
    if name.startswith("Government of"):
        return Kind.STATE
    if _INTERNATIONAL.search(name):
        return Kind.INTERNATIONAL_ORGANISATION
    if "Militia" in name:
        return Kind.ARMED_GROUP
    if name.startswith(("Civilians (", "Protesters (", "Rioters (")):
        return Kind.COMMUNITY
    return None


def _date_range(event_date, time_precision):
    """ACLED dates an event known only to the week (month) at its middle: widen to cover it."""
    if time_precision == 1:
        return event_date, event_date, DatePrecision.DAY
    if time_precision == 2:
        days = datetime.timedelta(days=3)
        return event_date - days, event_date + days, DatePrecision.WEEK
    last_day = calendar.monthrange(event_date.year, event_date.month)[1]
    return event_date.replace(day=1), event_date.replace(day=last_day), DatePrecision.MONTH
