"""What one dataset row becomes, independent of the dataset: the writer only sees these."""

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from django.utils.text import slugify

from incidents.importers.values import bounded_slug

# Part of every row's fingerprint: bump it when a mapping rule changes, so that the next
# import of an unchanged file rewrites its records by the new rule.
MAPPING_VERSION = 1

# The keys of Incident.extra that an importer owns; any other key (an editor's) is kept.
EXTRA_KEYS = ("dataset", "row", "row_hash", "withdrawn")


@dataclass(frozen=True)
class Place:
    name: str
    country_code: str
    admin1: str
    admin2: str
    latitude: object  # Decimal or None
    longitude: object
    geo_precision: str

    @cached_property
    def slug(self):
        # The same place (names, coordinates to ~10 m, precision) always gets the same slug.
        text = bounded_slug(
            " ".join(filter(None, [self.country_code, self.admin1, self.admin2, self.name])), 140
        )
        if self.latitude is None:
            coordinates = "no-coordinates"
        else:
            coordinates = f"{_degrees(self.latitude, 'n', 's')}-{_degrees(self.longitude, 'e', 'w')}"
        return f"{text}-{coordinates}-{self.geo_precision}"

    # Places are dict keys batch after batch (their Decimal coordinates are slow to hash).
    @cached_property
    def _hash(self):
        return hash(
            (
                self.name,
                self.country_code,
                self.admin1,
                self.admin2,
                self.latitude,
                self.longitude,
                self.geo_precision,
            )
        )

    def __hash__(self):
        return self._hash

    @property
    def match_key(self):
        """What makes an existing location, whatever its slug, the same place."""
        return place_key(self.country_code, self.name, self.latitude, self.longitude, self.geo_precision)


def place_key(country_code, name, latitude, longitude, geo_precision):
    def rounded(value):
        return None if value is None else round(float(value), 4)

    return (
        country_code,
        " ".join(name.split()).casefold(),
        rounded(latitude),
        rounded(longitude),
        geo_precision,
    )


def _degrees(value, positive, negative):
    # Slugs allow no dots or signs: 31.4841 -> 31_4841n.
    return f"{abs(value):.4f}".replace(".", "_") + (positive if value >= 0 else negative)


@dataclass(frozen=True)
class ActorRef:
    """An actor as a row names it; ``external_ids`` is a tuple of (key, value) pairs."""

    name: str
    kind: str
    external_ids: tuple = ()


@dataclass(frozen=True)
class Role:
    actor: ActorRef
    role: str
    note: str


@dataclass
class Figure:
    group: str
    low: int | None
    best: int | None
    high: int | None
    qualifier: str
    quote: str
    notes: str
    wording: str = ""
    actor: ActorRef | None = None
    outcome: str = "killed"

    # With these, incidents.totals.compute_totals reads a Figure as it reads a CasualtyFigure.
    is_preferred = False
    pk = None


@dataclass
class Record:
    line: object
    slug: str
    title: str
    event_type: str
    sub_event_type: str
    start_date: object
    end_date: object
    date_precision: str
    place: Place | None
    roles: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def row_hash(row):
    """A fingerprint of a row as read (and of the mapping rules' version)."""
    # column \x1e repr(value), joined by \x1f (written this way for speed; do not change the result).
    text = "\x1f".join(map("\x1e".join, zip(row, map(repr, row.values()), strict=True)))
    return hashlib.sha1(f"{MAPPING_VERSION}\x1d{text}".encode()).hexdigest()


def row_extra(dataset_key, row, fingerprint=None):
    """Incident.extra for a row: the whole row as read, and its fingerprint (row_hash(row))."""
    return {"dataset": dataset_key, "row": row, "row_hash": fingerprint or row_hash(row)}


def shorten(text, length):
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


class UnknownLayout(Exception):
    def __init__(self, missing, hint=""):
        self.missing = missing
        self.hint = hint
        super().__init__(", ".join(missing))


class Dataset:
    """One dataset's rules. Subclasses fill in the names and ``map_row``."""

    key = ""  # in Incident.extra["dataset"]
    name = ""  # for people
    incident_prefix = ""  # incident slugs
    source_prefix = ""  # release sources' slugs; figures from any of them belong to the importer
    role_note_prefix = ""  # actor roles whose note starts with it belong to the importer
    json_key = ""  # the records' array in an API response
    required_columns = ()
    column_aliases = {}  # another layout's name -> ours

    def canonical(self, column):
        return self.column_aliases.get(column, column)

    def recognise(self, columns):
        """The layout's name for a header's (lower-cased) column names; UnknownLayout if it is not one."""
        columns = set(columns)
        canonical = {self.canonical(c) for c in columns}
        missing = [c for c in self.required_columns if c not in canonical]
        if missing:
            raise UnknownLayout(missing, self.other_dataset_hint(columns))
        return self.layout_name(columns)

    def layout_name(self, columns):
        return self.name

    def other_dataset_hint(self, columns):
        return ""

    def release_from_path(self, path):
        return Path(path).stem

    def source_slug(self, release):
        # Dots would vanish ("19.1" -> "191") and the API's URLs do not take them.
        return self.source_prefix + slugify(release.replace(".", "-"))

    def source_fields(self, release):
        raise NotImplementedError

    def slug_of(self, row):
        """The incident slug for a row (canonical names), or "" when its id is missing or bad."""
        raise NotImplementedError

    def map_row(self, row, raw_row, line, fingerprint=None):
        """A Record from ``row`` (canonical names); RowInvalid when it cannot be imported.

        ``fingerprint`` is row_hash(raw_row), when the caller has it already.
        """
        raise NotImplementedError


def version_in_name(stem):
    """'GEDEvent_v26_0_4' -> '26.0.4', 'ged_v19_1' -> '19.1'; None when the name has no version."""
    match = re.search(r"v(\d{1,2})[._-](\d{1,2})(?:[._-](\d{1,2}))?(?![\d])", stem)
    return ".".join(g for g in match.groups() if g) if match else None
