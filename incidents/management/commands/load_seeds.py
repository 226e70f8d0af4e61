"""Load the seed fixtures, fill each source's text from seeds/, check every quote.

All of it happens in one transaction: a broken fixture, a missing source text or
a quote that is not in its source aborts the load with a message naming the file
and the record, and the database is left as it was.
"""

from pathlib import Path

from django.conf import settings
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from incidents import derived
from incidents.evidence import quote_occurs_in
from incidents.history import record_load_in_history
from incidents.models import CasualtyFigure, Incident, IncidentActor, Source


class Command(BaseCommand):
    help = (
        "Load fixtures/*.json in order, fill source texts from seeds/, check quotes, refresh derived fields."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fixtures-dir", type=Path, default=settings.FIXTURES_DIR)
        parser.add_argument("--seeds-dir", type=Path, default=settings.SEEDS_DIR)

    def handle(self, *args, fixtures_dir, seeds_dir, verbosity, **options):
        files = sorted(fixtures_dir.glob("*.json"))
        if not files:
            raise CommandError(f"No fixtures (*.json) in {fixtures_dir}.")
        with transaction.atomic():
            origins = {}
            for path in files:
                origins.update(self._load_file(path, origins))
            self._fill_source_texts(origins, seeds_dir)
            self._check_quotes(origins)
            incident_ids = [pk for (model, pk) in origins if model is Incident]
            derived.incidents_changed(incident_ids)
            record_load_in_history(
                origins, f"load_seeds: {len(files)} fixture files from {fixtures_dir.name}/"
            )
        if verbosity:
            self.stdout.write(f"Loaded {len(origins)} records from {len(files)} fixture files.")

    def _load_file(self, path, loaded):
        """Save every record of one fixture file; return {(model, pk): 'file, record N'}."""
        origins = {}
        try:
            with path.open(encoding="utf-8") as stream:
                records = list(serializers.deserialize("json", stream, handle_forward_references=True))
        except (serializers.base.DeserializationError, ValueError) as exc:
            raise CommandError(f"{path.name}: cannot be read as a fixture: {exc}") from exc
        deferred = []
        for number, record in enumerate(records, start=1):
            where = f"{path.name}, record {number} ({record.object._meta.label_lower})"
            try:
                record.object.full_clean(validate_unique=False, validate_constraints=False)
                record.save()
            except ValidationError as exc:
                raise CommandError(f"{where}: {exc.message_dict}") from exc
            except DatabaseError as exc:
                raise CommandError(f"{where}: the database refused it: {exc}") from exc
            if record.deferred_fields:
                deferred.append((where, record))
            key = (type(record.object), record.object.pk)
            if key in origins or key in loaded:
                # Two records with one natural key: the second would silently overwrite the first.
                raise CommandError(
                    f"{where}: the same record as {origins.get(key) or loaded[key]} (duplicate natural key)."
                )
            origins[key] = where
        for where, record in deferred:
            try:
                record.save_deferred_fields()
            except Exception as exc:
                raise CommandError(f"{where}: a reference cannot be resolved: {exc}") from exc
        return origins

    def _fill_source_texts(self, origins, seeds_dir):
        for (model, pk), where in origins.items():
            if model is not Source:
                continue
            source = Source.objects.get(pk=pk)
            seed = seeds_dir / f"{source.slug}.txt"
            if seed.is_file():
                source.text = seed.read_text(encoding="utf-8")
                source.save(update_fields=["text"])
            elif not source.text:
                # Sources added by editors or imports carry their text in the fixture itself.
                raise CommandError(f"{where}: source {source.slug!r} has no text and no text file {seed}.")

    def _check_quotes(self, origins):
        figure_ids = [pk for (model, pk) in origins if model is CasualtyFigure]
        for figure in CasualtyFigure.objects.filter(pk__in=figure_ids).select_related("source"):
            if not quote_occurs_in(figure.quote, figure.source.text):
                where = origins[(CasualtyFigure, figure.pk)]
                raise CommandError(
                    f"{where}: figure {figure.uid}: the quote {figure.quote!r} "
                    f"does not occur in source {figure.source.slug!r}."
                )
        role_ids = [pk for (model, pk) in origins if model is IncidentActor]
        roles = IncidentActor.objects.filter(pk__in=role_ids).exclude(quote="")
        for role in roles.select_related("incident", "actor").prefetch_related("incident__sources"):
            if not any(quote_occurs_in(role.quote, s.text) for s in role.incident.sources.all()):
                where = origins[(IncidentActor, role.pk)]
                raise CommandError(
                    f"{where}: {role.actor.slug} as {role.role} in {role.incident.slug}: "
                    f"the quote {role.quote!r} does not occur in the incident's sources."
                )
