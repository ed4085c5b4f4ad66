"""Dispatch policies: how the rolling dispatcher turns a problem into a plan.

A policy has a full re-plan (``plan``, may take up to its time limit) and a fast path
(``insert``, milliseconds: keep the previous routes and fit new tasks in), used to commit a STAT
task at once while the full re-plan runs afterwards.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hospital_ops.domain import Plan
from scheduler.greedy import plan_greedy
from scheduler.params import PlannerParams
from scheduler.planner import plan, quick_plan
from scheduler.problem import Problem


@runtime_checkable
class DispatchPolicy(Protocol):
    name: str

    def plan(self, problem: Problem, previous: Plan | None, seed: int = 0) -> Plan:
        """A full plan (warm-started from ``previous`` where the policy can)."""
        ...

    def insert(self, problem: Problem, previous: Plan | None, seed: int = 0) -> Plan:
        """A fast plan: ``previous`` kept, new tasks fitted in."""
        ...


class OrToolsPolicy:
    """The OR-Tools planner; warm-started from the previous plan."""

    name = "ortools"

    def __init__(self, params: PlannerParams | None = None) -> None:
        self.params = params if params is not None else PlannerParams()

    def plan(self, problem: Problem, previous: Plan | None, seed: int = 0) -> Plan:
        return plan(problem, self.params.replace(previous=previous), seed)

    def insert(self, problem: Problem, previous: Plan | None, seed: int = 0) -> Plan:
        return quick_plan(problem, previous, self.params, seed)


class GreedyPolicy:
    """The Open-RMF-style greedy baseline (fast enough that both paths are the same)."""

    name = "greedy"

    def __init__(self, params: PlannerParams | None = None) -> None:
        self.params = params if params is not None else PlannerParams()

    def plan(self, problem: Problem, previous: Plan | None, seed: int = 0) -> Plan:
        return plan_greedy(problem, self.params)

    def insert(self, problem: Problem, previous: Plan | None, seed: int = 0) -> Plan:
        return plan_greedy(problem, self.params)
