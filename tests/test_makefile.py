"""The Makefile checks the Python version before it makes a venv: on a version TradeSim
does not run on, `make` stops at once with a message that says what to do."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(tmp_path, version: str, *targets: str) -> subprocess.CompletedProcess:
    """`make TARGETS` with a `python3` on PATH that reports `version`, and a venv folder
    under tmp_path."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "python3").write_text(f"#!/bin/sh\necho {version}\n")
    (fake / "python3").chmod(0o755)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON"}
    }
    env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["make", "--no-print-directory", "PYTHON=python3", f"VENV={tmp_path / 'venv'}", *targets],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("target", ["install", "install-test", "run", "serve", "test"])
def test_make_stops_on_python_3_9_before_making_the_venv(tmp_path, target):
    done = make(tmp_path, "3.9", target)

    assert done.returncode != 0
    assert "TradeSim needs Python 3.11, 3.12 or 3.13, and python3 is Python 3.9." in done.stderr
    assert "make PYTHON=python3.12 run" in done.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.parametrize("version", ["3.10", "3.14"])
def test_make_refuses_the_versions_next_to_the_range(tmp_path, version):
    done = make(tmp_path, version, "python-version")
    assert done.returncode != 0
    assert f"is Python {version}." in done.stderr


@pytest.mark.parametrize("version", ["3.11", "3.12", "3.13"])
def test_make_accepts_python_3_11_to_3_13(tmp_path, version):
    done = make(tmp_path, version, "python-version")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
