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
    return copy.deepcopy(
        {
            "name": space.name,
            "metric": space.metric,
            "mode": space.mode,
            "config": redact(space.config),  # secrets as written (raytrain.redaction)
            "parameters": parameters,
            "search": dataclasses.asdict(space.search),
            "scheduler": dataclasses.asdict(space.scheduler),
            "resources": dataclasses.asdict(space.resources),
            "failure": dataclasses.asdict(space.failure),
        }
    )
