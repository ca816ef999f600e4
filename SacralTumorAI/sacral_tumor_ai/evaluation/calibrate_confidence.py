"""``sacral-tumor-ai calibrate-confidence``: how sure a CT model must be of a tumour piece to keep it, chosen
on validation cases.

The largest-piece rule keeps one tumour piece per scan, so a scan without a tumour keeps the model's largest
false piece (on the lesion-free real CT, a piece of the bladder). The network is less sure of such pieces than
of true tumours: their tumour probability peaks lower. The pipeline drops every piece whose probability never
reaches the level this command writes into the package's metadata (``inference.tumour_min_probability``).

The level is chosen from the pieces the pipeline would see on validation cases (decided with the package's
offsets, far pieces dropped): each case's *tumour* (its largest piece touching the labelled tumour, when that
piece holds at least a tenth of it), its *false* pieces (touching no labelled tumour) and *fragments* (the
other pieces touching it, and a tumour's only touching piece when it holds less than a tenth: a sliver of a
missed tumour, which the largest-piece rule would not choose over a false piece anyway). The least sure
validation tumour sets the level, with a wide margin: a piece must reach half its log-odds. Losing a tumour
costs its case everything, while a false piece matters only in a scan without a tumour, and the network's
surest false pieces (a generated structure it calls tumour at 0.99) are as sure as tumours: no level would
separate those. On v0.11.1's validation cases the least sure tumour peaks at 0.997 (log-odds 5.8), so the
level is 0.947 (log-odds 2.9): the real CT's false bladder pieces (0.83-0.86) go, those generated ones stay.
Measure the result on test cases (``evaluate-seg``, and a scan without a tumour): the validation cases chose it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai.ctseg.postprocess import piece_maxima, tumour_pieces
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.evaluation.calibrate_seg import CalibrationCase, collect_case, pipeline_labels, tumour_probability
from sacral_tumor_ai.labels import TUMOR
from sacral_tumor_ai.models.networks import load_network
from sacral_tumor_ai.models.package import install_package, load_package
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.training.datalist import load_datalists

TUMOUR, FALSE, FRAGMENT = "tumour", "false", "fragment"
MIN_COVER = 0.1  # the share of its labelled tumour a case's largest touching piece must hold to count as found


@dataclass(frozen=True)
class Piece:
    """One tumour piece the pipeline would see: its case, size, peak tumour probability and what it is."""

    case_id: str
    ml: float
    probability: float
    kind: str  # TUMOUR, FALSE or FRAGMENT


def case_pieces(case: CalibrationCase, spec: CTModelSpec) -> list[Piece]:
    """The case's tumour pieces as the pipeline decides them (the package's offsets, far pieces dropped)."""
    pieces, count = tumour_pieces(pipeline_labels(case, spec))
    if count == 0:
        return []
    maxima = piece_maxima(pieces, count, tumour_probability(case, spec))
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)
    reference = case.reference == TUMOR.value
    overlap = np.bincount(pieces[reference], minlength=count + 1)
    overlap[0] = 0
    touching = overlap > 0
    tumour = int(np.argmax(np.where(touching, sizes, -1))) if touching.any() else 0
    if overlap[tumour] < MIN_COVER * reference.sum():
        tumour = 0  # a sliver of a missed tumour
    voxel_ml = float(np.prod(case.spacing_zyx)) / 1000.0
    return [
        Piece(case.case_id, round(float(sizes[i]) * voxel_ml, 3), round(float(maxima[i]), 4), TUMOUR if i == tumour else FRAGMENT if touching[i] else FALSE)
        for i in range(1, count + 1)
    ]


def choose_level(pieces: list[Piece]) -> float:
    """The probability whose log-odds are half those of the least sure tumour's peak."""
    tumours = [piece.probability for piece in pieces if piece.kind == TUMOUR]
    if not tumours:
        raise SacralTumorAIError("the model found no tumour on the validation cases: no level can be chosen")
    cap = min(min(tumours), 1.0 - 1e-6)  # peaks are rounded: 1.0 would be infinitely sure
    half_log_odds = np.log(cap / (1.0 - cap)) / 2.0
    return float(1.0 / (1.0 + np.exp(-half_log_odds))) if cap > 0.5 else 0.0


def summarise(pieces: list[Piece], level: float) -> dict[str, Any]:
    """What the level does on the validation pieces (for the package's record)."""

    def of(kind: str) -> list[Piece]:
        return [piece for piece in pieces if piece.kind == kind]

    false = of(FALSE)
    return {
        "tumours": len(of(TUMOUR)),
        "least_sure_tumour": min(piece.probability for piece in of(TUMOUR)),
        "false_pieces": len(false),
        "false_pieces_dropped": sum(piece.probability < level for piece in false),
        "false_ml_dropped": round(sum(piece.ml for piece in false if piece.probability < level), 2),
        "false_ml_kept": round(sum(piece.ml for piece in false if piece.probability >= level), 2),
        "surest_false_piece": max((piece.probability for piece in false), default=None),
    }


def calibrate_tumour_confidence(
    model: str | Path, datalists: list[str | Path], split: str, out: str | Path, limit: int | None = None,
    version: str | None = None, device: str = "cpu", progress: Progress | None = None,
) -> dict[str, Any]:
    """Choose the tumour's piece level on ``split`` of the data lists (``limit`` cases of each) and write the
    package with it to ``out`` (its offsets, mirroring and bone edges stay as they are)."""
    progress = progress or Progress()
    package = load_package(model)
    spec = CTModelSpec.from_metadata(package.metadata)
    if spec.tumour_channel() is None:
        raise SacralTumorAIError(f"{model}: the model outputs no tumour")
    network = load_network(package, device)
    items = load_datalists(datalists, split, limit)
    pieces: list[Piece] = []
    for number, item in enumerate(items):
        progress.step(number / len(items), f"predicting validation case {number + 1} of {len(items)}")
        pieces += case_pieces(collect_case(item, network, spec, device), spec)
    level = choose_level(pieces)
    summary = summarise(pieces, level)
    record = {
        "method": "the probability at half the log-odds of the least sure validation tumour's peak (a tumour: the largest piece touching the labelled one, holding at least a tenth of it)",
        "datalists": [str(d) for d in datalists], "split": split, "cases": len(items), **summary,
        "missed": len(items) - summary["tumours"],
        "pieces": [asdict(piece) for piece in pieces if piece.kind != FRAGMENT],
    }
    inference = {**package.metadata.get("inference", {}), "tumour_min_probability": level, "tumour_confidence_calibration": record}
    calibrated = install_package(model, out, {}, version=version, updates={"inference": inference})
    progress.step(1.0, "done")
    return {"package": str(calibrated.folder), "tumour_min_probability": level, **{k: v for k, v in record.items() if k != "pieces"}}
