"""Which MRI model runs on which sequences: T2-fusion when T2-w and CET1-w are both there, else All-sequence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.mriseg.spec import SEQUENCE_NAMES, SEQUENCES

ALL_SEQUENCE = "all-sequence"
T2_FUSION = "t2-fusion"
MODEL_CHOICES = ("auto", ALL_SEQUENCE, T2_FUSION)
MODEL_NAMES = {ALL_SEQUENCE: "All-sequence", T2_FUSION: "T2-fusion"}  # as the papers and reports name them
# Seed 2's All-sequence Dice by input: T2-w 0.819, CET1-w 0.763, DWI 0.723, T1-w 0.659. Used when a model
# records no test results of its own (see measured_dice).
PREFERENCE = ("t2", "cet1", "dwi", "t1")
RELIABLE_DICE = 0.5


def measured_dice(metadata: dict[str, Any], method: str) -> float | None:
    """The package's own test tumour Dice for ``method`` (an ``evaluate-mri`` method name), if it has one."""
    methods = metadata.get("metrics", {}).get("test_fine_masks", {}).get("methods", {})
    entry = methods.get(method, {}).get("tumor", {}).get("dice")
    return None if entry is None else float(entry["mean"])


def method_name(method: str, sequences: tuple[str, ...]) -> str:
    """The name ``evaluate-mri`` gives a model on some sequences, e.g. "2.5D All-sequence: T2-w"."""
    return f"{method}: " + " + ".join(SEQUENCE_NAMES[s] for s in sequences)


def measured_preference(metadata: dict[str, Any]) -> tuple[str, ...]:
    """Sequences ordered by the All-sequence package's own test Dice (seed 2's order for those it lacks)."""
    score = {s: measured_dice(metadata, method_name("2.5D All-sequence", (s,))) for s in PREFERENCE}
    return tuple(sorted(PREFERENCE, key=lambda s: (score[s] is None, -(score[s] or 0.0))))  # stable: seed 2's order for ties


@dataclass(frozen=True)
class MriPlan:
    """``model`` runs on ``sequences`` (several for All-sequence = an average of its predictions on each,
    registered to the first); the mask is drawn on ``reference``'s grid. ``notes`` say what was chosen and why."""

    model: str
    reference: str
    sequences: tuple[str, ...]
    notes: tuple[str, ...] = ()


def plan_mri(available: Iterable[str], fusion_installed: bool, model: str = "auto", ensemble: bool = False, preference: tuple[str, ...] = PREFERENCE) -> MriPlan:
    """Choose the model and inputs for the given sequences (names from ``SEQUENCES``)."""
    available = tuple(available)
    unknown = [s for s in available if s not in SEQUENCES]
    if unknown:
        raise SacralTumorAIError(f"unknown MRI sequence {', '.join(unknown)}; use {', '.join(SEQUENCES)}")
    if not available:
        raise SacralTumorAIError("no MRI sequence given")
    if model not in MODEL_CHOICES:
        raise SacralTumorAIError(f"MRI model '{model}': use {', '.join(MODEL_CHOICES)}")
    notes = []
    has_pair = "t2" in available and "cet1" in available
    if model == T2_FUSION and not has_pair:
        missing = " and ".join(SEQUENCE_NAMES[s] for s in ("t2", "cet1") if s not in available)
        notes.append(f"T2-fusion needs T2-w and CET1-w; {missing} is missing, so the All-sequence model is used")
    elif model == T2_FUSION and not fusion_installed:
        notes.append("no T2-fusion model is installed, so the All-sequence model is used")
    elif has_pair and fusion_installed and model in ("auto", T2_FUSION):
        ignored = [SEQUENCE_NAMES[s] for s in available if s not in ("t2", "cet1")]
        if ignored:
            notes.append(f"T2-fusion uses T2-w and CET1-w; {', '.join(ignored)} not used")
        return MriPlan(T2_FUSION, "t2", ("t2", "cet1"), tuple(notes))
    ordered = tuple(s for s in preference if s in available)
    chosen = ordered if ensemble else ordered[:1]
    if len(available) > 1 and not ensemble:
        notes.append(f"All-sequence model on {SEQUENCE_NAMES[chosen[0]]}, the best-measured of the given sequences")
    elif len(available) > 1:
        notes.append(f"All-sequence model on {', '.join(SEQUENCE_NAMES[s] for s in chosen)}, outputs averaged")
    return MriPlan(ALL_SEQUENCE, chosen[0], chosen, tuple(notes))
