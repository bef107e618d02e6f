"""PNG plots of a run (matplotlib, Agg backend), written to RUN_DIR/plots/.

One function per figure, each taking the `Run` (plus what it needs) and a path. The
plots answer the questions a sweep raises: is the search still finding better configs
(best-so-far), where did ASHA cut trials (learning curves), which combinations win
(parallel coordinates), what matters (importance), where in each range the good
values lie (one slice plot per parameter), and, with several objectives, the Pareto front.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from raytrain.results._records import Run, is_finite
from raytrain.results.importance import Importance
from raytrain.results.plots._params import importance_bars, parallel_coordinates, slice_plot
from raytrain.results.plots._pareto import pareto_front
from raytrain.results.plots._progress import best_so_far, learning_curves
from raytrain.space.types import Param

__all__ = [
    "FIXED_FILES",
    "best_so_far",
    "importance_bars",
    "learning_curves",
    "parallel_coordinates",
    "pareto_front",
    "slice_filename",
    "slice_plot",
    "write_all",
]


def slice_filename(name: str) -> str:
    return "slice_" + "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".png"


FIXED_FILES = (
    "best_so_far.png",
    "learning_curves.png",
    "parallel_coordinates.png",
    "importance.png",
    "pareto_front.png",
)


def write_all(
    run: Run, params: Mapping[str, Param], importance: Importance, out_dir: Path
) -> list[Path]:
    """Every plot the data allows, into out_dir; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("slice_*.png"), *(out_dir / f for f in FIXED_FILES)]:
        old.unlink(missing_ok=True)  # no stale plot of a parameter or state that is gone
    written = [
        best_so_far(run, out_dir / "best_so_far.png"),
        learning_curves(run, out_dir / "learning_curves.png"),
    ]
    if run.multi_objective:
        written.append(pareto_front(run, out_dir / "pareto_front.png"))
    if not any(is_finite(t.best_value) for t in run.trials):
        return written  # nothing to place against the parameters yet
    if params:
        written.append(parallel_coordinates(run, params, out_dir / "parallel_coordinates.png"))
    if importance.values:
        written.append(importance_bars(run, importance, out_dir / "importance.png"))
    for name, p in params.items():
        written.append(slice_plot(run, name, p, out_dir / slice_filename(name)))
    return written
