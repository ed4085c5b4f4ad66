"""Camera stand-ins: a face photo → 640×480 4:2:0 ``.y4m`` for Chromium's fake camera.

``chromium --use-fake-device-for-media-stream --use-file-for-fake-video-capture=/abs/face.y4m``
plays the file in a loop as the webcam. Chromium accepts only 4:2:0 (``C420``, ``C420jpeg``,
``C420mpeg2``, ``C420paldv``) with a header under 200 bytes and bare ``FRAME`` markers, and offers
only the file's resolution, so the photo is letterboxed (never cropped: a crop can cut the face
off). Written with numpy only (BT.601 limited range, like ffmpeg's ``-pix_fmt yuv420p``): no
ffmpeg needed. ~14 MB per second at 640×480 and 30 fps: generate in a fixture, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np

from .faces import as_frame

WIDTH: Final = 640
HEIGHT: Final = 480
_MAGIC: Final = b"YUV4MPEG2"


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (clear error if it is missing or not an image)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"photo: {p} does not exist")
    bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"photo: {p} is not an image OpenCV can read")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def letterbox(
    rgb: np.ndarray, width: int = WIDTH, height: int = HEIGHT, fill: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    """Scale ``rgb`` to fit ``width × height`` keeping its aspect ratio; pad with ``fill``."""
    img = as_frame(rgb, name="photo")
    h, w = img.shape[:2]
    s = min(width / w, height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(img, (nw, nh), interpolation=interp)
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = np.asarray(fill, dtype=np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = resized
    return out


def rgb_to_i420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB → (Y, U, V) planes, BT.601 limited range, chroma averaged over 2×2 blocks."""
    img = as_frame(rgb)
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"frame: 4:2:0 needs even width and height, got {w}×{h}")
    f = img.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    cb = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    cr = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    def u8(c: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(c), 0, 255).astype(np.uint8)

    return u8(y), u8(sub(cb)), u8(sub(cr))


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_i420` (chroma repeated 2×2)."""
    yf = (y.astype(np.float32) - 16.0) * (255.0 / 219.0)
    cb = np.repeat(np.repeat(u.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1) * (255.0 / 224.0)
    cr = np.repeat(np.repeat(v.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1) * (255.0 / 224.0)
    r = yf + 1.402 * cr
    g = yf - 0.344136 * cb - 0.714136 * cr
    b = yf + 1.772 * cb
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def write_y4m(path: str | Path, frames: Iterable[np.ndarray], fps: int = 15) -> Path:
    """Write RGB frames (all the same even size) as a 4:2:0 YUV4MPEG2 file Chromium can play."""
    if not isinstance(fps, int) or not 1 <= fps <= 120:
        raise ValueError(f"fps: expected an integer in 1..120, got {fps!r}")
    out = Path(path)
    if out.suffix.lower() != ".y4m":
        raise ValueError(f"path: Chromium only recognises the .y4m extension, got {out.name!r}")
    size: tuple[int, int] | None = None
    count = 0
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("wb") as fh:
            for i, frame in enumerate(frames):
                img = as_frame(frame, name=f"frames[{i}]")
                h, w = img.shape[:2]
                if size is None:
                    size = (w, h)
                    fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
                elif size != (w, h):
                    raise ValueError(f"frames[{i}]: size {w}×{h} differs from the first frame's {size[0]}×{size[1]}")
                fh.write(b"FRAME\n")
                for plane in rgb_to_i420(img):
                    fh.write(plane.tobytes())
                count += 1
        if count == 0:
            raise ValueError("frames: need at least one frame")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    return out


@dataclass(frozen=True, slots=True)
class Y4mInfo:
    width: int
    height: int
    fps: float
    colourspace: str
    frames: int


def read_y4m(path: str | Path) -> tuple[Y4mInfo, list[np.ndarray]]:
    """Read a 4:2:0 YUV4MPEG2 file back as RGB frames (what Chromium would show)."""
    data = Path(path).read_bytes()
    end = data.find(b"\n")
    if not data.startswith(_MAGIC) or end < 0:
        raise ValueError(f"{path}: not a YUV4MPEG2 file")
    tags = data[:end].decode("ascii").split()[1:]
    width = height = 0
    fps = 0.0
    colour = "420jpeg"
    for t in tags:
        key, val = t[0], t[1:]
        if key == "W":
            width = int(val)
        elif key == "H":
            height = int(val)
        elif key == "F":
            num, den = val.split(":")
            fps = int(num) / int(den)
        elif key == "C":
            colour = val
    if not colour.startswith("420"):
        raise ValueError(f"{path}: colour space C{colour} is not 4:2:0")
    ysize, csize = width * height, (width // 2) * (height // 2)
    frames: list[np.ndarray] = []
    pos = end + 1
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0 or not data[pos:nl].startswith(b"FRAME"):
            raise ValueError(f"{path}: expected FRAME at byte {pos}")
        pos = nl + 1
        if pos + ysize + 2 * csize > len(data):
            raise ValueError(f"{path}: truncated frame {len(frames)}")
        y = np.frombuffer(data, np.uint8, ysize, pos).reshape(height, width)
        u = np.frombuffer(data, np.uint8, csize, pos + ysize).reshape(height // 2, width // 2)
        v = np.frombuffer(data, np.uint8, csize, pos + ysize + csize).reshape(height // 2, width // 2)
        frames.append(i420_to_rgb(y, u, v))
        pos += ysize + 2 * csize
    return Y4mInfo(width, height, fps, colour, len(frames)), frames


def photo_to_y4m(
    photo: str | Path | np.ndarray,
    out: str | Path,
    *,
    seconds: float = 2.0,
    fps: int = 15,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Path:
    """A still face photo (path or RGB array), letterboxed, as a ``seconds``-long y4m clip."""
    if seconds <= 0:
        raise ValueError(f"seconds: must be positive, got {seconds}")
    rgb = load_rgb(photo) if isinstance(photo, str | Path) else photo
    frame = letterbox(rgb, width, height)
    n = max(1, round(seconds * fps))
    return write_y4m(out, (frame for _ in range(n)), fps=fps)
