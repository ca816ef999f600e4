"""Cohorts made by worker processes: the same cohort whatever the number of workers; memory bounds what runs at once."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sacral_tumor_ai.cli import main
from sacral_tumor_ai.phantom.case import PEAK_BASE_BYTES, PEAK_MARGIN, ScanSettings, generation_peak_bytes
from sacral_tumor_ai.phantom.cohort import write_cohort
from sacral_tumor_ai.phantom.parallel import run_cases

SMALL = ScanSettings(size=(80, 80, 40), in_plane_mm=(3.4, 3.6), slice_mm=(4.5, 5.0))


def _interval(folder: Path, index: int) -> int:
    """Sleeps a little and leaves (start, end) for case ``index`` behind; a worker's job in these tests."""
    start = time.time()
    time.sleep(0.3)
    (folder / f"{index}.json").write_text(json.dumps([start, time.time()]))
    return index * index


def test_results_come_in_case_order_and_memory_serialises_big_cases(tmp_path: Path) -> None:
    messages: list[str] = []
    # Each case needs 60 % of the memory allowed: never two at once, though there are two workers.
    results = run_cases(functools.partial(_interval, tmp_path), [0.6] * 4, workers=2, log=messages.append, memory_bytes=1.0)
    assert results == [0, 1, 4, 9]
    intervals = sorted(json.loads((tmp_path / f"{index}.json").read_text()) for index in range(4))
    assert all(later[0] >= earlier[1] for earlier, later in zip(intervals, intervals[1:]))
    assert messages and messages[-1].startswith("4/4 cases")


def _cohort_arrays(folder: Path) -> dict[str, np.ndarray]:
    return {path.name: sitk.GetArrayFromImage(sitk.ReadImage(str(path))) for path in sorted(folder.glob("*/*.nii.gz"))}


def test_a_cohort_is_the_same_with_one_worker_or_two(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    write_cohort(one, 3, seed=4, settings=SMALL, montage=False, log=lambda _: None, workers=1)
    write_cohort(two, 3, seed=4, settings=SMALL, montage=False, log=lambda _: None, workers=2)
    for name in ("clinical.csv", "datalist.json", "dataset.json"):
        assert (one / name).read_text() == (two / name).read_text(), name
    arrays_one, arrays_two = _cohort_arrays(one), _cohort_arrays(two)
    assert len(arrays_one) == 6 and arrays_one.keys() == arrays_two.keys()
    for name, array in arrays_one.items():
        assert np.array_equal(array, arrays_two[name]), name


def test_peak_memory_estimate_follows_the_rendered_grid() -> None:
    thin = generation_peak_bytes(1, 0, ScanSettings(size=(256, 256, 96), slice_mm=(1.0, 1.2)))
    thick = generation_peak_bytes(1, 0, ScanSettings(size=(256, 256, 96), slice_mm=(4.0, 5.0)))
    # 4-5 mm slices are rendered as four sub-slices each (partial volume), 1-1.2 mm slices as one.
    assert 3.0 < (thick - PEAK_MARGIN * PEAK_BASE_BYTES) / (thin - PEAK_MARGIN * PEAK_BASE_BYTES) < 4.5


@pytest.mark.parametrize("option", ["--workers", "--cases"])
def test_cohort_refuses_fewer_than_one_worker_or_case(tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = {"--cases": "2", "--workers": "1", option: "0"}
    with pytest.raises(SystemExit) as exit_info:
        main(["cohort", "--out", str(tmp_path / "cohort"), *[item for pair in arguments.items() for item in pair]])
    assert exit_info.value.code == 2 and "must be 1 or more" in capsys.readouterr().err
    assert not (tmp_path / "cohort").exists()
