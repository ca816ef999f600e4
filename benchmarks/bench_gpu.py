"""The segmentation networks on a CUDA GPU: the mixed-precision inference the pipelines run on a GPU (CT:
bfloat16 sliding windows; MRI: float16 2.5D slices) against float32 on the CPU, same prepared input, same
functions. Prints, per network, the GPU's time and its ratio to the compute floor (network FLOPs / matmul
FLOP/s in the network's precision, measured in the same run), the CPU's time, and how far the GPU's labels
and probabilities are from the float32 ones (Dice per label, largest probability change).

The inputs are prepared here, where SimpleITK and ANTs are installed, and read there, so the GPU machine
needs only torch, MONAI, segmentation-models-pytorch, NumPy and SciPy:

    .venv/bin/python benchmarks/bench_gpu.py --prepare build/gpu/inputs.npz
    python3 benchmarks/bench_gpu.py --inputs build/gpu/inputs.npz   # on the GPU machine

CT: the demo CT on a 512 x 512 x 300 grid (as bench_ct_segmentation.py times it). MRI: a generated
512 x 512 x 40 T2-w study (as bench_mri.py times it), for the All-sequence model on T2-w and the T2-fusion
model on T2-w plus CET1-w registered to it. ``--device cpu`` tries the script out where no GPU is (the CT's
first run is then in bfloat16 if the CPU has it natively, see ``models.precision``; the reference is always
float32). Without a CUDA device it says so and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "SacralTumorAI"))
from compute_floor import forward_flops, matmul_flops_per_second  # noqa: E402

from sacral_tumor_ai.ctseg import inference as ct_inference  # noqa: E402
from sacral_tumor_ai.ctseg.spec import CTModelSpec  # noqa: E402
from sacral_tumor_ai.demo import bundled_model_path  # noqa: E402
from sacral_tumor_ai.evaluation.segmentation_metrics import dice  # noqa: E402
from sacral_tumor_ai.models.networks import load_network  # noqa: E402
from sacral_tumor_ai.models.package import load_package  # noqa: E402
from sacral_tumor_ai.models.precision import PRECISION_VARIABLE, inference_dtype  # noqa: E402
from sacral_tumor_ai.mriseg import inference as mri_inference  # noqa: E402
from sacral_tumor_ai.mriseg.spec import MriModelSpec  # noqa: E402

CT_SIZE, MRI_SIZE = (512, 512, 300), (512, 512, 40)


def prepare(out: Path, ct_model: Path, mri_model: Path) -> None:
    """Each network's input on its model grid, stored as float16 (CT windows lie in [0, 1], normalised MR
    signal in [-3, 6]; both runs read the same rounded values)."""
    from bench_ct_segmentation import resampled_case

    from sacral_tumor_ai.ctseg.preprocess import prepare_ct
    from sacral_tumor_ai.mriseg.prepare import mri_grid, sequence_on_grid
    from sacral_tumor_ai.mriseg.registration import register
    from sacral_tumor_ai.phantom.case import ScanSettings
    from sacral_tumor_ai.phantom.mri import generate_mri_case

    ct = prepare_ct(resampled_case(CT_SIZE), CTModelSpec.from_metadata(load_package(ct_model).metadata)).channels
    case = generate_mri_case(77, 0, ScanSettings(size=MRI_SIZE, in_plane_mm=(0.7, 0.7), slice_mm=(5.0, 5.0)), class_name="chordoma")
    t2 = case.images["t2"]
    grid = mri_grid(t2, MriModelSpec.from_metadata(load_package(mri_model).metadata)).grid
    cet1 = register(t2, case.images["cet1"]).image
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, ct=ct.astype(np.float16), t2=sequence_on_grid(t2, grid).astype(np.float16), cet1=sequence_on_grid(cet1, grid).astype(np.float16))
    print(f"{out}: CT channels {ct.shape}, MRI volumes {grid.GetSize()[::-1]}, {out.stat().st_size / 1e6:.1f} MB")


def timed(function: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    import torch

    started = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


@contextlib.contextmanager
def float32_inference() -> Iterator[None]:
    """Inference in float32 within the block (``SACRAL_TUMOR_AI_PRECISION``), restored after it."""
    previous = os.environ.get(PRECISION_VARIABLE)
    os.environ[PRECISION_VARIABLE] = "float32"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[PRECISION_VARIABLE]
        else:
            os.environ[PRECISION_VARIABLE] = previous


def compare(title: str, predict: Callable[[object, str], np.ndarray], package, labels: Callable[[np.ndarray], np.ndarray],
            names_values: list[tuple[str, int]], flops: float, precision: str, device: str) -> None:
    """Time ``predict(network, device)`` (after a warm-up), then on the CPU in float32; print the agreement."""
    import torch

    gpu = torch.cuda if device.startswith("cuda") else None
    network = load_network(package, device)
    predict(network, device)  # warm-up: cuDNN picks its kernels
    if gpu:
        gpu.reset_peak_memory_stats()
    seconds, on_gpu = timed(lambda: predict(network, device))
    peak = f", peak GPU memory {gpu.max_memory_allocated() / 1e9:.1f} GB" if gpu else ""
    # On a CPU the CT network runs in bfloat16 where that is native (models.precision), the MRI's in float32.
    used = precision if gpu or (precision == "bfloat16" and inference_dtype("cpu") == "bfloat16") else "float32"
    rate = matmul_flops_per_second(8192, 10, device, precision) if gpu else matmul_flops_per_second(dtype=used)
    print(f"{title}: {device} {used} {seconds:.2f} s ({flops / 1e12:.2f} TFLOP{peak}); "
          f"matmul {rate / 1e12:.1f} TFLOP/s, floor {flops / rate * 1000:.1f} ms, time / floor = {seconds / (flops / rate):.0f}")
    with float32_inference():  # the reference, even on a CPU whose inference would run in bfloat16
        cpu_seconds, on_cpu = timed(lambda: predict(load_network(package, "cpu"), "cpu"))
    print(f"{title}: CPU float32 ({torch.get_num_threads()} threads) {cpu_seconds:.1f} s; speed-up {cpu_seconds / seconds:.1f}x")
    first, second = labels(on_gpu), labels(on_cpu)
    agreement = {name: round(dice(first == value, second == value), 4) for name, value in names_values}
    print(f"{title}: {used} against float32 CPU: label Dice {agreement}; voxels labelled differently "
          f"{(first != second).mean() * 100:.3f} %; largest probability change {np.abs(on_gpu - on_cpu).max():.3f}, mean {np.abs(on_gpu - on_cpu).mean():.5f}")


def ct(inputs: dict[str, np.ndarray], model: Path, device: str) -> None:
    import torch

    package = load_package(model)
    spec = CTModelSpec.from_metadata(package.metadata)
    channels = inputs["ct"].astype(np.float32)
    roi = tuple(reversed(spec.patch_size))
    windows = ct_inference.count_windows(channels.shape[1:], roi, spec.overlap) * (2 if spec.mirror else 1)
    flops = forward_flops(load_network(package), torch.zeros(1, spec.channels, *roi)) * windows
    title = f"CT {package.metadata['name']} {package.metadata['version']}, input {channels.shape}, {windows} windows"
    compare(title, lambda network, where: ct_inference.predict_probabilities(network, channels, spec, where), package,
            lambda probabilities: ct_inference.decide_labels(probabilities, spec), list(zip(spec.output_labels, spec.label_values()[1:])),
            flops, "bfloat16", device)


def mri(inputs: dict[str, np.ndarray], model: Path, device: str) -> None:
    import torch

    package = load_package(model)
    spec = MriModelSpec.from_metadata(package.metadata)
    volumes = [inputs[s].astype(np.float32) for s in (spec.inputs if spec.is_fusion else ("t2",))]
    depth, height, width = volumes[0].shape
    padded = [-(-n // mri_inference.DIVISOR) * mri_inference.DIVISOR for n in (height, width)]
    flops = forward_flops(load_network(package), torch.zeros(1, spec.in_channels, *padded)) * depth
    values = spec.label_values()
    title = f"MRI {package.metadata['name']} {package.metadata['version']}, input {len(volumes)} x {volumes[0].shape}"
    compare(title, lambda network, where: mri_inference.predict_probabilities(network, volumes, spec.context, where), package,
            lambda probabilities: np.asarray(values, np.uint8)[np.argmax(probabilities, axis=0)], list(zip(spec.output_labels, values[1:])),
            flops, "float16", device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ct-model", default=str(bundled_model_path("ct-seg")))
    parser.add_argument("--mri-model", default=str(bundled_model_path("mri-allseq")))
    parser.add_argument("--fusion-model", default=str(bundled_model_path("mri-t2fusion")))
    parser.add_argument("--prepare", type=Path, help="write the prepared inputs here (needs SimpleITK and ANTs)")
    parser.add_argument("--inputs", type=Path, help="prepared inputs to run on the GPU and the CPU")
    parser.add_argument("--device", default="cuda", help="cpu tries the script out where no GPU is")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, Path(args.ct_model), Path(args.mri_model))
    if args.inputs:
        import torch

        if args.device.startswith("cuda") and not torch.cuda.is_available():
            print("no CUDA device here: nothing to measure")
            return
        inputs = dict(np.load(args.inputs))
        print(f"device: {torch.cuda.get_device_name() if args.device.startswith('cuda') else args.device}, torch {torch.__version__}")
        ct(inputs, Path(args.ct_model), args.device)
        mri(inputs, Path(args.mri_model), args.device)
        mri(inputs, Path(args.fusion_model), args.device)


if __name__ == "__main__":
    main()
