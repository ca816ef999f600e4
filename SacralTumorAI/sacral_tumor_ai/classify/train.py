"""Train the tumour classifier: ``sacral-tumor-ai train-cls``.

Class-weighted cross-entropy, Adam (seed 1: 1e-4), model selection by validation macro AUC (seed 1), a
temperature fitted on the selected epoch's validation logits, checkpoints every epoch (``--resume``), and
DistributedDataParallel under ``torchrun`` like the segmentation trainer.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai import __version__
from sacral_tumor_ai.classify.calibration import fit_temperature
from sacral_tumor_ai.classify.cases import class_index, prepare_cases
from sacral_tumor_ai.classify.crop import CropSpec
from sacral_tumor_ai.classify.metrics import macro_auc
from sacral_tumor_ai.classify.network import DEFAULT_ARCHITECTURE
from sacral_tumor_ai.classify.scalars import DEFAULT_SCALARS, fit_standardisation, gather, vector, vector_length
from sacral_tumor_ai.training import distributed
from sacral_tumor_ai.training.checkpoint import close_epoch, resume_run
from sacral_tumor_ai.training.datalist import load_datalist

# The ablation's variants: input set -> scalar groups. "clinical+location" has no image branch, so it works on
# any modality (an MRI study, whose crops the CT-trained image branch could not read).
INPUT_SETS = {"image": (), "image+clinical": ("clinical",), "image+clinical+location": ("clinical", "location"), "clinical+location": ("clinical", "location")}


@dataclass
class ClsTrainingConfig:
    """Everything a classifier run depends on; saved beside the checkpoints and in the model's metadata."""

    datalist: str
    out: str
    classes: list[str] = field(default_factory=lambda: ["chordoma", "giant_cell_tumor", "chondrosarcoma", "osteosarcoma", "ewing_sarcoma", "metastasis"])
    inputs: str = "image+clinical+location"  # one of INPUT_SETS (the ablation's variants)
    crop_size: tuple[int, int, int] = (64, 64, 32)
    crop_margin_mm: float = 10.0
    window: tuple[float, float] = (-250.0, 1250.0)
    init_features: int = 64
    growth_rate: int = 32
    block_config: tuple[int, ...] = (6, 12, 24, 16)
    hidden: tuple[int, ...] = (512, 256)
    dropout: float = 0.2
    epochs: int = 40
    batch_size: int = 5
    learning_rate: float = 1e-4
    weight_decay: float = 1e-5
    class_weighting: bool = True
    seed: int = 0
    device: str = "cpu"
    name: str = "sacral-tumour-classifier"
    version: str = "0.1.0"
    training_data: str = ""
    cache: str | None = None  # prepared cases (crop, location); shareable between runs, default RUN/cache

    def crop(self) -> CropSpec:
        return CropSpec(tuple(self.crop_size), self.crop_margin_mm, tuple(self.window))

    def groups(self) -> tuple[str, ...]:
        if self.inputs not in INPUT_SETS:
            raise ValueError(f"inputs must be one of {list(INPUT_SETS)}")
        return INPUT_SETS[self.inputs]

    def uses_image(self) -> bool:
        return self.inputs.startswith("image")

    def architecture(self) -> dict[str, Any]:
        params = dict(DEFAULT_ARCHITECTURE["params"])
        params.update(
            in_channels=2, scalars=vector_length(DEFAULT_SCALARS, self.groups()), classes=len(self.classes), image=self.uses_image(),
            init_features=self.init_features, growth_rate=self.growth_rate, block_config=list(self.block_config), hidden=list(self.hidden), dropout=self.dropout,
        )
        return {"name": DEFAULT_ARCHITECTURE["name"], "params": params}


def _arrays(cases: list[dict[str, Any]], config: ClsTrainingConfig, standardisation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images = np.stack([case["crop"] for case in cases])
    scalars = np.stack([vector(DEFAULT_SCALARS, standardisation, case["scalars"], config.groups()) for case in cases]) if cases else np.zeros((0, 0))
    labels = np.array([class_index(case, config.classes) for case in cases])
    return images, scalars, labels


def _augment(images, generator):
    """Random flips of the crop's three axes and small intensity changes (the mask channel is kept)."""
    import torch

    for dim in (2, 3, 4):
        flip = torch.rand(images.shape[0], generator=generator) < 0.5
        images[flip] = images[flip].flip(dim - 1)
    gain = 1 + 0.1 * (torch.rand(images.shape[0], 1, 1, 1, generator=generator) - 0.5)
    images[:, 0] = (images[:, 0] * gain + 0.02 * torch.randn(images[:, 0].shape, generator=generator)).clamp(0, 1)
    return images


def _logits(network, images: np.ndarray, scalars: np.ndarray, device: str, batch: int = 8) -> np.ndarray:
    import torch

    network.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            out.append(network(torch.from_numpy(images[start : start + batch]).to(device), torch.from_numpy(scalars[start : start + batch]).to(device)).float().cpu().numpy())
    network.train()
    return np.concatenate(out)


def package_metadata(config: ClsTrainingConfig, standardisation, temperature: float, metrics: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    return {
        "name": config.name,
        "version": config.version,
        "task": "classification",
        "modality": "CT" if config.uses_image() else "any",
        "description": "Six-class tumour classifier on the tumour crop, clinical values and hip-frame location (seed 1's model 2)."
        if config.uses_image() else "Six-class tumour classifier on clinical values and hip-frame location only (no image: works on CT and MRI).",
        "architecture": config.architecture(),
        "classes": list(config.classes),
        "inputs": {"set": config.inputs, "groups": list(config.groups()), "crop": config.crop().to_metadata(), "crop_channels": ["CT window scaled to 0-1", "tumour mask"]},
        "scalars": DEFAULT_SCALARS,
        "standardisation": standardisation,
        "temperature": temperature,
        "training": {"data": config.training_data or f"data list {config.datalist}", "cases": counts, "config": json.loads(json.dumps(asdict(config))), "software": f"sacral-tumor-ai {__version__}"},
        "metrics": metrics,
        "licence": "Apache-2.0",
        "intended_use": "Research and education only. Not for diagnosis or treatment decisions. Trained on the project's own generated data, not on patients with confirmed tumours.",
    }


def train_classifier(config: ClsTrainingConfig, resume: bool = False, log=print) -> Path:
    """Train; return the exported package's folder (the epoch with the best validation macro AUC)."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    from sacral_tumor_ai.classify.network import build_classifier
    from sacral_tumor_ai.models.package import save_package

    group = distributed.start(config.device)
    out = Path(config.out)
    cache = Path(config.cache) if config.cache else out / "cache"
    items = {split: load_datalist(config.datalist, split) for split in ("training", "validation")}
    if group.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
        prepare_cases(items["training"] + items["validation"], config.crop(), cache, log)  # fills the cache once
    distributed.barrier(group)
    quiet = lambda *_: None  # noqa: E731 - already reported above
    cases = {split: prepare_cases(split_items, config.crop(), cache, quiet) for split, split_items in items.items()}
    for split_cases in cases.values():
        for case in split_cases:
            case["scalars"] = gather(DEFAULT_SCALARS, case["clinical"], case["location"])
    standardisation = fit_standardisation(DEFAULT_SCALARS, [case["scalars"] for case in cases["training"]])
    train_images, train_scalars, train_labels = _arrays(cases["training"], config, standardisation)
    val_images, val_scalars, val_labels = _arrays(cases["validation"], config, standardisation)

    torch.manual_seed(config.seed)
    network = build_classifier(config.architecture()).to(group.device)
    model = DistributedDataParallel(network) if group.distributed else network
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    counts = np.bincount(train_labels, minlength=len(config.classes)).astype(float)
    weights = counts.sum() / (len(counts) * np.maximum(counts, 1)) if config.class_weighting else np.ones(len(counts))
    loss_function = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32, device=group.device))
    start_epoch, best, history = resume_run(out / "checkpoint.pt", network, optimizer, resume, log if group.is_main else None, "validation macro AUC")
    generator = torch.Generator().manual_seed(config.seed)
    per_process = len(train_labels) // group.world_size  # equal shards: DDP needs the same number of steps
    shard = np.arange(group.rank, per_process * group.world_size, group.world_size)
    for epoch in range(start_epoch, config.epochs):
        generator.manual_seed(config.seed * 1000 + epoch)
        order = shard[torch.randperm(len(shard), generator=generator).numpy()]
        started, losses = time.perf_counter(), []
        for begin in range(0, len(order), config.batch_size):
            index = order[begin : begin + config.batch_size]
            images = _augment(torch.from_numpy(train_images[index]).clone(), generator).to(group.device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(images, torch.from_numpy(train_scalars[index]).to(group.device)), torch.from_numpy(train_labels[index]).to(group.device))
            loss.backward()
            optimizer.step()
            losses.append(float(loss.item()))
        if not group.is_main:
            distributed.barrier(group)
            continue
        logits = _logits(network, val_images, val_scalars, group.device)
        auc = macro_auc(val_labels, logits)
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - started, 1), "val_macro_auc": auc, "val_accuracy": float((logits.argmax(1) == val_labels).mean())}

        def export() -> None:  # only for a better epoch: the temperature fit is not free
            temperature = fit_temperature(logits, val_labels)
            metrics = {"validation": {"epoch": epoch + 1, "macro_auc": auc, "cases": int(len(val_labels)), "temperature": temperature}}
            save_package(network.state_dict(), package_metadata(config, standardisation, temperature, metrics, {"training": len(train_labels), "validation": len(val_labels)}), out / "model")

        best = close_epoch(record, auc, best, history, network, optimizer, out, export, log)
        distributed.barrier(group)
    distributed.stop(group)
    return out / "model"
