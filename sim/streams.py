"""Random streams: one per distribution, spawned from one seed (common random numbers).

Replication ``r`` of a scenario with seed ``s`` draws from ``SeedSequence(s, spawn_key=(r,))``
(= ``SeedSequence(s).spawn(r + 1)[r]``), which is spawned once more into one generator per name
in :data:`STREAMS`. A stream is used by one distribution only, so changing the policy (or anything
that reorders events) never shifts the numbers another distribution sees: two policies run on the
same seeds face the same patients, requests, check-in times and breakdowns, and their differences
can be compared pair by pair. New streams are appended at the end so existing ones keep their numbers.
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenario import Dist, DistKind

#: Names of the streams, in spawn order (append only).
STREAMS: tuple[str, ...] = (
    "op_arrivals",
    "op_kiosk_choice",
    "op_cases",
    "ed_arrivals",
    "ed_cases",
    "kiosk_face",
    "kiosk_face_s",
    "kiosk_fallback_s",
    "kiosk_questions_s",
    "triage_s",
    "ed_los",
    "ed_requests",
    "clinic_s",
    "lab_requests",
    "med_requests",
    "med_rounds",
    "task_attrs",  # reserved (unused); kept so later streams keep their numbers
    "lift_car",
    "robot_failures",
    "robot_repairs",
    "robot_init",
    "planner_seed",
    "lab_rounds",
)


class Streams:
    """Named ``numpy.random.Generator`` streams of one replication."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        seq = np.random.SeedSequence(seed, spawn_key=(replication,))
        self._gens = {
            name: np.random.default_rng(child) for name, child in zip(STREAMS, seq.spawn(len(STREAMS)), strict=True)
        }

    def __getitem__(self, name: str) -> np.random.Generator:
        try:
            return self._gens[name]
        except KeyError:
            raise KeyError(f"unknown random stream {name!r}; add it to sim.streams.STREAMS") from None


class Sampler:
    """Draws durations (seconds) from one :class:`~sim.scenario.Dist` on one stream."""

    __slots__ = ("_draw", "dist", "rng")

    def __init__(self, dist: Dist, rng: np.random.Generator) -> None:
        self.dist = dist
        self.rng = rng
        m, cv = dist.mean, dist.cv
        if dist.dist is DistKind.FIXED or (dist.dist is not DistKind.EXPONENTIAL and cv == 0):
            self._draw = lambda: m
        elif dist.dist is DistKind.EXPONENTIAL:
            self._draw = lambda: float(rng.exponential(m))
        elif dist.dist is DistKind.LOGNORMAL:
            sigma = math.sqrt(math.log1p(cv * cv))
            mu = math.log(m) - sigma * sigma / 2
            self._draw = lambda: float(rng.lognormal(mu, sigma))
        elif dist.dist is DistKind.GAMMA:
            shape = 1.0 / (cv * cv)
            scale = m / shape
            self._draw = lambda: float(rng.gamma(shape, scale))
        else:  # uniform
            half = math.sqrt(3.0) * cv * m
            self._draw = lambda: float(rng.uniform(m - half, m + half))

    def __call__(self) -> float:
        return self._draw()


def lognormal_mean_cv(rng: np.random.Generator, mean: float, cv: float) -> float:
    """One lognormal draw with the given mean and coefficient of variation."""
    sigma = math.sqrt(math.log1p(cv * cv))
    return float(rng.lognormal(math.log(mean) - sigma * sigma / 2, sigma))
