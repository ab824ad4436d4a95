"""Fault injection for the commit-point tests: run CLI commands that SIGKILL themselves.

A helper process imports censorlab once, then forks one child per job; the child counts every
call of the file-system steps a commit point rests on (``os.replace``, ``os.rename``,
``os.fsync``, ``os.link``, ``os.symlink``), logs each, and SIGKILLs itself just before the Nth
(N = 0: never, the run counts its calls). Forking from a process that has imported censorlab
but done no work makes a job cost a build, not an interpreter start, so a matrix over every
kill point of a small build stays within seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HOOKED_CALLS = ("replace", "rename", "fsync", "link", "symlink")
ROOT = Path(__file__).resolve().parents[1]

_SERVER = r"""
import json, os, signal, sys
import censorlab.run.outputs  # everything a run imports, once, before forking
from censorlab.cli import main
from censorlab.sources import SOURCES
for source in SOURCES:
    source.load()

def described(name, args):
    if name == "fsync":
        return f"fsync {os.readlink(f'/proc/self/fd/{args[0]}')}"
    return f"{name} {' '.join(map(str, args))}"

def arm(kill_at, log):
    count = [0]
    for name in HOOKED:
        real = getattr(os, name)
        def hooked(*args, _real=real, _name=name, **kwargs):
            count[0] += 1
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(described(_name, args) + "\n")
            if count[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return _real(*args, **kwargs)
        setattr(os, name, hooked)

statuses = []
for job in json.loads(sys.stdin.read()):
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            arm(job["kill_at"], job["log"])
            code = main(job["argv"])
        finally:
            os._exit(code)
    statuses.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(statuses))
"""


@dataclass(frozen=True)
class Job:
    """One CLI run: its arguments, the call to die at (0: none) and its call log."""

    argv: list[str]
    kill_at: int
    log: Path


def run_jobs(jobs: list[Job]) -> list[int]:
    """Run the jobs one after another; return each exit code (-9: killed as planned)."""
    payload = json.dumps([{"argv": j.argv, "kill_at": j.kill_at, "log": str(j.log)}
                          for j in jobs])
    server = f"HOOKED = {HOOKED_CALLS!r}\n{_SERVER}"
    done = subprocess.run([sys.executable, "-c", server], input=payload, cwd=ROOT, text=True,
                          capture_output=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def calls(log: Path) -> list[str]:
    """The hooked calls a job made, in order (the last is the one it died at)."""
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []
