"""libs/meridian/contracts/ must match proto/, and proto/ must pass `buf lint`."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def buf_binary() -> str | None:
    """The buf CLI from the buf-bin package: next to this interpreter (venv), else on PATH."""
    candidate = Path(sys.executable).parent / "buf"
    if candidate.exists():
        return str(candidate)
    return shutil.which("buf")


def test_generated_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, (
        "generated contracts are stale; run `make proto` and commit the result\n"
        + result.stdout + result.stderr
    )


def test_buf_lint() -> None:
    buf = buf_binary()
    if buf is None:
        pytest.fail("buf not found: install the buf-bin package (pip install buf-bin)")
    result = subprocess.run([buf, "lint", "proto"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "buf lint proto failed:\n" + result.stdout + result.stderr


def test_every_proto_is_exported_in_all_modules() -> None:
    sys.path.insert(0, str(ROOT / "libs"))
    try:
        contracts = importlib.import_module("meridian.contracts")
    finally:
        sys.path.remove(str(ROOT / "libs"))
    exported = sorted(m.DESCRIPTOR.name for m in contracts.ALL_MODULES)
    on_disk = sorted(p.relative_to(ROOT / "proto").as_posix() for p in (ROOT / "proto").rglob("*.proto"))
    assert exported == on_disk
    # No proto imports another Meridian proto: only google/protobuf well-known types.
    for module in contracts.ALL_MODULES:
        for dep in module.DESCRIPTOR.dependencies:
            assert dep.name.startswith("google/protobuf/"), f"{module.DESCRIPTOR.name} imports {dep.name}"
