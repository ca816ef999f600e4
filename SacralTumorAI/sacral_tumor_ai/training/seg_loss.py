"""The segmentation loss: Dice + cross-entropy, with deep supervision, for fully and partly labelled cases.

Lesions inserted into a real CT come with an exact tumour mask but no bone labels (nobody drew the real
scan's hip bones). For those cases every non-tumour class is merged into one "not tumour" class before the
loss (the marginal loss of Shi et al., Med Image Anal 2021): the network is told where the tumour is and is
not, and is never told that the unlabelled hip bones are background.

The soft Dice term can be weighted down: where the boundary is uncertain, optimising soft Dice draws
structures larger than they are, while cross-entropy is unbiased (Bertels et al., "Optimization with soft
Dice can lead to a volumetric bias", BrainLes 2019).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TUMOR_CHANNEL = 1
_SMOOTH = 1e-5


def _soft_dice_loss(probabilities: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    """Mean over samples and channels of 1 - soft Dice (MONAI's DiceLoss with include_background)."""
    dims = tuple(range(2, probabilities.ndim))
    intersection = (probabilities * one_hot).sum(dims)
    denominator = probabilities.sum(dims) + one_hot.sum(dims)
    return (1 - (2 * intersection + _SMOOTH) / (denominator + _SMOOTH)).mean()


def dice_ce_loss(logits: torch.Tensor, target: torch.Tensor, partial: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """CE + ``dice_weight`` x soft Dice of ``logits`` (B, C, ...) against integer ``target`` (B, 1, ...);
    samples with ``partial`` True are scored on tumour vs not-tumour only."""
    target = target[:, 0].long()
    log_probabilities = torch.log_softmax(logits.float(), dim=1)
    losses = []
    full = ~partial
    if full.any():
        lp, t = log_probabilities[full], target[full]
        one_hot = F.one_hot(t, lp.shape[1]).movedim(-1, 1).to(lp.dtype)
        losses.append((F.nll_loss(lp, t) + dice_weight * _soft_dice_loss(lp.exp(), one_hot)) * full.sum())
    if partial.any():
        lp, t = log_probabilities[partial], (target[partial] == TUMOR_CHANNEL).long()
        others = torch.cat([lp[:, :TUMOR_CHANNEL], lp[:, TUMOR_CHANNEL + 1 :]], dim=1)
        merged = torch.stack([torch.logsumexp(others, dim=1), lp[:, TUMOR_CHANNEL]], dim=1)
        one_hot = F.one_hot(t, 2).movedim(-1, 1).to(lp.dtype)
        losses.append((F.nll_loss(merged, t) + dice_weight * _soft_dice_loss(merged.exp(), one_hot)) * partial.sum())
    return torch.stack(losses).sum() / len(partial)


def deep_supervision_loss(
    outputs: torch.Tensor | list[torch.Tensor], target: torch.Tensor, partial: torch.Tensor, dice_weight: float = 1.0
) -> torch.Tensor:
    """:func:`dice_ce_loss` over the deep-supervision heads (full resolution first), the coarser heads'
    targets downsampled by nearest neighbour and weighted 1, 1/2, 1/4, ... (MONAI's "exp" weights)."""
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    total = torch.zeros((), device=target.device)
    for level, output in enumerate(outputs):
        level_target = target
        if output.shape[2:] != target.shape[2:]:
            level_target = F.interpolate(target.float(), size=output.shape[2:], mode="nearest-exact")
        total = total + max(0.5**level, 0.0625) * dice_ce_loss(output, level_target, partial, dice_weight)
    return total
