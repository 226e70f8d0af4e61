"""Casualty aggregation: incidents and their totals summed per key, in one GROUP BY query."""

from django.db.models import Count, IntegerField, Min, Q, Sum, Value
from django.db.models.functions import Coalesce, ExtractYear, TruncMonth

from incidents.models import CasualtyFigure, IncidentActor

GROUP_BY_KEYS = ("country", "admin1", "event_type", "year", "month", "actor", "group", "outcome")
OUTCOMES = ("killed", "wounded", "detained", "missing")


def _bound_sums(prefix):
    """low/best/high sums of one outcome's stored totals, plus how many have no ceiling."""
    return {
        "sum_low": Sum(f"{prefix}_low"),
        "sum_best": Sum(f"{prefix}_best"),
        "sum_high": Sum(f"{prefix}_high"),
        "unbounded": Count(
            "pk", filter=Q(**{f"{prefix}_low__isnull": False, f"{prefix}_high__isnull": True})
        ),
    }


def _row(key, values, **extra):
    # A sum over incidents of which one has no ceiling has no ceiling either.
    high = None if values["unbounded"] else values["sum_high"]
    return {
        "key": key,
        **extra,
        "incidents": values["incidents"],
        "low": values["sum_low"],
        "best": values["sum_best"],
        "high": high,
    }


def casualty_stats(incidents, group_by, outcome):
    """Rows of {key, incidents, low, best, high} for the filtered incidents."""
    incidents = incidents.order_by()
    if group_by == "outcome":
        values = incidents.aggregate(
            incidents=Count("pk"),
            **{f"{o}__{k}": v for o in OUTCOMES for k, v in _bound_sums(o).items()},
        )
        return [
            _row(
                o,
                {
                    "incidents": values["incidents"],
                    **{k: values[f"{o}__{k}"] for k in ("sum_low", "sum_best", "sum_high", "unbounded")},
                },
            )
            for o in OUTCOMES
        ]
    if group_by == "group":
        figures = CasualtyFigure.objects.filter(
            incident__in=incidents.values("pk"), outcome=outcome, counts_in_total=True
        )
        rows = (
            figures.values("group")
            .annotate(
                incidents=Count("incident", distinct=True),
                sum_low=Sum(Coalesce("low", "best")),
                sum_best=Sum(Coalesce("best", "low")),
                sum_high=Sum("high"),
                unbounded=Count("pk", filter=Q(high__isnull=True)),
            )
            .order_by("group")
        )
        return [_row(r["group"], r) for r in rows]
    if group_by == "actor":
        # One row per (incident, actor), however many roles the actor had in it.
        first_roles = (
            IncidentActor.objects.values("incident", "actor").annotate(first=Min("pk")).values("first")
        )
        roles = IncidentActor.objects.filter(incident__in=incidents.values("pk"), pk__in=first_roles)
        sums = {f"sum_{bound}": Sum(f"incident__{outcome}_{bound}") for bound in ("low", "best", "high")}
        rows = (
            roles.values("actor__slug", "actor__name")
            .annotate(
                incidents=Count("incident"),
                **sums,
                unbounded=Count(
                    "pk",
                    filter=Q(
                        **{
                            f"incident__{outcome}_low__isnull": False,
                            f"incident__{outcome}_high__isnull": True,
                        }
                    ),
                ),
            )
            .order_by("actor__name", "actor__slug")
        )
        return [_row(r["actor__slug"], r, name=r["actor__name"]) for r in rows]

    keys = {
        "country": {"key": Coalesce("location__country_code", Value(""))},
        "admin1": {
            "country": Coalesce("location__country_code", Value("")),
            "key": Coalesce("location__admin1", Value("")),
        },
        "event_type": {"key": Coalesce("event_type", Value(""))},
        "year": {"key": ExtractYear("start_date", output_field=IntegerField())},
        "month": {"key": TruncMonth("start_date")},
    }[group_by]
    rows = incidents.values(**keys).annotate(incidents=Count("pk"), **_bound_sums(outcome)).order_by(*keys)
    result = []
    for r in rows:
        key = r["key"].strftime("%Y-%m") if group_by == "month" and r["key"] else r["key"]
        extra = {"country": r["country"]} if group_by == "admin1" else {}
        result.append(_row(key, r, **extra))
    return result
