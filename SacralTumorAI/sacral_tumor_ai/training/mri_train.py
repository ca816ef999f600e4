"""Train the 2.5D MRI models: ``sacral-tumor-ai train-mri`` (All-sequence or T2-fusion).

Seed 2's regime: per step one patient's 12 slices (each with its neighbours as channels; for All-sequence,
spread over the patient's sequences: ``mri_data.patient_batch``), random crops with the tumour inside,
flips/rotation/scaling/shift, AdamW at 5e-4 (optionally decayed from ``decay_from_epoch``), coarse labels (see ``mri_loss`` and ``mri_data.known_mask``).
Checkpoints every epoch (``--resume``), validation Dice per label every epoch, the best epoch exported as a
model package.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sacral_tumor_ai import __version__
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.labels import TUMOR, label_by_name, label_entries
from sacral_tumor_ai.mriseg.inference import predict_probabilities
from sacral_tumor_ai.mriseg.plan import ALL_SEQUENCE, T2_FUSION
from sacral_tumor_ai.mriseg.spec import ANY_SEQUENCE, OUTPUT_LABELS, SEQUENCES, MriModelSpec
from sacral_tumor_ai.training.checkpoint import close_epoch, epoch_record, resume_run
from sacral_tumor_ai.training.datalist import load_datalist
from sacral_tumor_ai.training.mri_data import FOOTPRINT_MARGIN_MM, FUSION, augment, cache_mri_case, patient_batch
from sacral_tumor_ai.training.mri_loss import coarse_label_loss
from sacral_tumor_ai.training.schedule import constant_then_cosine, set_learning_rate


@dataclass
class MriTrainingConfig:
    """Everything a run depends on; saved beside the checkpoints and in the exported model's metadata."""

    datalist: str
    out: str
    model: str = ALL_SEQUENCE  # or "t2-fusion"
    sequences: tuple[str, ...] = SEQUENCES  # the All-sequence model's training inputs, fed separately
    context: int = 1  # neighbours each side: 1 = 2.5D (seed 2), 0 = the 2D baseline
    in_plane_mm: float = 1.5
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)  # smp's default, seed 2's 6.63 M parameters
    crop: int = 224
    slices_per_case: int = 12
    tumour_share: float = 0.5
    epochs: int = 300
    items_per_epoch: int | None = None  # steps per epoch, each one patient's slices (all its sequences); None = one per patient
    learning_rate: float = 5e-4
    decay_from_epoch: int | None = None  # constant learning rate until this epoch, then cosine decay to the last; None = constant
    weight_decay: float = 1e-2
    encoder_weights: str | None = None  # a local ImageNet MobileNetV2 state dict; None = from scratch
    init_model: str | None = None  # start from this MRI package (e.g. All-sequence weights for T2-fusion)
    registration: str = "affine"
    footprint_margin_mm: float | None = FOOTPRINT_MARGIN_MM  # off the drawn slab, known background this far from the tumour; None = slab only
    max_validation_cases: int | None = None
    seed: int = 0
    device: str = "cpu"
    name: str = ""
    version: str = "0.1.0"
    training_data: str = ""
    extra_metadata: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> MriModelSpec:
        inputs = ("t2", "cet1") if self.model == T2_FUSION else (ANY_SEQUENCE,)
        return MriModelSpec(inputs, self.context, self.in_plane_mm)

    def architecture(self) -> dict[str, Any]:
        return {
            "name": "UnetMobileNetV2",
            "params": {"in_channels": self.spec().in_channels, "out_channels": len(OUTPUT_LABELS) + 1, "decoder_channels": list(self.decoder_channels)},
        }

    def training_sequences(self) -> tuple[str, ...]:
        if self.model == T2_FUSION:
            return (FUSION,)
        if self.model != ALL_SEQUENCE:
            raise SacralTumorAIError(f"MRI model '{self.model}': use {ALL_SEQUENCE} or {T2_FUSION}")
        return tuple(self.sequences)


def label_dice(prediction: np.ndarray, target: np.ndarray, known: np.ndarray) -> dict[str, float]:
    """Dice per output label; the tumour's only where its annotation is complete (``known``)."""
    scores = {}
    for name in OUTPUT_LABELS:
        value = label_by_name(name).value
        region = known if value == TUMOR.value else np.ones_like(known)
        a, b = (prediction == value) & region, (target == value) & region
        denominator = a.sum() + b.sum()
        scores[name] = 1.0 if denominator == 0 else float(2 * (a & b).sum() / denominator)
    return scores


def _validate(network, cases: list[dict[str, Any]], spec: MriModelSpec, device: str) -> dict[str, float]:
    network.eval()
    values = np.asarray(spec.label_values(), np.uint8)
    scores = []
    for case in cases:
        probabilities = predict_probabilities(network, [v.astype(np.float32) for v in case["image"]], spec.context, device)
        scores.append(label_dice(values[np.argmax(probabilities, axis=0)], case["label"], case["known"]))
    network.train()
    return {name: float(np.mean([s[name] for s in scores])) for name in OUTPUT_LABELS}


def load_encoder_weights(network, path: str | Path) -> int:
    """ImageNet MobileNetV2 weights from a local file (torchvision's state dict, .pth or .safetensors) into
    the encoder; the first convolution is adapted to the input channels. Returns the tensors loaded."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise SacralTumorAIError(f"{path}: no such encoder weights file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    state = {key.removeprefix("encoder."): value for key, value in state.items() if not key.startswith("classifier")}
    encoder = network.encoder
    own = encoder.state_dict()
    first = "features.0.0.weight"
    if first in state and first in own and state[first].shape[1] != own[first].shape[1]:
        channels = own[first].shape[1]  # repeat the RGB filters and rescale, as smp does for pretrained encoders
        state[first] = state[first].repeat(1, (channels + 2) // 3, 1, 1)[:, :channels] * (3.0 / channels)
    matched = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    if not matched:
        raise SacralTumorAIError(f"{path}: no tensor matches a MobileNetV2 encoder (is it torchvision's mobilenet_v2 state dict?)")
    encoder.load_state_dict(matched, strict=False)
    return len(matched)


def initial_weights(network, folder: str | Path) -> None:
    """Start from another MRI package's weights. When the input channels differ (All-sequence, 3 channels ->
    T2-fusion, 6), the first convolution's filters for the first sequence are copied and those for the added
    sequence start at zero: the new model begins exactly as the old one on T2-w and learns what CET1-w adds."""
    import torch

    from sacral_tumor_ai.models.package import load_package

    package = load_package(folder)
    if package.metadata["architecture"]["name"] != "UnetMobileNetV2":
        raise SacralTumorAIError(f"init_model {folder}: not a 2.5D MRI model")
    state, own = package.state_dict(), network.state_dict()
    for key, value in state.items():
        if key in own and own[key].shape != value.shape:
            if value.ndim == 4 and own[key].shape[0] == value.shape[0] and own[key].shape[1] > value.shape[1]:
                widened = torch.zeros_like(own[key])
                widened[:, : value.shape[1]] = value
                state[key] = widened
            else:
                raise SacralTumorAIError(f"init_model {folder}: {key} has shape {tuple(value.shape)}, this run needs {tuple(own[key].shape)}")
    network.load_state_dict(state)


def package_metadata(config: MriTrainingConfig, metrics: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    spec = config.spec()
    fusion = config.model == T2_FUSION
    return {
        "name": config.name or ("sacral-mri-t2fusion" if fusion else "sacral-mri-allseq"),
        "version": config.version,
        "task": "segmentation",
        "modality": "MR",
        "description": (
            "Tumour, hip bones and sacrum on T2-w with CET1-w registered to it (seed 2's T2-fusion model, 2.5D U-Net)."
            if fusion else "Tumour, hip bones and sacrum on any one MRI sequence: T1-w, T2-w, DWI or CET1-w (seed 2's All-sequence model, 2.5D U-Net)."
        ),
        "architecture": config.architecture(),
        **spec.to_metadata(),
        "sequences": ["t2", "cet1"] if fusion else list(config.sequences),
        "labels": label_entries(),
        "training": {
            "data": config.training_data or f"data list {config.datalist}",
            "cases": counts,
            "config": json.loads(json.dumps(asdict(config))),
            "encoder_initialisation": f"the weights of {config.init_model}" if config.init_model else ("ImageNet weights from a local file" if config.encoder_weights else "random (trained from scratch)"),
            "software": f"sacral-tumor-ai {__version__}",
        },
        "metrics": metrics,
        "licence": "Apache-2.0",
        "intended_use": "Research and education only. Not for diagnosis or treatment decisions. Trained on the "
        "project's own generated MRI data (see Training data), not on patients with confirmed tumours.",
        **config.extra_metadata,
    }


def _cases(config: MriTrainingConfig, split: str, cache: Path, log) -> list[dict[str, Any]]:
    items = load_datalist(config.datalist, split)
    if split == "validation":
        items = items[: config.max_validation_cases]
    cases = []
    for number, item in enumerate(items):
        for sequence in config.training_sequences():
            cases.append(cache_mri_case(item, sequence, config.spec(), cache, config.registration, config.footprint_margin_mm))
        if (number + 1) % 20 == 0:
            log(f"prepared {number + 1}/{len(items)} {split} cases")
    return cases


def _by_patient(cases: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The cached cases grouped by patient (one group per study: its sequences, or its fusion pair)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        groups.setdefault(case["case_id"], []).append(case)
    return list(groups.values())


def train_mri(config: MriTrainingConfig, resume: bool = False, log=print) -> Path:
    """Train; return the exported model package's folder (the best validation epoch)."""
    import torch

    from sacral_tumor_ai.models.networks import build_network
    from sacral_tumor_ai.models.package import save_package

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    spec = config.spec()
    training = _cases(config, "training", out / "cache", log)
    validation = _cases(config, "validation", out / "cache", log)
    torch.manual_seed(config.seed)
    network = build_network(config.architecture())
    if config.init_model:
        initial_weights(network, config.init_model)
    elif config.encoder_weights:
        log(f"encoder: {load_encoder_weights(network, config.encoder_weights)} tensors from {config.encoder_weights}")
    network = network.to(config.device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    start_epoch, best, history = resume_run(out / "checkpoint.pt", network, optimizer, resume, log, "mean validation Dice")
    patients = _by_patient(training)
    for epoch in range(start_epoch, config.epochs):
        rng = np.random.default_rng(config.seed * 100_003 + epoch)
        order = np.resize(rng.permutation(len(patients)), config.items_per_epoch or len(patients))
        started, losses = time.perf_counter(), []
        learning_rate = config.learning_rate * constant_then_cosine(epoch, config.decay_from_epoch, config.epochs)
        set_learning_rate(optimizer, learning_rate)
        network.train()
        for index in order:
            images, labels, known = patient_batch(patients[index], config.slices_per_case, config.tumour_share, config.context, config.crop, rng)
            images, labels, known = augment(torch.from_numpy(images), torch.from_numpy(labels).long(), torch.from_numpy(known), rng)
            optimizer.zero_grad(set_to_none=True)
            loss = coarse_label_loss(network(images.to(config.device)), labels.to(config.device), known.to(config.device))
            loss.backward()
            optimizer.step()
            losses.append(float(loss.item()))
        dice = _validate(network, validation, spec, config.device)
        record = {**epoch_record(epoch, losses, started, dice), "learning_rate": learning_rate}
        metrics = {"validation_coarse_labels": {"epoch": epoch + 1, "dice": dice, "mean_dice": record["mean_dice"], "cases": len(validation)}}
        counts = {"training": len(training), "validation": len(validation)}
        best = close_epoch(record, record["mean_dice"], best, history, network, optimizer, out, lambda: save_package(network.state_dict(), package_metadata(config, metrics, counts), out / "model"), log)
    return out / "model"
