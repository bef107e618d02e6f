"""SLURM: one sbatch job = one Ray cluster (head + workers) running `raytrain tune`.

The job file comes from the template `templates/slurm.sbatch` (a copy of which users see
as `cluster/slurm/raytrain.sbatch`); this module only fills in the settings, quoted for
bash, so the logic of the job stays readable in one shell file.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Literal

from raytrain.errors import InputError, Problem, RunError
from raytrain.launch.base import Launcher
from raytrain.layout import SearchRunLayout, SlurmJobLayout
from raytrain.runtime_env import REPORT_POLL_S

TEMPLATE = "slurm.sbatch"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# SLURM's --time forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
_TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class RayPorts:
    """Ports of the job's Ray cluster; None lets Ray choose (a free or default one).

    On shared nodes two jobs must not use the same fixed ports: give each job its own
    `port`/`dashboard_port`/`client_server_port` and worker port range.
    """

    port: int = 6379  # GCS; workers and the tuner connect here
    dashboard_port: int | None = None
    client_server_port: int | None = None
    min_worker_port: int | None = None
    max_worker_port: int | None = None
    node_manager_port: int | None = None
    object_manager_port: int | None = None

    def head_args(self) -> list[str]:
        """Options `ray start` accepts on the head only."""
        return _flags(
            {
                "--dashboard-port": self.dashboard_port,
                "--ray-client-server-port": self.client_server_port,
            }
        )

    def node_args(self) -> list[str]:
        """Options for every node (head and workers)."""
        return _flags(
            {
                "--min-worker-port": self.min_worker_port,
                "--max-worker-port": self.max_worker_port,
                "--node-manager-port": self.node_manager_port,
                "--object-manager-port": self.object_manager_port,
            }
        )

    def problems(self) -> list[Problem]:
        found = [
            Problem(f"--{name.replace('_', '-')}", f"{value} is not a port (1-65535)")
            for name, value in vars(self).items()
            if value is not None and not 0 < value < 65536
        ]
        low, high = self.min_worker_port, self.max_worker_port
        if (low is None) != (high is None):
            found.append(Problem("--min-worker-port", "give both ends of the worker port range"))
        elif low is not None and high is not None and low > high:
            found.append(Problem("--min-worker-port", f"range {low}-{high} is empty"))
        return found


def _flags(options: dict[str, int | None]) -> list[str]:
    return [f"{flag}={value}" for flag, value in options.items() if value is not None]


@dataclass(frozen=True)
class SlurmJob:
    """Everything one `raytrain slurm` submission decides (paths should be absolute).

    `stage="search"` runs `raytrain tune`; `stage="train"` is the final run of
    `--then-train` (`raytrain train <run>/best.yaml`), made by `final_train()`.
    """

    space: Path
    name: str
    storage: Path
    python: str
    overrides: tuple[str, ...] = ()
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int | None = None  # None: SLURM's default; Ray uses what the node gives
    time: str = "01:00:00"
    partition: str | None = None
    account: str | None = None
    sbatch_extra: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    signal_seconds: int = 300  # warning before the time limit (0: no signal, no requeue)
    join_timeout: int = 300
    ports: RayPorts = field(default_factory=RayPorts)
    stage: Literal["search", "train"] = "search"
    warm_from: tuple[Path, ...] = ()  # `tune --warm-from` of a new run

    def final_train(self) -> SlurmJob:
        """The job that trains the search's best.yaml once the search job has succeeded:
        the same allocation and cluster, no warning signal and no requeue (`raytrain train`
        has no resume; a requeued run would find its run dir taken)."""
        return replace(self, stage="train", signal_seconds=0)

    @property
    def train_dir(self) -> Path:
        """The run dir of the final `raytrain train` (`<storage>/train/<name>`, beside the
        default `runs/train` of `raytrain train`)."""
        return self.storage / "train" / self.name

    @property
    def run_dir(self) -> Path:
        return self.storage / self.name

    @property
    def job_dir(self) -> Path:
        """Where the job file and SLURM's log go (outside the run dir, which the tuner
        must create itself)."""
        return SearchRunLayout(self.run_dir).slurm_job.root

    def problems(self) -> list[Problem]:
        found = self.ports.problems()
        if self.nodes < 1:
            found.append(Problem("--nodes", f"need at least 1 node, got {self.nodes}"))
        if self.gpus_per_node < 0:
            found.append(Problem("--gpus-per-node", f"must be >= 0, got {self.gpus_per_node}"))
        if self.cpus_per_task is not None and self.cpus_per_task < 1:
            found.append(Problem("--cpus-per-task", f"must be >= 1, got {self.cpus_per_task}"))
        if not _TIME.match(self.time):
            found.append(Problem("--time", f"{self.time!r} is not a SLURM time (e.g. 04:00:00)"))
        if not 0 <= self.signal_seconds <= 65535:
            found.append(Problem("--signal-seconds", "must be between 0 and 65535"))
        if self.join_timeout < 1:
            found.append(Problem("--join-timeout", "must be >= 1 second"))
        if not _NAME.match(self.name):
            found.append(Problem("--name", f"{self.name!r}: use letters, digits, . _ -"))
        for key, lines in (("--sbatch-extra", self.sbatch_extra), ("--setup", self.setup)):
            found += [Problem(key, f"{line!r} spans lines") for line in lines if "\n" in line]
        return found


def sbatch_directives(job: SlurmJob) -> list[str]:
    """The `#SBATCH` lines: the job's shape, then the user's extra lines verbatim."""
    options: dict[str, str | int | None] = {
        "--job-name": f"raytrain-{job.name}" + ("-train" if job.stage == "train" else ""),
        "--nodes": job.nodes,
        "--ntasks-per-node": 1,
        "--cpus-per-task": job.cpus_per_task,
        "--gpus-per-node": job.gpus_per_node or None,
        "--time": job.time,
        "--partition": job.partition,
        "--account": job.account,
        "--output": str(SlurmJobLayout(job.job_dir).log("%j")),
        "--open-mode": "append",  # a requeued run appends to the same log
        "--signal": f"B:USR1@{job.signal_seconds}" if job.signal_seconds else None,
        "--requeue": "" if job.signal_seconds else None,
        # the final train has no resume: a requeue (preemption, a site's JobRequeue=1)
        # would only fail on its existing run dir
        "--no-requeue": "" if job.stage == "train" else None,
    }
    lines = [
        f"#SBATCH {flag}={value}" if value != "" else f"#SBATCH {flag}"
        for flag, value in options.items()
        if value is not None
    ]
    for extra in job.sbatch_extra:
        extra = extra.strip()
        lines.append(extra if extra.startswith("#SBATCH") else f"#SBATCH {extra}")
    return lines


def _words(words: list[str] | tuple[str, ...]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def template_text() -> str:
    return resources.files("raytrain.launch").joinpath("templates", TEMPLATE).read_text()


def fill(template: str, values: dict[str, str]) -> str:
    """Replace every `{{key}}`; an unknown or unused key is a bug in the template."""
    used = set(_PLACEHOLDER.findall(template))
    if used != set(values):
        raise KeyError(f"template placeholders {sorted(used)} != values {sorted(values)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


class SlurmLauncher(Launcher[SlurmJob]):
    def __init__(self, template: str | None = None) -> None:
        self.template = template if template is not None else template_text()

    def render_script(self, job: SlurmJob) -> str:
        problems = job.problems()
        if problems:
            raise InputError(problems)
        values = {
            "sbatch_directives": "\n".join(sbatch_directives(job)),
            "stage": job.stage,
            "python": shlex.quote(job.python),
            "space": shlex.quote(str(job.space)),
            "overrides": _words(job.overrides),
            "tune_args": _words([w for run in job.warm_from for w in ("--warm-from", str(run))]),
            "storage": shlex.quote(str(job.storage)),
            "name": shlex.quote(job.name),
            "nodes": str(job.nodes),
            "gpus_per_node": str(job.gpus_per_node),
            "port": str(job.ports.port),
            "head_args": _words(job.ports.head_args()),
            "node_args": _words(job.ports.node_args()),
            "join_timeout": str(job.join_timeout),
            "requeue": "1" if job.signal_seconds else "0",
            "setup": "\n".join(job.setup),
            "report_poll_s": REPORT_POLL_S,
        }
        return fill(self.template, values)

    def submission_command(self, script: Path, after: str | None = None) -> list[str]:
        """`after`: a job id this job waits for; it starts only once that job has ended
        with exit code 0 (`afterok`), and SLURM cancels it if that job fails instead of
        leaving it pending forever (`--kill-on-invalid-dep=yes`)."""
        wait = [f"--dependency=afterok:{after}", "--kill-on-invalid-dep=yes"] if after else []
        return ["sbatch", "--parsable", *wait, str(script)]

    def parse_job_id(self, stdout: str) -> str:
        """`sbatch --parsable` prints `ID` or `ID;CLUSTER`; plain sbatch prints
        `Submitted batch job ID`. Accept both."""
        match = re.search(r"^(?:Submitted batch job )?(\d+)(?:;\S+)?\s*$", stdout.strip(), re.M)
        if match is None:
            raise RunError(f"no job id in sbatch's output: {stdout.strip()!r}")
        return match.group(1)
