"""Commands run against a real, full file system: a small tmpfs mounted in a private mount
namespace (``unshare -m``, or ``unshare -rm`` for a user without root), filled up to a few bytes,
so that writes fail with ENOSPC exactly as on a full disk.

The test side calls :func:`run_steps`; this module's ``__main__`` runs inside the namespace:
it mounts the tmpfs, runs each step and copies what the tmpfs holds out before the namespace
(and the tmpfs with it) goes away.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _unshare() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]


@cache
def unavailable() -> str | None:
    """Why a private tmpfs cannot be mounted here, or None when it can."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "unshare or mount is not installed"
    probe = subprocess.run(
        [*_unshare(), "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a private namespace: {probe.stderr.strip()}"
    return None


def run_steps(
    mount: Path, steps: list[dict[str, Any]], *, size: str = "4m", copy_to: Path
) -> list[dict[str, Any]]:
    """Mount a tmpfs of ``size`` at ``mount`` and run ``steps`` there, each one of:

    ``{"run": [argv...], "env": {...}}``   a command; its status, stdout and stderr come back
    ``{"fill": bytes_left}``              fill the tmpfs until at most ``bytes_left`` are free
    ``{"copy": name}``                    copy what the tmpfs holds to ``copy_to / name``
    """
    mount.mkdir(parents=True, exist_ok=True)
    spec = {"mount": str(mount), "size": size, "steps": steps, "copy_to": str(copy_to)}
    result = subprocess.run(
        [*_unshare(), sys.executable, "-m", "tests.robust.small_disk", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


def _fill(mount: Path, left: int) -> dict[str, Any]:
    """Fill the file system at ``mount`` until it refuses a write, then free ``left`` bytes."""
    filler = mount / ".filler"
    with open(filler, "ab", buffering=0) as stream:
        try:
            while True:
                stream.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                stream.write(b"\0" * 512)
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - left))
    return {"free": shutil.disk_usage(mount).free}


def _main(spec: dict[str, Any]) -> None:
    mount, copy_to = Path(spec["mount"]), Path(spec["copy_to"])
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={spec['size']}", "tmpfs", str(mount)], check=True
    )
    answers: list[dict[str, Any]] = []
    for step in spec["steps"]:
        if "run" in step:
            done = subprocess.run(
                step["run"],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "PYTHONWARNINGS": "ignore", **step.get("env", {})},
                timeout=300,
            )
            answers.append(
                {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
            )
        elif "fill" in step:
            answers.append(_fill(mount, int(step["fill"])))
        elif "copy" in step:
            shutil.copytree(mount, copy_to / step["copy"], ignore=shutil.ignore_patterns(".filler"))
            answers.append({})
    print(json.dumps(answers))


if __name__ == "__main__":
    _main(json.loads(sys.argv[1]))
