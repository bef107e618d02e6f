"""`when` conditions: which parameters exist for a given point, in which order to sample.

A condition `{optimizer.name: [sgd]}` means the parameter exists only when `optimizer.name`
was sampled *and* took one of those values; conditions chain (a condition may name a
parameter that is itself conditional), so a parameter is active only if everything it
depends on is active too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from raytrain.space.types import CategoricalParam, FloatParam, IntParam, Param


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps `True` apart from `1` (YAML users mean different things)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def holds(when: Mapping[str, Sequence[Any]], point: Mapping[str, Any]) -> bool:
    """True if every parameter named in `when` is in `point` with one of the listed values."""
    return all(
        dep in point and any(same_value(point[dep], v) for v in values)
        for dep, values in when.items()
    )


def sampling_order(params: Iterable[Param]) -> list[Param]:
    """Parameters sorted so that each comes after those its `when` names (stable).

    Assumes no cycles (the parser rejects them); unknown names are ignored here.
    """
    pending = list(params)
    by_path = {p.path: p for p in pending}
    done: set[str] = set()
    order: list[Param] = []
    while pending:
        ready = [p for p in pending if all(d in done or d not in by_path for d in p.when)]
        if not ready:  # a cycle: keep the file order for the rest
            ready = pending[:1]
        for p in ready:
            order.append(p)
            done.add(p.path)
        pending = [p for p in pending if p.path not in done]
    return order


def active(params: Iterable[Param], point: Mapping[str, Any]) -> list[Param]:
    """The parameters that exist for `point` (a point must hold exactly these keys)."""
    chosen: dict[str, Any] = {}
    out = []
    for p in sampling_order(params):
        if holds(p.when, chosen):
            out.append(p)
            if p.path in point:
                chosen[p.path] = point[p.path]
    return out


def find_cycle(params: Iterable[Param]) -> list[str] | None:
    """A dependency cycle among `when` conditions, as a list of paths, or None."""
    deps = {p.path: list(p.when) for p in params}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep] if dep in stack else [node, dep]
            if dep not in state:
                found = visit(dep, [*stack, dep])
                if found:
                    return found
        state[node] = 2
        return None

    for path in deps:
        if path not in state:
            found = visit(path, [path])
            if found:
                return found
    return None


def can_take(param: Param, value: Any) -> bool:
    """Whether `param` can ever be sampled as `value` (for checking `when` values)."""
    if isinstance(param, CategoricalParam):
        return any(same_value(value, v) for v in param.values)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(param, IntParam):
        return (
            float(value).is_integer()
            and param.low <= value <= param.high
            and (value - param.low) % param.step == 0
        )
    if isinstance(param, FloatParam) and param.step is not None:
        k = (value - param.low) / param.step
        return param.low <= value <= param.high and abs(k - round(k)) < 1e-9
    return False
