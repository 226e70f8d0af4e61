"""One import, from opening the file to the summary, in a single transaction.

Rows are read one by one and handled in batches (looked up, mapped, written), so memory
stays flat whatever the file's size. A bad row is a reject: by default any reject rolls the whole
import back (after every row has been checked, so the report lists them all); with
``skip_invalid`` the good rows are kept and the rejects go to a CSV file.
"""

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from incidents import derived
from incidents.importers.reading import Input, InputError, where
from incidents.importers.records import row_hash
from incidents.importers.values import RowInvalid
from incidents.importers.writer import Writer
from incidents.models import Incident, Source

DEFAULT_BATCH_SIZE = 2000
REPORTED_REJECTS = 20
REPORTED_MISSING = 10


class InvalidRows(InputError):
    pass


@dataclass
class Summary:
    file: str
    layout: str = ""
    source: str = ""
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    seconds: float = 0.0
    missing: int = 0
    missing_examples: list = field(default_factory=list)
    withdrawn: int = 0
    rejects_file: str = ""

    def lines(self):
        rate = self.rows / self.seconds if self.seconds else 0
        yield (
            f"{self.file}: added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {self.rejected} in {self.seconds:.1f} s ({rate:,.0f} rows/s)."
        )
        if self.rejects_file:
            yield f"Rejected rows and their reasons: {self.rejects_file}"
        if self.deleted:
            yield f"Not re-created: {self.deleted} incidents that editors deleted or merged (they have tombstones)."
        if self.missing:
            examples = ", ".join(self.missing_examples)
            more = ", ..." if self.missing > len(self.missing_examples) else ""
            records = "1 record" if self.missing == 1 else f"{self.missing} records"
            verb = "is" if self.missing == 1 else "are"
            yield f"{records} of this dataset in the database {verb} not in this file: {examples}{more}"
            if self.withdrawn:
                yield f"Withdrawn (status retracted, reason in extra.withdrawn): {self.withdrawn}."
            else:
                yield "If the file is a full release, --withdraw-missing withdraws them."


class NoProgress:
    def start(self, total, unit):
        pass

    def update(self, rows, position, summary):
        pass

    def close(self):
        pass


class RejectsFile:
    """Rejected rows as CSV: where, why, then the row's own fields under the file's header."""

    def __init__(self, path, columns):
        self.path = path
        self.columns = columns
        self._file = None

    @property
    def written(self):
        return self._file is not None

    def add(self, where, reasons, fields):
        if self._file is None:
            try:
                self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as exc:
                raise InputError(
                    f"cannot write the rejects file {self.path} ({exc.strerror}); name another with --rejects."
                ) from exc
            self._writer = csv.writer(self._file)
            self._writer.writerow(["line", "reason", *self.columns])
        self._writer.writerow([where, "; ".join(reasons), *fields])

    def close(self):
        if self._file is not None:
            self._file.close()


class Import:
    def __init__(
        self,
        dataset,
        path,
        *,
        release=None,
        status=Incident.Status.PUBLISHED,
        batch_size=DEFAULT_BATCH_SIZE,
        skip_invalid=False,
        rejects_path=None,
        withdraw_missing=False,
        progress=None,
    ):
        self.dataset = dataset
        self.path = Path(path)
        self.release = release or dataset.release_from_path(self.path)
        self.status = status
        self.batch_size = batch_size
        self.skip_invalid = skip_invalid
        self.rejects_path = (
            Path(rejects_path) if rejects_path else self.path.with_name(f"{self.path.stem}.rejects.csv")
        )
        self.withdraw_missing = withdraw_missing
        self.progress = progress or NoProgress()
        self.summary = Summary(file=self.path.name)
        self._reported = []

    def run(self):
        started = time.monotonic()
        if self.skip_invalid and not os.access(self.rejects_path.parent, os.W_OK):
            raise InputError(
                f"cannot write the rejects file in {self.rejects_path.parent}; name another with --rejects."
            )
        source_file = Input(self.path, self.dataset)
        self.summary.layout = source_file.layout
        rejects = RejectsFile(self.rejects_path, source_file.columns) if self.skip_invalid else None
        try:
            with transaction.atomic():
                self._import(source_file, rejects)
                # Bulk writes send no signals: the cached API reads go when this import commits.
                derived.records_changed()
        finally:
            source_file.close()
            if rejects:
                rejects.close()
            self.progress.close()
        if rejects and rejects.written:
            self.summary.rejects_file = str(self.rejects_path)
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _import(self, source_file, rejects):
        source = self._source()
        writer = Writer(self.dataset, source, self.status)
        self.progress.start(source_file.total, "B" if source_file.kind == "CSV" else "records")
        batch = []
        for raw in source_file.rows():
            self.summary.rows += 1
            batch.append(raw)
            if len(batch) >= self.batch_size:
                self._flush(writer, batch, rejects)
                batch = []
                self.progress.update(self.summary.rows, source_file.progress(), self.summary)
        self._flush(writer, batch, rejects)
        self.progress.update(self.summary.rows, source_file.total, self.summary)
        if not self.summary.rows:
            # Most likely a failed download; with --withdraw-missing it would retract everything.
            raise InputError(f"{self.path.name}: the file has a header but no rows.")

        if self.summary.rejected and not self.skip_invalid:
            raise InvalidRows(self._invalid_message())
        missing = writer.missing()
        self.summary.missing = missing.count()
        self.summary.missing_examples = list(missing.values_list("slug", flat=True)[:REPORTED_MISSING])
        if self.withdraw_missing and self.summary.missing:
            reason = {
                "reason": f"Not in {self.dataset.name} release {self.release} ({self.path.name}).",
                "release": self.release,
                "source": source.slug,
            }
            self.summary.withdrawn = writer.withdraw(reason)
        writer.close()

    def _source(self):
        slug = self.dataset.source_slug(self.release)
        fields = self.dataset.source_fields(self.release)
        source, _ = Source.objects.get_or_create(
            slug=slug, defaults={**fields, "notes": f"Imported from {self.path.name}."}
        )
        if source.kind != Source.Kind.DATASET:
            # Its figures would count as the dataset's and be replaced by the next import.
            raise InputError(f"the source {slug!r} exists and is not a dataset; choose another --release.")
        self.summary.source = slug
        return source

    def _flush(self, writer, batch, rejects):
        slugs = [self.dataset.slug_of(raw.values) if raw.values else "" for raw in batch]
        duplicates = writer.deduplicate(
            [(slug, where(raw.line)) for raw, slug in zip(batch, slugs, strict=True)]
        )
        wanted = {slug for slug, duplicate in zip(slugs, duplicates, strict=True) if slug and not duplicate}
        existing = writer.existing(wanted)
        deleted = writer.deleted(wanted - set(existing))
        records = []
        map_row = self.dataset.map_row
        for raw, slug, duplicate in zip(batch, slugs, duplicates, strict=True):
            if raw.problem or duplicate:
                self._reject(rejects, raw.line, [raw.problem or duplicate], raw.fields)
                continue
            # An editor's deletion (or merge) stands: the next release does not undo it.
            if slug in deleted:
                self.summary.deleted += 1
                continue
            # A row the database has as it is needs no mapping, let alone writing.
            fingerprint = row_hash(raw.raw)
            if writer.is_unchanged(existing.get(slug), fingerprint):
                self.summary.unchanged += 1
                continue
            try:
                records.append(map_row(raw.values, raw.raw, raw.line, fingerprint))
            except RowInvalid as exc:
                self._reject(rejects, raw.line, exc.problems, raw.fields)
        # Once the import is bound to be rolled back, writing more is wasted work.
        if not self.summary.rejected or self.skip_invalid:
            added, updated, written = writer.write(records, existing)
            self.summary.added += added
            self.summary.updated += updated
            # Bulk writes bypass the history's save signals: one entry per written
            # incident, naming this import, keeps every change traceable.
            writer.record_history(written, f"import of {self.dataset.name}: {self.path.name}")

    def _reject(self, rejects, line, reasons, fields):
        self.summary.rejected += 1
        if rejects:
            rejects.add(line, reasons, fields)
        if len(self._reported) < REPORTED_REJECTS:
            self._reported.append(f"{where(line)}: {'; '.join(reasons)}")

    def _invalid_message(self):
        count = self.summary.rejected
        lines = [
            f"{self.path.name}: {count} invalid row{'s' if count != 1 else ''} out of {self.summary.rows}; "
            "nothing was written. Correct the file, or load the valid rows with --skip-invalid "
            "(the rejects and their reasons go to a CSV file).",
            *(f"  {line}" for line in self._reported),
        ]
        if count > len(self._reported):
            lines.append(f"  ... and {count - len(self._reported)} more.")
        return "\n".join(lines)
