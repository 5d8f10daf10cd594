"""proto/ must not break wire/JSON/generated-code compatibility with its base revision.

The base is chosen so that the check means something both locally and in CI:

1. ``merge-base(HEAD, $MERIDIAN_PROTO_BASE)`` if that is set (any git rev; CI sets it: the
   PR's target branch, e.g. ``origin/main``, or for a push to main the pre-push sha,
   ``github.event.before``);
2. on a branch other than main: ``merge-base(HEAD, main)``, i.e. everything the branch changed;
3. otherwise (on main, or detached as in a fresh CI checkout of main): ``HEAD~1``, the previous
   main commit (the first parent of a merge commit), or ``HEAD`` when it is the only commit.

The working tree (including uncommitted edits) is compared against that base with
``buf breaking proto --against '.git#ref=<sha>,subdir=proto'`` using proto/buf.yaml's rules
(FILE category). Skips only when there is nothing to compare with: no commit yet, or the base
commit has no proto/ (the commit introducing the contracts). A shallow clone without the base is
an error under CI (``CI`` set; use fetch-depth: 0) and a skip locally; an explicit
``MERIDIAN_PROTO_BASE`` that cannot be resolved is always an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]


def buf_binary() -> str | None:
    """The buf CLI from the buf-bin package: next to this interpreter (venv), else on PATH."""
    candidate = Path(sys.executable).parent / "buf"
    return str(candidate) if candidate.exists() else shutil.which("buf")


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def rev(name: str) -> str | None:
    result = git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    return result.stdout.strip() if result.returncode == 0 else None


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") and "shallow" in reason:
        pytest.fail(reason)
    pytest.skip(reason)


def choose_base() -> tuple[str, str]:
    """(sha, description) of the revision proto/ is checked against."""
    if git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout: nothing to compare proto/ with")
    head = rev("HEAD")
    if head is None:
        pytest.skip("no commit yet (first commit): nothing to compare proto/ with")
    shallow = git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"

    explicit = os.environ.get("MERIDIAN_PROTO_BASE")
    if explicit:
        sha = rev(explicit)
        if sha is None:
            pytest.fail(f"MERIDIAN_PROTO_BASE={explicit} is not in this clone"
                        + (" (shallow clone: fetch it or use fetch-depth: 0)" if shallow else ""))
        # merge-base: a target branch that moved on since we branched must not count as our change.
        base = git("merge-base", "HEAD", sha)
        if base.returncode != 0:
            pytest.fail(f"no merge-base of HEAD and MERIDIAN_PROTO_BASE={explicit}"
                        + (" (shallow clone: use fetch-depth: 0)" if shallow else ""))
        return base.stdout.strip(), f"merge-base of HEAD and MERIDIAN_PROTO_BASE={explicit}"

    branch = git("symbolic-ref", "--quiet", "--short", "HEAD").stdout.strip()
    main = rev("main") or rev("origin/main")
    if branch and branch != "main" and main and main != head:
        base = git("merge-base", "HEAD", main)
        if base.returncode == 0:
            return base.stdout.strip(), f"merge-base of {branch} and main"

    parent = rev("HEAD~1")
    if parent:
        return parent, "HEAD~1"
    if shallow:
        unavailable("shallow clone: HEAD~1 is missing, so breaking changes cannot be detected "
                    "(check out with fetch-depth: 0, or set MERIDIAN_PROTO_BASE)")
    return head, "HEAD (only commit; checks uncommitted edits)"


def test_proto_has_no_breaking_change() -> None:
    sha, description = choose_base()
    if git("cat-file", "-e", f"{sha}:proto/buf.yaml").returncode != 0:
        pytest.skip(f"base {description} ({sha[:12]}) has no proto/buf.yaml: "
                    "first commit of the contracts, nothing to compare with")
    buf = buf_binary()
    if buf is None:
        pytest.fail("buf not found: install the buf-bin package (pip install buf-bin)")
    against = f".git#ref={sha},subdir=proto"
    result = subprocess.run([buf, "breaking", "proto", "--against", against],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"breaking change in proto/ against {description} ({sha[:12]}). Evolve additively "
        "(new field numbers, `reserved` for removed ones) or publish a v2 package and topic; "
        "see docs/events.md.\n" + result.stdout + result.stderr
    )
