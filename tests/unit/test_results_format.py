"""One formatting of values for every view: compact, never ambiguous."""

from __future__ import annotations

import math

import pytest

from raytrain.results.format import fmt_number, fmt_params, fmt_value, short_names


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1075, "0.1075"),
        (0.0076, "7.6e-3"),
        (1.234e-5, "1.23e-5"),
        (220.5, "220.5"),
        (12345.0, "1.23e4"),
        (0.0, "0"),
        (-0.5, "-0.5"),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
    ],
)
def test_numbers_are_compact(value: float, text: str) -> None:
    assert fmt_number(value) == text


def test_values_and_params() -> None:
    assert fmt_value(None) == "" and fmt_value(None, missing="-") == "-"
    assert fmt_value(True) == "True" and fmt_value(3) == "3" and fmt_value("sgd") == "sgd"
    assert fmt_params({"b": 0.00123, "a": 1, "c": "x"}, limit=2) == "a=1, b=1.2e-3, +1 more"


def test_short_names_stay_unambiguous() -> None:
    paths = ["optimizer.lr", "model.hidden", "optimizer.name", "a.size", "b.size"]
    assert short_names(paths) == {
        "optimizer.lr": "lr",
        "model.hidden": "hidden",
        "optimizer.name": "optimizer",
        "a.size": "a.size",
        "b.size": "b.size",
    }
