"""robots/interfaces/build.py: the path rewrite and the tool checks (the real build runs in `make`)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

BUILD_PY = Path(__file__).resolve().parents[2] / "robots" / "interfaces" / "build.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hospital_ops_interfaces_build", BUILD_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


EXPORT = (
    "set_target_properties(x PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "
    '"/opt/python/cp311-cp311/include/python3.11;'
    '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include")\n'
)


def test_rewrite_is_idempotent_and_touches_only_cmake_files(build: ModuleType, tmp_path: Path) -> None:
    """Build-machine paths become the venv's; a second run changes nothing; other files are left alone."""
    share = tmp_path / "share" / "pkg" / "cmake"
    share.mkdir(parents=True)
    (share / "export.cmake").write_text(EXPORT)
    (share / "clean.cmake").write_text("# nothing to do\n")
    index = tmp_path / "share" / "ament_index" / "parent_prefix_path"
    index.mkdir(parents=True)
    (index / "pkg").write_text("/opt/python/cp311-cp311")
    paths = build.PythonPaths(Path("/py/include/python3.11"), Path("/venv/numpy/_core/include"))

    assert build.rewrite_cmake_paths(tmp_path, paths) == 1
    text = (share / "export.cmake").read_text()
    assert '"/py/include/python3.11;/venv/numpy/_core/include"' in text and "/opt/python" not in text
    assert build.rewrite_cmake_paths(tmp_path, paths) == 0
    assert (index / "pkg").read_text() == "/opt/python/cp311-cp311"


def test_missing_cmake_is_explained(build: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without cmake the build stops with what to install, not a traceback from subprocess."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(build.BuildError, match=r"cmake: not found on PATH.*apt-get install cmake"):
        build.check_tools()


def test_missing_compiler_is_explained(build: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """With cmake but no C++ compiler the message says which compiler and which package."""
    real = shutil.which
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: real(name) if name == "cmake" else None)
    if real("cmake") is None:
        pytest.skip("cmake is not installed here")
    with pytest.raises(build.BuildError, match="compiler: a C compiler and a C\\+\\+ compiler not found"):
        build.check_tools()


def test_venv_without_toolchain_is_explained(build: ModuleType, tmp_path: Path) -> None:
    """A venv lacking the rosidl packages is named with the pip command that fixes it."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    with pytest.raises(build.BuildError, match=r"lacks the ROS interface toolchain.*\[rosidl\]"):
        build.check_venv(tmp_path)
    with pytest.raises(build.BuildError, match="has no bin/python"):
        build.check_venv(tmp_path / "nope")


def test_generated_messages_import_in_this_venv() -> None:
    """After `make interfaces`, the venv imports the package's messages, services and action."""
    pytest.importorskip("hospital_ops_interfaces", reason="ROS interfaces not built (make interfaces)")
    from hospital_ops_interfaces.action import ExecuteLeg
    from hospital_ops_interfaces.msg import RobotState
    from hospital_ops_interfaces.srv import OpenDrawer, RequestLift, SetLiftInService

    assert RobotState.PHASE_AWAITING_HANDOVER == "awaiting_handover"
    assert ExecuteLeg.Result.OUTCOME_CANCELLED == 2
    assert OpenDrawer.Response.RESULT_LOCKED_OUT == 2
    assert RequestLift.Request.OP_CANCEL == 3 and SetLiftInService.Request().in_service is False
