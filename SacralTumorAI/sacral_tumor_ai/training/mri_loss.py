"""The 2.5D MRI loss for coarse labels: Dice + cross-entropy where the tumour was drawn, bones everywhere.

Seed 2's training masks show the tumour only on its largest slice and 5 slices either side. Where the
annotation is incomplete (off those slices, within the tumour's footprint: ``mri_data.known_mask``) a voxel
marked background may be tumour, so it is scored as "background or tumour" (the marginal likelihood
p(background) + p(tumour)); bone labels are exact on every slice and scored as such. The tumour's Dice term
counts only the voxels where the annotation is complete (``known``), so unlabelled tumour is never called a
miss.
"""

from __future__ import annotations

import torch

from sacral_tumor_ai.labels import TUMOR

_SMOOTH = 1e-5


def coarse_label_loss(logits: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """``logits`` (B, K, H, W); ``target`` (B, H, W) label values = channels; ``known`` (B, H, W) bool, True
    where the tumour annotation is complete."""
    log_probabilities = torch.log_softmax(logits.float(), dim=1)
    target = target.long()
    exact = -log_probabilities.gather(1, target[:, None])[:, 0]
    either = -torch.logsumexp(log_probabilities[:, [0, TUMOR.value]], dim=1)
    certain = known | (target != 0)
    cross_entropy = torch.where(certain, exact, either).mean()

    probabilities = log_probabilities.exp()
    dice_losses = []
    for channel in range(1, logits.shape[1]):
        mask = known.float() if channel == TUMOR.value else torch.ones_like(known, dtype=torch.float32)
        predicted, truth = probabilities[:, channel] * mask, (target == channel).float() * mask
        dice = (2 * (predicted * truth).sum() + _SMOOTH) / (predicted.sum() + truth.sum() + _SMOOTH)
        dice_losses.append(1 - dice)
    return cross_entropy + torch.stack(dice_losses).mean()
