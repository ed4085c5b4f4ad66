"""Reports: results.json, report.html and its PNG plots (matplotlib, Agg backend).

I/O of the twin lives here and in ``cli.py``; the model and the runner never write files.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.model import RunResult
from sim.runner import CapacityCell, Estimate, summarise
from sim.scenario import Scenario

#: KPIs shown first in the report, with a readable label and unit.
HEADLINE: list[tuple[str, str]] = [
    ("deliveries_per_day", "Deliveries per day"),
    ("requests_per_day", "Delivery requests per day"),
    ("stat_on_time_pct", "STAT on time (%)"),
    ("on_time_pct_urgent", "Urgent on time (%)"),
    ("on_time_pct_routine", "Routine on time (%)"),
    ("turnaround_p50_min_stat", "STAT turnaround P50 (min)"),
    ("turnaround_p90_min_stat", "STAT turnaround P90 (min)"),
    ("turnaround_p95_min_stat", "STAT turnaround P95 (min)"),
    ("turnaround_p50_min_urgent", "Urgent turnaround P50 (min)"),
    ("turnaround_p90_min_urgent", "Urgent turnaround P90 (min)"),
    ("turnaround_p95_min_urgent", "Urgent turnaround P95 (min)"),
    ("turnaround_p50_min_routine", "Routine turnaround P50 (min)"),
    ("turnaround_p90_min_routine", "Routine turnaround P90 (min)"),
    ("turnaround_p95_min_routine", "Routine turnaround P95 (min)"),
    ("robot_utilisation", "Robot utilisation (busy share)"),
    ("robot_charging_fraction", "Robot time charging (share)"),
    ("robot_km_per_robot_day", "km per robot per day"),
    ("charging_h_per_robot_day", "Charging hours per robot per day"),
    ("lift_wait_mean_s", "Lift queue wait, mean (s)"),
    ("lift_wait_p95_s", "Lift queue wait, P95 (s)"),
    ("queue_lift_mean", "Robots queueing for lifts (time average)"),
    ("wait_op_kiosk_mean_s", "Outpatient kiosk wait, mean (s)"),
    ("wait_ed_kiosk_mean_s", "ED kiosk wait, mean (s)"),
    ("wait_triage_mean_s", "Triage nurse wait, mean (s)"),
    ("wait_ed_bay_mean_min", "ED bay wait, mean (min)"),
    ("checkins_per_day", "Kiosk check-ins per day"),
    ("ed_treated_per_day", "ED patients treated per day"),
    ("triage_agreement_pct", "Triage engine = generated acuity (%)"),
]

CLOCK_SERIES = [
    ("queue_op_kiosk", "OP kiosk queue"),
    ("queue_ed_kiosk", "ED kiosk queue"),
    ("queue_triage", "triage nurse queue"),
    ("queue_ed_bay", "ED bay queue"),
    ("queue_clinic", "clinic queues"),
    ("queue_lift", "robots at lifts"),
    ("backlog_tasks", "tasks waiting for pickup"),
]


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:,.{digits}f}"


def results_json(
    scenario: Scenario, results: Sequence[RunResult], summary: dict[str, Estimate] | None = None
) -> dict[str, Any]:
    summary = summary if summary is not None else summarise(results)
    perf = summarise_perf(results)
    return {
        "scenario": scenario.name,
        "replications": len(results),
        "policy": results[0].policy if results else None,
        "warmup_h": scenario.warmup_h,
        "horizon_h": scenario.horizon_h,
        "kpis": {k: e.as_json() for k, e in summary.items()},
        "perf": {k: e.as_json() for k, e in perf.items()},
        #: dispatch zones (id → buildings), empty with one dispatcher
        "zones": results[0].zones if results else {},
    }


def summarise_perf(results: Sequence[RunResult]) -> dict[str, Estimate]:
    from sim.runner import estimate

    keys = list(results[0].perf) if results else []
    return {k: estimate(r.perf[k] for r in results) for k in keys}


def _hours_axis(scenario: Scenario, n: int) -> np.ndarray:
    start = (scenario.start_offset_s + scenario.warmup_s) / 3600.0
    return np.arange(n) + start


def _mean_series(results: Sequence[RunResult], name: str) -> np.ndarray:
    arrs = [np.asarray(r.series.get(name, []), dtype=float) for r in results]
    arrs = [a for a in arrs if len(a)]
    if not arrs:
        return np.zeros(0)
    n = min(len(a) for a in arrs)
    return np.mean([a[:n] for a in arrs], axis=0)


def _clock_ticks(ax: Any, hours: np.ndarray) -> None:
    if len(hours) == 0:
        return
    step = max(1, len(hours) // 12)
    ticks = hours[::step]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{int(h) % 24:02d}h" for h in ticks])


def write_plots(out: Path, scenario: Scenario, results: Sequence[RunResult]) -> list[tuple[str, str]]:
    """PNG plots into ``out``; returns (file name, caption) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[tuple[str, str]] = []
    n_rep = len(results)

    # queue lengths over the day
    fig, ax = plt.subplots(figsize=(9, 4.2))
    hours = np.zeros(0)
    for name, label in CLOCK_SERIES:
        y = _mean_series(results, name)
        if len(y) and y.max() > 0:
            hours = _hours_axis(scenario, len(y))
            ax.plot(hours, y, marker=".", label=label)
    _clock_ticks(ax, hours)
    ax.set_ylabel("time-average length")
    ax.set_title(f"Queue lengths over the day (hourly means, {n_rep} replications)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "queues.png", dpi=110)
    plt.close(fig)
    made.append(("queues.png", "Queue lengths over the day (time-weighted hourly averages, mean of replications)."))

    # turnaround distributions
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for p in ("stat", "urgent", "routine"):
        vals = np.concatenate(
            [np.asarray(r.samples.get(f"turnaround_min_{p}", []), dtype=float) for r in results] or [np.zeros(0)]
        )
        if len(vals):
            xs = np.sort(vals)
            ax.plot(xs, np.arange(1, len(xs) + 1) / len(xs), label=f"{p} (n={len(xs):,})")
    promised = scenario.demand.turnaround_min
    for p, v in (("stat", promised.stat), ("urgent", promised.urgent)):
        ax.axvline(v, ls="--", lw=0.8, color="grey")
        ax.text(v, 0.02, f" {p} promise", rotation=90, fontsize=7, color="grey")
    ax.set_xlabel("request → drop-off (minutes)")
    ax.set_ylabel("share of deliveries")
    ax.set_xlim(left=0)
    ax.set_title("Turnaround distribution by priority (all replications pooled)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "turnaround.png", dpi=110)
    plt.close(fig)
    made.append(("turnaround.png", "Empirical distribution of delivery turnaround by priority; dashed: the promise."))

    # robot utilisation over the day
    fig, ax = plt.subplots(figsize=(9, 4.2))
    parts = [(f"robots_{s}", s) for s in ("busy", "charging", "fault", "idle")]
    ys = [_mean_series(results, name) for name, _ in parts]
    if ys and len(ys[0]):
        n = min(len(y) for y in ys)
        hours = _hours_axis(scenario, n)
        total = max(1, scenario.fleet.robots)
        colours = ["#3b78b0", "#f0a030", "#d04040", "#d8d8d8"]
        ax.stackplot(
            hours, *[y[:n] / total for y in ys], labels=[label for _, label in parts], colors=colours, alpha=0.9
        )
        _clock_ticks(ax, hours)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of the fleet")
    ax.set_title(f"Robot time by state over the day ({scenario.fleet.robots} robots)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "robots.png", dpi=110)
    plt.close(fig)
    made.append(("robots.png", "What the fleet is doing, hour by hour (mean of replications)."))

    # lift queues
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    y = _mean_series(results, "queue_lift")
    if len(y):
        hours = _hours_axis(scenario, len(y))
        a1.plot(hours, y, marker=".")
        _clock_ticks(a1, hours)
    a1.set_title("Robots queueing for lifts (hourly mean)")
    a1.grid(alpha=0.3)
    waits = np.concatenate(
        [np.asarray(r.samples.get("lift_wait_s", []), dtype=float) for r in results] or [np.zeros(0)]
    )
    if len(waits):
        a2.hist(waits[waits > 0], bins=40)
        a2.set_title(f"Lift queue waits > 0 s ({(waits > 0).mean():.1%} of {len(waits):,} rides)")
        a2.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out / "lifts.png", dpi=110)
    plt.close(fig)
    made.append(("lifts.png", "Lift contention: robots waiting for a car, and the distribution of waits."))
    return made


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC',sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}.note{color:#555;font-size:13px}
.bad{background:#fde2e2}.good{background:#e4f6e4}
"""


def _kpi_table(summary: dict[str, Estimate], names: Sequence[tuple[str, str]] | None = None) -> str:
    rows = []
    seen = set()
    for key, label in names or []:
        if key in summary:
            e = summary[key]
            rows.append((label, key, e))
            seen.add(key)
    for key, e in summary.items():
        if key not in seen:
            rows.append((key, key, e))
    out = ["<table><tr><th>KPI</th><th>mean</th><th>95 % CI low</th><th>95 % CI high</th><th>n</th></tr>"]
    for label, key, e in rows:
        out.append(
            f"<tr><td title='{html.escape(key)}'>{html.escape(label)}</td><td>{_fmt(e.mean)}</td>"
            f"<td>{_fmt(e.ci95_low)}</td><td>{_fmt(e.ci95_high)}</td><td>{e.n}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _zones_table(summary: dict[str, Estimate], zones: dict[str, list[str]]) -> str:
    """One row per dispatch zone: where a tower group is short of robots shows here first."""

    def cell(key: str, digits: int = 1, interval: bool = True) -> str:
        e = summary.get(key)
        if e is None:
            return "<td>–</td>"
        ci = f" [{_fmt(e.ci95_low, digits)}, {_fmt(e.ci95_high, digits)}]" if interval and e.n >= 2 else ""
        if key.endswith("_stat") and e.mean < 95.0:  # marked in colour and in text (not by colour alone)
            return f"<td class='bad' title='below the 95 % target'>▼ {_fmt(e.mean, digits)}{ci}</td>"
        return f"<td>{_fmt(e.mean, digits)}{ci}</td>"

    out = [
        "<h2>Dispatch zones</h2><p class='note'>Each zone's robots serve the requests of its buildings; "
        "the central pharmacy and laboratory are shared. STAT on time below 95 % is marked ▼.</p>",
        "<table><tr><th>zone</th><th>buildings</th><th>robots</th><th>requests per day</th>"
        "<th>STAT on time (%)</th><th>urgent on time (%)</th></tr>",
    ]
    for z, buildings in zones.items():
        out.append(
            f"<tr><td>{html.escape(z)}</td><td>{html.escape(', '.join(buildings))}</td>"
            + cell(f"zone_{z}_robots", 0, interval=False)
            + cell(f"zone_{z}_requests_per_day", 0)
            + cell(f"zone_{z}_on_time_pct_stat")
            + cell(f"zone_{z}_on_time_pct_urgent")
            + "</tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _scenario_note(scenario: Scenario, n: int, policy: str) -> str:
    return (
        f"<p class='note'>Scenario <b>{html.escape(scenario.name)}</b> — {html.escape(scenario.description)}<br>"
        f"{n} replications, policy <b>{html.escape(policy)}</b>, seed {scenario.seed}; warm-up {scenario.warmup_h:g} h "
        f"from {scenario.start_weekday} {scenario.start_time}, then {scenario.horizon_h:g} h measured. "
        f"Fleet {scenario.fleet.robots} robots at {scenario.fleet.speed_mps:g} m/s; demand ×{scenario.demand.multiplier:g}. "
        f"Re-plans on events at most every {scenario.planner.min_replan_interval_s} s (full search at most every "
        f"{scenario.planner.full_replan_interval_s} s, fast insertion otherwise; STAT inserted at once: "
        f"{scenario.planner.insert_stat_at_once}). Intervals: mean ± t(0.975, n−1)·s/√n across replications.</p>"
    )


def write_run_report(out: Path, scenario: Scenario, results: Sequence[RunResult]) -> dict[str, Any]:
    """``out/report.html`` + PNGs + ``out/results.json``; returns the JSON data."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results)
    data = results_json(scenario, results, summary)
    (out / "results.json").write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")
    plots = write_plots(out, scenario, results)
    perf = summarise_perf(results)
    body = [_scenario_note(scenario, len(results), results[0].policy if results else "-")]
    overall = {k: e for k, e in summary.items() if not k.startswith("zone_")}
    body.append("<h2>Key figures</h2>" + _kpi_table(overall, HEADLINE))
    zones = results[0].zones if results else {}
    if zones:
        body.append(_zones_table(summary, zones))
    for name, caption in plots:
        body.append(
            f"<figure><img src='{name}' alt='{html.escape(caption)}'><figcaption class='note'>{html.escape(caption)}</figcaption></figure>"
        )
    body.append("<h2>Run cost</h2>" + _kpi_table(perf))
    (out / "report.html").write_text(_page(f"Digital twin — {scenario.name}", "\n".join(body)), encoding="utf-8")
    return data


def write_compare_report(
    out: Path,
    scenario: Scenario,
    policies: Sequence[str],
    summaries: dict[str, dict[str, Estimate]],
    diffs: dict[str, Estimate],
    n: int,
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    a, b = policies
    data = {
        "scenario": scenario.name,
        "replications": n,
        "policies": list(policies),
        "kpis": {p: {k: e.as_json() for k, e in s.items()} for p, s in summaries.items()},
        "paired_differences": {f"{a}-{b}": {k: e.as_json() for k, e in diffs.items()}},
    }
    (out / "compare.json").write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")
    rows = [
        "<table><tr><th>KPI</th>"
        + "".join(f"<th>{html.escape(p)}</th>" for p in policies)
        + f"<th>{a} − {b} (95 % CI)</th></tr>"
    ]
    for key, label in HEADLINE:
        if key not in diffs:
            continue
        d = diffs[key]
        sig = d.ci95_low is not None and d.ci95_high is not None and (d.ci95_low > 0 or d.ci95_high < 0)
        cells = "".join(f"<td>{_fmt(summaries[p][key].mean)}</td>" for p in policies)
        rows.append(
            f"<tr><td>{html.escape(label)}</td>{cells}<td class='{'good' if sig else ''}'>{_fmt(d.mean)} "
            f"[{_fmt(d.ci95_low)}, {_fmt(d.ci95_high)}]</td></tr>"
        )
    rows.append("</table>")
    body = _scenario_note(scenario, n, " vs ".join(policies)) + (
        "<p class='note'>Both policies ran on the same replication numbers, i.e. the same random streams "
        "(common random numbers); differences are paired per replication. Highlighted: the interval excludes 0.</p>"
    )
    (out / "compare.html").write_text(
        _page(f"Policy comparison — {scenario.name}", body + "\n".join(rows)), encoding="utf-8"
    )
    return data


def write_capacity_report(
    out: Path, scenario: Scenario, cells: Sequence[CapacityCell], replications: int, target: float
) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    demands = sorted({c.demand for c in cells})
    fleets = sorted({c.robots for c in cells})
    grid = np.full((len(fleets), len(demands)), np.nan)
    unstable = np.zeros_like(grid, dtype=bool)
    for c in cells:
        i, j = fleets.index(c.robots), demands.index(c.demand)
        grid[i, j] = c.stat_on_time.mean
        unstable[i, j] = not c.stable
    fig, ax = plt.subplots(figsize=(1.1 * len(demands) + 3, 0.6 * len(fleets) + 2.5))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="RdYlGn", vmin=0, vmax=100)
    ax.set_xticks(range(len(demands)), [f"×{d:.3g}" for d in demands])
    ax.set_yticks(range(len(fleets)), [str(n) for n in fleets])
    ax.set_xlabel("demand multiplier")
    ax.set_ylabel("robots")
    for i in range(len(fleets)):
        for j in range(len(demands)):
            v = grid[i, j]
            txt = "–" if not np.isfinite(v) else f"{v:.0f}"
            if unstable[i, j]:
                txt += "\nunstable"
            bold = np.isfinite(v) and v >= target
            ax.text(j, i, txt, ha="center", va="center", fontsize=8, fontweight="bold" if bold else "normal")
    if np.isfinite(grid).sum() >= 4 and np.nanmin(grid) < target < np.nanmax(grid):
        ax.contour(
            np.arange(len(demands)),
            np.arange(len(fleets)),
            np.nan_to_num(grid, nan=0.0),
            levels=[target],
            colors="black",
            linewidths=1.5,
        )
    fig.colorbar(im, ax=ax, label="STAT on time (%)")
    ax.set_title(f"STAT on time by demand and fleet ({replications} replications/cell); line = {target:g} %")
    fig.tight_layout()
    fig.savefig(out / "capacity.png", dpi=110)
    plt.close(fig)
    data = {
        "scenario": scenario.name,
        "replications": replications,
        "target_stat_on_time_pct": target,
        "cells": [
            {
                "demand": c.demand,
                "robots": c.robots,
                "stat_on_time_pct": c.stat_on_time.as_json(),
                "robot_utilisation": c.utilisation.as_json(),
                "backlog_tasks_end": c.backlog_end.as_json(),
                "deliveries_over_requests": c.throughput_ratio.as_json(),
                "turnaround_p90_min_stat": c.turnaround_p90_stat.as_json(),
                "meets_target": bool(np.isfinite(c.stat_on_time.mean) and c.stat_on_time.mean >= target),
                "stable": c.stable,
            }
            for c in cells
        ],
    }
    (out / "capacity.json").write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")
    rows = [
        "<table><tr><th>demand</th><th>robots</th><th>STAT on time % [95 % CI]</th><th>STAT P90 (min)</th>"
        "<th>utilisation</th><th>delivered / requested</th><th>open at end</th><th>stable</th></tr>"
    ]
    for c in cells:
        ok = np.isfinite(c.stat_on_time.mean) and c.stat_on_time.mean >= target
        rows.append(
            f"<tr class='{'good' if ok and c.stable else 'bad' if not c.stable else ''}'><td>×{c.demand:g}</td><td>{c.robots}</td>"
            f"<td>{_fmt(c.stat_on_time.mean, 1)} [{_fmt(c.stat_on_time.ci95_low, 1)}, {_fmt(c.stat_on_time.ci95_high, 1)}]</td>"
            f"<td>{_fmt(c.turnaround_p90_stat.mean, 1)}</td><td>{_fmt(c.utilisation.mean)}</td><td>{_fmt(c.throughput_ratio.mean, 3)}</td>"
            f"<td>{_fmt(c.backlog_end.mean, 0)}</td><td>{'yes' if c.stable else 'no'}</td></tr>"
        )
    rows.append("</table>")
    body = _scenario_note(scenario, replications, scenario.planner.policy) + (
        f"<p class='note'>Green: STAT on time ≥ {target:g} % and stable; red: unstable (the fleet ended the run with more than "
        "half an hour's requests still waiting for pickup, or was busy 95 % of the time or more).</p>"
        "<img src='capacity.png' alt='capacity heatmap'>"
    )
    (out / "capacity.html").write_text(_page(f"Capacity — {scenario.name}", body + "\n".join(rows)), encoding="utf-8")
    return data
