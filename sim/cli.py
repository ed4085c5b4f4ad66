"""`hospital-ops sim …`: run the digital twin, compare policies, sweep capacity, drive a live stack."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.model import RunResult
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_path

app = typer.Typer(
    help="The SimPy digital twin of the campus: runs the product's scheduler and triage engine in the loop.",
    no_args_is_help=True,
)

ScenarioOpt = Annotated[
    str,
    typer.Option("--scenario", "-s", help="Scenario YAML file, or the name of a shipped one (default, small)."),
]
ReplicationsOpt = Annotated[int, typer.Option("--replications", "-n", min=1, help="Independent replications.")]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", "-w", min=1, help="Local worker processes (default: all cores).")
]
DaskOpt = Annotated[
    str | None, typer.Option("--dask", help="Run replications on a Dask cluster at this scheduler address.")
]
ReportOpt = Annotated[Path, typer.Option("--report", "-r", help="Folder for the report (created).")]


def _err(msg: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[red]error:[/red] {msg}")
    return typer.Exit(2)


def _load(name: str) -> Scenario:
    try:
        return load_scenario(scenario_path(name))
    except ScenarioError as exc:
        raise _err(str(exc)) from None


@contextmanager
def _progress(total: int, what: str) -> Iterator[callable]:  # type: ignore[valid-type]
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(what, total=total)

        def step(_res: RunResult) -> None:
            bar.advance(task)

        yield step


def _kpi_table(title: str, summary: dict, keys: list[tuple[str, str]]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("KPI")
    for col in ("mean", "95 % CI"):
        t.add_column(col, justify="right")
    for key, label in keys:
        e = summary.get(key)
        if e is None:
            continue
        ci = "–" if e.ci95_low is None else f"[{e.ci95_low:,.2f}, {e.ci95_high:,.2f}]"
        t.add_row(label, f"{e.mean:,.2f}", ci)
    return t


@app.command()
def run(
    scenario: ScenarioOpt = "default",
    replications: ReplicationsOpt = 5,
    workers: WorkersOpt = None,
    report: ReportOpt = Path("sim-report"),
    dask: DaskOpt = None,
    policy: Annotated[
        str | None, typer.Option("--policy", help="Override the scenario's policy: ortools or greedy.")
    ] = None,
) -> None:
    """Run replications; write REPORT/report.html (tables, plots) and REPORT/results.json."""
    from sim.report import HEADLINE, write_run_report
    from sim.runner import run_replications, summarise

    sc = _load(scenario)
    if policy is not None and policy not in ("ortools", "greedy"):
        raise _err(f"--policy: unknown policy {policy!r} (ortools or greedy)")
    try:
        with _progress(replications, f"{sc.name}: replications") as step:
            results = run_replications(sc, replications, policy=policy, workers=workers, dask=dask, progress=step)
    except ScenarioError as exc:
        raise _err(str(exc)) from None
    except OSError as exc:
        raise _err(f"--dask: cannot reach the Dask scheduler at {dask} ({exc})") from None
    write_run_report(report, sc, results)
    con = Console(highlight=False)
    con.print(_kpi_table(f"{sc.name} — {replications} replications", summarise(results), HEADLINE[:21]))
    con.print(f"report: {report / 'report.html'}   data: {report / 'results.json'}")


@app.command()
def compare(
    scenario: ScenarioOpt = "default",
    policies: Annotated[str, typer.Option("--policies", help="Two policies, comma separated.")] = "ortools,greedy",
    replications: ReplicationsOpt = 5,
    workers: WorkersOpt = None,
    report: ReportOpt = Path("sim-compare"),
    dask: DaskOpt = None,
) -> None:
    """Run two policies on common random numbers; paired differences with 95 % CIs."""
    from sim.report import HEADLINE, write_compare_report
    from sim.runner import paired_differences, run_jobs, summarise

    sc = _load(scenario)
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if len(names) != 2 or len(set(names)) != 2 or any(p not in ("ortools", "greedy") for p in names):
        raise _err(f"--policies: expected two different policies out of ortools, greedy, got {policies!r}")
    jobs = [(sc, rep, p) for p in names for rep in range(replications)]
    try:
        with _progress(len(jobs), f"{sc.name}: {names[0]} vs {names[1]}") as step:
            results = run_jobs(jobs, workers=workers, dask=dask, progress=step)
    except ScenarioError as exc:
        raise _err(str(exc)) from None
    by_policy = {p: [r for r in results if r.policy == p] for p in names}
    summaries = {p: summarise(rs) for p, rs in by_policy.items()}
    diffs = paired_differences(by_policy[names[0]], by_policy[names[1]])
    write_compare_report(report, sc, names, summaries, diffs, replications)
    con = Console(highlight=False)
    t = Table(title=f"{names[0]} − {names[1]} (paired, {replications} replications)", title_justify="left")
    for col in ("KPI", names[0], names[1], "difference", "95 % CI"):
        t.add_column(col, justify="left" if col == "KPI" else "right")
    for key, label in HEADLINE[:21]:
        if key in diffs:
            d = diffs[key]
            ci = "–" if d.ci95_low is None else f"[{d.ci95_low:,.2f}, {d.ci95_high:,.2f}]"
            t.add_row(
                label,
                f"{summaries[names[0]][key].mean:,.2f}",
                f"{summaries[names[1]][key].mean:,.2f}",
                f"{d.mean:,.2f}",
                ci,
            )
    con.print(t)
    con.print(f"report: {report / 'compare.html'}   data: {report / 'compare.json'}")


@app.command()
def capacity(
    scenario: ScenarioOpt = "default",
    demand: Annotated[str, typer.Option("--demand", help="Demand multipliers: LOW:HIGH[:STEP] or a list.")] = "0.5:3.0",
    robots: Annotated[str, typer.Option("--robots", help="Fleet sizes: LOW:HIGH[:STEP] or a list.")] = "20:120",
    steps: Annotated[int, typer.Option("--steps", min=2, help="Values per axis for LOW:HIGH ranges.")] = 6,
    replications: ReplicationsOpt = 3,
    target: Annotated[float, typer.Option("--target", min=0, max=100, help="STAT on-time target, %.")] = 95.0,
    workers: WorkersOpt = None,
    report: ReportOpt = Path("sim-capacity"),
    dask: DaskOpt = None,
) -> None:
    """Sweep demand × fleet size: heatmap of STAT on-time and where queues stop being stable."""
    from sim.report import write_capacity_report
    from sim.runner import capacity_sweep, parse_range

    sc = _load(scenario)
    try:
        demands = parse_range(demand, integer=False, steps=steps, name="demand")
        fleets = [int(x) for x in parse_range(robots, integer=True, steps=steps, name="robots")]
    except ValueError as exc:
        raise _err(str(exc)) from None
    total = len(demands) * len(fleets) * replications
    with _progress(total, f"{sc.name}: {len(demands)}×{len(fleets)} cells") as step:
        cells = capacity_sweep(sc, demands, fleets, replications, workers=workers, dask=dask, progress=step)
    write_capacity_report(report, sc, cells, replications, target)
    con = Console(highlight=False)
    t = Table(title=f"STAT on time % (target {target:g} %); * = unstable", title_justify="left")
    t.add_column("robots \\ demand")
    for d in demands:
        t.add_column(f"×{d:.3g}", justify="right")
    for n in fleets:
        row = []
        for d in demands:
            c = next(c for c in cells if c.robots == n and c.demand == d)
            v = c.stat_on_time.mean
            cell = "–" if v != v else f"{v:.0f}"
            style = "green" if v == v and v >= target and c.stable else "red" if not c.stable else ""
            row.append(f"[{style}]{cell}{'' if c.stable else '*'}[/{style}]" if style else cell)
        t.add_row(str(n), *row)
    con.print(t)
    con.print(f"report: {report / 'capacity.html'}   data: {report / 'capacity.json'}")


@app.command()
def zones(scenario: ScenarioOpt = "default") -> None:
    """Show how the scenario's fleet is split into dispatch zones (planner.robots_per_zone): each
    zone's buildings, robots, cold boxes, docks and share of the expected robot time."""
    from hospital_ops.domain import Capability
    from sim.model import Model

    sc = _load(scenario)
    m = Model(sc, 0)
    if sc.stages.logistics:
        m._build_logistics()
    con = Console(highlight=False)
    if m.zoning is None:
        why = "planner.robots_per_zone is 0" if not sc.planner.robots_per_zone else "the fleet is one zone's worth"
        con.print(f"{sc.name}: one dispatcher for all {sc.fleet.robots} robots ({why}).")
        return
    total = sum(m.zone_work.values()) or 1.0
    t = Table(title=f"{sc.name}: {len(m.zoning.zones)} dispatch zones of about {sc.planner.robots_per_zone} robots")
    for col, right in (
        ("zone", False),
        ("buildings", False),
        ("robots", True),
        ("cold boxes", True),
        ("docks", False),
        ("expected robot time", True),
    ):
        t.add_column(col, justify="right" if right else "left")
    for z in m.zoning.zones:
        cold = sum(1 for r in z.robots if Capability.COLD_BOX in m.robots[r].capabilities)
        share = sum(m.zone_work.get(b, 0.0) for b in z.buildings) / total
        at: dict[str, int] = {}
        for d in z.docks:
            b = m.site.campus.locations[d].building
            at[b] = at.get(b, 0) + 1
        docks = ", ".join(f"{b} ×{n}" for b, n in at.items())
        t.add_row(z.id, ", ".join(z.buildings), str(len(z.robots)), str(cold), docks, f"{share:.0%}")
    con.print(t)
    con.print(
        "Robot time: each request's trip plus two hand-overs, STAT counted twice, from the scenario's "
        "ward requests (replication 0) and the ED's expected ones. The pharmacy and laboratory are shared."
    )


@app.command()
def live(
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            min=0.001,
            help="Times faster than real time (default: the stack's time scale when started by `hospital-ops up`, else 60).",
        ),
    ] = None,
    target: Annotated[str, typer.Option("--target", help="Base URL of the running stack.")] = "http://localhost:8000",
    demand: Annotated[
        float,
        typer.Option(
            "--demand",
            min=0.0,
            envvar="HOSPITAL_OPS_LIVE_DEMAND",
            help="Demand multiplier (1 = the scenario's whole-campus demand; 0.2 for a fifth of the fleet).",
        ),
    ] = 1.0,
    from_h: Annotated[
        float,
        typer.Option(
            "--from-h",
            min=0.0,
            envvar="HOSPITAL_OPS_LIVE_FROM_H",
            help="Skip the scenario's first hours (the default scenario starts Sunday 22:00: 9 = Monday 07:00).",
        ),
    ] = 0.0,
    scenario: ScenarioOpt = "default",
    replication: Annotated[int, typer.Option("--replication", min=0, help="Which demand stream to replay.")] = 0,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Stop after this many requests.")] = None,
    via: Annotated[
        str, typer.Option("--via", help="rest: POST /api/v1/tasks; fhir: ward orders as FHIR Bundles to /fhir/.")
    ] = "rest",
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="HOSPITAL_OPS_TOKEN", help="Bearer token (kind 'his' for --via fhir)."),
    ] = None,
    staff: Annotated[
        bool,
        typer.Option(
            "--staff/--no-staff",
            help="Simulated staff hand each task over with its PIN through the API when its robot waits "
            "(needs a token with a staff role, e.g. ward_staff).",
        ),
    ] = True,
    wait_s: Annotated[
        float,
        typer.Option(
            "--wait-s",
            min=0.0,
            envvar="HOSPITAL_OPS_LIVE_WAIT_S",
            help="Wait up to this long for the stack to answer (it may still be starting).",
        ),
    ] = 0.0,
) -> None:
    """POST the scenario's delivery requests to TARGET/api/v1/tasks (or as FHIR orders) in scaled real time (load test)."""
    from hospital_ops.clock import ORIGIN_ENV, CampusClock
    from sim.demand import delivery_requests
    from sim.live import LiveDriver, StackUnavailable, check_reachable
    from sim.site import Site

    sc = _load(scenario)
    if demand != 1.0:
        sc = sc.replace(**{"demand.multiplier": sc.demand.multiplier * demand})
    # started inside a stack (`hospital-ops up`): stamp requests with the stack's campus clock
    stack_clock = CampusClock.from_env() if os.environ.get(ORIGIN_ENV) else None
    if speed is None:
        speed = stack_clock.scale if stack_clock else 60.0
    try:
        driver = LiveDriver(target, speed, via=via, token=token, campus_now=stack_clock.now if stack_clock else None)
        give_up = time.monotonic() + wait_s
        while True:
            try:
                check_reachable(target)
                break
            except StackUnavailable:
                if time.monotonic() >= give_up:
                    raise
                time.sleep(1.0)
    except (ValueError, StackUnavailable) as exc:
        raise _err(str(exc)) from None
    try:
        site = Site.build(sc)
    except ScenarioError as exc:
        raise _err(str(exc)) from None
    import json
    import threading

    from sim.handover import StaffAgent

    con = Console(highlight=False)
    ok = bad = 0
    agent = StaffAgent(target, token, speed=speed, seed=replication) if staff and token and via == "rest" else None
    stop = threading.Event()
    interrupted = False
    if agent is not None:
        threading.Thread(target=agent.run, args=(stop,), daemon=True, name="staff").start()
    try:
        requests = (r for r in delivery_requests(sc, site, replication) if r.at_s >= from_h * 3600.0)
        for posted in driver.run(requests, limit=limit):
            if 200 <= posted.status < 300:
                ok += 1
                if agent is not None:
                    try:
                        body = json.loads(posted.body)
                        agent.remember(str(body["id"]), str(body["pin"]))
                    except (ValueError, KeyError, TypeError):
                        pass
            else:
                bad += 1
                con.print(
                    f"[yellow]{posted.status}[/yellow] {posted.request.source} {posted.request.pickup}→{posted.request.dropoff}: {posted.body[:200]}"
                )
    except KeyboardInterrupt:
        interrupted = True
    except OSError as exc:
        raise _err(f"the stack stopped answering at {target} ({exc}); {ok} requests were accepted") from None
    if agent is not None:
        try:
            while agent.waiting() and not agent.disabled and not interrupted:  # staff stay for their deliveries
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
        stop.set()
        if agent.disabled:
            con.print(f"[yellow]staff stopped:[/yellow] {agent.disabled}")
    con.print(f"posted {ok + bad} requests: {ok} accepted, {bad} refused")
    if agent is not None:
        con.print(f"staff hand-overs: {agent.handed_over} done, {agent.refused} retried, {agent.waiting()} left")


if __name__ == "__main__":  # python -m sim.cli … (before the lead mounts it as `hospital-ops sim`)
    app()
