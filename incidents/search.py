"""Full-text search over incidents.

PostgreSQL: each incident stores a `search_document` (title, summary, its actors'
names and aliases, its place's names), and PostgreSQL keeps its English tsvector in the
generated, GIN-indexed column `search_vector` (migration 0008), which is matched with
`websearch_to_tsquery` and ranked. SQLite: every word must occur, case-insensitively,
in one of the same fields (no stemming, no ranking). docs/api.md says where they differ.
"""

from collections import defaultdict

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, SearchVectorField
from django.db import connection
from django.db.models import Exists, Expression, OuterRef, Q

MAX_SEARCH_LENGTH = 200
MAX_SEARCH_TERMS = 10
SEARCH_CONFIG = "english"


def search_terms(value):
    """At most MAX_SEARCH_TERMS words from the first MAX_SEARCH_LENGTH characters."""
    return value[:MAX_SEARCH_LENGTH].split()[:MAX_SEARCH_TERMS]


def document_vector():
    # The expression of migration 0003's GIN index, which migration 0008 replaced.
    return SearchVector("search_document", config=SEARCH_CONFIG)


class StoredVector(Expression):
    """The incident's generated search_vector column (migration 0008), which the model does not
    declare: PostgreSQL writes it, and SQLite has none."""

    output_field = SearchVectorField()

    def as_sql(self, compiler, connection):
        return f"{compiler.quote_name_unless_alias(compiler.query.base_table)}.search_vector", []


def search_incidents(queryset, value):
    terms = search_terms(value)
    if not terms:
        return queryset
    if connection.vendor == "postgresql":
        query = SearchQuery(" ".join(terms), search_type="websearch", config=SEARCH_CONFIG)
        return _postgres_search(queryset, query)
    return _fallback_search(queryset, terms)


def _postgres_search(queryset, query):
    # Best matches first; an explicit `ordering` parameter, applied later, overrides this.
    vector = StoredVector()
    return (
        queryset.alias(document=vector)
        .filter(document=query)
        .annotate(search_rank=SearchRank(vector, query))
        .order_by("-search_rank", "-id")
    )


def _fallback_search(queryset, terms):
    from incidents.models import IncidentActor

    for term in terms:
        actor_match = IncidentActor.objects.filter(incident=OuterRef("pk")).filter(
            Q(actor__name__icontains=term) | Q(actor__aliases__icontains=term)
        )
        queryset = queryset.filter(
            Q(title__icontains=term)
            | Q(summary__icontains=term)
            | Q(location__name__icontains=term)
            | Q(location__admin1__icontains=term)
            | Q(location__admin2__icontains=term)
            | Exists(actor_match)
        )
    return queryset


def build_document(incident, actors):
    parts = [incident.title, incident.summary]
    if incident.location_id:
        location = incident.location
        parts += [location.name, location.admin1, location.admin2]
    for actor in actors:
        parts.append(actor.name)
        parts += [alias for alias in actor.aliases if isinstance(alias, str)]
    return "\n".join(part for part in parts if part)


def refresh_search_documents(incident_ids):
    """Rebuild the stored search text of the given incidents from their current records."""
    from incidents.models import Incident, IncidentActor

    incident_ids = list(incident_ids)
    actors = defaultdict(list)
    roles = IncidentActor.objects.filter(incident_id__in=incident_ids).select_related("actor")
    # A stable order, so the document is the same whichever order roles were added in.
    for role in roles.order_by("role", "actor__slug"):
        actors[role.incident_id].append(role.actor)
    incidents = list(Incident.objects.filter(pk__in=incident_ids).select_related("location"))
    for incident in incidents:
        incident.search_document = build_document(incident, actors[incident.pk])
    Incident.objects.bulk_update(incidents, ["search_document"], batch_size=500)
    return len(incidents)
