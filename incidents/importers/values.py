"""Reading the values of one dataset row: numbers, dates, codes, coordinates, countries.

A Checker collects every problem of a row instead of stopping at the first, so a
rejected row's report tells all that is wrong with it at once.
"""

import datetime
import hashlib
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import pycountry
from django.utils.text import slugify


class RowInvalid(Exception):
    """A row that cannot be imported; ``slug`` is set when its id could still be read."""

    def __init__(self, problems, slug=""):
        super().__init__("; ".join(problems))
        self.problems = list(problems)
        self.slug = slug


# re.ASCII: \d would also match digits int() cannot read, such as "²".
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?", re.ASCII
)
# The UCDP website's export writes dates the American way, month first.
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)?", re.ASCII)
_TEXT_DATE = re.compile(r"(\d{1,2})[ -]([A-Za-z]+)[ -](\d{4})", re.ASCII)
_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
# English names, not strptime's %B, whose month names follow the process locale.
MONTHS = {name: n for n, name in enumerate(_MONTH_NAMES, start=1)} | {
    name[:3]: n for n, name in enumerate(_MONTH_NAMES, start=1)
}
_ASCII_DIGITS = re.compile(r"\d+", re.ASCII)
_WHOLE_NUMBER = re.compile(r"-?\d+(?:\.0*)?", re.ASCII)
_MICRODEGREE = Decimal("0.000001")


def parse_date(value):
    """A date written as 2020-03-21 (time part allowed), 03/21/2020 or 21 March 2020; else None."""
    value = value.strip()
    if len(value) == 10 and value[4] == value[7] == "-" and _ASCII_DIGITS.fullmatch(value.replace("-", "")):
        try:
            return datetime.date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            return None
    match = _ISO_DATE.fullmatch(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
    elif match := _US_DATE.fullmatch(value):
        month, day, year = (int(g) for g in match.groups())
    elif match := _TEXT_DATE.fullmatch(value):
        day, month_name, year = match.groups()
        day, year = int(day), int(year)
        month = MONTHS.get(month_name.lower())
        if month is None:
            return None
    else:
        return None
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def parse_whole_number(value):
    """An integer from '12' or '12.0' (as spreadsheet tools write it); None if it is not one."""
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    if not _WHOLE_NUMBER.fullmatch(value):
        return None
    return int(value.split(".")[0])


def fold(name):
    """A name as compared with other names: case and runs of whitespace do not count."""
    return " ".join(name.split()).casefold()


class Checker:
    """Reads the columns of one row; each method returns None and notes a problem on bad input."""

    def __init__(self, row):
        self.row = row
        self.problems = []

    def problem(self, column, message):
        self.problems.append(f"{column}: {message}")

    def text(self, column):
        return (self.row.get(column) or "").strip()

    def name(self, column):
        # Runs of spaces are an artefact of the datasets' tooling ("Janjaweed  - Civilians").
        return " ".join((self.row.get(column) or "").split())

    def required(self, column):
        value = self.name(column)
        if not value:
            self.problem(column, "is empty")
        return value

    def count(self, column, required=True):
        """A number of people: a whole number, zero or more."""
        value = self.text(column)
        if not value:
            if required:
                self.problem(column, "is empty")
            return None
        number = parse_whole_number(value)
        if number is None:
            self.problem(column, f"{value!r} is not a whole number")
        elif number < 0:
            self.problem(column, f"{value!r} is negative")
            return None
        return number

    def code(self, column, meanings):
        """A numeric code looked up in ``meanings`` ({code: meaning})."""
        value = self.text(column)
        number = parse_whole_number(value) if value else None
        if number not in meanings:
            allowed = ", ".join(str(code) for code in meanings)
            self.problem(column, f"{value!r} is not one of the codes {allowed}")
            return None
        return meanings[number]

    def date(self, column):
        value = self.text(column)
        if not value:
            self.problem(column, "is empty")
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.problem(column, f"{value!r} is not a date")
        return parsed

    def coordinates(self, latitude_column, longitude_column):
        """(latitude, longitude) as Decimals with 6 places, both None when both are empty."""
        raw = {latitude_column: self.text(latitude_column), longitude_column: self.text(longitude_column)}
        if not any(raw.values()):
            return None, None
        limits = {latitude_column: 90, longitude_column: 180}
        parsed = {}
        for column, value in raw.items():
            if not value:
                self.problem(column, "is empty but the other coordinate is not")
                continue
            try:
                number = Decimal(value)
            except InvalidOperation:
                self.problem(column, f"{value!r} is not a number")
                continue
            if not number.is_finite() or abs(number) > limits[column]:
                self.problem(column, f"{value} is out of range (±{limits[column]})")
                continue
            parsed[column] = number.quantize(_MICRODEGREE)
        if len(parsed) != 2:
            return None, None
        return parsed[latitude_column], parsed[longitude_column]

    def country(self, column, *, numeric_column=None, alpha3_column=None):
        """The ISO 3166-1 alpha-2 code of the row's country, from its codes or else its name."""
        name = self.text(column)
        numeric = self.text(numeric_column) if numeric_column else ""
        alpha3 = self.text(alpha3_column) if alpha3_column else ""
        if not (name or numeric or alpha3):
            self.problem(column, "is empty")
            return None
        code = country_code(name, numeric=numeric, alpha3=alpha3)
        if code is None:
            shown = ", ".join(repr(v) for v in (name, numeric, alpha3) if v)
            self.problem(column, f"{shown} is not a country with an ISO 3166-1 code")
        return code


# Names the datasets use that pycountry does not know, even without a parenthesised former
# name ("Myanmar (Burma)" is looked up as "Myanmar"). Kosovo has no ISO 3166-1 code.
_COUNTRY_NAMES = {
    "dr congo": "CD",
    "democratic republic of congo": "CD",
    "zaire": "CD",
    "republic of congo": "CG",
    "russia": "RU",
    "bosnia-herzegovina": "BA",
    "ivory coast": "CI",
    "cote d'ivoire": "CI",
    "macedonia, fyr": "MK",
    "macedonia": "MK",
    "turkey": "TR",
    "palestine": "PS",
    "cape verde": "CV",
    "micronesia": "FM",
    "brunei": "BN",
    "east timor": "TL",
    "vatican city": "VA",
    "curacao": "CW",
    "reunion": "RE",
    "falkland islands": "FK",
    "saint-barthelemy": "BL",
    "caribbean netherlands": "BQ",
    "swaziland": "SZ",
    "burma": "MM",
}


@lru_cache(maxsize=1024)
def country_code(name, numeric="", alpha3=""):
    """ISO 3166-1 alpha-2 code from a numeric code, an alpha-3 code or a dataset's country name."""
    if numeric and numeric.isdigit() and (country := pycountry.countries.get(numeric=numeric.zfill(3))):
        return country.alpha_2
    if alpha3 and (country := pycountry.countries.get(alpha_3=alpha3.upper())):
        return country.alpha_2
    if not name:
        return None
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().strip()
    for candidate in (name, re.sub(r"\s*\(.*\)\s*$", "", name), ascii_name):
        candidate = candidate.strip()
        if candidate.lower() in _COUNTRY_NAMES:
            return _COUNTRY_NAMES[candidate.lower()]
        try:
            return pycountry.countries.lookup(candidate).alpha_2
        except LookupError:
            continue
    return None


def bounded_slug(text, max_length):
    """slugify(text) cut to max_length; a cut slug ends with a hash of the whole, to stay distinct."""
    slug = slugify(text)
    if not slug:
        # A name in a script slugify drops entirely still needs a stable slug.
        return hashlib.sha1(text.encode()).hexdigest()[:12]
    if len(slug) <= max_length:
        return slug
    digest = hashlib.sha1(slug.encode()).hexdigest()[:8]
    return f"{slug[: max_length - 9].rstrip('-')}-{digest}"
