"""Agreement of triage levels with a reference: confusion matrix, weighted kappa, under/over-triage.

Levels are 1 (most urgent) … k. *Under-triage* = the prediction is less urgent than the
reference (a larger number); *over-triage* = more urgent. Rates are fractions of all cases.
Cohen's kappa is ``1 − Σ w·O / Σ w·E`` with ``w_ij = (|i−j|/(k−1))²`` (quadratic), ``|i−j|/(k−1)``
(linear) or ``[i≠j]`` (unweighted), O the observed and E the chance matrix from the marginals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Weights = Literal["quadratic", "linear", "unweighted"]


def confusion(reference: Sequence[int], predicted: Sequence[int], k: int = 5) -> list[list[int]]:
    """k×k counts; rows = reference level 1..k, columns = predicted level 1..k."""
    if len(reference) != len(predicted):
        raise ValueError(f"predicted: {len(predicted)} levels for {len(reference)} reference levels")
    m = [[0] * k for _ in range(k)]
    for r, p in zip(reference, predicted, strict=True):
        if not (1 <= r <= k and 1 <= p <= k):
            raise ValueError(f"levels must be 1..{k}, got reference {r}, predicted {p}")
        m[r - 1][p - 1] += 1
    return m


def kappa(matrix: Sequence[Sequence[int]], weights: Weights = "quadratic") -> float:
    """Cohen's kappa of a square confusion matrix. 1 = perfect; 0 = chance; NaN if undefined."""
    k = len(matrix)
    if k < 2 or any(len(row) != k for row in matrix):
        raise ValueError("matrix: must be square, at least 2×2")
    n = sum(sum(row) for row in matrix)
    if n == 0:
        return float("nan")
    rows = [sum(matrix[i]) for i in range(k)]
    cols = [sum(matrix[i][j] for i in range(k)) for j in range(k)]

    def w(i: int, j: int) -> float:
        if weights == "quadratic":
            return ((i - j) / (k - 1)) ** 2
        if weights == "linear":
            return abs(i - j) / (k - 1)
        if weights == "unweighted":
            return 0.0 if i == j else 1.0
        raise ValueError(f"weights: unknown {weights!r}")

    observed = sum(w(i, j) * matrix[i][j] for i in range(k) for j in range(k))
    expected = sum(w(i, j) * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    if expected == 0:
        return float("nan")
    return 1.0 - observed / expected


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement of predicted with reference levels."""

    n: int
    exact: float
    kappa_quadratic: float
    under_triage: float
    over_triage: float
    confusion: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "exact": self.exact,
            "kappa_quadratic": self.kappa_quadratic,
            "under_triage": self.under_triage,
            "over_triage": self.over_triage,
            "confusion": [list(row) for row in self.confusion],
        }


def agreement(reference: Sequence[int], predicted: Sequence[int], k: int = 5) -> Agreement:
    """Exact agreement, quadratic kappa, under- and over-triage rates and the confusion matrix."""
    m = confusion(reference, predicted, k)
    n = len(reference)
    under = sum(1 for r, p in zip(reference, predicted, strict=True) if p > r)
    over = sum(1 for r, p in zip(reference, predicted, strict=True) if p < r)
    exact = sum(m[i][i] for i in range(k))
    return Agreement(
        n=n,
        exact=exact / n if n else float("nan"),
        kappa_quadratic=kappa(m, "quadratic"),
        under_triage=under / n if n else float("nan"),
        over_triage=over / n if n else float("nan"),
        confusion=tuple(tuple(row) for row in m),
    )
