"""The ``sacral-tumor-ai`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sacral_tumor_ai import __version__
from sacral_tumor_ai.errors import SacralTumorAIError

DEFAULT_OUTPUT = Path("sacral-tumor-ai-output")
EXIT_USER_ERROR = 2


def _cmd_info(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.demo import demo_ct_path
    from sacral_tumor_ai.info import describe_image, format_description
    from sacral_tumor_ai.io import read_image, write_json
    from sacral_tumor_ai.preview import save_orthogonal_preview

    source = Path(args.volume) if args.volume else demo_ct_path()
    image = read_image(source, series=args.series)
    description = describe_image(image, source)
    out = Path(args.out)
    preview = save_orthogonal_preview(
        image, out / "preview.png", description["modality"]["guess"], title=source.name
    )
    description["preview_png"] = str(preview)
    write_json(description, out / "info.json")
    if args.json:
        print(json.dumps(description, indent=2))
    else:
        print(format_description(description))
        print(f"preview      {preview}")
        print(f"details      {out / 'info.json'}")
    return 0


def _cmd_series(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.errors import InputImageError
    from sacral_tumor_ai.io import list_dicom_series

    folder = Path(args.folder)
    if not folder.is_dir():
        raise InputImageError(folder, "is not a folder")
    found = list_dicom_series(folder)
    if not found:
        raise InputImageError(folder, "contains no DICOM image series")
    for series in found:
        print(series.label())
    return 0


def _cmd_cohort(args: argparse.Namespace) -> int:
    from sacral_tumor_ai.phantom.case import ScanSettings
    from sacral_tumor_ai.phantom.cohort import write_cohort

    settings = ScanSettings(in_plane_mm=tuple(args.in_plane_mm), slice_mm=tuple(args.slice_mm), implants=not args.no_prostheses)
    if args.modality == "mri":
        from sacral_tumor_ai.phantom.mri_cohort import write_mri_cohort

        if args.source != "generated":
            raise SacralTumorAIError("--modality mri supports only --source generated")
        if args.prostheses_only:
            raise SacralTumorAIError("--prostheses-only is for CT (MRI cases have no prostheses)")
        settings = ScanSettings(in_plane_mm=tuple(args.in_plane_mm), slice_mm=(max(3.0, args.slice_mm[0]), max(3.0, args.slice_mm[1])))
        dataset = write_mri_cohort(args.out, args.cases, args.seed, settings, montage=not args.no_montage, workers=args.workers)
        print(f"cohort: {dataset['cases']} MRI cases in {args.out} (splits {dataset['counts']})")
        return 0
    dataset = write_cohort(args.out, args.cases, args.seed, args.source, settings, montage=not args.no_montage, workers=args.workers, prostheses_only=args.prostheses_only)
    print(f"cohort: {dataset['cases']} cases in {args.out} (splits {dataset['counts']})")
    return 0


def _cmd_web(args: argparse.Namespace) -> int:
    import importlib

    # The browser app is a front end (trame-slicer, VTK); the core only dispatches to it when it is installed.
    try:
        app = importlib.import_module("SacralTumorAIWeb.app")
    except ImportError as error:
        raise SacralTumorAIError(f"the browser app needs trame-slicer ({error}); install the project's 'web' extra") from error
    from sacral_tumor_ai.cli_segmentation import mri_inputs

    sequences = mri_inputs(args)
    app.main(None if sequences else args.input, args.port, args.host, args.work_dir, args.max_upload_mb, sequences=sequences)
    return 0


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sacral-tumor-ai",
        description="Sacral and pelvic tumour segmentation, location and classification (research use, "
        "not for diagnosis).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser(
        "info", help="geometry, modality check and a PNG of three orthogonal slices of a volume"
    )
    info.add_argument("volume", nargs="?", help="NIfTI, NRRD, MHA file or DICOM folder (default: bundled demo CT)")
    info.add_argument("--series", help="series UID or description, when a DICOM folder holds several")
    info.add_argument("--out", default=str(DEFAULT_OUTPUT), help="output folder (default: %(default)s)")
    info.add_argument("--json", action="store_true", help="print the description as JSON")
    info.set_defaults(handler=_cmd_info)

    series = commands.add_parser("series", help="list the DICOM series in a folder")
    series.add_argument("folder")
    series.set_defaults(handler=_cmd_series)

    cohort = commands.add_parser("cohort", help="generate a labelled pelvic-tumour cohort (images, labels, clinical CSV, data list)")
    cohort.add_argument("--cases", type=_at_least_one, required=True)
    cohort.add_argument("--seed", type=int, default=0)
    cohort.add_argument("--out", required=True)
    cohort.add_argument("--modality", choices=("ct", "mri"), default="ct", help="ct, or mri (T1-w, T2-w, DWI, CET1-w; slices of at least 3 mm)")
    cohort.add_argument("--source", choices=("generated", "real"), default="generated", help="procedural patients, or lesions inserted into the bundled real CT")
    cohort.add_argument("--in-plane-mm", type=float, nargs=2, default=(0.6, 1.0), metavar=("MIN", "MAX"))
    cohort.add_argument("--slice-mm", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"))
    cohort.add_argument("--no-montage", action="store_true", help="skip the per-case PNG montages")
    cohort.add_argument("--workers", type=_at_least_one, help="cases generated at once, each in its own process (default: one per available core, as many as fit in memory; 1: one after another in this process)")
    cohort.add_argument("--no-prostheses", action="store_true", help="no hip prostheses (generated CT: 12%% of cases have one by default)")
    cohort.add_argument("--prostheses-only", action="store_true", help="only the cohort's cases that have a hip prosthesis (the first CASES of them; generated CT)")
    cohort.set_defaults(handler=_cmd_cohort)

    web = commands.add_parser("web", help="start the browser app (trame-slicer) on a volume, or on the bundled demo case; prints the URL")
    web.add_argument("input", nargs="?", metavar="VOLUME", help="volume file or DICOM folder to open (default: the bundled demo case)")
    web.add_argument("--port", type=int, default=8080)
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    web.add_argument("--work-dir", dest="work_dir", help="folder for uploads, runs and exports (default: a temporary folder removed at exit)")
    web.add_argument("--max-upload-mb", dest="max_upload_mb", type=int, default=1024)
    web.set_defaults(handler=_cmd_web)

    from sacral_tumor_ai import cli_classifier, cli_mri, cli_segmentation

    cli_segmentation.add_input_arguments(web)  # an MRI study opens with all its sequences (T2-w + CET1-w: T2-fusion)

    cli_segmentation.register(commands)
    cli_mri.register(commands)
    cli_classifier.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import faulthandler

    if not faulthandler.is_enabled():
        faulthandler.enable()  # a crash inside a native library (ITK, ANTs, torch) still names the Python line
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except SacralTumorAIError as error:
        print(f"sacral-tumor-ai {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
