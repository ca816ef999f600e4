"""Learning-rate schedules: constant, then a cosine decay that ends at FINAL_FACTOR."""

from __future__ import annotations

import pytest

from sacral_tumor_ai.training.schedule import FINAL_FACTOR, constant_then_cosine, cosine_factor, warmup_then_cosine


def test_cosine_runs_from_one_to_the_final_factor() -> None:
    assert cosine_factor(10, 10, 20) == pytest.approx(1.0)
    assert cosine_factor(15, 10, 20) == pytest.approx(FINAL_FACTOR + (1 - FINAL_FACTOR) / 2)
    assert cosine_factor(20, 10, 20) == pytest.approx(FINAL_FACTOR)
    assert cosine_factor(30, 10, 20) == pytest.approx(FINAL_FACTOR)  # past the end it stays at the floor


def test_constant_until_the_decay_starts() -> None:
    assert [constant_then_cosine(epoch, None, 5) for epoch in range(5)] == [1.0] * 5
    factors = [constant_then_cosine(epoch, 2, 6) for epoch in range(6)]
    assert factors[:3] == [1.0, 1.0, 1.0] and factors[2:] == sorted(factors[2:], reverse=True) and factors[-1] < 0.2


def test_warmup_rises_linearly_then_decays() -> None:
    factors = [warmup_then_cosine(epoch, 2, 10) for epoch in range(11)]
    assert factors[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert factors[2:] == sorted(factors[2:], reverse=True) and factors[10] == pytest.approx(FINAL_FACTOR)
