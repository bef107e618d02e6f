"""Named, weighted loss terms of the built-in models (torch-free declarations + checks).

A train config may weight or configure each term of a built-in model's loss::

    loss:
      recon: {type: mse, weight: 1.0}   # mse | bce | l1
      kl:    {weight: 0.5}              # a weight of 0 disables the term

Which terms exist depends on the model, so the declarations live in one registry dict,
`MODEL_LOSS_TERMS` (model name -> term name -> `TermSpec`). `loss_problems` is what the
train-config check (`raytrain.config.parse`, so `raytrain validate` too) calls, each problem
with its key path; `resolve_loss_terms` is what the models call on construction. All are
pure and import no torch, so validating a file stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raytrain.config.tree import suggest
from raytrain.config.types_check import is_number

# Reconstruction error types; raytrain.models.losses implements exactly these (tested).
RECON_TYPES: tuple[str, ...] = ("mse", "bce", "l1")


@dataclass(frozen=True)
class TermSpec:
    """One loss term: its default `weight`, and any string options with their valid values."""

    description: str
    weight: float = 1.0
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)


RECON = TermSpec(
    "reconstruction error, summed over features and averaged over the batch",
    choices={"type": RECON_TYPES},
    defaults={"type": "mse"},
)
KL = TermSpec(
    "KL(q(z|x) || N(0, I)) summed over latent dimensions; scaled during training by the "
    "annealed `beta` and clamped from below by `free_bits`"
)
VQ = TermSpec(
    "vector-quantisation loss: codebook + commitment_weight * commitment (latent: vq only)"
)

# model name -> its loss terms. Models not listed take no `loss` mapping.
MODEL_LOSS_TERMS: dict[str, dict[str, TermSpec]] = {
    "autoencoder": {"recon": RECON, "vq": VQ},
    "vae": {"recon": RECON, "kl": KL},
}

KeyPath = tuple[str, ...]


def loss_problems(model_name: str | None, loss: Any) -> list[tuple[KeyPath, str]]:
    """Every problem with a `loss:` mapping, as (key path under `loss`, message) pairs.

    `model_name` None means a user `_target_` model: its terms are its own business, so only
    the shape (term -> mapping with a non-negative `weight`) is checked.
    """
    if loss is None:
        return []
    if not isinstance(loss, Mapping):
        return [((), f"expected a mapping of loss terms, got {loss!r}")]
    if not loss:
        return []
    terms = MODEL_LOSS_TERMS.get(model_name) if model_name is not None else None
    if model_name is not None and terms is None:
        known = ", ".join(sorted(MODEL_LOSS_TERMS))
        return [
            (
                (),
                f"model {model_name!r} has no configurable loss terms (models with "
                f"loss terms: {known}); remove `loss`",
            )
        ]
    problems: list[tuple[KeyPath, str]] = []
    enabled = 0
    for name, options in loss.items():
        spec = terms.get(name) if terms is not None else None
        if terms is not None and spec is None:
            valid = suggest(str(name), terms, "valid terms")
            problems.append(((name,), f"model {model_name!r} has no loss term {name!r}; {valid}"))
            continue
        if not isinstance(options, Mapping):
            problems.append(
                ((name,), f"expected a mapping such as {{weight: 1.0}}, got {options!r}")
            )
            continue
        weight = options.get("weight", spec.weight if spec else 1.0)
        if not is_number(weight) or weight < 0:
            problems.append(((name, "weight"), f"expected a number >= 0, got {weight!r}"))
        elif weight > 0:
            enabled += 1
        if spec is not None:
            problems += _option_problems(name, spec, options)
    if terms is not None:
        # Terms left out keep their default weight.
        enabled += sum(1 for n, s in terms.items() if n not in loss and s.weight > 0)
    if not problems and enabled == 0:
        problems.append(((), "every loss term has weight 0: there is nothing to train"))
    return problems


def _option_problems(
    name: str, spec: TermSpec, options: Mapping[str, Any]
) -> list[tuple[KeyPath, str]]:
    out: list[tuple[KeyPath, str]] = []
    for key, value in options.items():
        if key == "weight":
            continue
        if key not in spec.choices:
            valid = suggest(str(key), ["weight", *spec.choices], "valid keys")
            out.append(((name, key), f"loss term {name!r} has no option {key!r}; {valid}"))
        elif value not in spec.choices[key]:
            valid = ", ".join(spec.choices[key])
            out.append(((name, key), f"unknown {key} {value!r}; valid: {valid}"))
    return out


def validate_loss_terms(model_name: str | None, loss: Any) -> list[str]:
    """Problems as 'loss.term.key: message' strings (empty list = valid)."""
    return [".".join(("loss", *path)) + f": {msg}" for path, msg in loss_problems(model_name, loss)]


@dataclass(frozen=True)
class ResolvedTerm:
    weight: float
    options: Mapping[str, str]


def resolve_loss_terms(model_name: str, loss: Mapping[str, Any] | None) -> dict[str, ResolvedTerm]:
    """Every term of `model_name` with defaults filled in; raises ValueError on bad input."""
    problems = validate_loss_terms(model_name, loss)
    if problems:
        raise ValueError("invalid loss terms: " + "; ".join(problems))
    loss = loss or {}
    out = {}
    for name, spec in MODEL_LOSS_TERMS[model_name].items():
        given = loss.get(name, {})
        options = {**spec.defaults, **{k: v for k, v in given.items() if k != "weight"}}
        out[name] = ResolvedTerm(float(given.get("weight", spec.weight)), options)
    return out
