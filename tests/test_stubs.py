"""The committed _core.pyi matches the compiled extension (mypy's stubtest)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_core_stub_in_step_with_bindings() -> None:
    pytest.importorskip("mypy", reason="mypy (in the test extra) checks the stub")
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "medanon._core"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
