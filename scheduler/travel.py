"""Travel data the planner needs, as a Protocol, plus a small matrix implementation for tests.

The campus model (:class:`hospital_ops.campus.Campus`) satisfies :class:`TravelTimes` as it is:
it has ``locations``, ``seconds(a, b)``, ``metres(a, b)`` and ``matrix(points, speed_mps)``. The
planner only ever calls :meth:`TravelTimes.matrix` (once per robot speed per plan); ``seconds`` and
``metres`` are for callers that want one pair.

``matrix`` may return either a tuple ``(index, seconds, metres)`` or an object with those three
attributes (the campus returns its ``TravelMatrix``); :func:`as_matrix` accepts both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Matrix:
    """Travel among ``points``: ``seconds[index[a], index[b]]`` and ``metres[...]`` for ``a → b``.

    A frozen dataclass rather than a ``NamedTuple``: a tuple field called ``index`` would shadow
    ``tuple.index``. It still unpacks as ``index, seconds, metres = m``.
    """

    index: dict[str, int]
    seconds: np.ndarray
    metres: np.ndarray

    def __iter__(self) -> Iterator[Any]:
        return iter((self.index, self.seconds, self.metres))


@runtime_checkable
class TravelTimes(Protocol):
    """Integer travel seconds and metres between named locations."""

    @property
    def locations(self) -> Mapping[str, Any]:
        """Every known location id (only ``in`` is used). Read-only, so ``dict[str, X]`` fits."""
        ...

    def seconds(self, a: str, b: str) -> int:
        """Travel seconds at 1 m/s."""
        ...

    def metres(self, a: str, b: str) -> int: ...

    def matrix(self, points: Sequence[str], speed_mps: float = 1.0) -> Any:
        """All pairs among ``points`` at ``speed_mps``: a :class:`Matrix` or an object like it."""
        ...


def as_matrix(result: Any) -> Matrix:
    """Normalise what ``TravelTimes.matrix`` returned (tuple or object with attributes)."""
    if isinstance(result, tuple) and not hasattr(result, "seconds"):
        index, seconds, metres = result
    else:
        index, seconds, metres = result.index, result.seconds, result.metres
    return Matrix(dict(index), np.asarray(seconds, dtype=np.int64), np.asarray(metres, dtype=np.int64))


class MatrixTravel:
    """Travel from an explicit metre matrix: ``seconds = ceil(metres / speed) + extra_s``.

    ``extra_s`` (e.g. lift waits) does not scale with speed. Used by the tests and as a tiny
    stand-in campus; :meth:`grid` builds one from coordinates with rectilinear (Manhattan) metres.
    """

    def __init__(self, names: Sequence[str], metres: np.ndarray, extra_s: np.ndarray | None = None) -> None:
        n = len(names)
        if len(set(names)) != n:
            raise ValueError("names: duplicate location name")
        m = np.asarray(metres, dtype=np.int64)
        if m.shape != (n, n):
            raise ValueError(f"metres: expected a {n}x{n} matrix, got shape {m.shape}")
        if (m < 0).any():
            raise ValueError("metres: must not be negative")
        x = np.zeros((n, n), dtype=np.int64) if extra_s is None else np.asarray(extra_s, dtype=np.int64)
        if x.shape != (n, n):
            raise ValueError(f"extra_s: expected a {n}x{n} matrix, got shape {x.shape}")
        np.fill_diagonal(m, 0)
        np.fill_diagonal(x, 0)
        self.names: tuple[str, ...] = tuple(names)
        self.locations: dict[str, int] = {name: i for i, name in enumerate(names)}
        self._metres = m
        self._extra = x
        self._seconds: dict[float, np.ndarray] = {}

    @classmethod
    def grid(cls, points: Mapping[str, tuple[float, float]], metres_per_unit: float = 1.0) -> MatrixTravel:
        """Locations at (x, y); metres = rectilinear distance × ``metres_per_unit`` (rounded)."""
        names = list(points)
        xy = np.array([points[p] for p in names], dtype=float).reshape(len(names), 2)
        d = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2) * metres_per_unit
        return cls(names, np.rint(d).astype(np.int64))

    def _full_seconds(self, speed_mps: float) -> np.ndarray:
        if speed_mps <= 0:
            raise ValueError("speed_mps: must be positive")
        key = float(speed_mps)
        if key not in self._seconds:
            self._seconds[key] = np.ceil(self._metres / key - 1e-9).astype(np.int64) + self._extra
        return self._seconds[key]

    def _idx(self, loc: str) -> int:
        try:
            return self.locations[loc]
        except KeyError:
            raise KeyError(f"unknown location {loc!r}") from None

    def seconds(self, a: str, b: str) -> int:
        return int(self._full_seconds(1.0)[self._idx(a), self._idx(b)])

    def metres(self, a: str, b: str) -> int:
        return int(self._metres[self._idx(a), self._idx(b)])

    def matrix(self, points: Sequence[str], speed_mps: float = 1.0) -> Matrix:
        idx = np.array([self._idx(p) for p in points], dtype=np.int64)
        sub = np.ix_(idx, idx)
        return Matrix(
            {p: i for i, p in enumerate(points)},
            self._full_seconds(speed_mps)[sub].copy(),
            self._metres[sub].copy(),
        )
