"""Load the seed fixtures into a database without undoing what editors did there.

``manage.py load_seeds`` reads fixtures/*.json in order (sources, places, actors,
incidents, actor roles, casualty figures) and loads only the records the database
lacks. Each fixture record is identified by its natural key (a slug; a figure's uid; a
role's incident, actor and role) and is one of:

- **present**: a record with that key is in the database. It is left exactly as it is,
  whatever the fixture says: no save, no history row, no new ``updated_at``.
- **deleted by editors**: no record has that key, but the key is in the record's change
  history (django-simple-history writes a row for every save and delete) or, for an
  incident, in a tombstone. An editor deleted the record, or changed its key (renamed a
  slug, moved a role to another role): it is not created again. A new fixture record that
  refers to such a record (a role of a deleted incident) is not created either.
- **new**: neither in the database nor in its history. It is created, its source text
  filled from seeds/, and the load is recorded in history, one row per record.

So a database that holds curated changes can be loaded into at every start (`make run`
does) and nothing curated is overwritten or resurrected; a second load writes nothing.

``--replace`` reloads on purpose: every fixture record is made as the fixture says, the
deleted ones are created again (an incident's tombstone is removed) and present ones that
differ are overwritten (``created_at`` kept, ``updated_at`` now); records that are not in
the fixtures are kept. When that would undo curated changes, it lists them and refuses,
writing nothing, unless ``--yes`` is given too. Derived fields (totals, search text,
``counts_in_total``) and timestamps are not curated: they never count as changes.

Whatever the mode, every fixture record is checked, present ones too, and all of it
happens in one transaction: a broken fixture, a dangling reference, a missing source text
or a quote that is not in its source aborts the load with a message naming the file and
the record, and the database is left as it was. Quotes are checked against the text their
source has in the fixtures (seeds/<slug>.txt or the fixture's own text), and the records
written against the database's; sources of kind dataset are exempt, as everywhere.

The rule lives in incidents/seeding.py; the project's ``loaddata`` (loaddata.py beside this
file) applies the same one to plain fixture loads.
"""

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from incidents import derived
from incidents.evidence import quote_occurs_in
from incidents.history import record_load_in_history
from incidents.models import (
    Actor,
    CasualtyFigure,
    Incident,
    IncidentActor,
    IncidentTombstone,
    Location,
    Source,
)
from incidents.seeding import (
    DELETED,
    DEPENDENT,
    KEY_FIELDS,
    NEW,
    NOT_CURATED,
    PRESENT,
    PRIMARY,
    WHY_NOT_RESTORED,
    chunks,
    deleted_keys,
    differences,
    existing_keys,
    misquoted,
    seed_text,
)

# -- The command ----------------------------------------------------------------------------------


@dataclass(eq=False)
class Record:
    """One record of a fixture file, and what the database has of it."""

    model: type
    key: tuple
    raw: dict
    where: str
    path: Path
    refs: list = field(default_factory=list)  # [(model, natural key)] it refers to
    status: str = NEW
    pk: int | None = None  # the database's record with this key

    def __str__(self):
        return f"{self.where} {'/'.join(self.key)}"


class Command(BaseCommand):
    help = (
        "Load fixtures/*.json: add the records the database lacks, leave every present record as it is, "
        "never re-create one editors deleted. --replace --yes reloads them all on purpose."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fixtures-dir", type=Path, default=settings.FIXTURES_DIR)
        parser.add_argument("--seeds-dir", type=Path, default=settings.SEEDS_DIR)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Make every fixture record as the fixture says: overwrite present records that differ, "
            "re-create deleted ones. Refuses, listing them, when that undoes curated changes, unless --yes.",
        )
        parser.add_argument(
            "--yes", action="store_true", help="With --replace: undo the curated changes it lists."
        )

    def handle(self, *args, fixtures_dir, seeds_dir, replace, yes, verbosity, **options):
        if yes and not replace:
            raise CommandError("--yes goes with --replace.")
        files = sorted(Path(fixtures_dir).glob("*.json"))
        if not files:
            raise CommandError(f"No fixtures (*.json) in {fixtures_dir}.")
        self.seeds_dir, self.replace = seeds_dir, replace
        with transaction.atomic(using=PRIMARY):
            records = [record for path in files for record in self._read(path)]
            self._classify(records)
            texts = self._source_texts(records)
            self._check_fixture_quotes(records, texts)
            written, lost, affected = self._write(records, texts)
            self._check_written_quotes(written)
            self._refresh_derived(written, affected)
            if written:
                mode = "load_seeds --replace" if replace else "load_seeds"
                record_load_in_history(
                    [(r.model, r.pk) for r in written],
                    f"{mode}: {len(written)} records from {fixtures_dir.name}/",
                )
            if lost and not yes:
                raise CommandError(
                    f"load_seeds --replace would undo {len(lost)} curated changes (overwrite what editors "
                    "changed, re-create what they deleted), so it wrote nothing:\n"
                    + "\n".join(f"  {line}" for line in lost)
                    + "\nRun `manage.py load_seeds --replace --yes` (`make reload-fixtures YES=1`) "
                    "to replace them."
                )
        if verbosity:
            self._report(records, written, lost, len(files), verbosity)

    # -- Reading ---------------------------------------------------------------------------------

    def _read(self, path):
        try:
            with path.open(encoding="utf-8") as stream:
                data = json.load(stream)
        except (ValueError, OSError) as exc:
            raise CommandError(f"{path.name}: cannot be read as a fixture: {exc}") from exc
        if not isinstance(data, list):
            raise CommandError(f"{path.name}: cannot be read as a fixture: not a list of records.")
        records = []
        for number, raw in enumerate(data, start=1):
            label = raw.get("model") if isinstance(raw, dict) else None
            where = f"{path.name}, record {number} ({label})"
            if not isinstance(raw, dict) or not isinstance(raw.get("fields"), dict):
                raise CommandError(f"{where}: not a fixture record (a model and its fields).")
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError, TypeError) as exc:
                raise CommandError(f"{where}: unknown model: {exc}") from exc
            if model not in KEY_FIELDS:
                raise CommandError(
                    f"{where}: load_seeds loads only {', '.join(m._meta.label_lower for m in KEY_FIELDS)}."
                )
            # Records are identified by natural key: database ids differ between databases.
            raw = {"model": label, "fields": raw["fields"]}
            records.append(Record(model, self._raw_key(model, raw["fields"], where), raw, where, path))
            self._find_references(records[-1])
        return records

    @staticmethod
    def _raw_key(model, fields, where):
        parts = []
        for name in KEY_FIELDS[model]:
            value = fields.get(name)
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                parts.extend(value)
            elif isinstance(value, str) and value:
                parts.append(value)
            else:
                raise CommandError(f"{where}: no natural key: {name!r} is {value!r}.")
        if model is CasualtyFigure:
            try:
                parts = [str(uuid.UUID(parts[0]))]
            except ValueError as exc:
                raise CommandError(f"{where}: the uid {parts[0]!r} is not a UUID.") from exc
        return tuple(parts)

    @staticmethod
    def _find_references(record):
        for name, value in record.raw["fields"].items():
            try:
                model_field = record.model._meta.get_field(name)
            except FieldDoesNotExist as exc:
                raise CommandError(
                    f"{record.where}: {record.model._meta.label_lower} has no field {name!r}."
                ) from exc
            target = model_field.related_model if model_field.is_relation else None
            if target not in KEY_FIELDS or value is None:
                continue
            values = value if model_field.many_to_many else [value]
            for one in values:
                if isinstance(one, list) and all(isinstance(v, str) for v in one):
                    record.refs.append((target, tuple(one)))

    # -- What the database has -------------------------------------------------------------------

    def _classify(self, records):
        by_key = {}
        for record in records:
            other = by_key.setdefault((record.model, record.key), record)
            if other is not record:
                # Two records with one natural key: the second would silently overwrite the first.
                raise CommandError(
                    f"{record.where}: the same record as {other.where} (duplicate natural key)."
                )
        wanted = defaultdict(set)
        for record in records:
            wanted[record.model].add(record.key)
            for model, key in record.refs:
                wanted[model].add(key)
        present, deleted = {}, {}
        for model, keys in wanted.items():
            present[model] = existing_keys(model, keys)
            deleted[model] = deleted_keys(model, keys - present[model].keys())
        for record in records:
            record.pk = present[record.model].get(record.key)
            if record.pk is not None:
                record.status = PRESENT
            elif record.key in deleted[record.model]:
                record.status = DELETED
        for record in records:
            for model, key in record.refs:
                if (model, key) not in by_key and key not in present[model] and key not in deleted[model]:
                    raise CommandError(
                        f"{record.where}: refers to {model._meta.label_lower} {'/'.join(key)!r}, "
                        "which is neither in the fixtures nor in the database."
                    )

        # A new record that refers to one editors deleted is not created either (and so on, down).
        def refers_to_deleted(record):
            for model, key in record.refs:
                target = by_key.get((model, key))
                if target.status in (DELETED, DEPENDENT) if target else key in deleted[model]:
                    return True
            return False

        changed = True
        while changed:
            changed = False
            for record in records:
                if record.status == NEW and refers_to_deleted(record):
                    record.status, changed = DEPENDENT, True

    def _source_texts(self, records):
        """{slug: (kind, text)} of every fixture source, as it loads; refuses a source without text."""
        texts = {}
        for record in records:
            if record.model is Source:
                fields = record.raw["fields"]
                text = seed_text(record.key[0], fields.get("text", ""), self.seeds_dir)
                if text is None:
                    raise CommandError(
                        f"{record.where}: source {record.key[0]!r} has no text and no text file "
                        f"{Path(self.seeds_dir) / (record.key[0] + '.txt')}."
                    )
                texts[record.key[0]] = (fields.get("kind", Source.Kind.NEWS_ARTICLE), text)
        return texts

    def _check_fixture_quotes(self, records, texts):
        """Every fixture quote against the text its source has in the fixtures (or, for a source
        the fixtures do not hold, in the database): a broken fixture is refused, loaded or not."""

        def sources(record):  # a figure's source, an incident's sources
            return [key[0] for model, key in record.refs if model is Source]

        sources_of = {r.key[0]: sources(r) for r in records if r.model is Incident}
        others = {r.key[0] for r in records if r.model is IncidentActor} - sources_of.keys()
        for chunk in chunks(others):
            rows = Incident.sources.through.objects.using(PRIMARY).filter(incident__slug__in=chunk)
            for incident_slug, source_slug in rows.values_list("incident__slug", "source__slug"):
                sources_of.setdefault(incident_slug, []).append(source_slug)
        wanted = {slug for r in records if r.model is CasualtyFigure for slug in sources(r)}
        wanted.update(slug for slugs in sources_of.values() for slug in slugs)
        for chunk in chunks(wanted - texts.keys()):
            for slug, kind, text in (
                Source.objects.using(PRIMARY).filter(slug__in=chunk).values_list("slug", "kind", "text")
            ):
                texts[slug] = (kind, text)
        for record in records:
            quote = record.raw["fields"].get("quote") or ""
            if record.model is CasualtyFigure:
                for slug in sources(record):
                    kind, text = texts.get(slug, (Source.Kind.DATASET, ""))  # a deleted source: not checked
                    if kind != Source.Kind.DATASET and not quote_occurs_in(quote, text):
                        raise CommandError(
                            f"{record.where}: figure {record.key[0]}: the quote {quote!r} "
                            f"does not occur in source {slug!r}."
                        )
            elif record.model is IncidentActor and quote:
                known = [texts[slug] for slug in sources_of.get(record.key[0], []) if slug in texts]
                if any(kind == Source.Kind.DATASET for kind, _ in known):
                    continue
                if not any(quote_occurs_in(quote, text) for _, text in known):
                    incident, actor, role = record.key
                    raise CommandError(
                        f"{record.where}: {actor} as {role} in {incident}: "
                        f"the quote {quote!r} does not occur in the incident's sources."
                    )

    # -- Writing ---------------------------------------------------------------------------------

    def _write(self, records, texts):
        """Create (and with --replace, overwrite) records file by file; return (written, lost, affected)."""
        written, lost, affected = [], [], set()
        for path in dict.fromkeys(r.path for r in records):
            in_file = [r for r in records if r.path == path]
            if self.replace:
                # A figure made preferred after the one that stops being preferred: the database allows
                # one preferred figure per incident, outcome and group at any moment.
                in_file.sort(key=lambda r: bool(r.raw["fields"].get("is_preferred")))
            deferred = []
            for record in in_file:
                restore = self.replace and record.status in (DELETED, DEPENDENT)
                if record.status not in (NEW, PRESENT) and not restore:
                    continue
                loaded = self._deserialize(record, texts)
                self._validate(record, loaded)
                if record.status == PRESENT:
                    changes = self._overwrite(record, loaded, affected) if self.replace else []
                    if not changes:
                        continue
                    lost.append(f"{record}: changed by editors: {'; '.join(changes)}")
                elif restore:
                    lost.append(f"{record}: {WHY_NOT_RESTORED[record.status]}")
                self._save(record, loaded)
                written.append(record)
                if loaded.deferred_fields:
                    deferred.append((record, loaded))
            for record, loaded in deferred:
                try:
                    loaded.save_deferred_fields()
                except Exception as exc:
                    raise CommandError(f"{record.where}: a reference cannot be resolved: {exc}") from exc
        restored = [r.key[0] for r in written if r.model is Incident and r.status in (DELETED, DEPENDENT)]
        IncidentTombstone.objects.using(PRIMARY).filter(slug__in=restored).delete()
        return written, lost, affected

    def _deserialize(self, record, texts):
        try:
            (loaded,) = serializers.deserialize("python", [record.raw], handle_forward_references=True)
        except Exception as exc:
            raise CommandError(f"{record.where}: cannot be read as a fixture: {exc}") from exc
        if record.model is Source:
            loaded.object.text = texts[record.key[0]][1]
        return loaded

    @staticmethod
    def _validate(record, loaded):
        """The field rules and the check constraints (which the database would only check on a write)."""
        instance, exclude = loaded.object, {f.name for f in loaded.deferred_fields}
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
            for constraint in instance._meta.constraints:
                if isinstance(constraint, models.CheckConstraint):
                    constraint.validate(type(instance), instance, exclude=exclude)
        except ValidationError as exc:
            raise CommandError(f"{record.where}: {getattr(exc, 'message_dict', exc.messages)}") from exc

    @staticmethod
    def _overwrite(record, loaded, affected):
        """Make `loaded` the present record as the fixture says; return the curated changes that undoes."""
        instance = loaded.object
        current = record.model._base_manager.using(PRIMARY).get(pk=record.pk)
        stated = set(record.raw["fields"])
        m2m = {name: pks for name, pks in (loaded.m2m_data or {}).items()}
        deferred = {f.name for f in loaded.deferred_fields}
        changes = differences(instance, current, stated=stated, deferred=deferred, m2m=m2m)
        if not changes:
            return []
        instance.pk = current.pk
        for model_field in instance._meta.concrete_fields:
            if model_field.name not in stated or model_field.name in NOT_CURATED:
                setattr(instance, model_field.attname, model_field.value_from_object(current))
            if getattr(model_field, "auto_now", False):
                setattr(instance, model_field.attname, timezone.now())
        if isinstance(current, (IncidentActor, CasualtyFigure)):
            affected.add(current.incident_id)  # its old incident's totals and search text change too
        return changes

    @staticmethod
    def _save(record, loaded):
        try:
            loaded.save()
        except DatabaseError as exc:
            raise CommandError(f"{record.where}: the database refused it: {exc}") from exc
        record.pk = loaded.object.pk

    def _check_written_quotes(self, written):
        ids = defaultdict(list)
        for record in written:
            ids[record.model].append(record.pk)
        figures = CasualtyFigure.objects.using(PRIMARY).filter(pk__in=ids[CasualtyFigure])
        roles = IncidentActor.objects.using(PRIMARY).filter(pk__in=ids[IncidentActor])
        if self.replace:  # a source's text or an incident's sources may have changed under them
            figures = CasualtyFigure.objects.using(PRIMARY).filter(
                models.Q(pk__in=ids[CasualtyFigure]) | models.Q(source__in=ids[Source])
            )
            roles = IncidentActor.objects.using(PRIMARY).filter(
                models.Q(pk__in=ids[IncidentActor]) | models.Q(incident__in=ids[Incident])
            )
        where = {(r.model, r.pk): r.where for r in written}
        for record, message in misquoted(figures, roles):
            place = where.get((type(record), record.pk), "in the database")
            raise CommandError(f"{place}: {message}")

    @staticmethod
    def _refresh_derived(written, affected):
        affected = set(affected)
        for model in (Incident, IncidentActor, CasualtyFigure):
            pks = [r.pk for r in written if r.model is model]
            if pks and model is Incident:
                affected.update(pks)
            elif pks:
                affected.update(
                    model._base_manager.using(PRIMARY)
                    .filter(pk__in=pks)
                    .values_list("incident_id", flat=True)
                )
        if affected:
            derived.incidents_changed(affected)
        renamed = {
            model: [r.pk for r in written if r.model is model and r.status == PRESENT]
            for model in (Actor, Location)
        }
        if renamed[Actor] or renamed[Location]:
            derived.names_changed(actor_ids=renamed[Actor], location_ids=renamed[Location])

    # -- Saying what it did ----------------------------------------------------------------------

    def _report(self, records, written, lost, file_count, verbosity):
        count = defaultdict(int)
        for record in records:
            count[record.status] += 1
        if self.replace:
            overwritten = sum(1 for r in written if r.status == PRESENT)
            self.stdout.write(
                f"Replaced from {file_count} fixture files: {count[NEW]} new records loaded; "
                f"{count[DELETED] + count[DEPENDENT]} deleted by editors, restored; "
                f"{overwritten} overwritten; {count[PRESENT] - overwritten} already as the fixtures say. "
                "Records not in the fixtures were kept."
            )
            if verbosity > 1:
                for line in lost:
                    self.stdout.write(f"  {line}")
            return
        self.stdout.write(
            f"Loaded {count[NEW]} new records; {count[PRESENT]} already present, left as they are; "
            f"{count[DELETED] + count[DEPENDENT]} deleted by editors, not restored."
        )
        if verbosity > 1:
            for record in records:
                if record.status in WHY_NOT_RESTORED:
                    self.stdout.write(f"  not restored: {record}: {WHY_NOT_RESTORED[record.status]}")
