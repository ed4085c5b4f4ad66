from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from triage_kiosk.identity import FaceBox, FaceEngine
from triage_kiosk.identity.calibration import (
    LabelledFace,
    calibrate_faces,
    format_report,
    load_labelled_faces,
    pair_rates,
    recommend_threshold,
)
from triage_kiosk.identity.cli import app
from triage_kiosk.identity.faces import best_matching
from triage_kiosk.identity.keys import decode_aes_key


def test_threshold_half_has_no_errors_on_the_shared_photos(labelled: list[LabelledFace]) -> None:
    """On the 15 single-person photos, 0.5 separates every same-person pair from every
    different-person pair: no false accept or reject, pairwise or 1:N, strangers included."""
    rep = calibrate_faces(labelled, chosen=0.5)
    assert rep.people == 5 and rep.photos == 15
    pairs, open_set = rep.at(0.5)
    assert (pairs.genuine_pairs, pairs.impostor_pairs) == (21, 84)
    assert pairs.false_accepts == 0 and pairs.false_rejects == 0
    assert open_set.stranger_accepts == 0 and open_set.false_rejects == 0 and open_set.misidentified == 0
    assert open_set.galleries == 2 * 2 * 3 * 6 * 2 and open_set.stranger_probes > 1000
    assert rep.genuine_range[1] < 0.5 < rep.impostor_range[0]
    assert 0.5 < rep.recommended < 0.65
    text = format_report(rep)
    assert "0.50 *" in text and "strangers accepted" in text


def test_lower_threshold_starts_rejecting(labelled: list[LabelledFace]) -> None:
    """At 0.40 some same-person pairs fall outside (the report shows the trade-off)."""
    rep = calibrate_faces(labelled, chosen=0.4)
    pairs, open_set = rep.at(0.4)
    assert pairs.false_rejects > 0 and open_set.false_rejects > 0 and pairs.false_accepts == 0


def test_rates_and_recommendation_on_overlapping_scores() -> None:
    """FAR/FRR are counted at the threshold (≤ accepts); overlapping scores give the min-error cut."""
    gen, imp = np.array([0.2, 0.3, 0.55]), np.array([0.5, 0.7, 0.9])
    r = pair_rates(gen, imp, 0.5)
    assert (r.false_rejects, r.false_accepts, r.frr, r.far) == (1, 1, pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert recommend_threshold(np.array([0.2, 0.4]), np.array([0.6, 0.8])) == pytest.approx(0.5)
    assert recommend_threshold(gen, imp) in (0.3, 0.55)


def test_best_matching_face_is_not_the_largest_box() -> None:
    """With several detections in a labelled photo, the one that looks like the person wins."""
    ref = np.zeros(128, np.float32)
    big = (FaceBox(0, 300, 300, 0), np.full(128, 0.2, np.float32))
    small = (FaceBox(0, 50, 50, 0), np.full(128, 0.01, np.float32))
    pick = best_matching([big, small], [ref])
    assert pick is not None and pick[0] is small[0]
    assert best_matching([], [ref]) is None


def test_cli_calibrate_reports_and_writes_json(tmp_path: Path, faces_dir: Path) -> None:
    """`identity calibrate` prints the table and writes the JSON report (two people, four photos)."""
    data = tmp_path / "faces"
    for person, names in {"kit": ["kit1.jpg", "kit3.jpg"], "rose": ["rose1.jpg", "rose2.jpg"]}.items():
        (data / person).mkdir(parents=True)
        src = "kit_harington" if person == "kit" else "rose_leslie"
        for n in names:
            shutil.copy(faces_dir / src / n, data / person / n)
    out = tmp_path / "calib.json"
    result = CliRunner().invoke(app, ["calibrate", "--data", str(data), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "0.50 *" in result.output
    report = json.loads(out.read_text())
    at = next(p for p in report["pairs"] if p["threshold"] == 0.5)
    assert at["false_accepts"] == 0 and at["false_rejects"] == 0 and at["genuine"] == 2


def test_cli_new_key_and_bad_input(tmp_path: Path) -> None:
    """`new-key` prints a usable 32-byte key; bad arguments exit 2 with a message, no traceback."""
    runner = CliRunner()
    res = runner.invoke(app, ["new-key"])
    assert res.exit_code == 0 and len(decode_aes_key(res.output.strip())) == 32
    res = runner.invoke(app, ["calibrate", "--data", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "is not a directory" in res.output
    res = runner.invoke(app, ["make-y4m", str(tmp_path / "missing.jpg"), str(tmp_path / "x.y4m")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_labelled_photo_with_two_faces_uses_the_one_that_looks_like_the_person(
    tmp_path: Path, photo: Callable[[str], np.ndarray], kiosk: Callable[[str], np.ndarray], engine: FaceEngine
) -> None:
    """A photo filed under Obama that also shows a larger stranger: calibration keeps Obama's face
    (best match to his other photo), not the largest box."""
    composite = np.zeros((480, 1280, 3), np.uint8)
    composite[:, :640] = kiosk("kit_harington/kit1.jpg")
    small = cv2.resize(kiosk("obama/obama2.jpg"), (480, 360), interpolation=cv2.INTER_AREA)
    composite[60:420, 720:1200] = small
    faces_found = engine.detect(composite)
    assert len(faces_found) == 2 and faces_found[0].left < 640  # the largest box is Kit's
    (tmp_path / "obama").mkdir()
    cv2.imwrite(str(tmp_path / "obama" / "a_portrait.jpg"), cv2.cvtColor(photo("obama/obama1.jpg"), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "obama" / "b_with_kit.png"), cv2.cvtColor(composite, cv2.COLOR_RGB2BGR))
    faces, notes = load_labelled_faces(tmp_path, engine)
    picked = next(f for f in faces if f.name.endswith("b_with_kit.png"))
    portrait = next(f for f in faces if f.name.endswith("a_portrait.jpg"))
    assert picked.faces_in_photo == 2
    assert float(np.linalg.norm(picked.encoding - portrait.encoding)) < 0.5
    assert any("best matches" in n for n in notes)
