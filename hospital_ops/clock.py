"""The campus clock shared by every process of a stack, with a time scale.

Campus seconds are Unix epoch seconds. At scale 1 the campus clock is the wall clock. With a time
scale K the campus runs K times faster than the wall clock from an *origin*: a wall-clock instant
(epoch seconds) at which campus time and wall time agree::

    campus_now = origin + (wall_now - origin) * K

Every process of a stack is given the same ``(scale, origin)`` (the launcher passes
``--time-scale`` and ``--clock-origin``, or the environment variables ``HOSPITAL_OPS_TIME_SCALE``
and ``HOSPITAL_OPS_CLOCK_ORIGIN``), so their campus clocks agree to within the wall clocks'
agreement, with no messages exchanged. The wall clock is injectable for tests.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: Environment variables read by :meth:`CampusClock.from_env`.
SCALE_ENV = "HOSPITAL_OPS_TIME_SCALE"
ORIGIN_ENV = "HOSPITAL_OPS_CLOCK_ORIGIN"


@dataclass(frozen=True)
class CampusClock:
    """Campus time = ``origin_s + (wall - origin_s) * scale``; see the module doc."""

    scale: float = 1.0
    #: Wall-clock epoch seconds where campus and wall time agree (irrelevant at scale 1).
    origin_s: float = 0.0
    wall: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.scale, int | float) or not math.isfinite(self.scale) or self.scale <= 0:
            raise ValueError(f"time_scale: must be a positive number, got {self.scale!r}")
        if not isinstance(self.origin_s, int | float) or not math.isfinite(self.origin_s) or self.origin_s < 0:
            raise ValueError(f"clock_origin: must be epoch seconds >= 0, got {self.origin_s!r}")

    @classmethod
    def starting_now(cls, scale: float = 1.0, wall: Callable[[], float] = time.time) -> CampusClock:
        """A clock whose campus time equals the wall clock now and then runs ``scale`` times faster."""
        return cls(scale, float(wall()), wall)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, wall: Callable[[], float] = time.time) -> CampusClock:
        """From ``HOSPITAL_OPS_TIME_SCALE`` (default 1) and ``HOSPITAL_OPS_CLOCK_ORIGIN`` (default:
        now). A bad value raises ValueError naming the variable."""
        env = os.environ if env is None else env
        try:
            scale = float(env.get(SCALE_ENV, "1") or "1")
        except ValueError:
            raise ValueError(f"{SCALE_ENV}: must be a positive number, got {env.get(SCALE_ENV)!r}") from None
        raw = env.get(ORIGIN_ENV, "")
        try:
            origin = float(raw) if raw else float(wall())
        except ValueError:
            raise ValueError(f"{ORIGIN_ENV}: must be epoch seconds, got {raw!r}") from None
        try:
            return cls(scale, origin, wall)
        except ValueError as exc:
            name = SCALE_ENV if "time_scale" in str(exc) else ORIGIN_ENV
            raise ValueError(f"{name}: {str(exc).split(': ', 1)[1]}") from None

    def env(self) -> dict[str, str]:
        """The environment variables that give a child process this clock."""
        return {SCALE_ENV: repr(float(self.scale)), ORIGIN_ENV: repr(float(self.origin_s))}

    def args(self) -> list[str]:
        """The command-line options (``--time-scale``, ``--clock-origin``) that give a node this clock."""
        return ["--time-scale", f"{self.scale:g}", "--clock-origin", repr(float(self.origin_s))]

    def now(self) -> float:
        """Campus seconds since the Unix epoch."""
        return self.campus_at(self.wall())

    def now_s(self) -> int:
        """Campus seconds, whole."""
        return int(self.now())

    def campus_at(self, wall_s: float) -> float:
        """The campus time at wall-clock instant ``wall_s``."""
        return self.origin_s + (wall_s - self.origin_s) * self.scale

    def wall_at(self, campus_s: float) -> float:
        """The wall-clock instant at which the campus clock shows ``campus_s``."""
        return self.origin_s + (campus_s - self.origin_s) / self.scale

    def campus_duration(self, wall_seconds: float) -> float:
        """Campus seconds that pass in ``wall_seconds`` of wall-clock time."""
        return wall_seconds * self.scale

    def wall_duration(self, campus_seconds: float) -> float:
        """Wall-clock seconds for ``campus_seconds`` of campus time to pass."""
        return campus_seconds / self.scale
