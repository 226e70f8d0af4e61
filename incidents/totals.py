"""The one rule that turns an incident's casualty claims into its totals.

For each outcome (killed, wounded, detained, missing):

1. Figures are grouped by the group they count (state forces, civilians...);
   figures of one group are rival claims. Within each group the preferred
   figure is used; failing that, the most conservative one,
   i.e. the smallest lower bound (low, else best, else high), ties going to the
   earliest recorded.
2. The chosen figures of all groups but ``total`` are summed bound by bound:
   low uses low (else best), best uses best (else low), high uses high, and the
   high sum is left empty as soon as one chosen figure has no upper bound.
3. A ``total`` figure counts the same people as the group figures, so it is
   never added to them: it is chosen the same way and the larger of it and the
   group sum is kept for each bound; the high is empty when either of the two
   has no upper bound.

A bound with no figure behind it stays empty (null), never zero. The reasons
are in docs/data-model.md.
"""

from collections import defaultdict

from django.db import transaction

OUTCOMES = ("killed", "wounded", "detained", "missing")
BOUNDS = ("low", "best", "high")
# The incident columns that store the totals: killed_low ... missing_high.
TOTAL_COLUMNS = tuple(f"{outcome}_{bound}" for outcome in OUTCOMES for bound in BOUNDS)
TOTAL_GROUP = "total"


def _conservative_key(figure):
    lower = next((n for n in (figure.low, figure.best, figure.high) if n is not None), None)
    # Figures without any number sort last: they cannot bound anything.
    return (lower is None, lower if lower is not None else 0, figure.pk or 0)


def _choose(figures):
    preferred = [f for f in figures if f.is_preferred]
    return preferred[0] if preferred else min(figures, key=_conservative_key)


def _bounds(figure):
    low = figure.low if figure.low is not None else figure.best
    best = figure.best if figure.best is not None else figure.low
    return low, best, figure.high


def _sum_groups(chosen):
    lows, bests, highs = [], [], []
    for figure in chosen:
        low, best, high = _bounds(figure)
        if low is None and best is None and high is None:
            continue
        lows.append(low)
        bests.append(best)
        highs.append(high)
    if not lows:
        return None, None, None
    low = sum(n for n in lows if n is not None) if any(n is not None for n in lows) else None
    best = sum(n for n in bests if n is not None) if any(n is not None for n in bests) else None
    high = sum(highs) if all(n is not None for n in highs) else None
    return low, best, high


def _larger(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _combine(groups, total):
    """The larger of the group sum and the total figure, bound by bound."""
    if groups == (None, None, None):
        return total
    if total == (None, None, None):
        return groups
    # Either side without a ceiling leaves the combined count without one.
    high = max(groups[2], total[2]) if groups[2] is not None and total[2] is not None else None
    return _larger(groups[0], total[0]), _larger(groups[1], total[1]), high


def _by_outcome_and_group(figures):
    by_outcome = defaultdict(lambda: defaultdict(list))
    for figure in figures:
        by_outcome[figure.outcome][figure.group].append(figure)
    return by_outcome


def counted_figures(figures):
    """The figures step 1 chooses: one per outcome and group. They are what totals count."""
    return [_choose(fs) for groups in _by_outcome_and_group(figures).values() for fs in groups.values()]


def compute_totals(figures):
    """Map an incident's figures to the values of its ``<outcome>_<bound>`` columns."""
    by_outcome = _by_outcome_and_group(figures)

    columns = {}
    for outcome in OUTCOMES:
        groups = by_outcome.get(outcome, {})
        parts = [_choose(fs) for group, fs in groups.items() if group != TOTAL_GROUP]
        low, best, high = _sum_groups(parts)
        if TOTAL_GROUP in groups:
            total = _sum_groups([_choose(groups[TOTAL_GROUP])])
            low, best, high = _combine((low, best, high), total)
        for bound, value in zip(BOUNDS, (low, best, high), strict=True):
            columns[f"{outcome}_{bound}"] = value
    return columns


def refresh_totals(incident_ids):
    """Recompute and store the totals of the given incidents from their figures."""
    from incidents.models import CasualtyFigure, Incident

    incident_ids = list(incident_ids)
    figures = defaultdict(list)
    for figure in CasualtyFigure.objects.filter(incident_id__in=incident_ids).order_by("pk"):
        figures[figure.incident_id].append(figure)
    incidents = list(Incident.objects.filter(pk__in=incident_ids).only("pk"))
    counted = set()
    for incident in incidents:
        for column, value in compute_totals(figures[incident.pk]).items():
            setattr(incident, column, value)
        counted.update(f.pk for f in counted_figures(figures[incident.pk]))
    changed_flags = [f for fs in figures.values() for f in fs if f.counts_in_total != (f.pk in counted)]
    for figure in changed_flags:
        figure.counts_in_total = figure.pk in counted
    with transaction.atomic():
        Incident.objects.bulk_update(incidents, TOTAL_COLUMNS, batch_size=500)
        CasualtyFigure.objects.bulk_update(changed_flags, ["counts_in_total"], batch_size=500)
    return len(incidents)
