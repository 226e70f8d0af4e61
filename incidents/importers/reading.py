"""Opening an input file: CSV (streamed) or an API's JSON response, with each row's position.

Quirks of real downloads handled here (see docs/importing.md): a byte-order mark, CRLF
line ends, an HXL hashtag row under the header (HDX), rows with one trailing empty field
more than the header names (the UCDP website's export), records spanning several lines.
"""

import csv
import io
import json
from dataclasses import dataclass

from incidents.importers.records import UnknownLayout

# UCDP's source_article fields can be long; the csv module's default limit is 128 KiB.
FIELD_SIZE_LIMIT = 16 * 1024 * 1024
SNIFF_BYTES = 64 * 1024


class InputError(Exception):
    """The file as a whole cannot be imported; the message says why, for the user."""


@dataclass
class RawRow:
    line: object  # a line number (CSV) or "record N" (JSON), as reports show it
    fields: list  # the values as read, for the rejects file
    values: dict | None = None  # canonical column name -> text (partial when ``problem`` is set)
    raw: dict | None = None  # the row as the file has it, for Incident.extra
    problem: str = ""


class Input:
    """An opened file: ``layout``, ``columns`` (as in the file), ``rows()``, and ``progress()``."""

    def __init__(self, path, dataset):
        self.path = path
        self.dataset = dataset
        self._binary = None
        self._json_records = None
        try:
            self._binary = open(path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise InputError(f"{path}: cannot be opened: {exc.strerror}.") from exc
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self):
        head = self._binary.read(SNIFF_BYTES)
        self._binary.seek(0)
        name = self.path.name
        if not head.lstrip(b"\xef\xbb\xbf").strip():
            raise InputError(f"{name}: the file is empty.")
        if head.startswith(b"PK\x03\x04"):
            raise InputError(
                f"{name}: this is a ZIP archive, not a CSV file; unzip it and import the CSV inside."
            )
        if head.startswith(b"\x1f\x8b"):
            raise InputError(f"{name}: this is a gzip-compressed file, not a CSV file; decompress it first.")
        if b"\x00" in head:
            raise InputError(f"{name}: this is not a CSV file (it contains binary data).")
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if first in (b"{", b"["):
            self._open_json()
        else:
            self._open_csv()

    # -- CSV ---------------------------------------------------------------------------------

    def _open_csv(self):
        self.kind = "CSV"
        self.total = self.path.stat().st_size
        csv.field_size_limit(FIELD_SIZE_LIMIT)
        self._text = io.TextIOWrapper(self._binary, encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._text)
        try:
            header = next(self._reader)
        except StopIteration:
            raise InputError(f"{self.path.name}: the file is empty.") from None
        except UnicodeDecodeError as exc:
            raise InputError(self._not_utf8(1, exc)) from exc
        except csv.Error as exc:
            raise InputError(f"{self.path.name}: line 1: cannot be read as CSV: {exc}.") from exc
        columns = [c.strip() for c in header]
        while columns and not columns[-1]:
            columns.pop()
        self._set_columns(columns)

    def _csv_rows(self):
        reader = self._reader
        count = len(self.columns)
        previous_end = reader.line_num
        first = True
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InputError(
                    f"{self.path.name}: line {reader.line_num}: cannot be read as CSV: {exc}."
                ) from exc
            except UnicodeDecodeError as exc:
                raise InputError(self._not_utf8(previous_end + 1, exc)) from exc
            # Reports give the line a record starts on; a quoted field may span several.
            line = previous_end + 1
            previous_end = reader.line_num
            if not fields or fields == [""]:
                continue
            if first:
                first = False
                # HDX files carry a row of HXL hashtags (#date, #country+name...) under the header.
                if all(not f or f.startswith("#") for f in fields) and any(fields):
                    continue
            # The UCDP website's export ends every row with a comma its header lacks.
            if len(fields) == count + 1 and fields[-1] == "":
                fields = fields[:-1]
            if len(fields) != count:
                # The values it has still tell its id, so it is not taken for a missing record.
                partial = dict(zip(self.canonical, fields, strict=False))
                yield RawRow(
                    line, fields, partial, problem=f"has {len(fields)} fields where the header names {count}"
                )
                continue
            values = dict(zip(self.canonical, fields, strict=True))
            # Neither dict is changed, so when the names are the same one serves as both.
            raw = values if self._canonical_is_columns else dict(zip(self.columns, fields, strict=True))
            yield RawRow(line, fields, values, raw)

    def _not_utf8(self, line, exc):
        # The text is decoded in chunks, so the line is where the faulty chunk begins, or after.
        return (
            f"{self.path.name}: the file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}, "
            f"from line {line} on); save it as UTF-8 and import it again."
        )

    # -- JSON --------------------------------------------------------------------------------

    def _open_json(self):
        # An API page holds at most a few thousand records, so it is read whole.
        self.kind = "JSON"
        key = self.dataset.json_key
        try:
            data = json.load(io.TextIOWrapper(self._binary, encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path.name}: looks like JSON but cannot be read as JSON: {exc}.") from exc
        records = data.get(key) if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise InputError(
                f"{self.path.name}: a JSON file must be an API response with a {key!r} array of records."
            )
        if not records:
            raise InputError(f"{self.path.name}: the {key!r} array is empty.")
        if not all(isinstance(r, dict) for r in records):
            raise InputError(f"{self.path.name}: the {key!r} array must hold objects (one per record).")
        self._json_records = records
        self.total = len(records)
        columns = list(records[0])
        for record in records[1:]:
            columns.extend(k for k in record if k not in columns)
        self._set_columns(columns)

    def _json_rows(self):
        for number, record in enumerate(self._json_records, start=1):
            fields = [_as_text(record.get(c)) for c in self.columns]
            yield RawRow(f"record {number}", fields, dict(zip(self.canonical, fields, strict=True)), record)

    # -- Both --------------------------------------------------------------------------------

    def _set_columns(self, columns):
        self.columns = columns
        lowered = [c.lower() for c in columns]
        self.canonical = [self.dataset.canonical(c) for c in lowered]
        self._canonical_is_columns = self.canonical == self.columns
        duplicates = sorted({c for c in self.canonical if self.canonical.count(c) > 1})
        if duplicates:
            raise InputError(
                f"{self.path.name}: the header names these columns twice: {', '.join(duplicates)}."
            )
        try:
            self.layout = self.dataset.recognise(lowered)
        except UnknownLayout as exc:
            hint = f" {exc.hint}" if exc.hint else ""
            raise InputError(
                f"{self.path.name}: not a {self.dataset.name} file in a layout this importer knows: "
                f"the header lacks the columns {', '.join(exc.missing)}.{hint}"
            ) from None

    def rows(self):
        return self._json_rows() if self._json_records is not None else self._csv_rows()

    def progress(self):
        """How far reading has got, in the unit of ``total`` (bytes for CSV, records for JSON)."""
        if self._json_records is not None:
            return None
        return self._binary.tell()

    def close(self):
        if self._binary is not None:
            self._binary.close()


def where(line):
    """How reports show a row's position: "line 12" or "record 3"."""
    return f"line {line}" if isinstance(line, int) else str(line)


def _as_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
