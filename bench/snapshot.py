"""A frozen copy of the project's code to serve from, so every tier of a run measures the same code.

The working tree can change while a run is in progress (a run takes from minutes to about
an hour); the servers, migrations and query counts all run from this copy instead. It
holds the files git knows of or would add (tracked and untracked, not ignored), without
bench/, which is imported from its own place.
"""

import hashlib
import shutil
import subprocess
import time

from bench import config


def _git(*args):
    return subprocess.run(
        ["git", *args], cwd=config.PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout


def take():
    """Copy the project into bench/data/snapshot-<time>/; point config.CODE_DIR at it."""
    files = sorted(
        path
        for path in _git("ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
        if path and not path.startswith("bench/") and (config.PROJECT_DIR / path).is_file()
    )
    target = config.DATA_DIR / f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}"
    digest = hashlib.sha256()
    for path in files:
        source = config.PROJECT_DIR / path
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        digest.update(path.encode() + b"\0" + destination.read_bytes())
    config.CODE_DIR = target
    changed = [
        line[3:]
        for line in _git("status", "--porcelain").splitlines()
        if not line[3:].startswith(("bench/", "docs/benchmarks.md"))
    ]
    return {
        "commit": _git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted_changes": changed,
        "sha256": digest.hexdigest()[:16],
        "files": len(files),
        "path": str(target.relative_to(config.PROJECT_DIR)),
    }


def remove_old(keep=2):
    """Delete all but the newest `keep` snapshots."""
    snapshots = sorted(config.DATA_DIR.glob("snapshot-*"))
    for old in snapshots[:-keep] if keep else snapshots:
        shutil.rmtree(old, ignore_errors=True)


def reuse(path):
    """Serve an existing snapshot again (e.g. to re-run one tier on the code the others ran)."""
    target = (config.PROJECT_DIR / path).resolve()
    if not (target / "manage.py").exists():
        raise SystemExit(f"{path} is not a snapshot of the project")
    digest = hashlib.sha256()
    files = sorted(
        p.relative_to(target).as_posix()
        for p in target.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    for path in files:
        digest.update(path.encode() + b"\0" + (target / path).read_bytes())
    config.CODE_DIR = target
    return {
        "sha256": digest.hexdigest()[:16],
        "files": len(files),
        "path": str(target.relative_to(config.PROJECT_DIR)),
        "reused": True,
    }
