"""``identity`` sub-commands: calibrate the threshold, make a fake-camera clip, make a key.

Mounted by the room's CLI (``hospital-ops triage identity ...``); runnable on its own with
``python -m triage_kiosk.identity.cli``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .keys import new_key

app = typer.Typer(
    help="Face identity: threshold calibration, fake-camera clips, keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

#: Where the shared test photos live relative to the repository (../shared/data/faces).
DEFAULT_FACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"


@app.command("calibrate")
def calibrate_cmd(
    data: Annotated[Path, typer.Option(help="Folder with one sub-folder of photos per person.")] = DEFAULT_FACES,
    threshold: Annotated[float, typer.Option(help="The threshold the kiosk uses.")] = 0.5,
    augment: Annotated[bool, typer.Option(help="Add flipped/dark/JPEG/blurred/rotated probes (slower).")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
) -> None:
    """Report false accepts and false rejects at the threshold on labelled photos."""
    from .calibration import DEFAULT_THRESHOLDS, calibrate, format_report

    if not data.is_dir():
        typer.echo(f"data: {data} is not a directory", err=True)
        raise typer.Exit(2)
    if not 0 < threshold < 2:
        typer.echo(f"threshold: expected a distance in (0, 2), got {threshold}", err=True)
        raise typer.Exit(2)
    report = calibrate(data, chosen=threshold, thresholds=DEFAULT_THRESHOLDS, augment=augment)
    typer.echo(format_report(report))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        typer.echo(f"wrote {json_out}")


@app.command("make-y4m")
def make_y4m_cmd(
    photo: Annotated[Path, typer.Argument(help="A face photo (jpg/png).")],
    out: Annotated[Path, typer.Argument(help="Output .y4m (for --use-file-for-fake-video-capture).")],
    seconds: Annotated[float, typer.Option(help="Clip length; Chromium loops it.")] = 2.0,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 15,
) -> None:
    """Letterbox a face photo into a 640×480 4:2:0 y4m clip for Chromium's fake camera."""
    from .video import photo_to_y4m

    try:
        path = photo_to_y4m(photo, out, seconds=seconds, fps=fps)
    except (OSError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("delete")
def delete_cmd(
    patient_id: Annotated[str, typer.Argument(help="Patient whose face template is to be deleted.")],
    actor: Annotated[str, typer.Option(help="Who deletes (staff id); recorded in the audit log.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")] = "patient request",
    database_url: Annotated[str | None, typer.Option(help="Database URL (default: the configured one).")] = None,
) -> None:
    """Delete a patient's face template from the product store on request (audit-logged).

    Kiosk web processes stop accepting the template at once (they check the store on every
    match) and drop it from memory at their next start."""
    from datetime import UTC, datetime

    from hospital_ops.store import Store, StoreError

    from .audit import AuditAction, AuditEvent
    from .sqlstore import SqlTemplateStore, StoreAuditLog

    if not actor.strip():
        typer.echo("actor: who deletes must be recorded", err=True)
        raise typer.Exit(2)
    try:
        store = Store.open(database_url)
    except (StoreError, OSError) as exc:
        typer.echo(f"database: {exc}", err=True)
        raise typer.Exit(2) from None
    with store:
        gone = SqlTemplateStore(store, actor=actor).delete(patient_id)
        action = AuditAction.DELETED if gone else AuditAction.DELETE_NOTHING
        StoreAuditLog(store).append(
            AuditEvent(datetime.now(UTC), actor, action, f"patient:{patient_id}", {"reason": reason, "store": gone})
        )
    typer.echo(f"patient {patient_id}: face template {'deleted' if gone else 'not found (nothing stored)'}")


@app.command("new-key")
def new_key_cmd() -> None:
    """Print a fresh 32-byte key (base64) for HOSPITAL_OPS_BIOMETRIC_KEY."""
    typer.echo(new_key())


if __name__ == "__main__":
    app()
