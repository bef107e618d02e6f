"""The shape of a cluster launcher (template method, after submitit's `Executor`).

A backend says how to render its job file, which command submits it and how to read the
job id from that command's output; all three are pure and tested without a cluster.
`submit` is the only step with side effects and is shared by every backend.
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Generic, TypeVar

from raytrain.errors import RunError

JobT = TypeVar("JobT")

SUBMIT_TIMEOUT_S = 60  # a scheduler that does not answer in a minute is not going to


class Launcher(ABC, Generic[JobT]):
    @abstractmethod
    def render_script(self, job: JobT) -> str:
        """The complete job file for `job` (pure)."""

    @abstractmethod
    def submission_command(self, script: Path, after: str | None = None) -> list[str]:
        """The argv that submits the job file at `script` (pure); with `after`, the job
        starts only once job `after` has succeeded."""

    @abstractmethod
    def parse_job_id(self, stdout: str) -> str:
        """The job id in the submission command's output (pure)."""

    def submit(self, job: JobT, script: Path, after: str | None = None) -> str:
        """Write the job file to `script`, submit it (to start after job `after` has
        succeeded, if given), return the job id."""
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(self.render_script(job))
        argv = self.submission_command(script, after)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=SUBMIT_TIMEOUT_S, check=False
            )
        except FileNotFoundError as exc:
            raise RunError(f"{argv[0]} not found: is this a machine of the cluster?") from exc
        except subprocess.TimeoutExpired as exc:
            raise RunError(f"{argv[0]} did not answer within {SUBMIT_TIMEOUT_S} s") from exc
        if done.returncode != 0:
            raise RunError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
        return self.parse_job_id(done.stdout)
