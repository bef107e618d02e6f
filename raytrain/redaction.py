"""Secrets from the environment never land on disk.

A config value written as `${oc.env:NAME}` (alone or inside a longer string) where NAME
looks like a secret is resolved for the trial as usual, but everything raytrain writes
(space.yaml, best.yaml and exports, a train run's config.yaml, params.json, trials.csv,
error.txt, TensorBoard hparams, the Optuna searcher pickled into Tune's state, the
`hyper_parameters` Lightning stores in checkpoints) shows the text as written, e.g.
`${oc.env:WANDB_API_KEY}`, instead of the value. Such files stay runnable: loading them
resolves the variable again (so `--resume`, `export` and `train best.yaml` need it set).

A NAME is secret when it contains KEY, TOKEN, SECRET, PASSWORD or CREDENTIAL, is a known
credential variable (`KNOWN_CREDENTIALS`), or matches a pattern of the environment
variable `RAYTRAIN_SECRET_VARS` (comma-separated shell patterns, e.g. `DB_URL,CORP_*`).

How it works: the loader records, per config, the key paths of such values and the text
as written (`SecretRefs`: no values, so a config can be pickled and shipped anywhere).
Whichever process holds the resolved config (the driver when it loads a file, a Train
worker when it starts a trial) registers the value -> text pairs with `remember`, and
every writer passes what it writes through `redact` / `redact_text`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from typing import Any

SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
KNOWN_CREDENTIALS = (
    "WANDB_API_KEY",
    "AWS_*",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "HF_TOKEN",
    "AZURE_*",
)
EXTRA_VAR = "RAYTRAIN_SECRET_VARS"
# Values shorter than this are only redacted where they are a whole string (a 2-character
# "secret" replaced inside every string would mangle unrelated text).
MIN_SUBSTRING = 6

# (dotted key path in the config, the value's text as written with `${oc.env:...}`)
SecretRefs = tuple[tuple[str, str], ...]

_ENV_REF = re.compile(r"\$\{oc\.env:\s*([A-Za-z_][A-Za-z0-9_]*)")

# value -> what is written instead; this process's secrets (see the module doc)
_KNOWN: dict[str, str] = {}


def is_secret_name(name: str, environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    upper = name.upper()
    if any(word in upper for word in SECRET_WORDS):
        return True
    extra = [p.strip() for p in environ.get(EXTRA_VAR, "").split(",") if p.strip()]
    return any(fnmatch.fnmatchcase(upper, p.upper()) for p in (*KNOWN_CREDENTIALS, *extra))


def secret_env_names(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret-looking variables `text` interpolates with `${oc.env:...}`."""
    return [n for n in _ENV_REF.findall(text) if is_secret_name(n, environ)]


def secret_refs(raw: Any, environ: Mapping[str, str] | None = None) -> SecretRefs:
    """The key paths of `raw` (a config before interpolation) whose text interpolates a
    secret variable, with that text."""
    out: list[tuple[str, str]] = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, (*path, str(k)))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, str(i)))
        elif isinstance(value, str) and secret_env_names(value, environ):
            out.append((".".join(path), value))

    walk(raw, ())
    return tuple(out)


def _lookup(data: Any, path: str) -> Any:
    for key in path.split(".") if path else []:
        if isinstance(data, Mapping) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


def remember(resolved: Any, refs: SecretRefs, environ: Mapping[str, str] | None = None) -> None:
    """Register the secrets of `resolved` (the config after interpolation) in this process:
    each referenced value, and the variables' own values where the environment has them."""
    environ = os.environ if environ is None else environ
    for path, written in refs:
        value = _lookup(resolved, path)
        if isinstance(value, str) and value and value != written:
            _KNOWN[value] = written
        for name in secret_env_names(written, environ):
            if environ.get(name):
                _KNOWN[environ[name]] = "${oc.env:" + name + "}"


def forget_all() -> None:
    """Drop this process's registered secrets (tests)."""
    _KNOWN.clear()


def redact_text(text: str) -> str:
    if not _KNOWN or not text:
        return text
    whole = _KNOWN.get(text)
    if whole is not None:
        return whole
    for value in sorted(_KNOWN, key=len, reverse=True):  # a URL before the password in it
        if len(value) >= MIN_SUBSTRING and value in text:
            text = text.replace(value, _KNOWN[value])
    return text


def redact(data: Any) -> Any:
    """`data` with every string (mapping keys too) redacted; a new object when it changes."""
    if not _KNOWN:
        return data
    if isinstance(data, str):
        return redact_text(data)
    if isinstance(data, Mapping):
        return {redact(k): redact(v) for k, v in data.items()}
    if isinstance(data, list):
        return [redact(v) for v in data]
    if isinstance(data, tuple):
        return tuple(redact(v) for v in data)
    return data


def known_count() -> int:
    return len(_KNOWN)
