"""Collectors: time-weighted levels (queue lengths, busy robots) and tallies (waits, turnarounds).

Only what happens after the warm-up counts. A :class:`Level` integrates its value over time from
the end of the warm-up to the end of the run (and per hour of the measured window, for plots); a
:class:`Tally` keeps observations whose time stamp is after the warm-up.
"""

from __future__ import annotations

import math

import numpy as np


class Level:
    """A piecewise-constant quantity (e.g. a queue length); time-average over the measured window."""

    __slots__ = ("_bins", "_last_t", "area", "end", "start", "value")

    def __init__(self, start: float, end: float, value: float = 0.0) -> None:
        self.start = start
        self.end = end
        self.value = value
        self._last_t = 0.0
        self.area = 0.0
        nbins = max(1, math.ceil((end - start) / 3600.0 - 1e-9))
        self._bins = np.zeros(nbins)

    def _accumulate(self, t: float) -> None:
        a = max(self._last_t, self.start)
        b = min(t, self.end)
        if b > a and self.value != 0:
            self.area += self.value * (b - a)
            # spread over hour bins
            i = int((a - self.start) // 3600)
            while a < b:
                edge = min(b, self.start + (i + 1) * 3600.0)
                self._bins[min(i, len(self._bins) - 1)] += self.value * (edge - a)
                a = edge
                i += 1
        self._last_t = max(self._last_t, t)

    def set(self, t: float, value: float) -> None:
        if value != self.value:
            self._accumulate(t)
            self.value = value

    def add(self, t: float, delta: float) -> None:
        self.set(t, self.value + delta)

    def close(self, t: float) -> None:
        self._accumulate(t)

    def mean(self) -> float:
        span = self.end - self.start
        return self.area / span if span > 0 else float("nan")

    def hourly(self) -> np.ndarray:
        """Time-average in each hour of the measured window (the last one may be partial)."""
        widths = np.full(len(self._bins), 3600.0)
        widths[-1] = (self.end - self.start) - 3600.0 * (len(self._bins) - 1)
        return self._bins / np.where(widths > 0, widths, 1.0)


class Tally:
    """Observations stamped with the time they were completed; those before ``start`` are dropped."""

    __slots__ = ("start", "values")

    def __init__(self, start: float) -> None:
        self.start = start
        self.values: list[float] = []

    def record(self, t: float, value: float) -> None:
        if t >= self.start:
            self.values.append(value)

    def array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=float)

    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.values, q)) if self.values else float("nan")

    def __len__(self) -> int:
        return len(self.values)
