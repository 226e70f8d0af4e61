"""Django's loaddata, with load_seeds's guarantees for the records of incidents.

``manage.py loaddata`` is Django's own command (every option: ``--database``, ``--app``,
``-e``, ``--format`` with ``-`` for stdin, compressed files, test fixtures), run inside one
more transaction that, for records of the six seed models (sources, places, actors,
incidents, actor roles, casualty figures), also:

- fills a source's empty text from seeds/<slug>.txt, as load_seeds does;
- refuses to undo curated changes, with the rule of load_seeds (load_seeds.py): a record
  already in the database that the fixture would change in a curated field is not
  overwritten, and one whose natural key is in the history or a tombstone (an editor
  deleted it, or changed its key) is not created again. It lists them and writes nothing;
  ``load_seeds`` loads what is missing and ``load_seeds --replace`` replaces on purpose.
  A record the fixture gives as the database has it is left as it is (its timestamps and
  derived fields too);
- refuses a created figure or role whose quote is not in its source(s) (sources of kind
  dataset exempt), writing nothing;
- records each created record in history (incidents.history.record_load_in_history) and
  refreshes derived data of the incidents it created or added roles and figures to
  (incidents.derived.incidents_changed).

Records of other models load exactly as Django loads them. The records of incidents load
only into the database the router writes them to: history and derived data are kept there.
"""

import io

from django.conf import settings
from django.core.management.base import CommandError, OutputWrapper
from django.core.management.commands import loaddata
from django.db import connections, router, transaction
from django.db.models.signals import m2m_changed, post_save, pre_save

from incidents import derived
from incidents.history import record_load_in_history
from incidents.models import CasualtyFigure, Incident, IncidentActor, Source
from incidents.seeding import (
    KEY_FIELDS,
    NOT_CURATED,
    deleted_keys,
    differences,
    misquoted,
    natural_key_of,
    seed_text,
)


class Command(loaddata.Command):
    help = (
        loaddata.Command.help + " Records of incidents: source texts filled from seeds/, quotes checked, "
        "the load recorded in history, derived data refreshed; curated changes are never overwritten."
    )

    def handle(self, *fixture_labels, **options):
        using = options["database"]
        watch = LoadWatch(using)
        # Django's "Installed N object(s)" is said once the load stands, not before a refusal.
        held = io.StringIO()
        said, self.stdout = self.stdout, OutputWrapper(held)
        try:
            with transaction.atomic(using=using):
                with watch:
                    super().handle(*fixture_labels, **options)
                created = watch.finish(", ".join(fixture_labels))
        finally:
            self.stdout = said
        self.stdout.write(held.getvalue(), ending="")
        if options["verbosity"] and (created or watch.saved):
            self.stdout.write(
                f"Records of incidents: {len(created)} created and recorded in history; "
                f"{len(watch.saved) - len(created)} already in the database as the fixtures give them, "
                "left as they are."
            )
        if transaction.get_autocommit(using):
            connections[using].close()  # as Django's loaddata does


class LoadWatch:
    """Watches loaddata's (raw) saves of the seed models, then checks and records them."""

    def __init__(self, using):
        self.using = using
        self.saved, self.created, self.existing = set(), set(), set()
        self.changed, self.deleted = [], []

    def __enter__(self):
        uid = f"incidents-loaddata-{id(self)}"
        self.receivers = [
            (pre_save, self.before_save, {}),
            (post_save, self.after_save, {}),
            (m2m_changed, self.sources_change, {"sender": Incident.sources.through}),
        ]
        for signal, receiver, kwargs in self.receivers:
            signal.connect(receiver, weak=False, dispatch_uid=uid, **kwargs)
        return self

    def __exit__(self, *exc_info):
        uid = f"incidents-loaddata-{id(self)}"
        for signal, _, kwargs in self.receivers:
            signal.disconnect(dispatch_uid=uid, **kwargs)

    def _watched(self, sender, raw, using):
        return raw and using == self.using and sender in KEY_FIELDS

    def before_save(self, sender, instance, raw=False, using=None, **kwargs):
        if not self._watched(sender, raw, using) or (sender, instance.pk) in self.created:
            return  # a record created in this load, saved again for its forward references
        if sender is Source and not instance.text:
            instance.text = seed_text(instance.slug, "", settings.SEEDS_DIR) or ""
        current = None
        if instance.pk is not None:
            current = sender._base_manager.using(using).filter(pk=instance.pk).first()
        label = sender._meta.label_lower
        if current is None:
            key = natural_key_of(instance, using)
            if deleted_keys(sender, {key}, using):
                self.deleted.append(f"{label} {'/'.join(key)}: deleted by editors (in the history)")
            return
        self.existing.add((sender, instance.pk))
        changes = differences(instance, current, using=using)
        if changes:
            self.changed.append(f"{label} {'/'.join(natural_key_of(current, using))}: {'; '.join(changes)}")
        # The same record: it keeps its timestamps and derived fields as they are.
        for field in sender._meta.concrete_fields:
            if field.name in NOT_CURATED:
                setattr(instance, field.attname, field.value_from_object(current))

    def after_save(self, sender, instance, created=False, raw=False, using=None, **kwargs):
        if self._watched(sender, raw, using) and (sender, instance.pk) not in self.created:
            self.saved.add((sender, instance.pk))
            if created:
                self.created.add((sender, instance.pk))

    def sources_change(self, sender, instance, action, pk_set=None, using=None, **kwargs):
        existing = (Incident, instance.pk) in self.existing and (Incident, instance.pk) not in self.created
        if (
            using == self.using
            and existing
            and action.startswith("pre_")
            and (pk_set or action == "pre_clear")
        ):
            self.changed.append(f"incidents.incident {instance.slug}: sources: not the same")

    def finish(self, labels):
        """Refuse what undoes curated changes or misquotes; record and refresh the rest."""
        if self.changed or self.deleted:
            lines = "\n".join(f"  {line}" for line in [*self.changed, *self.deleted])
            raise CommandError(
                "loaddata would undo curated changes, so it wrote nothing:\n"
                f"{lines}\n"
                "`manage.py load_seeds` loads only what the database lacks; "
                "`manage.py load_seeds --replace` replaces the fixtures' records on purpose."
            )
        if not self.saved:
            return []
        primary = router.db_for_write(Incident)
        if self.using != primary:
            raise CommandError(
                f"Records of incidents load into the {primary!r} database only: "
                "their history and derived data are kept there."
            )
        created = sorted(self.created, key=lambda item: (list(KEY_FIELDS).index(item[0]), item[1]))
        pks = {model: [pk for m, pk in created if m is model] for model in KEY_FIELDS}
        figures = CasualtyFigure.objects.using(self.using).filter(pk__in=pks[CasualtyFigure])
        roles = IncidentActor.objects.using(self.using).filter(pk__in=pks[IncidentActor])
        for _, message in misquoted(figures, roles):
            raise CommandError(f"loaddata refused it, writing nothing: {message}")
        if created:
            record_load_in_history(created, f"loaddata: {len(created)} records from {labels}")
            affected = set(pks[Incident])
            affected.update(figures.values_list("incident_id", flat=True))
            affected.update(roles.values_list("incident_id", flat=True))
            derived.incidents_changed(affected, using=self.using)
        return created
