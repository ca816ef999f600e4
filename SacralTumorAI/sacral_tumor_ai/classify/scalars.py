"""The classifier's scalar inputs: clinical values and location features, checked, standardised, with
explicit missing-value indicators. What the scalars are (names, units, plausible ranges, codes, groups,
standardisation, training ranges) is model metadata; this module only applies it.

A scalar vector is ``[standardised values..., missing indicators...]``: a missing value is 0 after
standardisation (the training mean) and its indicator is 1, so the network knows it was not given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sacral_tumor_ai.errors import SacralTumorAIError


class ClinicalInputError(SacralTumorAIError):
    """A clinical value that cannot be right (an age of -3, an unknown sex code)."""


# The default scalar table of the project's classifiers; copied into each model's metadata at training,
# where it is read back from then on. "group" drives the ablation: clinical (the form) and location (the
# hip frame and tumour geometry).
DEFAULT_SCALARS: list[dict[str, Any]] = [
    {"name": "age", "group": "clinical", "unit": "years", "plausible": [0, 110]},
    {"name": "sex", "group": "clinical", "unit": "", "codes": {"F": 0.0, "M": 1.0}, "aliases": {"female": "F", "male": "M", "f": "F", "m": "M", "w": "F"}},
    {"name": "log_volume_ml", "group": "location", "unit": "log(mL)", "source": "volume_ml", "transform": "log1p"},
    {"name": "abs_x_scaled", "group": "location", "unit": "scale", "source": "centroid_scaled.0", "transform": "abs"},
    {"name": "y_scaled", "group": "location", "unit": "scale", "source": "centroid_scaled.1"},
    {"name": "z_scaled", "group": "location", "unit": "scale", "source": "centroid_scaled.2"},
    {"name": "zone_I", "group": "location", "unit": "share", "source": "zone_fractions.I", "default": 0.0},
    {"name": "zone_II", "group": "location", "unit": "share", "source": "zone_fractions.II", "default": 0.0},
    {"name": "zone_III", "group": "location", "unit": "share", "source": "zone_fractions.III", "default": 0.0},
    {"name": "zone_IV", "group": "location", "unit": "share", "source": "zone_fractions.IV", "default": 0.0},
    {"name": "soft_tissue_share", "group": "location", "unit": "share", "source": "structure_fractions.soft_tissue"},
    {"name": "crosses_midline", "group": "location", "unit": "0/1", "source": "crosses_midline"},
]


def _lookup(location: dict[str, Any], path: str) -> Any:
    value: Any = location
    for key in path.split("."):
        if value is None:
            return None
        value = value[int(key)] if isinstance(value, list) else value.get(key)
    return value


def clinical_value(spec: dict[str, Any], raw: Any) -> float | None:
    """A form value as a number (None when not given); implausible values and unknown codes raise."""
    if raw is None or (isinstance(raw, str) and raw.strip() == "") or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if "codes" in spec:
        code = str(raw).strip()
        code = spec.get("aliases", {}).get(code.lower(), code)
        if code not in spec["codes"]:
            raise ClinicalInputError(f"{spec['name']} '{raw}' is not a known code; use one of {', '.join(spec['codes'])} (or leave it empty)")
        return float(spec["codes"][code])
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ClinicalInputError(f"{spec['name']} '{raw}' is not a number") from None
    low, high = spec.get("plausible", (-math.inf, math.inf))
    if not low <= value <= high:
        raise ClinicalInputError(f"{spec['name']} {value:g} {spec.get('unit', '')} is outside the plausible range {low}-{high}".replace("  ", " "))
    return value


def location_value(spec: dict[str, Any], location: dict[str, Any] | None) -> float | None:
    if not location or not location.get("available"):
        return None
    value = _lookup(location, spec["source"])
    if value is None:
        value = spec.get("default")
    if value is None:
        return None
    value = float(value)
    transform = spec.get("transform")
    return math.log1p(max(value, 0.0)) if transform == "log1p" else abs(value) if transform == "abs" else value


@dataclass(frozen=True)
class Scalars:
    """Raw values (None = missing) in the table's order."""

    names: tuple[str, ...]
    values: tuple[float | None, ...]

    def as_dict(self) -> dict[str, float | None]:
        return dict(zip(self.names, self.values))


def gather(table: list[dict[str, Any]], clinical: dict[str, Any], location: dict[str, Any] | None) -> Scalars:
    """The table's values from a clinical form and a location result."""
    values = []
    for spec in table:
        values.append(clinical_value(spec, clinical.get(spec["name"])) if spec["group"] == "clinical" else location_value(spec, location))
    return Scalars(tuple(s["name"] for s in table), tuple(values))


def fit_standardisation(table: list[dict[str, Any]], rows: list[Scalars]) -> dict[str, dict[str, float]]:
    """Mean, SD and observed range of each scalar over training cases (missing values left out)."""
    result = {}
    for index, spec in enumerate(table):
        observed = np.array([row.values[index] for row in rows if row.values[index] is not None], float)
        if observed.size == 0:
            result[spec["name"]] = {"mean": 0.0, "sd": 1.0, "min": None, "max": None}
            continue
        sd = float(observed.std())
        result[spec["name"]] = {"mean": float(observed.mean()), "sd": sd if sd > 1e-6 else 1.0, "min": float(observed.min()), "max": float(observed.max())}
    return result


def vector(table: list[dict[str, Any]], standardisation: dict[str, dict[str, float]], scalars: Scalars, groups: tuple[str, ...]) -> np.ndarray:
    """Standardised values and missing indicators of the scalars in ``groups`` (float32)."""
    values, missing = [], []
    for spec, value in zip(table, scalars.values):
        if spec["group"] not in groups:
            continue
        stats = standardisation[spec["name"]]
        values.append(0.0 if value is None else (value - stats["mean"]) / stats["sd"])
        missing.append(1.0 if value is None else 0.0)
    return np.array(values + missing, np.float32)


def vector_length(table: list[dict[str, Any]], groups: tuple[str, ...]) -> int:
    return 2 * sum(1 for spec in table if spec["group"] in groups)


def out_of_range(table: list[dict[str, Any]], standardisation: dict[str, dict[str, float]], scalars: Scalars, groups: tuple[str, ...]) -> list[str]:
    """Plain warnings for values outside what the model saw in training (by more than 10 % of the range)."""
    warnings = []
    for spec, value in zip(table, scalars.values):
        stats = standardisation[spec["name"]]
        if spec["group"] not in groups or value is None or stats.get("min") is None or "codes" in spec:
            continue
        margin = 0.1 * (stats["max"] - stats["min"])
        if not stats["min"] - margin <= value <= stats["max"] + margin:
            warnings.append(f"{spec['name']} {value:.3g} is outside the training range {stats['min']:.3g}-{stats['max']:.3g}: the probabilities are an extrapolation.")
    return warnings
