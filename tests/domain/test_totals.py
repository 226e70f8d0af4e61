"""The totals rule of incidents/totals.py: how an incident's casualty claims become its totals."""

import pytest

from incidents.models import CasualtyFigure, Incident
from incidents.totals import compute_totals, refresh_totals
from tests.factories import add_figure, make_incident, make_source

ALL_COLUMNS = [
    f"{outcome}_{bound}"
    for outcome in ("killed", "wounded", "detained", "missing")
    for bound in ("low", "best", "high")
]


def figure(pk, low=None, best=None, high=None, group="state_forces", outcome="killed", preferred=False):
    """An unsaved figure; pk is set so that ties between rival claims are decided predictably."""
    return CasualtyFigure(
        pk=pk,
        outcome=outcome,
        group=group,
        low=low,
        best=best,
        high=high,
        qualifier="exact",
        is_preferred=preferred,
        quote="…",
    )


def killed(columns):
    return columns["killed_low"], columns["killed_best"], columns["killed_high"]


def wounded(columns):
    return columns["wounded_low"], columns["wounded_best"], columns["wounded_high"]


def test_no_figures_leave_every_total_empty():
    columns = compute_totals([])

    assert sorted(columns) == sorted(ALL_COLUMNS)
    assert all(value is None for value in columns.values())


def test_one_exact_figure_gives_its_three_bounds():
    columns = compute_totals([figure(1, low=7, best=7, high=7)])

    assert killed(columns) == (7, 7, 7)
    # Other outcomes have no figure behind them: empty, not zero.
    assert wounded(columns) == (None, None, None)
    assert columns["detained_best"] is None
    assert columns["missing_best"] is None


def test_at_least_figure_gives_low_and_best_but_no_high():
    columns = compute_totals([figure(1, low=12)])

    assert killed(columns) == (12, 12, None)


def test_about_figure_gives_low_and_best_from_best():
    columns = compute_totals([figure(1, best=20)])

    assert killed(columns) == (20, 20, None)


def test_at_most_figure_gives_only_high():
    columns = compute_totals([figure(1, high=50)])

    assert killed(columns) == (None, None, 50)


def test_rival_claims_in_one_group_take_the_smallest_lower_bound():
    rivals = [
        figure(1, low=30),
        figure(2, low=10, best=15, high=20),
        figure(3, best=12, high=100),
    ]

    assert killed(compute_totals(rivals)) == (10, 15, 20)


def test_lower_bound_of_a_rival_falls_back_to_best_then_high():
    # The second figure has no low: its lower bound is its best, 8, the smallest of the three.
    rivals = [figure(1, low=10, best=10), figure(2, best=8, high=9), figure(3, high=9)]

    assert killed(compute_totals(rivals)) == (8, 8, 9)


def test_equally_conservative_rivals_go_to_the_earliest_recorded():
    later = figure(2, low=10, best=10, high=10)
    earlier = figure(1, low=10, best=40, high=90)

    assert killed(compute_totals([later, earlier])) == (10, 40, 90)
    assert killed(compute_totals([earlier, later])) == (10, 40, 90)


def test_preferred_figure_wins_over_a_more_conservative_one():
    rivals = [figure(1, low=5, best=5, high=5), figure(2, low=100, best=120, high=150, preferred=True)]

    assert killed(compute_totals(rivals)) == (100, 120, 150)


def test_groups_are_summed_bound_by_bound():
    figures = [
        figure(1, low=12, best=12, high=12, group="state_forces"),
        figure(2, low=30, best=35, high=40, group="non_state_armed"),
        figure(3, low=1, best=2, high=3, group="civilians"),
    ]

    assert killed(compute_totals(figures)) == (43, 49, 55)


def test_sum_uses_the_chosen_figure_of_each_group_only():
    figures = [
        figure(1, low=12, best=12, high=12, group="state_forces"),
        figure(2, low=99, best=99, high=99, group="state_forces"),
        figure(3, low=30, best=30, high=30, group="non_state_armed"),
    ]

    assert killed(compute_totals(figures)) == (42, 42, 42)


def test_group_without_upper_bound_leaves_high_of_the_sum_empty():
    figures = [
        figure(1, low=10, best=10, high=10, group="state_forces"),
        figure(2, low=5, group="civilians"),
    ]

    assert killed(compute_totals(figures)) == (15, 15, None)


def test_figure_without_numbers_is_ignored_in_the_sum():
    figures = [
        figure(1, low=5, best=5, high=5, group="civilians"),
        figure(2, group="state_forces"),
    ]

    # The numberless group neither adds to the sum nor makes the high bound unknown.
    assert killed(compute_totals(figures)) == (5, 5, 5)


def test_figure_without_numbers_loses_to_a_rival_with_numbers():
    rivals = [figure(1, group="civilians"), figure(2, low=30, group="civilians")]

    assert killed(compute_totals(rivals)) == (30, 30, None)


def test_only_numberless_figures_leave_the_totals_empty():
    columns = compute_totals([figure(1, outcome="wounded"), figure(2, outcome="wounded", group="civilians")])

    assert wounded(columns) == (None, None, None)


def test_total_figure_larger_than_the_groups_is_kept_not_added():
    figures = [
        figure(1, low=10, best=10, high=10, group="state_forces"),
        figure(2, low=20, best=20, high=20, group="non_state_armed"),
        figure(3, low=50, best=60, high=70, group="total"),
    ]

    # Not 80/90/100: the total counts the same people as the groups.
    assert killed(compute_totals(figures)) == (50, 60, 70)


def test_group_sum_larger_than_the_total_figure_is_kept():
    figures = [
        figure(1, low=12, best=12, high=12, group="state_forces"),
        figure(2, low=30, best=30, high=30, group="non_state_armed"),
        figure(3, low=24, best=24, high=24, group="total"),
    ]

    assert killed(compute_totals(figures)) == (42, 42, 42)


def test_total_and_group_sum_each_win_the_bounds_where_they_are_larger():
    figures = [
        figure(1, low=10, best=15, high=20, group="civilians"),
        figure(2, low=5, best=25, high=40, group="total"),
    ]

    assert killed(compute_totals(figures)) == (10, 25, 40)


def test_total_figure_alone_gives_the_totals():
    columns = compute_totals([figure(1, low=24, group="total")])

    assert killed(columns) == (24, 24, None)


def test_rival_total_figures_are_chosen_like_any_group():
    figures = [
        figure(1, low=40, best=50, high=60, group="total"),
        figure(2, low=30, best=35, high=45, group="total"),
    ]

    assert killed(compute_totals(figures)) == (30, 35, 45)


def test_total_figure_without_ceiling_leaves_the_high_empty():
    figures = [
        figure(1, low=10, best=10, high=10, group="state_forces"),
        figure(2, low=20, best=20, high=20, group="non_state_armed"),
        figure(3, low=40, group="total"),
    ]

    # The larger floor comes from the total; its missing ceiling must not let high (30) fall below low.
    assert killed(compute_totals(figures)) == (40, 40, None)


def test_group_sum_without_ceiling_leaves_the_high_empty_despite_a_total_ceiling():
    figures = [
        figure(1, low=10, group="civilians"),
        figure(2, low=5, best=8, high=50, group="total"),
    ]

    assert killed(compute_totals(figures)) == (10, 10, None)


def test_outcomes_are_computed_independently():
    figures = [
        figure(1, low=3, best=3, high=3, outcome="killed", group="civilians"),
        figure(2, low=1, best=1, high=1, outcome="killed", group="state_forces"),
        figure(3, low=10, best=12, high=None, outcome="wounded", group="civilians"),
        figure(4, low=2, outcome="detained", group="total"),
    ]

    columns = compute_totals(figures)

    assert killed(columns) == (4, 4, 4)
    assert wounded(columns) == (10, 12, None)
    assert (columns["detained_low"], columns["detained_best"], columns["detained_high"]) == (2, 2, None)
    assert (columns["missing_low"], columns["missing_best"], columns["missing_high"]) == (None, None, None)


def test_preferred_figure_of_one_outcome_does_not_affect_another():
    figures = [
        figure(1, low=50, best=50, high=50, outcome="killed", preferred=True),
        figure(2, low=5, best=5, high=5, outcome="killed"),
        figure(3, low=50, best=50, high=50, outcome="wounded"),
        figure(4, low=5, best=5, high=5, outcome="wounded"),
    ]

    columns = compute_totals(figures)

    assert killed(columns) == (50, 50, 50)
    assert wounded(columns) == (5, 5, 5)


@pytest.mark.django_db
def test_refresh_totals_stores_the_totals_and_follows_changes_and_deletions():
    source = make_source()
    incident = make_incident()
    other = make_incident()
    soldiers = add_figure(incident, source, refresh=False, group="state_forces", low=12, best=12, high=12)
    add_figure(incident, source, refresh=False, group="civilians", low=30, best=None, high=None)
    add_figure(other, source, refresh=False, low=5, best=5, high=5)

    assert refresh_totals([incident.pk]) == 1
    incident.refresh_from_db()
    assert incident.totals()["killed"] == {"low": 42, "best": 42, "high": None}
    assert incident.totals()["wounded"] == {"low": None, "best": None, "high": None}
    # Only the incidents asked for are refreshed.
    other.refresh_from_db()
    assert other.killed_low is None

    soldiers.low, soldiers.best, soldiers.high = 15, 20, 25
    soldiers.save()
    refresh_totals([incident.pk])
    incident.refresh_from_db()
    assert incident.totals()["killed"] == {"low": 45, "best": 50, "high": None}

    CasualtyFigure.objects.filter(incident=incident, group="civilians").delete()
    refresh_totals([incident.pk])
    incident.refresh_from_db()
    assert incident.totals()["killed"] == {"low": 15, "best": 20, "high": 25}

    soldiers.delete()
    refresh_totals([incident.pk])
    assert Incident.objects.filter(
        pk=incident.pk, killed_low=None, killed_best=None, killed_high=None
    ).exists()
