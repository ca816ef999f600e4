"""Train the CT segmentation model: ``sacral-tumor-ai train-seg``.

Checkpoints every epoch (resume after an interruption with ``--resume``), validation Dice per label each
epoch, best model exported as a model package; runs alone or under ``torchrun`` (DistributedDataParallel).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai import __version__
from sacral_tumor_ai.ctseg.inference import predict_labels
from sacral_tumor_ai.ctseg.spec import CTModelSpec
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.labels import label_by_name, label_entries
from sacral_tumor_ai.models.precision import DTYPES, autocast
from sacral_tumor_ai.training import distributed
from sacral_tumor_ai.training.checkpoint import close_epoch, epoch_record, resume_run
from sacral_tumor_ai.training.datalist import load_datalists
from sacral_tumor_ai.training.schedule import set_learning_rate, warmup_then_cosine
from sacral_tumor_ai.training.seg_data import cache_case, training_transforms
from sacral_tumor_ai.training.seg_loss import deep_supervision_loss

OUTPUT_LABELS = ("tumor", "hip_left", "hip_right", "sacrum")


@dataclass
class SegTrainingConfig:
    """Everything a run depends on; saved beside the checkpoints and in the exported model's metadata."""

    datalist: str | list[str]  # one data list, or several whose splits are joined
    out: str
    spacing: tuple[float, float, float] = (2.0, 2.0, 2.0)
    windows: tuple[tuple[float, float], ...] = ((-100.0, 300.0), (-250.0, 1250.0))
    patch_size: tuple[int, int, int] = (96, 96, 96)  # inference window (x, y, z)
    train_patch_size: tuple[int, int, int] | None = None  # smaller training patches are cheaper; None = patch_size
    init_filters: int = 8
    blocks_down: tuple[int, ...] = (1, 2, 2, 4, 4)
    dsdepth: int = 3
    epochs: int = 40
    batch_size: int = 2
    samples_per_case: int = 2
    mirror_probability: float = 0.0  # left-right mirroring with hip labels swapped (RandMirrorLeftRightd)
    # Patch-centre weight per class ("background" or a label name); None = foreground:background 2:1 by voxel
    crop_weights: dict[str, float] | None = None
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    warmup_epochs: int = 2
    gradient_clip: float = 5.0  # max gradient norm; keeps early training from diverging
    # "bfloat16": forward passes under autocast (the loss and weights stay float32). About twice as fast per
    # step on a CPU with native bfloat16 (benchmarks/bench_training.py); the bundled v0.14.0's weights were fine-tuned
    # in it (scripts/ct_continue_config.json), the earlier recipes in float32.
    precision: str = "float32"
    # Weight of the soft Dice term beside cross-entropy (1 = MONAI's DiceCELoss). Lower it to curb the
    # volume bias of soft Dice at uncertain boundaries (training.seg_loss).
    dice_weight: float = 1.0
    seed: int = 0
    max_validation_cases: int | None = None  # validate on the first N cases of each data list only (faster epochs)
    init_model: str | None = None  # start from this model package's weights (same architecture) instead of random
    device: str = "cpu"
    name: str = "sacral-ct-seg"
    version: str = "0.1.0"
    training_data: str = ""
    extra_metadata: dict[str, Any] = field(default_factory=dict)

    def training_patch_size(self) -> tuple[int, int, int]:
        """The training patches' size (x, y, z voxels): ``train_patch_size``, else the inference window."""
        return tuple(self.train_patch_size or self.patch_size)

    def spec(self) -> CTModelSpec:
        return CTModelSpec(tuple(self.spacing), tuple(tuple(w) for w in self.windows), tuple(self.patch_size), OUTPUT_LABELS)

    def architecture(self) -> dict[str, Any]:
        return {
            "name": "SegResNetDS",
            "params": {
                "init_filters": self.init_filters,
                "in_channels": len(self.windows),
                "out_channels": len(OUTPUT_LABELS) + 1,
                "blocks_down": list(self.blocks_down),
                "dsdepth": self.dsdepth,
                "norm": "instance",
            },
        }


def training_step(model, optimizer, images, labels, partial, config: SegTrainingConfig) -> float:
    """One optimiser step on a batch: forward passes in ``config.precision`` (the loss in float32), the deep
    supervision loss, backward, gradient clipping; returns the loss."""
    import torch

    optimizer.zero_grad(set_to_none=True)
    with autocast(str(images.device), config.precision):
        outputs = model(images)
    outputs = [output.float() for output in outputs] if isinstance(outputs, (list, tuple)) else outputs.float()
    loss = deep_supervision_loss(outputs, labels, partial, config.dice_weight)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.gradient_clip)
    optimizer.step()
    return float(loss.item())


def dice_per_label(prediction: np.ndarray, target: np.ndarray) -> dict[str, float]:
    scores = {}
    for name in OUTPUT_LABELS:
        value = label_by_name(name).value
        a, b = prediction == value, target == value
        denominator = a.sum() + b.sum()
        scores[name] = 1.0 if denominator == 0 else float(2 * (a & b).sum() / denominator)
    return scores


def _validate(network, cases: list[dict[str, Any]], spec: CTModelSpec, device: str) -> dict[str, float]:
    """Mean Dice per label over the cases that label it (a tumour-only case scores the tumour only)."""
    network.eval()
    per_case = []
    for case in cases:
        scores = dice_per_label(predict_labels(network, case["image"], spec, device), case["label"][0])
        per_case.append({"tumor": scores["tumor"]} if case["partial"] else scores)
    network.train()
    return {name: float(np.mean([s[name] for s in per_case if name in s])) for name in OUTPUT_LABELS if any(name in s for s in per_case)}


def _items(config: SegTrainingConfig, split: str) -> list[dict[str, Any]]:
    datalists = [config.datalist] if isinstance(config.datalist, str) else list(config.datalist)
    limit = config.max_validation_cases if split == "validation" else None
    return load_datalists(datalists, split, limit)


def _initial_weights(network, config: SegTrainingConfig) -> None:
    from sacral_tumor_ai.models.package import load_package

    package = load_package(config.init_model)
    if package.metadata["architecture"] != config.architecture():
        raise SacralTumorAIError(f"init_model {config.init_model}: its architecture differs from this run's")
    network.load_state_dict({k: v.float() for k, v in package.state_dict().items()})


def package_metadata(config: SegTrainingConfig, metrics: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    spec = config.spec()
    return {
        "name": config.name,
        "version": config.version,
        "task": "segmentation",
        "modality": "CT",
        "description": "Tumour, left and right hip bones and sacrum on noncontrast CT (seed 1's model 1, multi-label).",
        "architecture": config.architecture(),
        **spec.to_metadata(),
        "labels": label_entries(),
        "training": {
            "data": config.training_data or f"data list {config.datalist}",
            "cases": counts,
            "config": json.loads(json.dumps(asdict(config))),
            "software": f"sacral-tumor-ai {__version__}",
        },
        "metrics": metrics,
        "licence": "Apache-2.0",
        "intended_use": "Research and education only. Not for diagnosis or treatment decisions. Trained on the "
        "project's own generated data (see Training data), not on patients with confirmed tumours.",
        **config.extra_metadata,
    }


def train_segmentation(config: SegTrainingConfig, resume: bool = False, log=print) -> Path:
    """Train; return the exported model package's folder (the best validation epoch)."""
    import torch
    from monai.data import DataLoader, Dataset, list_data_collate
    from monai.utils import set_determinism
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data.distributed import DistributedSampler

    from sacral_tumor_ai.models.networks import build_network
    from sacral_tumor_ai.models.package import save_package

    if config.precision not in DTYPES:
        raise SacralTumorAIError(f"precision {config.precision!r}: expected one of {', '.join(DTYPES)}")
    if config.dice_weight < 0:
        raise SacralTumorAIError(f"dice_weight {config.dice_weight}: expected 0 or more (0 = cross-entropy only)")
    group = distributed.start(config.device)
    out = Path(config.out)
    spec = config.spec()
    if group.is_main and config.training_patch_size() != tuple(config.patch_size):
        # Instance normalisation makes a window of another size a different input (docs/ct-segmentation.md).
        log(
            f"warning: validation and the exported package use windows of {list(config.patch_size)} but training "
            f"patches are {list(config.training_patch_size())}; the instance-normalised network is best run at its "
            f"training size (calibrate-seg --window)"
        )
    cache = out / "cache"
    training_items = _items(config, "training")
    validation_items = _items(config, "validation")
    if group.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
        for item in training_items + validation_items:  # the main process fills the cache once
            cache_case(item, spec, cache)
    distributed.barrier(group)
    training_cases = [cache_case(item, spec, cache) for item in training_items]
    validation_cases = [cache_case(item, spec, cache) for item in validation_items] if group.is_main else []

    torch.manual_seed(config.seed)
    network = build_network(config.architecture())
    if config.init_model:
        _initial_weights(network, config)
    network = network.to(group.device)
    model = DistributedDataParallel(network) if group.distributed else network
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    start_epoch, best, history = resume_run(out / "checkpoint.pt", network, optimizer, resume, log if group.is_main else None, "mean validation Dice")

    train_spec = replace(spec, patch_size=config.training_patch_size())
    dataset = Dataset(training_cases, training_transforms(train_spec, config.samples_per_case, config.mirror_probability, config.crop_weights))
    for epoch in range(start_epoch, config.epochs):
        set_determinism(config.seed * 1000 + epoch * 10 + group.rank)
        sampler = DistributedSampler(dataset, group.world_size, group.rank, seed=config.seed) if group.distributed else None
        if sampler is not None:
            sampler.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=max(1, config.batch_size // config.samples_per_case), shuffle=sampler is None, sampler=sampler, num_workers=0, collate_fn=list_data_collate)
        started, losses = time.perf_counter(), []
        learning_rate = config.learning_rate * warmup_then_cosine(epoch, config.warmup_epochs, config.epochs)
        set_learning_rate(optimizer, learning_rate)
        model.train()
        for batch in loader:
            partial = torch.as_tensor(batch["partial"], device=group.device)
            losses.append(training_step(model, optimizer, batch["image"].to(group.device), batch["label"].to(group.device), partial, config))
        if not group.is_main:
            distributed.barrier(group)
            continue
        dice = _validate(network, validation_cases, spec, group.device)
        record = {**epoch_record(epoch, losses, started, dice), "learning_rate": learning_rate}
        metrics = {"validation_model_grid": {"epoch": epoch + 1, "dice": dice, "mean_dice": record["mean_dice"], "cases": len(validation_cases)}}
        counts = {"training": len(training_cases), "validation": len(validation_cases)}
        best = close_epoch(record, record["mean_dice"], best, history, network, optimizer, out, lambda: save_package(network.state_dict(), package_metadata(config, metrics, counts), out / "model"), log)
        distributed.barrier(group)
    distributed.stop(group)
    return out / "model"

