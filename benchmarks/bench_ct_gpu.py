"""CT segmentation network on a CUDA GPU: the mixed-precision (bfloat16) sliding-window inference the pipeline
runs on GPU against float32 on the CPU, on the same prepared input. Prints the GPU's time, its ratio to the
compute floor (network FLOPs / bfloat16 matmul FLOP/s measured in the same run), the CPU's time, and how far
the GPU's labels and probabilities are from the float32 ones (Dice per label, largest probability change).

The input is prepared here, where SimpleITK is installed, and read there, so the GPU machine needs only
torch, MONAI, NumPy and SciPy:

    .venv/bin/python benchmarks/bench_ct_gpu.py --prepare build/gpu/ct_512x512x300.npz
    python3 benchmarks/bench_ct_gpu.py --channels build/gpu/ct_512x512x300.npz   # on the GPU machine

Without a CUDA device the second command says so and exits.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "SacralTumorAI"))
from compute_floor import forward_flops, matmul_flops_per_second  # noqa: E402

from sacral_tumor_ai.ctseg.inference import count_windows, decide_labels, predict_probabilities  # noqa: E402
from sacral_tumor_ai.ctseg.spec import CTModelSpec  # noqa: E402
from sacral_tumor_ai.demo import bundled_model_path  # noqa: E402
from sacral_tumor_ai.models.networks import load_network  # noqa: E402
from sacral_tumor_ai.models.package import load_package  # noqa: E402

SIZE = (512, 512, 300)


def prepare(out: Path, model: Path) -> None:
    """The demo CT on a 512 x 512 x 300 grid (as bench_ct_segmentation.py times it), prepared for ``model``:
    its input channels on the model grid, stored as float16 (the windows' values lie in [0, 1])."""
    from bench_ct_segmentation import resampled_case

    from sacral_tumor_ai.ctseg.preprocess import prepare_ct

    spec = CTModelSpec.from_metadata(load_package(model).metadata)
    channels = prepare_ct(resampled_case(SIZE), spec).channels
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, channels=channels.astype(np.float16))
    print(f"{out}: channels {channels.shape} on the model grid, {out.stat().st_size / 1e6:.1f} MB")


def timed(function, *args, **kwargs) -> tuple[float, np.ndarray]:
    import torch

    started = time.perf_counter()
    result = function(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def compare(channels_path: Path, model: Path, device: str = "cuda") -> None:
    """``device`` other than CUDA only tries the script out (both runs are then float32 on the CPU)."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure")
        return
    gpu = torch.cuda if device.startswith("cuda") else None
    package = load_package(model)
    spec = CTModelSpec.from_metadata(package.metadata)
    channels = np.load(channels_path)["channels"].astype(np.float32)
    print(f"device: {gpu.get_device_name() if gpu else device}, torch {torch.__version__}; model {package.metadata['name']} {package.metadata['version']}; input {channels.shape}")
    network = load_network(package, device)
    predict_probabilities(network, channels, spec, device)  # warm-up: cuDNN picks its kernels
    if gpu:
        gpu.reset_peak_memory_stats()
    gpu_seconds, on_gpu = timed(predict_probabilities, network, channels, spec, device)
    peak_gb = gpu.max_memory_allocated() / 1e9 if gpu else float("nan")

    roi = tuple(reversed(spec.patch_size))
    windows = count_windows(channels.shape[1:], roi, spec.overlap) * (2 if spec.mirror else 1)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        flops = forward_flops(network, torch.zeros(1, spec.channels, *roi, device=device)) * windows
    rate = matmul_flops_per_second(8192, 10, device, "bfloat16") if gpu else matmul_flops_per_second()
    floor = flops / rate
    print(f"GPU bfloat16: {gpu_seconds:.2f} s for {windows} windows ({flops / 1e12:.2f} TFLOP), peak GPU memory {peak_gb:.1f} GB; "
          f"bf16 matmul {rate / 1e12:.0f} TFLOP/s, floor {floor * 1000:.1f} ms, time / floor = {gpu_seconds / floor:.0f}")

    cpu_seconds, on_cpu = timed(predict_probabilities, load_network(package, "cpu"), channels, spec, "cpu")
    print(f"CPU float32 ({torch.get_num_threads()} threads): {cpu_seconds:.1f} s; GPU speed-up {cpu_seconds / gpu_seconds:.1f}x")

    gpu_labels, cpu_labels = decide_labels(on_gpu, spec), decide_labels(on_cpu, spec)
    values = zip(spec.output_labels, spec.label_values()[1:])
    agreement = {name: round(dice(gpu_labels == value, cpu_labels == value), 4) for name, value in values}
    print(f"bfloat16 GPU vs float32 CPU: label Dice {agreement}; voxels labelled differently {(gpu_labels != cpu_labels).mean() * 100:.3f} %; "
          f"largest probability change {np.abs(on_gpu - on_cpu).max():.3f}, mean {np.abs(on_gpu - on_cpu).mean():.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(bundled_model_path("ct-seg")))
    parser.add_argument("--prepare", type=Path, help="write the prepared input here (needs SimpleITK)")
    parser.add_argument("--channels", type=Path, help="a prepared input to run on the GPU and the CPU")
    parser.add_argument("--device", default="cuda", help="cpu tries the script out where no GPU is")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, Path(args.model))
    if args.channels:
        compare(args.channels, Path(args.model), args.device)


if __name__ == "__main__":
    main()
