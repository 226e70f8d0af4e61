"""What import_ucdp and import_acled share: arguments, progress display, summary."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from incidents.importers.reading import InputError
from incidents.importers.runner import DEFAULT_BATCH_SIZE, Import
from incidents.models import Incident


class BarProgress:
    """A tqdm bar, for a terminal."""

    def __init__(self, stream):
        self.stream = stream
        self.bar = None

    def start(self, total, unit):
        self.bar = tqdm(total=total, unit=unit, unit_scale=unit == "B", file=self.stream, leave=False)

    def update(self, rows, position, summary):
        if self.bar is not None and position is not None:
            self.bar.update(position - self.bar.n)
            self.bar.set_postfix(rows=rows, added=summary.added, updated=summary.updated, refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class LineProgress:
    """A line now and then, for logs: at most one every ``interval`` seconds."""

    def __init__(self, write, interval=5.0):
        self.write = write
        self.interval = interval

    def start(self, total, unit):
        self.total, self.unit = total, unit
        self.started = self.last = time.monotonic()

    def update(self, rows, position, summary):
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        share = f" ({100 * position / self.total:.0f}%)" if position is not None and self.total else ""
        self.write(
            f"  {rows} rows read{share}, {now - self.started:.0f} s: added {summary.added}, "
            f"updated {summary.updated}, unchanged {summary.unchanged}, rejected {summary.rejected}"
        )

    def close(self):
        pass


class ImportCommand(BaseCommand):
    dataset = None  # a records.Dataset
    formats = "a CSV file"

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help=f"The {self.dataset.name} file: {self.formats}.")
        parser.add_argument(
            "--release",
            help="The dataset release, e.g. 26.0.4; it names the Source of the claims "
            "(default: the version in the file name, else the file name).",
        )
        parser.add_argument(
            "--status",
            choices=[Incident.Status.PUBLISHED, Incident.Status.DRAFT],
            default=Incident.Status.PUBLISHED,
            help="Status of newly added incidents (default: published; draft holds them for review).",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Load the valid rows and write the invalid ones, with reasons, to the rejects file.",
        )
        parser.add_argument(
            "--rejects",
            type=Path,
            help="Where --skip-invalid writes rejects (default: FILE.rejects.csv beside FILE).",
        )
        parser.add_argument(
            "--withdraw-missing",
            action="store_true",
            help="Retract this dataset's records that the file does not have (for a full release).",
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Rows per write.")

    def handle(self, *args, file, verbosity, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if verbosity == 0:
            progress = None
        elif self.stderr.isatty():
            # tqdm redraws its line in place: it needs the raw stream, not Django's wrapper.
            progress = BarProgress(sys.stderr)
        else:
            progress = LineProgress(self.stdout.write)
        importer = Import(
            self.dataset,
            file,
            release=options["release"],
            status=options["status"],
            batch_size=options["batch_size"],
            skip_invalid=options["skip_invalid"],
            rejects_path=options["rejects"],
            withdraw_missing=options["withdraw_missing"],
            progress=progress,
        )
        if verbosity:
            self.stdout.write(f"Importing {file.name} as {self.dataset.name} release {importer.release}.")
        try:
            summary = importer.run()
        except InputError as exc:
            raise CommandError(str(exc)) from None
        if verbosity:
            self.stdout.write(f"Layout: {summary.layout}; claims cite the source {summary.source}.")
            for line in summary.lines():
                self.stdout.write(line)
