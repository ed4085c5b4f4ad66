from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from triage_kiosk.identity import (
    Challenge,
    FaceEngine,
    IdentityService,
    check_liveness,
    from_bgr,
    letterbox,
    photo_to_y4m,
    read_y4m,
    write_y4m,
)
from triage_kiosk.identity.synthetic import live_sequence

FRAME_BYTES = 640 * 480 * 3 // 2


@pytest.fixture(scope="module")
def obama_y4m(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Path:
    return photo_to_y4m(faces_dir / "obama/obama2.jpg", tmp_path_factory.mktemp("y4m") / "obama.y4m", seconds=1, fps=10)


def test_y4m_is_what_chromium_accepts(obama_y4m: Path) -> None:
    """640×480, 4:2:0 (C420jpeg), a short header and bare FRAME markers: the layout Chromium's
    fake camera parses (header < 200 bytes, fixed-size frames)."""
    data = obama_y4m.read_bytes()
    header = data[: data.index(b"\n") + 1]
    assert header == b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n" and len(header) < 200
    assert len(data) == len(header) + 10 * (len(b"FRAME\n") + FRAME_BYTES)
    info, _ = read_y4m(obama_y4m)
    assert (info.width, info.height, info.frames, info.colourspace) == (640, 480, 10, "420jpeg")


def test_opencv_reads_the_clip_and_finds_the_face(
    obama_y4m: Path, engine: FaceEngine, gallery_service: IdentityService
) -> None:
    """cv2.VideoCapture reads every frame back; the face in a frame is found and is Obama's."""
    cap = cv2.VideoCapture(str(obama_y4m))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(from_bgr(bgr))
    cap.release()
    assert len(frames) == 10 and frames[0].shape == (480, 640, 3)
    found = engine.find(frames[5])
    assert len(found.subjects) == 1
    assert gallery_service.identify(frames[5]).patient_id == "P-OBAMA"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed (apt package)")
def test_ffmpeg_decodes_the_clip(obama_y4m: Path, engine: FaceEngine) -> None:
    """ffmpeg reads it as yuv420p 640×480 and the decoded picture still shows a face."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height,pix_fmt", "-of", "csv=p=0", str(obama_y4m)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert probe.stdout.strip() == "640,480,yuv420p"
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(obama_y4m), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    frame = np.frombuffer(raw, np.uint8).reshape(480, 640, 3).copy()
    assert len(engine.find(frame).subjects) == 1


def test_letterbox_keeps_the_whole_photo(photo: Callable[[str], np.ndarray]) -> None:
    """A portrait photo is scaled to fit with black bars left and right, never cropped."""
    img = photo("obama/obama1.jpg")  # 910×1137
    out = letterbox(img)
    assert out.shape == (480, 640, 3)
    nw = round(910 * 480 / 1137)
    x0 = (640 - nw) // 2
    assert not out[:, : x0 - 1].any() and not out[:, x0 + nw + 1 :].any()
    assert out[:, x0 + 5 : x0 + nw - 5].mean() > 20


def test_round_trip_through_yuv_is_faithful(tmp_path: Path, kiosk: Callable[[str], np.ndarray]) -> None:
    """RGB → 4:2:0 → RGB loses only chroma detail: mean error of a few grey levels."""
    frame = kiosk("rose_leslie/rose2.jpg")
    path = write_y4m(tmp_path / "rose.y4m", [frame, frame], fps=5)
    _, back = read_y4m(path)
    assert len(back) == 2
    assert np.abs(back[0].astype(int) - frame.astype(int)).mean() < 4.0


def test_a_liveness_clip_survives_the_y4m_trip(
    tmp_path: Path, engine: FaceEngine, kiosk: Callable[[str], np.ndarray]
) -> None:
    """A synthetic head turn written as y4m (what a browser test would feed Chromium) still passes
    the liveness check when read back."""
    frames = live_sequence(kiosk("obama/obama1.jpg"), Challenge.TURN_LEFT, engine)
    _, back = read_y4m(write_y4m(tmp_path / "turn.y4m", frames, fps=10))
    assert check_liveness(back, Challenge.TURN_LEFT, engine=engine).passed


def test_bad_y4m_requests_are_refused(tmp_path: Path, kiosk: Callable[[str], np.ndarray]) -> None:
    """Wrong extension, odd size, mixed sizes, no frames, missing photo: clear errors."""
    frame = kiosk("obama/obama1.jpg")
    with pytest.raises(ValueError, match=r"only recognises the \.y4m extension"):
        write_y4m(tmp_path / "x.yuv", [frame])
    with pytest.raises(ValueError, match="even width and height"):
        write_y4m(tmp_path / "x.y4m", [np.zeros((481, 640, 3), np.uint8)])
    with pytest.raises(ValueError, match=r"frames\[1\]: size"):
        write_y4m(tmp_path / "x.y4m", [frame, np.zeros((240, 320, 3), np.uint8)])
    with pytest.raises(ValueError, match="at least one frame"):
        write_y4m(tmp_path / "x.y4m", [])
    with pytest.raises(FileNotFoundError, match=r"photo: .* does not exist"):
        photo_to_y4m(tmp_path / "missing.jpg", tmp_path / "x.y4m")
    assert not list(tmp_path.glob("*.y4m*"))
