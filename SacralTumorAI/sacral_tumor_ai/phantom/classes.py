"""The six tumour classes of the generator and their priors: the one table docs, tests and data read.

The seed study's six classes are unconfirmed; these follow the same group's 2021 list of seven with
neurogenic tumours left out (rare in bone, and mostly presacral soft-tissue masses). Priors are rough
clinical tendencies, made to overlap on purpose: no single feature separates two classes, while age and
location carry real information, as in patients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ZONES = ("I", "II", "III", "IV")  # Enneking: ilium, periacetabular, pubis/ischium, sacrum


@dataclass(frozen=True)
class TumourClass:
    """Priors of one class. Probabilities are per case; ranges are sampled uniformly unless stated."""

    name: str
    prevalence: float
    age_mean: float
    age_sd: float
    age_range: tuple[float, float]
    male_share: float
    zone_prior: dict[str, float]  # Enneking zone of the tumour centre
    sacral_level_prior: tuple[float, float, float, float, float]  # S1..S5 when in the sacrum
    midline_share: float  # sacral tumours centred on the midline (else eccentric)
    radius_mm: tuple[float, float]  # mean radius of the mass
    lobules: tuple[int, int]  # number of lobes (1 = round)
    density_hu: tuple[float, float]  # soft-tissue matrix
    sclerotic_share: float  # cases with osteoid/sclerotic matrix
    calcification_share: float  # cases with chondroid ring-and-arc calcification
    necrosis_share: float  # cases with a low-density centre
    expansile_share: float  # cases with a thin expanded cortical rim
    permeative_share: float  # cases with moth-eaten residual bone inside the tumour
    enhancement: tuple[float, float]  # CET1-w signal gain of enhancing tumour (fraction)
    young_mode_share: float = 0.0  # osteosarcoma's second, older peak is the rest
    old_age_mean: float = 0.0
    # Relative MR signal of the viable tumour (0-1 scale of phantom.mri_contrast, fat = 0.95 / 0.80):
    t1_signal: tuple[float, float] = (0.22, 0.34)  # low to intermediate on T1-w: all six classes
    t2_signal: tuple[float, float] = (0.60, 0.90)  # intermediate to high on T2-w unless stated


CLASSES: tuple[TumourClass, ...] = (
    TumourClass("chordoma", 0.20, 58, 12, (25, 88), 0.64, {"IV": 0.9, "I": 0.05, "II": 0.05}, (0.05, 0.10, 0.25, 0.30, 0.30), 0.75, (22, 42), (2, 4), (18, 38), 0.05, 0.35, 0.45, 0.15, 0.15, (0.3, 0.7), t1_signal=(0.20, 0.32), t2_signal=(1.00, 1.25)),
    TumourClass("giant_cell_tumor", 0.14, 33, 9, (15, 65), 0.42, {"IV": 0.65, "I": 0.15, "II": 0.2}, (0.45, 0.35, 0.15, 0.05, 0.0), 0.25, (20, 38), (1, 2), (30, 50), 0.0, 0.0, 0.25, 0.75, 0.10, (0.6, 1.0), t1_signal=(0.26, 0.36), t2_signal=(0.35, 0.55)),
    TumourClass("chondrosarcoma", 0.18, 48, 13, (20, 82), 0.60, {"I": 0.45, "II": 0.30, "III": 0.15, "IV": 0.10}, (0.3, 0.3, 0.2, 0.1, 0.1), 0.3, (20, 45), (3, 6), (8, 28), 0.10, 0.75, 0.20, 0.45, 0.10, (0.1, 0.4), t1_signal=(0.18, 0.28), t2_signal=(1.00, 1.20)),
    TumourClass("osteosarcoma", 0.12, 22, 7, (8, 80), 0.60, {"I": 0.45, "II": 0.25, "III": 0.10, "IV": 0.20}, (0.35, 0.3, 0.2, 0.1, 0.05), 0.3, (22, 44), (2, 4), (30, 55), 0.75, 0.05, 0.35, 0.10, 0.55, (0.4, 0.9), young_mode_share=0.72, old_age_mean=62, t2_signal=(0.60, 0.95)),
    TumourClass("ewing_sarcoma", 0.10, 17, 6, (5, 38), 0.58, {"I": 0.40, "IV": 0.35, "II": 0.15, "III": 0.10}, (0.35, 0.3, 0.2, 0.1, 0.05), 0.3, (20, 42), (1, 3), (32, 52), 0.15, 0.0, 0.40, 0.05, 0.80, (0.4, 0.8), t2_signal=(0.65, 0.90)),
    TumourClass("metastasis", 0.26, 63, 11, (30, 92), 0.55, {"IV": 0.40, "I": 0.30, "II": 0.20, "III": 0.10}, (0.35, 0.3, 0.15, 0.1, 0.1), 0.4, (12, 32), (1, 3), (28, 55), 0.30, 0.0, 0.30, 0.15, 0.40, (0.3, 0.9), t1_signal=(0.18, 0.30), t2_signal=(0.55, 0.95)),
)

CLASS_NAMES = tuple(c.name for c in CLASSES)


def class_by_name(name: str) -> TumourClass:
    for tumour_class in CLASSES:
        if tumour_class.name == name:
            return tumour_class
    raise KeyError(f"unknown tumour class '{name}'; known: {', '.join(CLASS_NAMES)}")


def sample_class(rng: np.random.Generator) -> TumourClass:
    weights = np.array([c.prevalence for c in CLASSES])
    return CLASSES[int(rng.choice(len(CLASSES), p=weights / weights.sum()))]


def sample_age(rng: np.random.Generator, tumour_class: TumourClass) -> float:
    """Truncated normal (resampled until inside the range); osteosarcoma has a second, older peak."""
    mean = tumour_class.age_mean
    if tumour_class.young_mode_share and rng.random() > tumour_class.young_mode_share:
        mean = tumour_class.old_age_mean
    low, high = tumour_class.age_range
    for _ in range(100):
        age = rng.normal(mean, tumour_class.age_sd)
        if low <= age <= high:
            return round(float(age), 1)
    return float(np.clip(mean, low, high))


def sample_sex(rng: np.random.Generator, tumour_class: TumourClass) -> str:
    return "M" if rng.random() < tumour_class.male_share else "F"


def sample_zone(rng: np.random.Generator, tumour_class: TumourClass) -> str:
    zones = list(tumour_class.zone_prior)
    weights = np.array([tumour_class.zone_prior[z] for z in zones])
    return zones[int(rng.choice(len(zones), p=weights / weights.sum()))]
