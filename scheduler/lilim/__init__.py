"""Li & Lim PDPTW benchmark: reader, independent checker, our planner and the OR-Tools baseline.

    from scheduler.lilim import read_instance, solve, SolverParams, check
    inst = read_instance("../shared/data/lilim/100/lr201.txt")
    result = solve(inst, SolverParams(time_limit=10, seed=1))
    verdict = check(Path(...).read_text(), result.routes)

The command line is ``hospital-ops bench lilim`` (:mod:`scheduler.lilim.cli`).
"""

from scheduler.lilim.checker import CheckResult, check
from scheduler.lilim.instance import Instance
from scheduler.lilim.read import InstanceFormatError, read_bks, read_instance
from scheduler.lilim.solver import SolveResult, SolverParams, solve, solve_baseline

__all__ = [
    "CheckResult",
    "Instance",
    "InstanceFormatError",
    "SolveResult",
    "SolverParams",
    "check",
    "read_bks",
    "read_instance",
    "solve",
    "solve_baseline",
]
