"""The `sim` command line (run, compare, capacity, live) and the live demand driver."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from typer.testing import CliRunner

from sim.cli import app
from sim.demand import delivery_requests
from sim.live import LiveDriver
from sim.scenario import Scenario
from sim.site import Site

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory, tiny: Scenario) -> Path:
    path = tmp_path_factory.mktemp("scn") / "tiny.yaml"
    data = tiny.model_dump(mode="json", exclude={"base_dir"})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_run_writes_report_and_results(tiny_file: Path, tmp_path: Path) -> None:
    """`sim run` writes report.html with its PNG plots and results.json with a mean and CI per KPI."""
    out = tmp_path / "rep"
    res = runner.invoke(
        app, ["run", "--scenario", str(tiny_file), "--replications", "2", "--workers", "1", "--report", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {"scenario", "replications", "kpis"} <= set(data)
    assert data["scenario"] == "small" and data["replications"] == 2
    assert len(data["kpis"]) > 50
    for name, k in data["kpis"].items():  # {name: {"mean", "ci95_low", "ci95_high"}} for every KPI
        assert set(k) == {"mean", "ci95_low", "ci95_high"}, name
        assert all(v is None or isinstance(v, float | int) for v in k.values()), name
    k = data["kpis"]["stat_on_time_pct"]
    assert k["ci95_low"] is None or k["ci95_low"] <= k["mean"] <= k["ci95_high"]
    assert "replications" in res.output and "2/2" in res.output  # the progress bar ran to the end
    html = (out / "report.html").read_text(encoding="utf-8")
    for png in ("queues.png", "turnaround.png", "robots.png", "lifts.png"):
        assert (out / png).stat().st_size > 1000 and png in html


def test_a_zoned_run_reports_each_zone(tiny: Scenario, tmp_path: Path) -> None:
    """With dispatch zones, report.html has a row per zone (buildings, robots, STAT and urgent on
    time) and results.json names each zone's buildings; the zones' figures are not repeated
    among the key figures."""
    path = tmp_path / "zoned.yaml"
    data = tiny.replace(**{"planner.robots_per_zone": 7}).model_dump(mode="json", exclude={"base_dir"})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "rep"
    res = runner.invoke(
        app, ["run", "--scenario", str(path), "--replications", "2", "--workers", "1", "--report", str(out)]
    )
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    zones = results["zones"]
    assert len(zones) >= 2 and all(b for b in zones.values())
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Dispatch zones</h2>" in page
    key_figures = page.split("<h2>Key figures</h2>")[1].split("<h2>Dispatch zones</h2>")[0]
    assert "zone_" not in key_figures
    for zone, buildings in zones.items():
        assert f"<td>{zone}</td><td>{', '.join(buildings)}</td>" in page
        assert f"zone_{zone}_on_time_pct_stat" in results["kpis"]


def test_compare_reports_paired_differences(tiny_file: Path, tmp_path: Path) -> None:
    """`sim compare` runs both policies on the same replications and reports their paired differences."""
    out = tmp_path / "cmp"
    res = runner.invoke(
        app,
        [
            "compare",
            "--scenario",
            str(tiny_file),
            "--policies",
            "ortools,greedy",
            "-n",
            "2",
            "-w",
            "1",
            "--report",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    diff = data["paired_differences"]["ortools-greedy"]
    assert diff["requests_per_day"]["mean"] == 0.0  # same demand: common random numbers
    assert set(data["kpis"]) == {"ortools", "greedy"}


def test_bad_input_gives_clear_errors_not_tracebacks(tmp_path: Path, tiny_file: Path) -> None:
    """A misspelt scenario key, a bad policy list and a bad range each exit 2 with a message naming it."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("fleet:\n  robtos: 3\n", encoding="utf-8")
    res = runner.invoke(app, ["run", "--scenario", str(bad), "--report", str(tmp_path / "x")])
    assert res.exit_code == 2 and "fleet.robtos: unknown key" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["compare", "--scenario", str(tiny_file), "--policies", "ortools,fifo"])
    assert res.exit_code == 2 and "--policies" in res.output
    res = runner.invoke(app, ["capacity", "--scenario", str(tiny_file), "--robots", "ten:20"])
    assert res.exit_code == 2 and "--robots" in res.output


def test_live_needs_the_running_stack(tiny_file: Path) -> None:
    """`sim live` against a URL where nothing listens says it needs the running stack."""
    res = runner.invoke(
        app, ["live", "--scenario", str(tiny_file), "--target", "http://127.0.0.1:9", "--speed", "1000"]
    )
    assert res.exit_code == 2
    assert "needs the running stack" in res.output


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Sink.received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "t"}')

    def log_message(self, *args: object) -> None:
        pass


def test_live_posts_tasks_to_the_api(tiny_file: Path) -> None:
    """With something listening, `sim live` POSTs JSON tasks to /api/v1/tasks."""
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        res = runner.invoke(
            app, ["live", "--scenario", str(tiny_file), "--target", url, "--speed", "1000000", "--limit", "5"]
        )
        assert res.exit_code == 0, res.output
        assert "5 accepted" in res.output
    finally:
        server.shutdown()
    path, body = _Sink.received[0]
    assert path == "/api/v1/tasks"
    assert {"pickup", "dropoff", "priority", "kind", "units", "handling", "earliest_s", "deadline_s"} <= set(body)
    assert body["priority"] in ("stat", "urgent", "routine") and body["deadline_s"] >= body["earliest_s"]


def test_demand_generator_yields_timestamped_requests_in_order(tiny: Scenario) -> None:
    """The live demand generator yields requests in time order, the same for the same replication,
    paced by the driver at 1/speed of their simulated gaps."""
    site = Site.build(tiny)
    reqs = list(delivery_requests(tiny, site, 0))
    assert reqs and all(a.at_s <= b.at_s for a, b in itertools.pairwise(reqs))
    assert [r.at_s for r in reqs] == [r.at_s for r in delivery_requests(tiny, site, 0)]
    assert {r.source for r in reqs} >= {"lab", "med", "ed_lab"}
    slept: list[float] = []
    now = [1000.0]

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    driver = LiveDriver("http://x.invalid", 10.0, sleep=sleep, clock=lambda: now[0], post=lambda url, body: (201, ""))
    posted = list(driver.run(reqs, limit=20))
    assert len(posted) == 20
    assert sum(slept) == pytest.approx((reqs[19].at_s - reqs[0].at_s) / 10.0)


def test_live_requests_are_stamped_with_the_stacks_campus_clock(tiny: Scenario) -> None:
    """Inside a stack running K× faster, the first request's earliest time is the stack's campus
    "now", not the wall clock, so deadlines mean the same to the twin and to the scheduler."""
    from hospital_ops.clock import CampusClock

    site = Site.build(tiny)
    reqs = list(delivery_requests(tiny, site, 0))[:3]
    wall = [2_000_000_000.0]
    stack = CampusClock(scale=10.0, origin_s=wall[0] - 100.0, wall=lambda: wall[0])
    bodies: list[dict[str, object]] = []

    def post(url: str, body: dict[str, object]) -> tuple[int, str]:
        bodies.append(body)
        return 201, ""

    def sleep(s: float) -> None:
        wall[0] += s

    driver = LiveDriver("http://x.invalid", 10.0, sleep=sleep, clock=lambda: wall[0], post=post, campus_now=stack.now)
    list(driver.run(reqs))
    assert bodies[0]["earliest_s"] == int(stack.campus_at(2_000_000_000.0))  # origin + 100 s × 10
    assert bodies[0]["earliest_s"] != int(2_000_000_000.0)


def test_zones_shows_the_dispatch_zones_of_a_scenario() -> None:
    """`sim zones` lists each zone's buildings, robots and share of the work; a fleet of one
    zone's worth says it has one dispatcher."""
    res = runner.invoke(app, ["zones", "--scenario", "default"], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert "3 dispatch zones" in res.output
    for zone in ("Z1", "Z2", "Z3"):
        assert zone in res.output
    assert "ED, T1" in res.output and "T5, T6, T7" in res.output
    small = runner.invoke(app, ["zones", "--scenario", "small"])
    assert small.exit_code == 0 and "one dispatcher for all 20 robots" in small.output
