"""What hip prostheses do to a CT segmentation model: the first N generated cases of a seed that have one,
rendered with and without it (the same patient, scan and noise), each set scored by ``evaluate-seg``.

    .venv/bin/python scripts/metal_effect.py [--model DIR] [--cases 8] [--seed 2027] [--out build/metal-effect]

Prints mean Dice and HD95 per structure for both renderings. Without the prosthesis the hip bone is whole;
with it, the reamed acetabulum is not hip bone, so the hip scores compare each rendering with its own labels.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from sacral_tumor_ai.demo import bundled_model_path
from sacral_tumor_ai.evaluation.evaluate_seg import evaluate_segmentation_model
from sacral_tumor_ai.io import write_json
from sacral_tumor_ai.phantom.case import ScanSettings, first_cases, generate_case
from sacral_tumor_ai.phantom.cohort import prosthesis_sides, write_case_files


def write_set(out: Path, seed: int, indices: list[int], implants: bool) -> Path:
    """The cases as a data list whose test split holds them all."""
    items = []
    for index in indices:
        case = generate_case(seed, index, replace(ScanSettings(), implants=implants))
        paths = write_case_files(out, case.case_id, case.image, case.labelmap)
        items.append({"case_id": case.case_id, **paths, "hip_prosthesis": prosthesis_sides(case.details)})
    write_json({"training": [], "validation": [], "test": items}, out / "datalist.json")
    return out / "datalist.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(bundled_model_path("ct-seg")))
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--out", type=Path, default=Path("build/metal-effect"))
    args = parser.parse_args()
    indices = first_cases(args.seed, args.cases)
    results = {}
    for name, implants in (("with prostheses", True), ("without", False)):
        folder = args.out / ("with" if implants else "without")
        datalist = folder / "datalist.json"
        if not datalist.is_file():
            write_set(folder, args.seed, indices, implants)
        results[name] = evaluate_segmentation_model(args.model, datalist, "test", folder / "evaluation")["summary"]
    print(f"model {args.model}; seed {args.seed} cases {indices} at the generator's default scan settings")
    for structure in results["without"]:
        cells = [f"Dice {results[name][structure]['dice']['mean']:.3f}, HD95 {results[name][structure]['hd95_mm']['mean'] or float('nan'):.1f} mm" for name in results]
        print(f"{structure:10s} with prostheses: {cells[0]:28s} without: {cells[1]}")
    write_json({"seed": args.seed, "case_indices": indices, "results": results}, args.out / "summary.json")


if __name__ == "__main__":
    main()
