"""Triage kiosk commands (mounted by the lead as ``hospital-ops triage``).

``eval`` runs the triage engine over a KTAS CSV (format of ``../shared/data/ktas/dev.csv``) and
compares it, and the triage nurses' ``KTAS_RN`` as the human baseline, with the expert level
``KTAS_expert``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from triage_kiosk.triage.engine import TriageEngine
from triage_kiosk.triage.errors import RulesError
from triage_kiosk.triage.ktas import DataError, KtasData, read_ktas_csv
from triage_kiosk.triage.metrics import Agreement, agreement
from triage_kiosk.triage.ruleset import load_ruleset

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data" / "ktas" / "dev.csv"

app = typer.Typer(help="Triage engine: evaluation against expert triage data.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Triage engine tools."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def _as_json(a: Agreement) -> dict[str, Any]:
    d = a.to_dict()
    for key in ("exact", "kappa_quadratic", "under_triage", "over_triage"):
        d[key] = _finite(d[key])
    return d


def _pct(x: float) -> str:
    return "—" if math.isnan(x) else f"{100 * x:.1f} %"


def _confusion_table(title: str, a: Agreement) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("expert ↓ / predicted →", justify="right")
    for j in range(1, 6):
        t.add_column(str(j), justify="right")
    for i, row in enumerate(a.confusion, start=1):
        t.add_row(str(i), *(f"[bold]{v}[/]" if i == j else str(v) for j, v in enumerate(row, start=1)))
    return t


def evaluate(data: KtasData, engine: TriageEngine) -> tuple[Agreement, Agreement]:
    """Engine and nurse agreement with the expert level over the parsed rows."""
    expert = [c.expert for c in data.cases]
    engine_levels = [int(engine.assess(c.input).level) for c in data.cases]
    nurse = [c.nurse for c in data.cases]
    return agreement(expert, engine_levels), agreement(expert, nurse)


@app.command("eval")
def eval_command(
    data: Annotated[
        Path, typer.Option("--data", help="KTAS CSV in the format of ../shared/data/ktas/dev.csv.")
    ] = DEFAULT_DATA,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures to this JSON file.")] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Rules file to evaluate (default: the shipped rules.yaml).")
    ] = None,
) -> None:
    """Agreement of the engine, and of the nurses (KTAS_RN), with the expert level (KTAS_expert)."""
    try:
        engine = TriageEngine(load_ruleset(rules))
    except RulesError as exc:
        raise _fail(f"rules: {exc}") from None
    try:
        parsed = read_ktas_csv(data)
    except DataError as exc:
        raise _fail(f"--data: {exc}") from None
    if not parsed.cases:
        raise _fail(f"--data: {data}: no row could be parsed ({len(parsed.skipped)} unparseable)", 1)
    try:
        ours, nurse = evaluate(parsed, engine)
    except ValueError as exc:  # a row the engine refused (should not happen after parsing)
        raise _fail(f"--data: {exc}", 1) from None

    console = Console(soft_wrap=True)
    console.print(f"[bold]Triage evaluation[/] — {data}", highlight=False)
    console.print(f"ruleset {engine.ruleset.label}; reference: KTAS_expert", highlight=False)
    console.print(f"rows evaluated: {ours.n}   unparseable rows: {len(parsed.skipped)}", highlight=False)
    for s in parsed.skipped[:10]:
        console.print(f"  [yellow]skipped[/] {s.row}: {s.reason}", highlight=False)
    if len(parsed.skipped) > 10:
        console.print(f"  … and {len(parsed.skipped) - 10} more", highlight=False)

    summary = Table(title="Agreement with the expert level", title_justify="left")
    summary.add_column("metric")
    summary.add_column("engine", justify="right")
    summary.add_column("nurse (KTAS_RN)", justify="right")
    summary.add_row("n", str(ours.n), str(nurse.n))
    summary.add_row("exact agreement", _pct(ours.exact), _pct(nurse.exact))
    summary.add_row(
        "kappa (quadratic)",
        "—" if math.isnan(ours.kappa_quadratic) else f"{ours.kappa_quadratic:.3f}",
        "—" if math.isnan(nurse.kappa_quadratic) else f"{nurse.kappa_quadratic:.3f}",
    )
    summary.add_row("under-triage (less urgent than expert)", _pct(ours.under_triage), _pct(nurse.under_triage))
    summary.add_row("over-triage (more urgent than expert)", _pct(ours.over_triage), _pct(nurse.over_triage))
    console.print(summary)
    console.print(_confusion_table("Engine: rows = expert level, columns = engine level", ours))
    console.print(_confusion_table("Nurse: rows = expert level, columns = KTAS_RN", nurse))

    if json_out is not None:
        payload = _as_json(ours)
        payload["nurse"] = _as_json(nurse)
        payload["unparseable"] = len(parsed.skipped)
        payload["ruleset"] = engine.ruleset.label
        try:
            json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"--json: {json_out}: cannot write ({exc.strerror})", 1) from None
        console.print(f"written {json_out}", highlight=False)


from triage_kiosk.identity.cli import app as identity_app  # noqa: E402  (light: heavy imports are per command)

app.add_typer(identity_app, name="identity", help="Face identity: calibration, keys, fake-camera clips, deletion.")


if __name__ == "__main__":  # pragma: no cover
    app()
