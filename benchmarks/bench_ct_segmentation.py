"""CT segmentation speed and memory: a 512 x 512 x 300 CT end to end (target <= 30 s, peak RSS <= 4 GB on
the 2-core CPU), the network's time against the compute floor, and the classical hip-bone provider beside
the model (time, and Dice on generated cases).

    .venv/bin/python benchmarks/bench_ct_segmentation.py [--model DIR] [--datalist D] [--cases N] [--huge] [--compressed] [--toggle-mirror]

The classical-vs-model Dice is measured on ``--cases`` new generated cases (a seed no bundled model was
trained on, the generator's default scan settings), or on the test cases of ``--datalist``.

``--huge`` adds a 1024 x 1024 x 900 scan: from a file that large the run lets the scan's voxels go once the
model's input is made and reads slabs, the crop and the preview's planes back (``io.scan``). ``--compressed``
writes the scans as ``.nii.gz`` (each read back decompresses the file from its start: slower) instead of ``.nii``.

Inference runs in bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX; ``models.precision``);
the compute floor then uses the bfloat16 matmul rate, and the 512 x 512 x 300 scan is also timed in float32.

``--toggle-mirror`` also times a copy of the package with test-time left-right mirroring switched the other
way. With mirroring on, the network runs twice per window, and the compute floor counts both runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_floor import forward_flops, matmul_flops_per_second, run_cli  # noqa: E402

from sacral_tumor_ai.ctseg.inference import count_windows  # noqa: E402
from sacral_tumor_ai.ctseg.preprocess import prepare_ct  # noqa: E402
from sacral_tumor_ai.ctseg.spec import CTModelSpec  # noqa: E402
from sacral_tumor_ai.demo import bundled_model_path, demo_case_path  # noqa: E402
from sacral_tumor_ai.io import read_image, write_image  # noqa: E402
from sacral_tumor_ai.models.networks import load_network  # noqa: E402
from sacral_tumor_ai.models.package import load_package  # noqa: E402
from sacral_tumor_ai.models.precision import PRECISION_VARIABLE, inference_dtype  # noqa: E402


def resampled_case(size: tuple[int, int, int]) -> sitk.Image:
    """The bundled demo CT (real anatomy with an inserted lesion) on a finer grid of ``size`` voxels, same
    field of view: a stand-in for a typical thin-slice pelvic CT."""
    source = read_image(demo_case_path())
    extent = [n * s for n, s in zip(source.GetSize(), source.GetSpacing())]
    grid = sitk.Image(list(size), sitk.sitkInt16)
    grid.SetSpacing([e / n for e, n in zip(extent, size)])
    grid.SetDirection(source.GetDirection())
    corner = source.TransformContinuousIndexToPhysicalPoint([-0.5, -0.5, -0.5])
    direction = np.asarray(source.GetDirection()).reshape(3, 3)
    grid.SetOrigin(tuple(np.asarray(corner) + direction @ (np.asarray(grid.GetSpacing()) / 2)))
    return sitk.Resample(source, grid, sitk.Transform(), sitk.sitkLinear, -1024, sitk.sitkInt16)


def network_floor(package, size: tuple[int, int, int], rate: float) -> tuple[float, float, float]:
    """(network FLOPs for the case, seconds at the floor, number of windows); a mirrored package runs the
    network twice per window."""
    import torch

    spec = CTModelSpec.from_metadata(package.metadata)
    prepared = prepare_ct(resampled_case(size), spec)
    network = load_network(package)
    patch = torch.zeros(1, spec.channels, *reversed(spec.patch_size))
    windows = count_windows(prepared.channels.shape[1:], tuple(reversed(spec.patch_size)), spec.overlap)
    flops = forward_flops(network, patch) * windows * (2 if spec.mirror else 1)
    return flops, flops / rate, windows


def unseen_cohort(folder: Path, cases: int) -> Path:
    """A generated CT cohort of ``cases`` at the generator's default scan settings, from a seed that no
    bundled model was trained on (the CT build uses 11 and 12); returns its data list."""
    from sacral_tumor_ai.phantom.cohort import write_cohort

    write_cohort(folder / "cohort", cases, seed=2026, montage=False, log=lambda _: None)
    return folder / "cohort" / "datalist.json"


def classical_vs_model(model: Path, datalist: Path, split: str, cases: int) -> None:
    from sacral_tumor_ai.evaluation.evaluate_seg import evaluate_segmentation_model

    for provider in ("model", "classical"):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            result = evaluate_segmentation_model(model, datalist, split, folder, provider, limit=cases)
            seconds = (time.perf_counter() - started) / max(1, result["cases"])
        dice = {name: round(values["dice"]["mean"], 3) for name, values in result["summary"].items() if name != "tumor"}
        print(f"provider {provider:9s}: {seconds:5.1f} s/case (whole pipeline), bone Dice {dice} on {result['cases']} {'generated test' if split == 'test' else 'new generated'} cases")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(bundled_model_path("ct-seg")))
    parser.add_argument("--datalist", help="generated cohort data list whose test cases score the classical provider against the model (default: new unseen cases)")
    parser.add_argument("--cases", type=int, default=5, help="cases for the classical-vs-model Dice (0: skip it)")
    parser.add_argument("--huge", action="store_true", help="also a 1024 x 1024 x 900 scan (memory check)")
    parser.add_argument("--compressed", action="store_true", help="write the scans as .nii.gz instead of .nii")
    parser.add_argument("--toggle-mirror", action="store_true", help="also the package with test-time mirroring switched, on the 512 x 512 x 300 scan")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    package = load_package(args.model)
    precision = inference_dtype("cpu")
    rates = {dtype: matmul_flops_per_second(dtype=dtype) for dtype in dict.fromkeys(("float32", precision))}  # each once
    rate = rates[precision]
    measured = ", ".join(f"{dtype} {value / 1e9:.0f}" for dtype, value in rates.items())
    print(f"machine: matmul {measured} GFLOP/s with {torch.get_num_threads()} threads; inference runs in {precision} (floor at its rate)")
    spec = CTModelSpec.from_metadata(package.metadata)
    windows_of = f"windows of {'x'.join(str(v) for v in spec.patch_size)}" + (", each also mirrored" if spec.mirror else "")
    sizes = [(512, 512, 300)] + ([(1024, 1024, 900)] if args.huge else [])
    suffix = ".nii.gz" if args.compressed else ".nii"
    with tempfile.TemporaryDirectory() as folder:
        timed = {}
        for size in sizes:
            path = write_image(resampled_case(size), Path(folder) / f"ct_{size[0]}x{size[1]}x{size[2]}{suffix}", compress=args.compressed)
            seconds, result, rss = run_cli([str(path), "--model", args.model, "--provider", "model"], Path(folder) / f"out{size[0]}")
            flops, floor_seconds, windows = network_floor(package, size, rate)
            network_seconds = result["timings_s"]["network"]
            label = "x".join(str(v) for v in size)
            speed = f" (target <= 30 s: {'met' if seconds <= 30 else 'NOT met'})" if size == (512, 512, 300) else ""  # the target names this size only
            timed[size] = seconds
            gigabytes = rss * 1.073741824  # the target's GB, 10^9 bytes
            print(f"{label} ({suffix}): end to end {seconds:.1f} s{speed}, peak RSS {gigabytes:.2f} GB (target <= 4 GB: {'met' if gigabytes <= 4 else 'NOT met'})")
            print(f"{label}: network {network_seconds:.1f} s for {windows} {windows_of}, {flops / 1e9:.0f} GFLOP; floor {floor_seconds:.1f} s; time / floor = {network_seconds / floor_seconds:.2f} (network), {seconds / floor_seconds:.2f} (end to end)")
            print(f"{label}: stages {result['timings_s']}")
            classical_started = time.perf_counter()
            from sacral_tumor_ai.bones.classical import classical_bone_labels

            classical_bone_labels(read_image(path))
            print(f"{label}: classical hip-bone provider alone {time.perf_counter() - classical_started:.1f} s")
        if precision != "float32":
            precision_timing(args.model, Path(folder), suffix, timed[sizes[0]])
        if args.toggle_mirror:
            mirror_timing(Path(args.model), Path(folder), suffix)
        if args.cases <= 0:
            print("classical vs model: skipped (--cases 0)")
        elif args.datalist:
            classical_vs_model(Path(args.model), Path(args.datalist), "test", args.cases)
        else:
            classical_vs_model(Path(args.model), unseen_cohort(Path(folder), args.cases), "all", args.cases)


def precision_timing(model: str, folder: Path, suffix: str, seconds: float) -> None:
    """The 512 x 512 x 300 scan again in float32 (``SACRAL_TUMOR_AI_PRECISION``), beside the run above."""
    float32_seconds, result, _ = run_cli(
        [str(folder / f"ct_512x512x300{suffix}"), "--model", model], folder / "out-float32", {PRECISION_VARIABLE: "float32"}
    )
    print(f"512x512x300 in float32: end to end {float32_seconds:.1f} s, network {result['timings_s']['network']:.1f} s; "
          f"float32 / {inference_dtype('cpu')} end to end = {float32_seconds / seconds:.2f}")


def mirror_timing(model: Path, folder: Path, suffix: str) -> None:
    """End to end and network time of the 512 x 512 x 300 scan with test-time mirroring switched."""
    from sacral_tumor_ai.models.package import install_package

    inference = load_package(model).metadata.get("inference", {})
    mirror = not inference.get("mirror_left_right", False)
    toggled = install_package(model, folder / "toggled-model", {}, updates={"inference": {**inference, "mirror_left_right": mirror}}).folder
    seconds, result, _ = run_cli([str(folder / f"ct_512x512x300{suffix}"), "--model", str(toggled)], folder / "out-toggled")
    state = "on" if mirror else "off"
    print(f"512x512x300 with test-time mirroring {state}: end to end {seconds:.1f} s (target <= 30 s: {'met' if seconds <= 30 else 'NOT met'}), network {result['timings_s']['network']:.1f} s")


if __name__ == "__main__":
    main()
