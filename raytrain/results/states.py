"""The trial states: the values trials.csv keeps, and how every view names and colours them.

The live view of `raytrain tune`, `status`, `analyze` and the end-of-search summary all
label a state from this one table, so a trial is "stopped early" everywhere.
"""

from __future__ import annotations

# As written to trials.csv. FINISHED_STATES never change again.
PENDING, RUNNING, TERMINATED, STOPPED, ERROR = (
    "PENDING",
    "RUNNING",
    "TERMINATED",
    "STOPPED",
    "ERROR",
)
TRIAL_STATES = (PENDING, RUNNING, TERMINATED, STOPPED, ERROR)
FINISHED_STATES = frozenset({TERMINATED, STOPPED, ERROR})

# state -> (label, rich style); also the order of the summary lines.
STATE_LABELS: dict[str, tuple[str, str]] = {
    TERMINATED: ("done", "green"),
    RUNNING: ("running", "cyan"),
    PENDING: ("pending", "dim"),
    STOPPED: ("stopped early", "yellow"),
    ERROR: ("failed", "red"),
}


def state_label(state: str) -> str:
    """`stopped early`; an unknown state (Tune's PAUSED) in lower case."""
    return STATE_LABELS.get(state, (state.lower(), ""))[0]


def state_cell(state: str) -> tuple[str, str]:
    """(label, style) for a table cell: one word (`stopped`), so a state never wraps."""
    label, style = STATE_LABELS.get(state, (state.lower(), ""))
    return label.split()[0], style
