"""The SimPy digital twin of the campus.

    from sim import load_scenario, scenario_path, Model, run_replications, summarise
    sc = load_scenario(scenario_path("small"))
    result = Model(sc, replication=0).run()          # one replication → RunResult (kpis, series, perf)
    results = run_replications(sc, 5, workers=2)     # in parallel; or dask="tcp://scheduler:8786"
    summary = summarise(results)                     # KPI → mean and 95 % t-interval

Patients go through kiosks and the product's triage engine; delivery requests go to the product's
rolling dispatcher and planner; robots drive the campus model's routes and queue for its lifts.
"""

from sim.model import Model, RunResult, run_replication
from sim.runner import Estimate, capacity_sweep, estimate, paired_differences, run_replications, summarise
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario, scenario_path

__all__ = [
    "Estimate",
    "Model",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "capacity_sweep",
    "estimate",
    "load_scenario",
    "paired_differences",
    "parse_scenario",
    "run_replication",
    "run_replications",
    "scenario_path",
    "summarise",
]
