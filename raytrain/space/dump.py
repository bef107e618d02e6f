"""`Space` -> the canonical space-file mapping (what a run stores as `space.yaml`).

`load_space` of the dumped YAML gives back an equal `Space` (tested, also with hypothesis):
the config is written complete, `base:` is already merged, defaults are written out.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from raytrain.redaction import redact
from raytrain.space.param_entry import Constant, dump_param
from raytrain.space.types import Space


def dump_space(space: Space) -> dict[str, Any]:
    parameters: dict[str, Any] = {p.path: dump_param(p) for p in space.parameters}
    parameters.update({k: dump_param(Constant(v)) for k, v in space.constants.items()})
    goal: dict[str, Any] = {"metric": space.metric, "mode": space.mode}
    if space.multi_objective:
        goal = {"objectives": {o.name: o.mode for o in space.objectives}}
        if space.constraints:
            goal["constraints"] = [
                {"metric": c.metric, c.op: c.threshold} for c in space.constraints
            ]
    return copy.deepcopy(
        {
            "name": space.name,
            **goal,
            "config": redact(space.config),  # secrets as written (raytrain.redaction)
            "parameters": parameters,
            "search": dataclasses.asdict(space.search),
            "scheduler": dataclasses.asdict(space.scheduler),
            "resources": dataclasses.asdict(space.resources),
            "failure": dataclasses.asdict(space.failure),
            # hours; only the limits set (a run stored before budgets existed has none)
            "budget": {k: v for k, v in dataclasses.asdict(space.budget).items() if v is not None},
            **({"confirm": dataclasses.asdict(space.confirm)} if space.confirm else {}),
        }
    )
