"""Golden tests of the agreement metrics (kappa, confusion, under/over-triage)."""

from __future__ import annotations

import math

import pytest

from triage_kiosk.triage.metrics import agreement, confusion, kappa

#: Nurse (KTAS_RN) vs expert on dev, from ../shared/data/ktas/README.md (rows expert, columns nurse).
README_NURSE_MATRIX = [
    [6, 4, 0, 0, 0],
    [1, 69, 13, 4, 1],
    [0, 9, 156, 28, 2],
    [0, 0, 7, 171, 6],
    [0, 0, 0, 5, 25],
]


def test_kappa_on_the_readme_nurse_matrix() -> None:
    """The README's nurse-vs-expert matrix gives quadratic 0.866, linear 0.817, unweighted 0.770."""
    assert kappa(README_NURSE_MATRIX, "quadratic") == pytest.approx(0.866, abs=5e-4)
    assert kappa(README_NURSE_MATRIX, "linear") == pytest.approx(0.817, abs=5e-4)
    assert kappa(README_NURSE_MATRIX, "unweighted") == pytest.approx(0.770, abs=5e-4)


def test_agreement_reproduces_the_readme_rates() -> None:
    """Rebuilding the README matrix from pairs gives 84.22 % exact, 11.44 % under, 4.34 % over."""
    reference: list[int] = []
    predicted: list[int] = []
    for i, row in enumerate(README_NURSE_MATRIX, start=1):
        for j, count in enumerate(row, start=1):
            reference += [i] * count
            predicted += [j] * count
    a = agreement(reference, predicted)
    assert a.n == 507
    assert a.exact == pytest.approx(427 / 507)
    assert a.under_triage == pytest.approx(58 / 507)
    assert a.over_triage == pytest.approx(22 / 507)
    assert [list(r) for r in a.confusion] == README_NURSE_MATRIX
    assert a.kappa_quadratic == pytest.approx(kappa(README_NURSE_MATRIX))


def test_kappa_small_hand_computed_case() -> None:
    """A 2×2 table [[20, 5], [10, 15]] has unweighted kappa 0.4 (hand computation: po 0.7, pe 0.5)."""
    assert kappa([[20, 5], [10, 15]], "unweighted") == pytest.approx(0.4)


def test_perfect_and_chance_agreement() -> None:
    """Perfect agreement gives kappa 1; a prediction independent of the reference gives 0."""
    assert kappa(confusion([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])) == pytest.approx(1.0)
    independent = [[1, 1], [1, 1]]
    assert kappa(independent, "unweighted") == pytest.approx(0.0)


def test_undefined_kappa_is_nan() -> None:
    """Kappa is NaN when it is undefined (no cases, or every case in one cell)."""
    assert math.isnan(kappa([[0, 0], [0, 0]]))
    assert math.isnan(kappa([[3, 0], [0, 0]]))


def test_under_triage_means_less_urgent() -> None:
    """Predicting level 4 for an expert 2 is under-triage; predicting 1 for an expert 3 is over-triage."""
    a = agreement([2, 3, 4], [4, 1, 4])
    assert a.under_triage == pytest.approx(1 / 3)
    assert a.over_triage == pytest.approx(1 / 3)
    assert a.exact == pytest.approx(1 / 3)


def test_bad_levels_are_refused() -> None:
    """Levels outside 1..5 or unequal lengths raise ValueError."""
    with pytest.raises(ValueError, match=r"levels must be 1\.\.5"):
        confusion([1, 6], [1, 2])
    with pytest.raises(ValueError, match="predicted"):
        confusion([1, 2], [1])
