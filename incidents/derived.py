"""The one place that keeps derived data true after a write, whatever wrote it.

Derived data is what the service stores or keeps but nobody edits:

- each incident's totals and the `counts_in_total` mark of its figures (incidents.totals);
- each incident's search text (incidents.search), which holds its actors' and place's names;
- the shared read cache of anonymous API answers (incidents.caching).

Every write path that changes what totals or search text derive from (the API, the
admin, the workflow, fixture loads, the importers) ends by calling `incidents_changed`
or `names_changed` with what it changed, inside its transaction, so the write's own
answer already shows the new values.

The read cache is emptied by any write at all: each model save, delete or change of an
incident's sources sends a signal that `connect` ties to `records_changed` here, so a
write nobody remembered (a shell, a new view) cannot leave a stale answer behind. Bulk
writes send no signals (COPY, bulk_create, QuerySet.update): the importers and the
generator, which compute totals and search text with the same rules before inserting,
call `records_changed` themselves.
"""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from incidents import caching


def records_changed(using=None, **signal_arguments):
    """Something public may have changed: empty the read cache now and again once the
    transaction commits, so no reader caches the state between the two."""
    caching.invalidate()
    transaction.on_commit(caching.invalidate, using=using)


def connect(models):
    """Tie every save and delete of these models, and changes of incident sources, to records_changed."""
    from incidents.models import Incident

    for model in models:
        post_save.connect(records_changed, sender=model, dispatch_uid=f"derived-save-{model.__name__}")
        post_delete.connect(records_changed, sender=model, dispatch_uid=f"derived-delete-{model.__name__}")
    m2m_changed.connect(records_changed, sender=Incident.sources.through, dispatch_uid="derived-sources")


def incidents_changed(incident_ids, using=None):
    """These incidents, their figures, actor roles, place or text changed: recompute what derives from them."""
    from incidents.search import refresh_search_documents
    from incidents.totals import refresh_totals

    incident_ids = sorted({pk for pk in incident_ids if pk is not None})
    if incident_ids:
        refresh_totals(incident_ids)
        refresh_search_documents(incident_ids)
    records_changed(using)
    return len(incident_ids)


def names_changed(*, actor_ids=(), location_ids=(), using=None):
    """Actors or places were renamed: the search text of every incident naming them follows."""
    from incidents.models import Incident
    from incidents.search import refresh_search_documents

    affected = set()
    if actor_ids:
        affected.update(Incident.objects.filter(actors__in=list(actor_ids)).values_list("pk", flat=True))
    if location_ids:
        affected.update(Incident.objects.filter(location__in=list(location_ids)).values_list("pk", flat=True))
    if affected:
        refresh_search_documents(sorted(affected))
    records_changed(using)
    return len(affected)
