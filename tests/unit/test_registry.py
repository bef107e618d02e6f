"""Every registry entry declares exactly the keyword arguments its implementation takes.

`raytrain validate` checks parameter paths against these torch-free declarations, so a
drift between them and the real classes would let a bad space through (or reject a good
one). Imports torch: still a fast unit test, no Ray.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from raytrain.config.loss_terms import MODEL_LOSS_TERMS
from raytrain.config.registry import DATA, LR_SCHEDULERS, MODELS, OPTIMIZERS, Entry, Registry

# torch.optim keywords that are implementation switches, not hyperparameters
OPTIMIZER_SWITCHES = {"params", "foreach", "maximize", "capturable", "differentiable", "fused"}
# arguments the trial runner supplies itself for lr schedulers
SCHEDULER_RUNTIME = {"optimizer", "ctx"}


MODELS_WITH_LOSS = [MODELS[n] for n in MODEL_LOSS_TERMS]


def entries(registry: Registry) -> list[Any]:
    return [pytest.param(registry[n], id=f"{registry.kind}-{n}") for n in registry.names()]


def keyword_defaults(entry: Entry) -> dict[str, Any]:
    module = entry.target.partition(":")[0]
    if module.startswith("raytrain.") and importlib.util.find_spec(module) is None:
        pytest.skip(f"{entry.target} is not written yet (another issue)")
    params = inspect.signature(entry.load()).parameters
    return {
        n: p.default
        for n, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }


def _same_default(declared: Any, real: Any) -> bool:
    if isinstance(real, tuple):
        return tuple(declared) == real
    return declared == real and type(declared) in (type(real), float, int)


@pytest.mark.parametrize("entry", entries(MODELS) + entries(DATA))
def test_models_and_data_match_their_constructor(entry: Entry) -> None:
    real = keyword_defaults(entry)
    runner_supplied = set(entry.data_injected)
    if entry in MODELS_WITH_LOSS:
        runner_supplied.add("loss")  # the config's `loss:` mapping, passed by the runner
        assert "loss" in real
    for name in runner_supplied & set(real):
        assert name not in entry.params
    user = {n: d for n, d in real.items() if n not in runner_supplied}
    assert set(user) == set(entry.params), f"{entry.target}: registry says {sorted(entry.params)}"
    for name, default in user.items():
        assert _same_default(entry.params[name], default), (name, entry.params[name], default)
    injected_missing = set(entry.data_injected) - set(real)
    assert not injected_missing, f"{entry.target} lacks data-injected {injected_missing}"


@pytest.mark.parametrize("entry", entries(OPTIMIZERS))
def test_optimizers_match_torch(entry: Entry) -> None:
    real = keyword_defaults(entry)
    hyper = {n: d for n, d in real.items() if n not in OPTIMIZER_SWITCHES}
    assert set(entry.params) == set(hyper), f"{entry.target} takes {sorted(hyper)}"
    for name, default in hyper.items():
        if name == "weight_decay" and entry.name == "adamw":
            continue  # torch's AdamW default, declared as such
        assert _same_default(entry.params[name], default), (name, entry.params[name], default)


@pytest.mark.parametrize("entry", entries(LR_SCHEDULERS))
def test_lr_schedulers_match_their_factory(entry: Entry) -> None:
    real = keyword_defaults(entry)
    user = {n: d for n, d in real.items() if n not in SCHEDULER_RUNTIME}
    assert set(user) == set(entry.params)
    for name, default in user.items():
        assert entry.params[name] == default


def test_suggest_names_the_closest_and_all_valid() -> None:
    text = OPTIMIZERS.suggest("adamm")
    assert text.startswith("did you mean 'adam")
    assert "sgd" in text


def test_registering_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        OPTIMIZERS.register(Entry("sgd", "torch.optim:SGD"))
