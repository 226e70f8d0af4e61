"""A frozen copy of the project's code to serve from, so every tier of a run measures the same code.

The working tree can change while a run is in progress (a run takes from minutes to about
an hour); the servers, migrations and query counts all run from this copy instead. It
holds the files git knows of or would add (tracked and untracked, not ignored), without
bench/, which is imported from its own place.

baseline(REV) does the same for the code of an earlier revision (`--baseline`): the committed
tree of REV, without bench/, in bench/data/baseline-<short hash>/, served beside the current code.
"""

import hashlib
import json
import shutil
import subprocess
import tarfile
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


# -- The baseline: the project's code as of an earlier revision (--baseline REV) ---------------------


BASELINE_MARK = ".bench-baseline.json"  # written last: an extraction that has it is complete


def _digest(target):
    """(files, sha256 prefix) of a code tree, hashed as take() hashes a snapshot."""
    digest = hashlib.sha256()
    files = sorted(
        p.relative_to(target).as_posix()
        for p in target.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.name != BASELINE_MARK
    )
    for path in files:
        digest.update(path.encode() + b"\0" + (target / path).read_bytes())
    return len(files), digest.hexdigest()[:16]


def baseline(rev):
    """Extract the committed tree of `rev` (without bench/) into bench/data/baseline-<short hash>/.

    An extraction already there is reused (a commit's tree does not change); returns what is
    served, like take(). Exits naming REV when git does not know it.
    """
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except subprocess.CalledProcessError:
        raise SystemExit(f"--baseline {rev}: not a revision of this repository") from None
    short = commit[:12]
    subject = _git("log", "-1", "--format=%s", commit).strip()
    target = config.DATA_DIR / f"baseline-{short}"
    reused = (target / BASELINE_MARK).exists()
    if not reused:
        shutil.rmtree(target, ignore_errors=True)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        # git archive writes the commit's tree; bench/ is left out, as take() leaves it out.
        archive = subprocess.Popen(
            ["git", "archive", "--format=tar", commit],
            cwd=config.PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            for member in tar:
                if member.name != "bench" and not member.name.startswith("bench/"):
                    tar.extract(member, partial, filter="data")
        error = archive.stderr.read().decode(errors="replace").strip()
        if archive.wait() != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise SystemExit(f"--baseline {rev}: git archive of {short} failed: {error}")
        (partial / BASELINE_MARK).write_text(json.dumps({"rev": rev, "commit": commit}) + "\n")
        partial.rename(target)
    if not (target / "manage.py").exists():
        raise SystemExit(f"--baseline {rev}: commit {short} has no manage.py; it is not the project")
    files, sha = _digest(target)
    return {
        "rev": rev,
        "commit": short,
        "commit_full": commit,
        "subject": subject,
        "sha256": sha,
        "files": files,
        "path": str(target.relative_to(config.PROJECT_DIR)),
        "reused": reused,
    }


def remove_old_baselines(keep_path, keep=2):
    """Delete the baseline extractions but the one in use and the newest others, `keep` in all."""
    keep_dir = (config.PROJECT_DIR / keep_path).resolve()
    others = sorted(
        (p for p in config.DATA_DIR.glob("baseline-*") if p.resolve() != keep_dir),
        key=lambda p: p.stat().st_mtime,
    )
    for old in others[: max(0, len(others) - (keep - 1))]:
        shutil.rmtree(old, ignore_errors=True)
