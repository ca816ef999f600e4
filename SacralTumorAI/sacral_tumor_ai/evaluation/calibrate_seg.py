"""``sacral-tumor-ai calibrate-seg``: per-label decision offsets of a CT model, chosen on validation cases.

A network trained with Dice + cross-entropy can draw a structure systematically too large or too small (the
bundled model drew tumours with a rim of the muscle around them, and bone surfaces one voxel too far out).
Adding a constant to a label's log-probability before the arg-max moves all its boundaries together; the
offsets that maximise the mean validation Dice are found by coordinate search on the model grid (the
reference labels resampled to it by nearest neighbour, no post-processing) and written into a copy of the
package's metadata with the search's record. The weights are not touched. Measure the result on the test
split with ``evaluate-seg``: the validation cases chose the offsets, so only the test split is unbiased.

The sliding window can be set here too (``window``, ``overlap``), and the offsets are then chosen for it. A
network with instance normalisation should see windows of the size it was trained on: its features are
normalised by each window's own statistics, so a window of another size is, to it, another input. The
bundled model, trained on patches of 64³ and run on windows of 96³ until v0.13.1, drew every tumour with a
2-4 mm rim of muscle, training cases included (docs/ct-segmentation.md, "The window").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai.ctseg.inference import log_probabilities, predict_probabilities
from sacral_tumor_ai.ctseg.preprocess import labels_to_grid, prepare_ct
from sacral_tumor_ai.ctseg.postprocess import drop_tumour_far_from_pelvis
from sacral_tumor_ai.ctseg.spec import CTModelSpec, bone_values
from sacral_tumor_ai.ctseg.tumour_edges import soft_tissue_hounsfield
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.evaluation.segmentation_metrics import dice
from sacral_tumor_ai.io import read_image
from sacral_tumor_ai.labels import label_by_name
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import install_package, load_package
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.training.datalist import load_datalists
from sacral_tumor_ai.training.seg_data import is_partly_labelled

OFFSET_GRID = tuple(np.round(np.arange(-3.0, 1.01, 0.25), 2))


@dataclass(frozen=True)
class CalibrationCase:
    """One validation case on the model grid: log-probabilities and the labels scored on it."""

    case_id: str
    log_probabilities: np.ndarray  # float16, C x z-y-x
    reference: np.ndarray  # uint8 label values, z-y-x
    structures: tuple[str, ...]  # the structures its reference holds
    spacing_zyx: tuple[float, float, float] = (1.0, 1.0, 1.0)  # mm, the model grid's
    hounsfield: np.ndarray | None = None  # float16 soft-tissue HU on the model grid, when collected


def collect_case(item: dict[str, Any], network, spec: CTModelSpec, device: str = "cpu", with_hounsfield: bool = False) -> CalibrationCase:
    """The model's prediction for one data-list item (mirrored as ``spec`` says), and its reference on the
    model grid; ``with_hounsfield`` keeps the soft-tissue HU too (``ctseg.tumour_edges``)."""
    prepared = prepare_ct(read_image(item["image"]), spec)
    hounsfield = soft_tissue_hounsfield(prepared.channels, spec.windows).astype(np.float16) if with_hounsfield else None
    probabilities = predict_probabilities(network, prepared.channels, spec, device)
    structures = ("tumor",) if is_partly_labelled(item, spec.output_labels) else spec.output_labels
    return CalibrationCase(
        case_id=str(item.get("case_id", Path(item["image"]).name)),
        log_probabilities=log_probabilities(probabilities).astype(np.float16),
        reference=labels_to_grid(read_image(item["label"]), prepared.grid),
        structures=tuple(structures),
        spacing_zyx=tuple(reversed(prepared.grid.GetSpacing())),
        hounsfield=hounsfield,
    )


def decided_labels(case: CalibrationCase, offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The case's label ``values`` when ``offsets`` (one per channel) are added before the arg-max."""
    return values[np.argmax(case.log_probabilities.astype(np.float32) + offsets[:, None, None, None], axis=0)]


def pipeline_labels(case: CalibrationCase, spec: CTModelSpec) -> np.ndarray:
    """The case's labels as the pipeline decides them on the model grid: the package's offsets, then tumour
    pieces far from the pelvis dropped."""
    values = np.asarray(spec.label_values(), np.uint8)
    labels = decided_labels(case, np.asarray(spec.decision_offsets(), np.float32), values)
    return drop_tumour_far_from_pelvis(labels, bone_values(spec), case.spacing_zyx)[0]


def tumour_probability(case: CalibrationCase, spec: CTModelSpec) -> np.ndarray:
    """The case's tumour probability (float32, z-y-x) back from its stored log-probabilities."""
    return np.exp(case.log_probabilities[spec.tumour_channel()].astype(np.float32))


def case_dice(case: CalibrationCase, offsets: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """Dice of each of the case's structures when ``offsets`` (one per channel) are added before the arg-max."""
    decided = decided_labels(case, offsets, values)
    return {name: dice(decided == label_by_name(name).value, case.reference == label_by_name(name).value) for name in case.structures}


def mean_dice(cases: list[CalibrationCase], offsets: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """Per structure, the mean Dice over the cases that hold it."""
    return _average([case_dice(case, offsets, values) for case in cases])


def _average(per_case: list[dict[str, float]]) -> dict[str, float]:
    names = sorted({name for scores in per_case for name in scores})
    return {name: float(np.mean([scores[name] for scores in per_case if name in scores])) for name in names}


def objective(dice: dict[str, float]) -> float:
    """What the search maximises: the structures' mean Dice, each structure weighted equally."""
    return float(np.mean(list(dice.values())))


@dataclass(frozen=True)
class _ChannelLine:
    """One case's decisions as a function of one channel's offset, the other offsets fixed: the voxels that
    channel can win within the offset grid (its score minus the best other score), and what they are now."""

    margin: np.ndarray  # float32: the channel wins a voxel where margin + offset > 0
    other_labels: np.ndarray  # uint8: the label those voxels get otherwise
    reference: np.ndarray  # uint8: their reference labels
    fixed: dict[str, tuple[int, int, int]]  # structure -> (predicted, reference, both) over the other voxels


def _channel_line(case: CalibrationCase, offsets: np.ndarray, values: np.ndarray, channel: int) -> _ChannelLine:
    scores = case.log_probabilities.astype(np.float32) + offsets[:, None, None, None]
    own = scores[channel].copy()
    scores[channel] = -np.inf
    best_other = scores.argmax(axis=0)
    margin = own - np.take_along_axis(scores, best_other[None], axis=0)[0] - offsets[channel]
    movable = margin + OFFSET_GRID[-1] > 0  # voxels that no offset of the grid can give the channel stay put
    other_labels = values[best_other]
    fixed = {}
    for name in case.structures:
        value = label_by_name(name).value
        predicted, reference = other_labels[~movable] == value, case.reference[~movable] == value
        fixed[name] = (int(predicted.sum()), int(reference.sum()), int((predicted & reference).sum()))
    return _ChannelLine(margin[movable], other_labels[movable], case.reference[movable], fixed)


def _line_dice(line: _ChannelLine, channel_value: int, offset: float) -> dict[str, float]:
    decided = np.where(line.margin + offset > 0, channel_value, line.other_labels)
    scores = {}
    for name, (fixed_predicted, fixed_reference, fixed_both) in line.fixed.items():
        value = label_by_name(name).value
        predicted, truth = decided == value, line.reference == value
        total = int(predicted.sum()) + int(truth.sum()) + fixed_predicted + fixed_reference
        both = int((predicted & truth).sum()) + fixed_both
        scores[name] = 1.0 if total == 0 else 2.0 * both / total
    return scores


def _best_offset(cases: list[CalibrationCase], offsets: np.ndarray, values: np.ndarray, channel: int) -> tuple[float, float]:
    """The grid offset of ``channel`` with the highest objective (the others fixed), and that objective."""
    lines = [_channel_line(case, offsets, values, channel) for case in cases]
    best_offset, best = float(offsets[channel]), -np.inf
    for candidate in OFFSET_GRID:
        score = objective(_average([_line_dice(line, int(values[channel]), float(candidate)) for line in lines]))
        if score > best:
            best_offset, best = float(candidate), score
    return best_offset, best


def search_offsets(
    cases: list[CalibrationCase], spec: CTModelSpec, labels: tuple[str, ...] | None = None, rounds: int = 2, progress: Progress | None = None,
) -> np.ndarray:
    """Coordinate search over :data:`OFFSET_GRID` for each of ``labels`` (default: every output) in turn;
    background and the other labels stay 0. An offset moves only where it raises the objective."""
    progress = progress or Progress()
    values = np.asarray(spec.label_values(), np.uint8)
    channels = [1 + spec.output_labels.index(name) for name in (labels or spec.output_labels)]
    offsets = np.zeros(len(values), np.float32)
    best = objective(mean_dice(cases, offsets, values))
    for round_number in range(rounds):
        changed = False
        for number, channel in enumerate(channels):
            progress.step(
                (round_number * len(channels) + number) / (rounds * len(channels)),
                f"round {round_number + 1}: offset of {spec.output_labels[channel - 1]}",
            )
            candidate, score = _best_offset(cases, offsets, values, channel)
            if score > best + 1e-6:
                offsets[channel], best, changed = candidate, score, True
        if not changed:
            break
    return offsets


def calibrate_segmentation_model(
    model: str | Path, datalists: list[str | Path], split: str, out: str | Path, mirror: bool | None = None,
    limit: int | None = None, version: str | None = None, device: str = "cpu", progress: Progress | None = None,
    labels: tuple[str, ...] | None = None, window: tuple[int, int, int] | None = None, overlap: float | None = None,
) -> dict[str, Any]:
    """Choose decision offsets of ``labels`` (default: all; the others keep 0) on ``split`` of the data lists
    (``limit`` cases of each) and write the package with them, with test-time mirroring as ``mirror``
    says and the sliding ``window`` (x, y, z voxels) and ``overlap`` given (default: as the package has
    them), to ``out``. Leave out labels whose validation cases do not
    represent where the model will be used: an offset fitted to generated bones can erase real ones."""
    progress = progress or Progress()
    package = load_package(model)
    spec = CTModelSpec.from_metadata(package.metadata)
    unknown = sorted(set(labels or ()) - set(spec.output_labels))
    if unknown:
        raise SacralTumorAIError(f"{model}: no output labels {', '.join(unknown)}; it outputs {', '.join(spec.output_labels)}")
    spec = replace(
        spec, offsets=(), mirror=spec.mirror if mirror is None else mirror,
        patch_size=tuple(window or spec.patch_size), overlap=spec.overlap if overlap is None else overlap,
    )
    network = load_network(package, device)
    items = load_datalists(datalists, split, limit)
    cases = []
    for number, item in enumerate(items):
        progress.step(0.6 * number / len(items), f"predicting validation case {number + 1} of {len(items)}")
        cases.append(collect_case(item, network, spec, device))
    values = np.asarray(spec.label_values(), np.uint8)
    before = mean_dice(cases, np.zeros(len(values), np.float32), values)
    offsets = search_offsets(cases, spec, labels, progress=Progress(lambda fraction, message: progress.step(0.6 + 0.4 * fraction, message), progress.cancel))
    after = mean_dice(cases, offsets, values)
    record = {
        "method": "per-label log-probability offsets maximising the mean validation Dice on the model grid",
        "datalists": [str(d) for d in datalists], "split": split, "cases": len(cases),
        "labels_searched": list(labels or spec.output_labels),
        "validation_dice_before": before, "validation_dice_after": after,
    }
    inference = {
        **package.metadata.get("inference", {}),  # other calibrations (bone edges) stay
        "mirror_left_right": spec.mirror,
        "decision_offsets": {name: float(offsets[1 + i]) for i, name in enumerate(spec.output_labels)},
        "calibration": record,
    }
    model_input = {**package.metadata["input"], "patch_size": list(spec.patch_size), "overlap": spec.overlap}
    calibrated = install_package(model, out, {}, version=version, updates={"inference": inference, "input": model_input})
    return {"package": str(calibrated.folder), **inference}
