"""Validation against queueing theory: Erlang C for the kiosk stage, Little's law on the model's queues."""

from __future__ import annotations

import math

from sim.model import Model
from sim.runner import run_replications, summarise
from sim.scenario import Scenario


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C)."""
    a = lam / mu
    rho = a / c
    assert rho < 1
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    return tail / (head + tail) / (c * mu - lam)


def test_kiosk_stage_matches_erlang_c(kiosk_only: Scenario) -> None:
    """The kiosk stage alone (Poisson arrivals, 3 kiosks, exponential check-in, ρ = 0.75) has a mean
    wait whose 95 % CI across 10 replications covers the Erlang C value, and so does its mean queue length."""
    results = run_replications(kiosk_only, 10, workers=1)
    s = summarise(results)
    lam, mu, c = 67.5 / 3600, 1 / 120, 3
    wq = erlang_c_wait(lam, mu, c)  # ≈ 90.8 s
    w = s["wait_op_kiosk_mean_s"]
    assert w.ci95_low <= wq <= w.ci95_high, (wq, w)
    lq = s["queue_op_kiosk_mean"]
    assert lq.ci95_low <= lam * wq <= lq.ci95_high, (lam * wq, lq)
    # and the simulated service really is the configured one
    assert abs(s["kiosk_service_mean_s"].mean - 120) < 3


def test_littles_law_on_kiosk_queue(kiosk_only: Scenario) -> None:
    """L = λ·W on the kiosk queue of one replication: time-average length vs arrival rate × mean wait."""
    m = Model(kiosk_only.replace(horizon_h=100), 0)
    r = m.run()
    span = m.end - m.w0
    waits = m.tallies["wait_op_kiosk"]
    lam = len(waits) / span
    assert math.isclose(r.kpis["queue_op_kiosk_mean"], lam * waits.mean(), rel_tol=0.02)


def test_littles_law_on_lift_queues(small: Scenario) -> None:
    """L = λ·W holds on the robots' lift queues of the full model (patients, dispatcher, robots,
    one-robot cars, doubled demand), within a few per cent: what is queued at the window's edges is
    the only difference."""
    sc = small.replace(**{"lifts.capacity": 1, "fleet.robots": 30, "demand.multiplier": 2.0})
    m = Model(sc, 0)
    r = m.run()
    span = m.end - m.w0
    t = m.tallies["wait_lift"]
    assert len(t) > 500 and r.kpis["queue_lift_mean"] > 0.05
    assert math.isclose(r.kpis["queue_lift_mean"], len(t) / span * t.mean(), rel_tol=0.05)
