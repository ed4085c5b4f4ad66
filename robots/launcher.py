"""Launch description (launch/hospital.yaml) → supervised subprocesses, one log file per node.

ROS 2's own ``launch`` is not on the package registry (../shared/notes/ros.md), so the stack is
described declaratively (which nodes, their parameters, how many robots) and started here with
the same shape: :func:`load_launch` reads the YAML and :func:`expand` turns it into one
:class:`ProcessSpec` per OS process (the robot node once per robot), :class:`Supervisor` starts them.

Supervision. Nothing is restarted silently: a node that exits is reported on the console with its
status and log file; a ``required`` node (the default) that exits takes the whole stack down
(status 1), an optional one (``required: false``) is only reported. Ctrl-C / SIGTERM stops every
node cleanly: SIGINT (what rclpy turns into a clean shutdown), in reverse start order, then
SIGKILL after ``stop_timeout_s``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hospital_ops.clock import CampusClock

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LAUNCH = ROOT / "launch" / "hospital.yaml"
_NODE_KEYS = {"name", "kind", "module", "command", "args", "per_robot", "clock", "enabled", "required"}
_TOP_KEYS = {"clock", "fleet", "nodes"}


class LaunchError(ValueError):
    """A launch description that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    kind: str  # "ros" | "command"
    module: str = ""
    command: tuple[str, ...] = ()
    args: tuple[tuple[str, Any], ...] = ()
    per_robot: bool = False
    clock: bool = False
    enabled: bool = True
    required: bool = True


@dataclass(frozen=True, slots=True)
class LaunchDescription:
    time_scale: float
    robots: int
    id_format: str
    starts: tuple[str, ...]
    nodes: tuple[NodeSpec, ...]


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One OS process to start."""

    name: str
    argv: tuple[str, ...]
    required: bool = True
    env: Mapping[str, str] = field(default_factory=dict)


def _bool(node: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = node.get(key, default)
    if not isinstance(value, bool):
        raise LaunchError(f"{where}.{key}: must be true or false, got {value!r}")
    return value


def parse_launch(data: Any, source: str = "launch") -> LaunchDescription:
    """Check a loaded launch YAML; LaunchError naming the field for anything wrong or unknown."""
    if not isinstance(data, dict):
        raise LaunchError(f"{source}: must be a mapping with clock, fleet and nodes")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise LaunchError(f"{source}: unknown section(s) {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
    clock = data.get("clock") or {}
    fleet = data.get("fleet") or {}
    scale = clock.get("time_scale", 1.0)
    if not isinstance(scale, int | float) or isinstance(scale, bool) or scale <= 0:
        raise LaunchError(f"clock.time_scale: must be a positive number, got {scale!r}")
    robots = fleet.get("robots", 1)
    if not isinstance(robots, int) or isinstance(robots, bool) or robots < 0:
        raise LaunchError(f"fleet.robots: must be a whole number >= 0, got {robots!r}")
    id_format = fleet.get("id_format", "R{n:02d}")
    try:
        id_format.format(n=1)
    except (AttributeError, KeyError, IndexError, ValueError):
        raise LaunchError(f"fleet.id_format: must be a format string with {{n}}, got {id_format!r}") from None
    starts = fleet.get("starts") or []
    if not isinstance(starts, list) or not starts or not all(isinstance(s, str) and s for s in starts):
        raise LaunchError("fleet.starts: must be a non-empty list of campus location ids")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise LaunchError("nodes: must be a non-empty list")
    nodes = []
    seen = set()
    for i, n in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        if not isinstance(n, dict):
            raise LaunchError(f"{where}: must be a mapping")
        unknown = set(n) - _NODE_KEYS
        if unknown:
            raise LaunchError(f"{where}: unknown key(s) {sorted(unknown)}")
        name = n.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise LaunchError(f"{where}.name: must be an identifier, got {name!r}")
        if name in seen:
            raise LaunchError(f"{where}.name: duplicate node name {name!r}")
        seen.add(name)
        where = f"nodes[{name}]"
        kind = n.get("kind", "ros")
        if kind not in ("ros", "command"):
            raise LaunchError(f"{where}.kind: must be ros or command, got {kind!r}")
        module = n.get("module", "")
        command = n.get("command") or []
        if kind == "ros" and (not isinstance(module, str) or not module):
            raise LaunchError(f"{where}.module: a ros node needs its Python module")
        if kind == "command" and (not isinstance(command, list) or not command):
            raise LaunchError(f"{where}.command: a command node needs its argv list")
        args = n.get("args") or {}
        if not isinstance(args, dict):
            raise LaunchError(f"{where}.args: must be a mapping of option → value")
        nodes.append(
            NodeSpec(
                name=name,
                kind=kind,
                module=module,
                command=tuple(str(c) for c in command),
                args=tuple(args.items()),
                per_robot=_bool(n, "per_robot", False, where),
                clock=_bool(n, "clock", False, where),
                enabled=_bool(n, "enabled", True, where),
                required=_bool(n, "required", True, where),
            )
        )
    return LaunchDescription(float(scale), robots, id_format, tuple(starts), tuple(nodes))


def load_launch(path: str | Path = DEFAULT_LAUNCH) -> LaunchDescription:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LaunchError(f"launch file {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise LaunchError(f"launch file {p}: not valid YAML ({exc})") from None
    return parse_launch(data, str(p))


def _hospital_ops() -> list[str]:
    """How to run the `hospital-ops` CLI with this interpreter."""
    return [sys.executable, "-m", "hospital_ops.cli"]


def expand(
    desc: LaunchDescription,
    clock: CampusClock,
    *,
    robots: int | None = None,
    with_nodes: Iterable[str] = (),
    without_nodes: Iterable[str] = (),
    only_ros: bool = False,
    http_port: int = 8080,
    extra_args: Mapping[str, Sequence[str]] | None = None,
) -> list[ProcessSpec]:
    """One ProcessSpec per process, in start order (robots before the nodes listed after them)."""
    n_robots = desc.robots if robots is None else robots
    if n_robots < 0:
        raise LaunchError(f"robots: must be >= 0, got {n_robots}")
    names = {n.name for n in desc.nodes}
    for name in (*with_nodes, *without_nodes):
        if name not in names:
            raise LaunchError(f"--with/--without: unknown node {name!r}; the description has {sorted(names)}")
    wanted = set(with_nodes)
    dropped = set(without_nodes)
    values = {"time_scale": f"{clock.scale:g}", "clock_origin": repr(clock.origin_s), "http_port": str(http_port)}
    out: list[ProcessSpec] = []
    for node in desc.nodes:
        if (not node.enabled and node.name not in wanted) or node.name in dropped:
            continue
        if only_ros and node.kind != "ros":
            continue
        instances = (
            [{"robot_id": desc.id_format.format(n=i + 1), "start": desc.starts[i % len(desc.starts)]}
             for i in range(n_robots)]
            if node.per_robot
            else [{}]
        )  # fmt: skip
        for inst in instances:
            subst = {**values, **inst}
            try:
                if node.kind == "ros":
                    argv = [sys.executable, "-m", node.module]
                    for key, value in node.args:
                        if isinstance(value, bool):
                            if value:
                                argv.append(f"--{key}")
                            continue
                        argv += [f"--{key}", str(value).format(**subst)]
                    if node.clock:
                        argv += clock.args()
                else:
                    cmd = [c.format(**subst) for c in node.command]
                    argv = [*_hospital_ops(), *cmd[1:]] if cmd[0] == "hospital-ops" else cmd
            except KeyError as exc:
                raise LaunchError(f"nodes[{node.name}]: unknown placeholder {exc} in its arguments") from None
            name = f"{node.name}_{inst['robot_id']}" if node.per_robot else node.name
            argv += list((extra_args or {}).get(node.name, ()))
            out.append(ProcessSpec(name, tuple(argv), node.required))
    return out


def child_env(clock: CampusClock, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of every node: the shared clock, localhost discovery unless set, unbuffered."""
    env = dict(os.environ if base is None else base)
    env.update(clock.env())
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Running:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    log: Path
    reported: bool = False


class Supervisor:
    """Starts :class:`ProcessSpec` s, watches them, stops them all (see the module doc)."""

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        log_dir: Path,
        env: Mapping[str, str],
        *,
        stop_timeout_s: float = 10.0,
        say: Callable[[str], None] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.specs = list(specs)
        self.log_dir = Path(log_dir)
        self.env = dict(env)
        self.stop_timeout_s = stop_timeout_s
        self.say = say or (lambda m: print(m, file=sys.stderr, flush=True))
        self.cwd = cwd
        self.running: dict[str, Running] = {}
        self._stop = threading.Event()
        self.failed: list[str] = []

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs:
            self.start_one(spec)

    def start_one(self, spec: ProcessSpec) -> Running:
        log = self.log_dir / f"{spec.name}.log"
        with log.open("ab") as fh:
            fh.write(f"==== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} start: {' '.join(spec.argv)}\n".encode())
            fh.flush()
            proc = subprocess.Popen(
                list(spec.argv),
                cwd=self.cwd,
                env={**self.env, **spec.env},
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the nodes in order
            )
        run = Running(spec, proc, log)
        self.running[spec.name] = run
        return run

    def pids(self) -> dict[str, int]:
        return {name: r.proc.pid for name, r in self.running.items()}

    def alive(self) -> list[str]:
        return [name for name, r in self.running.items() if r.proc.poll() is None]

    def check(self) -> bool:
        """Report nodes that exited (once each); False once a required node is gone."""
        ok = True
        for name, r in self.running.items():
            code = r.proc.poll()
            if code is None or r.reported:
                continue
            r.reported = True
            what = "required node" if r.spec.required else "node"
            self.say(f"{what} {name} exited with status {code} (not restarted); log: {r.log}")
            if r.spec.required:
                self.failed.append(name)
                ok = False
        return ok

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def wait(self, poll_s: float = 0.5, until: Callable[[], bool] | None = None) -> int:
        """Watch until Ctrl-C/SIGTERM (:meth:`request_stop`), ``until()`` or a required node exits."""
        while not self._stop.is_set():
            if not self.check():
                return 1
            if until is not None and until():
                return 0
            self._stop.wait(poll_s)
        return 0

    def stop(self) -> dict[str, int | None]:
        """SIGINT to every node (reverse order), SIGKILL after the timeout; their exit statuses."""
        for r in reversed(list(self.running.values())):
            if r.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    r.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.stop_timeout_s
        for r in self.running.values():
            left = max(0.1, deadline - time.monotonic())
            try:
                r.proc.wait(timeout=left)
            except subprocess.TimeoutExpired:
                self.say(f"node {r.spec.name} did not stop in {self.stop_timeout_s:g} s: killed")
                r.proc.kill()
                r.proc.wait(timeout=5)
        return {name: r.proc.returncode for name, r in self.running.items()}

    def __enter__(self) -> Supervisor:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def install_signal_handlers(sup: Supervisor) -> Callable[[], None]:
    """SIGINT/SIGTERM → a clean stop; returns a function restoring the previous handlers."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, sup.request_stop)

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore
