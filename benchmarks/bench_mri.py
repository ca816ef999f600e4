"""MRI speed: a 512 x 512 x 40 T2-w segmented end to end (target <= 10 s on the 2-core CPU) and CET1-w
registered to it (target <= 30 s), the network's time against the compute floor, and the whole T2-fusion run.

    .venv/bin/python benchmarks/bench_mri.py [--model DIR] [--fusion-model DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compute_floor import forward_flops, matmul_flops_per_second, run_cli  # noqa: E402

from sacral_tumor_ai.demo import bundled_model_path  # noqa: E402
from sacral_tumor_ai.io import write_image  # noqa: E402
from sacral_tumor_ai.models.networks import load_network  # noqa: E402
from sacral_tumor_ai.models.package import load_package  # noqa: E402
from sacral_tumor_ai.mriseg.prepare import mri_grid  # noqa: E402
from sacral_tumor_ai.mriseg.registration import register  # noqa: E402
from sacral_tumor_ai.mriseg.spec import MriModelSpec  # noqa: E402
from sacral_tumor_ai.phantom.case import ScanSettings  # noqa: E402
from sacral_tumor_ai.phantom.mri import generate_mri_case  # noqa: E402

SIZE = (512, 512, 40)


def network_floor(package, t2, rate: float) -> tuple[float, float, int]:
    """(network FLOPs for the volume, seconds at the floor, slices)."""
    import torch

    spec = MriModelSpec.from_metadata(package.metadata)
    grid = mri_grid(t2, spec).grid
    width, height, slices = grid.GetSize()
    padded = [((n + 31) // 32) * 32 for n in (height, width)]
    flops = forward_flops(load_network(package), torch.zeros(1, spec.in_channels, *padded)) * slices
    return flops, flops / rate, slices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(bundled_model_path("mri-allseq")))
    parser.add_argument("--fusion-model", default=str(bundled_model_path("mri-t2fusion")))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    rate = matmul_flops_per_second()
    print(f"machine: float32 matmul {rate / 1e9:.0f} GFLOP/s with {torch.get_num_threads()} threads")
    case = generate_mri_case(77, 0, ScanSettings(size=SIZE, in_plane_mm=(0.7, 0.7), slice_mm=(5.0, 5.0)), class_name="chordoma")
    label = "x".join(map(str, SIZE))
    with tempfile.TemporaryDirectory() as folder:
        t2 = write_image(case.images["t2"], Path(folder) / "t2.nii.gz", compress=False)
        cet1 = write_image(case.images["cet1"], Path(folder) / "cet1.nii.gz", compress=False)
        seconds, result, rss = run_cli(["--t2", str(t2), "--model", args.model], Path(folder) / "allseq")
        flops, floor, slices = network_floor(load_package(args.model), case.images["t2"], rate)
        network = result["timings_s"]["network"]
        print(f"{label} T2-w, All-sequence: end to end {seconds:.1f} s in a new process (segmentation {result['timings_s']['total']:.1f} s; target <= 10 s: "
              f"{'met' if result['timings_s']['total'] <= 10 else 'NOT met'}), peak RSS {rss:.2f} GiB")
        print(f"{label} T2-w: network {network:.2f} s for {slices} slices, {flops / 1e9:.1f} GFLOP; floor {floor:.2f} s; time / floor = {network / floor:.2f} (network), {result['timings_s']['total'] / floor:.2f} (segmentation)")
        print(f"{label} T2-w: stages {result['timings_s']}")
        started = time.perf_counter()
        register(case.images["t2"], case.images["cet1"])
        registration = time.perf_counter() - started
        print(f"CET1-w -> T2-w registration (rigid + affine, ANTs): {registration:.1f} s (target <= 30 s: {'met' if registration <= 30 else 'NOT met'}); "
              f"ANTs is not a network, so there is no FLOP floor: its share of the T2-fusion run is printed instead")
        if Path(args.fusion_model, "model.json").is_file():
            seconds, result, _ = run_cli(["--t2", str(t2), "--cet1", str(cet1), "--model", args.model, "--fusion-model", args.fusion_model], Path(folder) / "fusion")
            flops, floor, _ = network_floor(load_package(args.fusion_model), case.images["t2"], rate)
            timings = result["timings_s"]
            print(f"{label} T2-w + CET1-w, T2-fusion: segmentation {timings['total']:.1f} s (registration {timings['registration']:.1f} s = "
                  f"{timings['registration'] / timings['total']:.0%}), network {timings['network']:.2f} s, time / floor = {timings['network'] / floor:.2f} (network)")


if __name__ == "__main__":
    main()
