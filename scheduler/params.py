"""Planner parameters: frozen dataclasses that check themselves, loadable from a dict or YAML.

YAML layout (every key optional; a missing key or section takes its default)::

    time_limit_s: 1.0          # wall-clock stop of the local search, seconds
    solution_limit: null       # stop after this many solutions (deterministic runs)
    horizon_slack_s: 14400     # plan this far past the latest deadline, seconds
    first_solution: insertion  # or an OR-Tools strategy name, e.g. PARALLEL_CHEAPEST_INSERTION
    metaheuristic: GUIDED_LOCAL_SEARCH
    weights:                   # objective weights, see Weights
      travel_per_s: 1
      wait_per_s: 1
      late_per_s_routine: 1
      late_per_s_urgent: 10
      late_per_s_stat: null    # null = dominance weight (one late STAT second outweighs the rest)
      drop_routine: 1
      drop_urgent: 10
      drop_stat: 100
    battery:
      charge_below_pct: 30.0
      plan_charge_stop: true
    insertion_candidates: null # fast path only: try each new task on this many robots (null = all)
    deadline_margin:           # plan drop-offs this much before the promise, seconds, per priority
      stat_s: 180
      urgent_s: 300
      routine_s: 0
      repair: true

Determinism: OR-Tools' guided local search is deterministic for given input only when it stops
on ``solution_limit`` (a count), not on ``time_limit_s`` (the wall clock decides how far it got).
:meth:`PlannerParams.deterministic` gives such parameters (the time limit becomes a safety net
that should never bite). Two caveats: the LNS operator we enable (``use_inactive_lns``) bounds
each of its sub-searches by OR-Tools' ``lns_time_limit`` (100 ms, wall clock), which small and
medium models never reach; and guided local search never stops by itself, so without a solution
limit it always runs to ``time_limit_s`` (a model whose only node is one forced drop-off, where
it would idle, is not searched at all).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hospital_ops.domain import Plan, Priority

#: OR-Tools local-search metaheuristics we accept (names of routing_enums_pb2.LocalSearchMetaheuristic).
METAHEURISTICS = frozenset({"GUIDED_LOCAL_SEARCH", "GREEDY_DESCENT", "SIMULATED_ANNEALING", "TABU_SEARCH"})
#: First-solution strategies: our own seeded insertion, or an OR-Tools strategy.
FIRST_SOLUTIONS = frozenset(
    {
        "insertion",
        "PARALLEL_CHEAPEST_INSERTION",
        "LOCAL_CHEAPEST_INSERTION",
        "GLOBAL_CHEAPEST_ARC",
        "PATH_CHEAPEST_ARC",
        "AUTOMATIC",
    }
)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: must be at least {minimum}, got {value}")


def _check_number(name: str, value: Any, low: float, high: float | None = None, *, open_low: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    if (value <= low) if open_low else (value < low):
        raise ValueError(f"{name}: must be {'above' if open_low else 'at least'} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name}: must be at most {high}, got {value}")


@dataclass(frozen=True, slots=True)
class Weights:
    """Objective weights (all integers: the routing objective is an int64).

    The objective, minimised, is::

        travel_per_s · (robot travel seconds)
        + Σ_tasks wait_per_s · (pickup − max(earliest, now))
        + Σ_tasks late_per_s[priority] · max(0, drop-off − max(deadline − margin[priority], now))
        + Σ_unserved drop_penalty[priority]

    * ``wait_per_s`` charges every second a request waits for its pickup, so work on time is
      still done early rather than batched late to save a few metres (0 = only deadlines count).
    * Lateness counts from ``max(deadline, now)``: lateness already accrued is sunk and cannot
      change any decision (the checker reports the real lateness).
    * ``late_per_s_stat = None`` (default) sets the STAT weight per second to one more than the
      largest value the rest of the objective (travel, waiting, urgent and routine lateness) can take within
      the planning horizon; so one second of STAT lateness costs more than any saving on other
      work can earn. Set an integer to trade instead.
    * ``drop_*`` multiply a base penalty that is larger than everything a served task can cost,
      so a task is left unserved only when it cannot be served at all; among tasks that cannot
      all be served, one STAT weighs as 100 routine tasks by default.
    """

    travel_per_s: int = 1
    wait_per_s: int = 1
    late_per_s_routine: int = 1
    late_per_s_urgent: int = 10
    late_per_s_stat: int | None = None
    drop_routine: int = 1
    drop_urgent: int = 10
    drop_stat: int = 100

    def __post_init__(self) -> None:
        _check_int("weights.travel_per_s", self.travel_per_s, 0)
        _check_int("weights.wait_per_s", self.wait_per_s, 0)
        _check_int("weights.late_per_s_routine", self.late_per_s_routine, 0)
        _check_int("weights.late_per_s_urgent", self.late_per_s_urgent, 0)
        if self.late_per_s_stat is not None:
            _check_int("weights.late_per_s_stat", self.late_per_s_stat, 0)
        for name in ("drop_routine", "drop_urgent", "drop_stat"):
            _check_int(f"weights.{name}", getattr(self, name), 1)

    def late_per_s(self, priority: Priority) -> int | None:
        return {
            Priority.STAT: self.late_per_s_stat,
            Priority.URGENT: self.late_per_s_urgent,
            Priority.ROUTINE: self.late_per_s_routine,
        }[priority]

    def drop_multiplier(self, priority: Priority) -> int:
        return {Priority.STAT: self.drop_stat, Priority.URGENT: self.drop_urgent, Priority.ROUTINE: self.drop_routine}[
            priority
        ]


@dataclass(frozen=True, slots=True)
class BatteryParams:
    """When a plan sends a robot to charge.

    A robot whose battery would end its route below ``charge_below_pct`` (or starts below its
    reserve) gets a CHARGE stop at its home dock (else the nearest of ``Problem.docks``) after its
    last delivery, if ``plan_charge_stop`` and the dock is within what the battery still holds (the
    reserve is what pays for that last leg). Robots below their reserve get no new tasks at all;
    they still deliver what they carry, using the battery below the reserve.
    """

    charge_below_pct: float = 30.0
    plan_charge_stop: bool = True

    def __post_init__(self) -> None:
        _check_number("battery.charge_below_pct", self.charge_below_pct, 0.0, 100.0)
        if not isinstance(self.plan_charge_stop, bool):
            raise ValueError(f"battery.plan_charge_stop: expected true or false, got {self.plan_charge_stop!r}")


@dataclass(frozen=True, slots=True)
class DeadlineMargin:
    """Safety margin per priority: the planner aims to drop off this many seconds *before* the deadline.

    The planner's travel times are expected values (mean lift wait, no lift queue, exact hand-overs);
    a plan that lands a STAT at its deadline to the second is late about half the time in practice.
    So the routing model places each drop-off's soft upper bound (where the lateness weight of its
    priority starts to count) at ``deadline − margin`` instead of the deadline (never before now).
    Because that one bound then weighs a second of margin like a second past the deadline, the
    planner could give one task's real deadline for another's margin; after a full search
    (:func:`scheduler.plan`, not the insertion fast path) a repair pass under the real deadlines
    (:meth:`scheduler._model.Instance.deadline_repair`) moves up to 8 tasks the margins made really
    late to their best places, when that lowers the real-deadline objective. The plan, the
    checker and every metric measure lateness against the real deadline.

    Defaults, from the digital twin on the default 5,037-bed campus day (docs/benchmarks-sim.md):
    without a margin OR-Tools plans delivered ≈ 50 % of STAT requests within the 15-minute promise
    with half the fleet idle; 3 minutes for STAT, with idle robots staged near the STAT pickups
    (:mod:`scheduler.staging`), lift that to ≥ 95 %. Urgent work (45-minute promise) gets
    5 minutes; routine work (4 hours) none.
    """

    stat_s: int = 180
    urgent_s: int = 300
    routine_s: int = 0
    #: Run the repair pass under the real deadlines (off only to test the margin objective alone).
    repair: bool = True

    def __post_init__(self) -> None:
        for name in ("stat_s", "urgent_s", "routine_s"):
            _check_int(f"deadline_margin.{name}", getattr(self, name), 0)
        if not isinstance(self.repair, bool):
            raise ValueError(f"deadline_margin.repair: expected true or false, got {self.repair!r}")

    def of(self, priority: Priority) -> int:
        """The margin, seconds."""
        return {Priority.STAT: self.stat_s, Priority.URGENT: self.urgent_s, Priority.ROUTINE: self.routine_s}[priority]

    @property
    def any(self) -> bool:
        return bool(self.stat_s or self.urgent_s or self.routine_s)


_SECTIONS: dict[str, type] = {"weights": Weights, "battery": BatteryParams, "deadline_margin": DeadlineMargin}


@dataclass(frozen=True, slots=True)
class PlannerParams:
    """Everything that steers :func:`scheduler.plan` besides the problem and the seed."""

    #: Wall-clock limit of the search, seconds (model building excluded).
    time_limit_s: float = 1.0
    #: Stop after this many solutions; with it the search is deterministic (see module doc).
    solution_limit: int | None = None
    #: The planning horizon ends this long after the latest deadline / earliest pickup / start.
    horizon_slack_s: int = 4 * 3600
    first_solution: str = "insertion"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    log_search: bool = False
    weights: Weights = field(default_factory=Weights)
    battery: BatteryParams = field(default_factory=BatteryParams)
    #: Plan drop-offs this long before their deadline, per priority (see :class:`DeadlineMargin`).
    deadline_margin: DeadlineMargin = field(default_factory=DeadlineMargin)
    #: Candidate pruning in the insertion fast path (:func:`scheduler.quick_plan`, which the
    #: rolling dispatcher's STAT fast path, state updates and quick re-plans use): each task is
    #: tried only on the robots that could reach its pickup earliest (a lower bound from the
    #: route's schedule and the travel matrix), this many of them among the robots allowed to
    #: carry it (capabilities, capacity, battery are screened first), and on every allowed
    #: robot if none of those can take it. ``None`` = every allowed robot (exact cheapest
    #: insertion). Full re-plans (:func:`scheduler.plan`) always consider the whole fleet.
    insertion_candidates: int | None = None
    #: The plan being replaced: its routes warm-start the search for tasks still open.
    previous: Plan | None = None

    def __post_init__(self) -> None:
        _check_number("time_limit_s", self.time_limit_s, 0.0, open_low=True)
        if self.solution_limit is not None:
            _check_int("solution_limit", self.solution_limit, 1)
        _check_int("horizon_slack_s", self.horizon_slack_s, 0)
        if self.first_solution not in FIRST_SOLUTIONS:
            raise ValueError(
                f"first_solution: unknown strategy {self.first_solution!r} (one of {sorted(FIRST_SOLUTIONS)})"
            )
        if self.metaheuristic not in METAHEURISTICS:
            raise ValueError(f"metaheuristic: unknown {self.metaheuristic!r} (one of {sorted(METAHEURISTICS)})")
        if not isinstance(self.log_search, bool):
            raise ValueError(f"log_search: expected true or false, got {self.log_search!r}")
        if not isinstance(self.weights, Weights):
            raise ValueError(f"weights: expected Weights, got {type(self.weights).__name__}")
        if not isinstance(self.battery, BatteryParams):
            raise ValueError(f"battery: expected BatteryParams, got {type(self.battery).__name__}")
        if not isinstance(self.deadline_margin, DeadlineMargin):
            raise ValueError(f"deadline_margin: expected DeadlineMargin, got {type(self.deadline_margin).__name__}")
        if self.insertion_candidates is not None:
            _check_int("insertion_candidates", self.insertion_candidates, 1)
        if self.previous is not None and not isinstance(self.previous, Plan):
            raise ValueError(f"previous: expected a Plan, got {type(self.previous).__name__}")

    def replace(self, **changes: Any) -> PlannerParams:
        return dataclasses.replace(self, **changes)

    @classmethod
    def deterministic(cls, solution_limit: int = 200, **changes: Any) -> PlannerParams:
        """Parameters whose search stops on a solution count: same input and seed → same plan.

        The time limit stays as a safety net (60 s); if it is ever reached the run is no longer
        reproducible.
        """
        changes.setdefault("time_limit_s", 60.0)
        return cls(solution_limit=solution_limit, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PlannerParams:
        """Build from a mapping (e.g. parsed YAML); missing keys and sections take their defaults."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ValueError(f"planner parameters: expected a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)} - {"previous"}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"{key}: unknown planner parameter (expected one of {sorted(known)})")
            if key in _SECTIONS:
                kwargs[key] = _section(key, _SECTIONS[key], value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, source: str | Path) -> PlannerParams:
        """Read a YAML file (a ``Path``) or YAML text (a ``str``)."""
        if isinstance(source, Path):
            try:
                text = source.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"{source}: cannot read planner parameters ({exc.strerror})") from None
        else:
            text = source
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"planner parameters: not valid YAML: {exc}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "previous"}
        out["weights"] = dataclasses.asdict(self.weights)
        out["battery"] = dataclasses.asdict(self.battery)
        out["deadline_margin"] = dataclasses.asdict(self.deadline_margin)
        return out


def _section(name: str, cls: type, value: Any) -> Any:
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: expected a mapping, got {type(value).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    for key in value:
        if key not in known:
            raise ValueError(f"{name}.{key}: unknown parameter (expected one of {sorted(known)})")
    return cls(**value)
