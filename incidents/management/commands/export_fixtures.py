"""Write the database back to the six seed fixture files, deterministically.

``manage.py export_fixtures [--output-dir DIR] [--seeds-dir DIR]`` writes
01_sources.json ... 06_casualty_figures.json, the files load_seeds and plain loaddata
read. The same database always gives the same bytes, and a change to one record
changes only that record's lines:

- records and references are by natural key (slugs, figure uids), never by id;
- records come in a fixed order: by slug, parents before their children for actors
  and incidents, incident actors by (incident, role, actor), figures by
  (incident, outcome, group, uid); many-to-many lists are sorted;
- every field is one line, its value compact JSON (object keys sorted), the fields in
  the model's declaration order, so an edited field is a one-line diff.

Every concrete field the models have is written, the derived ones too (totals,
counts_in_total, search_document): plain loaddata relies on them. A source's text is
written as "" when seeds/<slug>.txt holds it (load_seeds fills it from there) and kept
otherwise. History tables and models other than the six are not exported.

All six files are rendered from one consistent read (one REPEATABLE READ snapshot on
PostgreSQL) and written to temporary files in the output directory before any old file
is replaced; only then is each renamed over the old one. A failure while reading,
rendering or writing leaves the old files as they were and no temporary files behind.
"""

import heapq
import json
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core import serializers
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import prefetch_related_objects

from incidents.models import Actor, CasualtyFigure, Incident, IncidentActor, Location, Source

PREFETCH_CHUNK = 500


def _by_slug(obj):
    return obj.slug


def _incident_actor_key(role):
    return (role.incident.slug, role.role, role.actor.slug)


def _figure_key(figure):
    return (figure.incident.slug, figure.outcome, figure.group, str(figure.uid))


# (file name, model, sort key, name of the self-referencing field to put parents first)
FILES = [
    ("01_sources.json", Source, _by_slug, None),
    ("02_locations.json", Location, _by_slug, None),
    ("03_actors.json", Actor, _by_slug, "parent"),
    ("04_incidents.json", Incident, _by_slug, "parent"),
    ("05_incident_actors.json", IncidentActor, _incident_actor_key, None),
    ("06_casualty_figures.json", CasualtyFigure, _figure_key, None),
]


def dumps(value):
    """One value as compact, canonical, single-line JSON."""
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True)


def render(records):
    """A fixture file's text: one line per field, a trailing newline."""
    if not records:
        return "[]\n"
    lines = ["["]
    for number, record in enumerate(records, start=1):
        lines.append("  {")
        for key, value in record.items():
            if key != "fields":
                lines.append(f"    {dumps(key)}: {dumps(value)},")
        lines.append('    "fields": {')
        fields = list(record["fields"].items())
        for index, (name, value) in enumerate(fields, start=1):
            comma = "," if index < len(fields) else ""
            lines.append(f"      {dumps(name)}: {dumps(value)}{comma}")
        lines.append("    }")
        lines.append("  }," if number < len(records) else "  }")
    lines.append("]")
    return "\n".join(lines) + "\n"


def parents_first(objects, key, parent_field):
    """Objects ordered by key, except that each comes after its parent (a stable topological order).

    Among the objects whose parent is already placed, the one with the smallest key goes next,
    so the order stays as close to plain key order as the hierarchy allows.
    """
    if not objects:
        return []
    attname = objects[0]._meta.get_field(parent_field).attname
    ordered = sorted(objects, key=key)
    rank = {obj.pk: number for number, obj in enumerate(ordered)}
    children = {}
    ready = []
    for obj in ordered:
        parent_id = getattr(obj, attname)
        if parent_id is None or parent_id not in rank or parent_id == obj.pk:
            ready.append(rank[obj.pk])
        else:
            children.setdefault(parent_id, []).append(rank[obj.pk])
    heapq.heapify(ready)
    result = []
    while ready:
        obj = ordered[heapq.heappop(ready)]
        result.append(obj)
        for number in children.pop(obj.pk, []):
            heapq.heappush(ready, number)
    # Members of a parent cycle (which the database does not forbid): after the rest, by key.
    placed = {obj.pk for obj in result}
    result.extend(obj for obj in ordered if obj.pk not in placed)
    return result


def relation_fields(model):
    """Names of the serialized relations written as natural keys: these need their targets loaded."""
    opts = model._meta
    names = [
        f.name
        for f in opts.local_fields
        if f.is_relation and f.serialize and hasattr(f.related_model, "natural_key")
    ]
    names += [
        f.name
        for f in opts.local_many_to_many
        if f.serialize
        and f.remote_field.through._meta.auto_created
        and hasattr(f.related_model, "natural_key")
    ]
    return names


def natural_key_list(value):
    return list(value) if isinstance(value, list | tuple) else value


class Command(BaseCommand):
    help = "Write the database to the six seed fixture files (01_sources.json ...), deterministically."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=settings.FIXTURES_DIR,
            help="Where to write the files (default: settings.FIXTURES_DIR).",
        )
        parser.add_argument(
            "--seeds-dir",
            type=Path,
            default=settings.SEEDS_DIR,
            help="Sources with a <slug>.txt here are written with an empty text (default: settings.SEEDS_DIR).",
        )

    def handle(self, *args, output_dir, seeds_dir, verbosity, **options):
        # call_command(output_dir="...") passes the value without argparse's type conversion.
        output_dir, seeds_dir = Path(output_dir), Path(seeds_dir)
        contents = self._read_consistently(seeds_dir)
        self._write_atomically(output_dir, contents)
        if verbosity:
            total = sum(count for _text, count in contents.values())
            self.stdout.write(f"Wrote {total} records to {len(contents)} files in {output_dir}.")
            if verbosity > 1:
                for name, (_text, count) in contents.items():
                    self.stdout.write(f"  {name}: {count}")

    # -- Reading ------------------------------------------------------------------------------

    def _read_consistently(self, seeds_dir):
        """{file name: (text, record count)}, all read in one transaction so they agree."""
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost and connection.vendor == "postgresql":
                # One snapshot for every query, so a concurrent edit cannot leave a reference dangling.
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            contents = {}
            for name, model, key, parent_field in FILES:
                records = self._records(model, key, parent_field, seeds_dir)
                contents[name] = (render(records), len(records))
        return contents

    def _records(self, model, key, parent_field, seeds_dir):
        objects = list(model._default_manager.all())
        relations = relation_fields(model)
        for start in range(0, len(objects), PREFETCH_CHUNK):
            prefetch_related_objects(objects[start : start + PREFETCH_CHUNK], *relations)
        if parent_field:
            objects = parents_first(objects, key, parent_field)
        else:
            objects.sort(key=key)
        records = serializers.serialize(
            "python", objects, use_natural_foreign_keys=True, use_natural_primary_keys=True
        )
        m2m_names = {f.name for f in model._meta.local_many_to_many}
        for record in records:
            fields = record["fields"]
            for name, value in fields.items():
                if name in m2m_names:
                    fields[name] = sorted(natural_key_list(item) for item in value)
                elif isinstance(value, tuple):
                    fields[name] = list(value)
            if model is Source:
                self._blank_seeded_text(fields, seeds_dir)
        return records

    def _blank_seeded_text(self, fields, seeds_dir):
        seed = seeds_dir / f"{fields['slug']}.txt"
        if not seed.is_file():
            return
        if fields["text"] and fields["text"] != seed.read_text(encoding="utf-8"):
            self.stderr.write(
                f"Warning: source {fields['slug']!r}: its text in the database differs from {seed}; "
                "the fixture refers to the file, so load_seeds will use the file's text."
            )
        fields["text"] = ""

    # -- Writing ------------------------------------------------------------------------------

    def _write_atomically(self, output_dir, contents):
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot create {output_dir}: {exc}") from exc
        written = {}
        try:
            for name, (text, _count) in contents.items():
                target = output_dir / name
                handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=output_dir)
                written[target] = Path(temp_name)
                with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                    stream.write(text)
                    stream.flush()
                    os.fsync(stream.fileno())
                os.chmod(temp_name, target.stat().st_mode & 0o777 if target.exists() else 0o644)
            for target, temp in written.items():
                os.replace(temp, target)
        except OSError as exc:
            raise CommandError(f"Cannot write the fixtures to {output_dir}: {exc}") from exc
        finally:
            for temp in written.values():
                temp.unlink(missing_ok=True)
