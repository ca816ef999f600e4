"""The training loss: MONAI's Dice + CE on full labels, the marginal loss on tumour-only labels."""

from __future__ import annotations

import pytest
import torch
from monai.losses import DeepSupervisionLoss, DiceCELoss

from sacral_tumor_ai.training.seg_loss import deep_supervision_loss, dice_ce_loss


def _batch(seed: int, size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(3, 5, size, size, size, generator=generator)
    target = torch.randint(0, 5, (3, 1, size, size, size), generator=generator)
    return logits, target


def test_full_labels_match_monai_dice_ce() -> None:
    logits, target = _batch(0)
    expected = DiceCELoss(to_onehot_y=True, softmax=True)(logits, target)
    assert dice_ce_loss(logits, target, torch.zeros(3, dtype=torch.bool)) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("dice_weight", [0.0, 0.3])
def test_dice_weight_matches_monai_lambdas(dice_weight: float) -> None:
    logits, target = _batch(2)
    expected = DiceCELoss(to_onehot_y=True, softmax=True, lambda_dice=dice_weight)(logits, target)
    full = torch.zeros(3, dtype=torch.bool)
    assert dice_ce_loss(logits, target, full, dice_weight) == pytest.approx(float(expected), rel=1e-5)
    heads = [logits, torch.randn(3, 5, 4, 4, 4)]
    expected = DeepSupervisionLoss(DiceCELoss(to_onehot_y=True, softmax=True, lambda_dice=dice_weight))(heads, target.float())
    assert deep_supervision_loss(heads, target, full, dice_weight) == pytest.approx(float(expected), rel=1e-5)


def test_deep_supervision_matches_monai() -> None:
    logits, target = _batch(1)
    heads = [logits, torch.randn(3, 5, 4, 4, 4), torch.randn(3, 5, 2, 2, 2)]
    expected = DeepSupervisionLoss(DiceCELoss(to_onehot_y=True, softmax=True))(heads, target.float())
    assert deep_supervision_loss(heads, target, torch.zeros(3, dtype=torch.bool)) == pytest.approx(float(expected), rel=1e-5)


def test_tumour_only_labels_do_not_penalise_bone() -> None:
    """On a tumour-only case, calling an unlabelled voxel bone or background costs the same; missing the
    tumour costs more."""
    target = torch.zeros(1, 1, 6, 6, 6, dtype=torch.long)
    target[..., 2:4, 2:4, 2:4] = 1
    partial = torch.ones(1, dtype=torch.bool)

    def logits_calling(non_tumour_class: int, tumour_class: int = 1) -> torch.Tensor:
        logits = torch.zeros(1, 5, 6, 6, 6)
        logits[:, non_tumour_class] = 8.0
        logits[:, :, 2:4, 2:4, 2:4] = 0.0
        logits[:, tumour_class, 2:4, 2:4, 2:4] = 8.0
        return logits

    as_background = dice_ce_loss(logits_calling(0), target, partial)
    as_hip_bone = dice_ce_loss(logits_calling(2), target, partial)
    assert as_hip_bone == pytest.approx(float(as_background), rel=1e-6)
    assert dice_ce_loss(logits_calling(0, tumour_class=4), target, partial) > as_background + 0.5
    # The same bone call is penalised when the case is fully labelled (there it is wrong).
    assert dice_ce_loss(logits_calling(2), target, ~partial) > as_background + 0.5


def test_mixed_batch_is_the_mean_of_its_samples() -> None:
    logits, target = _batch(2)
    partial = torch.tensor([True, False, True])
    together = dice_ce_loss(logits, target, partial)
    alone = [dice_ce_loss(logits[i : i + 1], target[i : i + 1], partial[i : i + 1]) for i in range(3)]
    assert together == pytest.approx(float(sum(alone) / 3), rel=1e-5)
