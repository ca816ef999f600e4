"""Hip-bone providers: one interface, clean detection of what is not installed, bones swapped not tumour."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.bones.classical import classical_bone_labels
from sacral_tumor_ai.ctseg.providers import PROVIDERS, get_provider, replace_bones
from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.labels import HIP_LEFT, HIP_RIGHT, SACRUM, TUMOR
from sacral_tumor_ai.phantom.case import ScanSettings, generate_case


def test_totalsegmentator_is_detected_cleanly_when_missing(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TOTALSEG_HOME_DIR", str(tmp_path))
    provider = get_provider("totalsegmentator")
    reason = provider.availability()
    assert reason and ("not installed" in reason or "no TotalSegmentator weights" in reason)
    with pytest.raises(SacralTumorAIError, match="not available"):
        provider.require()


def test_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(SacralTumorAIError, match="model, classical, totalsegmentator"):
        get_provider("nnunet")
    assert set(PROVIDERS) == {"model", "classical", "totalsegmentator"}


def test_replace_bones_keeps_the_tumour() -> None:
    model = np.zeros((4, 4, 4), np.uint8)
    model[0] = HIP_LEFT.value
    model[1, :2] = TUMOR.value
    other = np.zeros_like(model)
    other[1] = HIP_RIGHT.value
    other[3] = SACRUM.value
    images = [sitk.GetImageFromArray(a) for a in (model, other)]
    merged = sitk.GetArrayFromImage(replace_bones(*images))
    assert (merged[0] == 0).all()  # the model's bone is gone
    assert (merged[1, :2] == TUMOR.value).all() and (merged[1, 2:] == HIP_RIGHT.value).all()
    assert (merged[3] == SACRUM.value).all()


def test_classical_provider_separates_a_generated_pelvis() -> None:
    # The no-weights baseline: threshold, erosion at the joints, components named by position. Scored against
    # the generator's exact labels (it scores 0.53-0.96 per bone on generated cases; this case's lowest is 0.68).
    case = generate_case(11, 0, ScanSettings(in_plane_mm=(1.2, 1.3), slice_mm=(2.0, 2.5)))
    truth = sitk.GetArrayFromImage(case.labelmap)
    found = sitk.GetArrayFromImage(classical_bone_labels(case.image))
    for label in (HIP_LEFT, HIP_RIGHT, SACRUM):
        a, b = found == label.value, truth == label.value
        assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.6, label.name
