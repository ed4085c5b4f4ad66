"""Build the robots' own ROS 2 interface package (hospital_ops_interfaces) into a venv.

Called by the Makefile (``make interfaces``) as::

    .venv/bin/python robots/interfaces/build.py --venv .venv

Steps (see ../shared/notes/ros.md):

1. Rewrite the build-machine paths the ROS wheels hard-code in ``<venv>/share/**/*.cmake``
   (``/opt/python/cp311-cp311/...``) to this venv's Python include dir and numpy include dir.
   Idempotent: files already rewritten are left alone.
2. Configure with cmake using the venv itself as the ROS prefix, build in ``build/interfaces``
   and install into the venv, so ``from hospital_ops_interfaces.msg import RobotState`` works
   with no extra environment.
3. Check that import in a fresh interpreter of the venv.

Exit status 0 on success; 1 with a one-paragraph explanation on any failure (missing cmake or
compiler, missing toolchain packages, configure/build errors with the tail of the log).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "hospital_ops_interfaces"
HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent
MIN_CMAKE = (3, 8)

#: Build-machine paths baked into the wheels' exported CMake files.
_PY_INCLUDE_RE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
_NUMPY_INCLUDE_RE = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/_core/include")

#: The child processes must run the target venv's own bootstrap (LD_LIBRARY_PATH re-exec).
_BOOTSTRAP_VAR = "_ROS_WHEELS_BOOTSTRAP_COMPLETE"

_VERIFY_CODE = (
    "from hospital_ops_interfaces.msg import RobotState, CustodyEvent, DrawerState\n"
    "from hospital_ops_interfaces.srv import OpenDrawer, RequestLift\n"
    "from hospital_ops_interfaces.action import ExecuteLeg\n"
    "m = RobotState(robot_id='R1'); m.drawers = [DrawerState(index=0)]\n"
    "assert ExecuteLeg.Goal(leg_id='x').leg_id == 'x'\n"
    "print('ok')\n"
)


class BuildError(RuntimeError):
    """A failure with an explanation meant for the person running ``make``."""


@dataclass(frozen=True)
class PythonPaths:
    include: Path
    numpy_include: Path


def _child_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != _BOOTSTRAP_VAR}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["AMENT_PREFIX_PATH"] = str(venv)
    env["CMAKE_PREFIX_PATH"] = str(venv)
    # a sourced ROS installation elsewhere must not leak into this build
    for key in ("COLCON_PREFIX_PATH", "ROS_DISTRO", "PYTHONPATH"):
        env.pop(key, None)
    return env


def check_tools() -> tuple[str, str]:
    """cmake (>= 3.8) and a C/C++ compiler, or a BuildError saying what to install."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise BuildError(
            "cmake: not found on PATH. The ROS 2 interface generator needs cmake 3.8 or newer: "
            "install the Debian package (`sudo apt-get install cmake`, or `make system`)."
        )
    out = subprocess.run([cmake, "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"version (\d+)\.(\d+)", out)
    if m is None or (int(m.group(1)), int(m.group(2))) < MIN_CMAKE:
        raise BuildError(f"cmake: {cmake} reports {out.strip()!r}; version 3.8 or newer is needed.")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if not cc or not cxx:
        missing = " and ".join(n for n, v in (("a C compiler", cc), ("a C++ compiler", cxx)) if not v)
        raise BuildError(
            f"compiler: {missing} not found. The generated type support is C/C++: install gcc and g++ "
            "(`sudo apt-get install build-essential`)."
        )
    return cmake, cxx


def check_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        raise BuildError(f"--venv: {venv} has no bin/python; create the venv first (`make venv`).")
    share = venv / "share"
    needed = ("rosidl_default_generators", "ament_cmake", "builtin_interfaces", "geometry_msgs")
    missing = [p for p in needed if not (share / p).is_dir()]
    if missing:
        raise BuildError(
            f"--venv: {venv} lacks the ROS interface toolchain ({', '.join(missing)} not in {share}). "
            "Install the project's 'rosidl' extra: `.venv/bin/pip install -e '.[rosidl]'`."
        )
    return python


def python_paths(python: Path, venv: Path) -> PythonPaths:
    """The venv's Python include dir and numpy include dir, asked of the venv's interpreter."""
    code = "import sysconfig, numpy; print(sysconfig.get_paths()['include']); print(numpy.get_include())"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=_child_env(venv), check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or len(lines) < 2:
        raise BuildError(f"--venv: cannot ask {python} for its include dirs (is numpy installed?): {proc.stderr}")
    paths = PythonPaths(Path(lines[-2]), Path(lines[-1]))
    if not (paths.include / "Python.h").exists():
        raise BuildError(
            f"python headers: {paths.include}/Python.h is missing; install the Python development "
            "headers for this interpreter (e.g. `sudo apt-get install python3.11-dev`)."
        )
    return paths


def rewrite_cmake_paths(venv: Path, paths: PythonPaths) -> int:
    """Rewrite the wheels' hard-coded build-machine paths; returns how many files changed.

    Idempotent: a second run finds nothing to rewrite and changes no file.
    """
    changed = 0
    for path in sorted((venv / "share").rglob("*.cmake")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "/opt/python/" not in text:
            continue
        new = _NUMPY_INCLUDE_RE.sub(str(paths.numpy_include), text)
        new = _PY_INCLUDE_RE.sub(str(paths.include), new)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def _run(cmd: Sequence[str], log: Path, env: dict[str, str], what: str, verbose: bool) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        proc = subprocess.run(list(cmd), stdout=None if verbose else fh, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        raise BuildError(f"{what} failed (exit {proc.returncode}); full log: {log}\n--- last lines ---\n{tail}")


def _cached(build_dir: Path, key: str) -> str | None:
    """A value from an existing CMakeCache.txt (None if there is none)."""
    cache = build_dir / "CMakeCache.txt"
    if not cache.exists():
        return None
    m = re.search(rf"^{re.escape(key)}:[A-Z]+=(.*)$", cache.read_text(errors="replace"), re.M)
    return m.group(1) if m else None


def build(venv: Path, source: Path, build_dir: Path, jobs: int, clean: bool, verbose: bool) -> float:
    """Configure, build and install; returns the seconds it took."""
    t0 = time.monotonic()
    check_tools()
    python = check_venv(venv)
    paths = python_paths(python, venv)
    n = rewrite_cmake_paths(venv, paths)
    if n:
        print(f"rewrote build-machine paths in {n} CMake files under {venv / 'share'}")
    # a build dir made for another venv or another source tree cannot be reused
    prefix, home = _cached(build_dir, "CMAKE_INSTALL_PREFIX"), _cached(build_dir, "CMAKE_HOME_DIRECTORY")
    if clean or (prefix is not None and Path(prefix) != venv) or (home is not None and Path(home) != source):
        shutil.rmtree(build_dir, ignore_errors=True)
    env = _child_env(venv)
    configure = [
        "cmake",
        "-S",
        str(source),
        "-B",
        str(build_dir),
        f"-DCMAKE_INSTALL_PREFIX={venv}",
        f"-DPython3_EXECUTABLE={python}",
        f"-DCMAKE_PREFIX_PATH={venv}",
        "-DBUILD_TESTING=OFF",
        "-DCMAKE_BUILD_TYPE=Release",
    ]
    print(f"configuring {PACKAGE} ({source} -> {build_dir})")
    _run(configure, build_dir / "configure.log", env, "cmake configure", verbose)
    print(f"building with {jobs} job(s)")
    _run(["cmake", "--build", str(build_dir), "-j", str(jobs)], build_dir / "build.log", env, "cmake build", verbose)
    _run(["cmake", "--install", str(build_dir)], build_dir / "install.log", env, "cmake install", verbose)
    verify(python, venv)
    return time.monotonic() - t0


def verify(python: Path, venv: Path) -> None:
    """Import the generated messages in a fresh interpreter of the venv (not from the source tree)."""
    proc = subprocess.run(
        [str(python), "-c", _VERIFY_CODE],
        capture_output=True,
        text=True,
        env=_child_env(venv),
        cwd="/",
        check=False,
    )
    if proc.returncode != 0 or "ok" not in proc.stdout:
        raise BuildError(
            f"verify: `from {PACKAGE}.msg import RobotState` fails in {python} after install:\n{proc.stderr.strip()}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=PROJECT_ROOT / ".venv", help="venv to install into")
    parser.add_argument("--source", type=Path, default=HERE, help="the interface package (default: here)")
    parser.add_argument(
        "--build-dir", type=Path, default=PROJECT_ROOT / "build" / "interfaces", help="cmake build directory"
    )
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2, help="parallel build jobs")
    parser.add_argument("--clean", action="store_true", help="wipe the build directory first")
    parser.add_argument("--verbose", "-v", action="store_true", help="show cmake output instead of logging it")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs: must be at least 1")
    # absolute paths, but not resolved: a venv's bin/python is a symlink to the base interpreter
    venv = Path(os.path.abspath(args.venv))
    try:
        seconds = build(
            venv,
            Path(os.path.abspath(args.source)),
            Path(os.path.abspath(args.build_dir)),
            args.jobs,
            args.clean,
            args.verbose,
        )
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{PACKAGE} built and installed into {venv} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
