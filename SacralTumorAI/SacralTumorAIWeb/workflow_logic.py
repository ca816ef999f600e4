"""The browser app's workflow: load, Segment (background process, progress, Cancel), Classify, downloads.

Every scene step is the shared ``SacralTumorAILib.SacralTumorAILogic`` (the Slicer module's Logic) on
trame-slicer's scene; this class only moves values between it and the page's state, keeps one job at a time,
and keeps every file it writes inside its working folder.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.hipframe.table import location_lines
from sacral_tumor_ai.io.image_io import IMAGE_SUFFIXES
from sacral_tumor_ai.io.atomic import full_suffix
from sacral_tumor_ai.io.dicom_series import list_dicom_series
from sacral_tumor_ai.mriseg.inputs import is_multi_volume_file
from sacral_tumor_ai.mriseg.plan import MODEL_NAMES
from sacral_tumor_ai.mriseg.sequence_names import guess_sequence
from sacral_tumor_ai.mriseg.spec import SEQUENCE_NAMES
from SacralTumorAILib import SacralTumorAILogic
from SacralTumorAILib.logic import READ_NOTE_ATTRIBUTE
from SacralTumorAILib.location_nodes import show_slices_at, tumour_centre_ras
from SacralTumorAILib.segment_job import SegmentationInputs, SegmentationOptions

LOG = logging.getLogger("sacral_tumor_ai.web")
POLL_SECONDS = 0.25
SEQUENCE_KINDS = dict(SEQUENCE_NAMES)  # t1, t2, dwi, cet1 -> T1-w, ...
INPUT_KINDS = {"ct": "NCCT", **SEQUENCE_KINDS}
MAIN_SEQUENCE_ORDER = ("t2", "cet1", "t1", "dwi")  # which sequence of a study opened from the command line is shown
DOWNLOADS = {  # key -> (file suffix after the stem, MIME type)
    "seg_nrrd": (".seg.nrrd", "application/octet-stream"),
    "nifti": (".nii.gz", "application/gzip"),
    "json": (".json", "application/json"),
    "report": ("_report.png", "image/png"),
}


def initial_state() -> dict[str, Any]:
    """The page's state keys (prefix ``sta_``) and their starting values."""
    return {
        "sta_volume_name": "", "sta_input_kind": "ct", "sta_input_kinds": [{"value": k, "title": v} for k, v in INPUT_KINDS.items()],
        "sta_busy": False, "sta_progress": 0.0, "sta_status": "", "sta_error": "",
        "sta_segments": [], "sta_location": [], "sta_age": "", "sta_sex": "", "sta_probabilities": [],
        "sta_classification_warnings": [], "sta_classified": False, "sta_upload": None,
        "sta_sequences": [], "sta_sequence_kind": "cet1", "sta_sequence_upload": None,
        "sta_sequence_kinds": [{"value": k, "title": v} for k, v in SEQUENCE_KINDS.items()],
    }


def segmented_status(result: dict[str, Any]) -> str:
    """The status line after Segment; for MRI it names the model and the sequences it used."""
    mri = result.get("segmentation", {}).get("mri")
    if not mri:
        return "segmented"
    model = MODEL_NAMES.get(mri["model"], mri["model"])
    return f"segmented by the {model} model on {' + '.join(SEQUENCE_NAMES.get(s, s) for s in mri['sequences'])}"


class WorkflowLogic:
    """One user's workflow on one scene. ``state`` is the trame state; ``editor`` is trame-slicer's
    segmentation editor and ``display`` its display manager (to show what the Logic adds)."""

    def __init__(self, state, scene, editor, display, work_dir: Path, max_upload_bytes: int, python: str | None = None) -> None:
        self.state = state
        self.logic = SacralTumorAILogic(scene)
        self.editor = editor
        self.display = display
        self.work_dir = Path(work_dir)
        self.max_upload_bytes = max_upload_bytes
        self.python = python
        self.volume = None
        self.sequences: dict[str, Any] = {}  # further sequences of the loaded MRI study: kind -> volume node
        self.segmentation = None
        self.job = None
        self._export: tuple[str, Path] | None = None  # (results fingerprint, folder) of the last export
        self.state.update(initial_state())

    # Loading -----------------------------------------------------------------------------------------
    def _private_folder(self, kind: str) -> Path:
        folder = self.work_dir / kind / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        return folder

    def load_path(self, path: str | Path, kind: str | None = None) -> None:
        """Load a volume file or DICOM folder (checked by the core) as the case, replacing the previous one;
        ``kind`` (an ``INPUT_KINDS`` key) says what it is, else it is guessed from its values and name (a file
        of several volumes is a DWI with several b-values, of which the b = 1000 one is used)."""
        kind = kind or ("dwi" if is_multi_volume_file(path) else None)
        volume = self.logic.load_volume(path, sequence=kind)
        self._set_volume(volume, kind)

    def load_study(self, files: dict[str, str | Path]) -> None:
        """An MRI study from the server's files (sequence -> path): one sequence shown, the others added."""
        main = next(kind for kind in (*MAIN_SEQUENCE_ORDER, *files) if kind in files)
        self.load_path(files[main], main)
        for kind, path in files.items():
            if kind != main:
                self.add_sequence_path(path, kind)

    def load_upload(self, files: list[dict] | dict | None) -> None:
        """An uploaded file: a volume (NIfTI, NRRD, MHA) or a ``.zip`` of one DICOM series. Refused with a
        message when too large, of another type, unreadable, or a zip holding several series."""
        self._from_upload(files, self.load_path)

    def add_sequence_upload(self, files: list[dict] | dict | None) -> None:
        """An uploaded further sequence of the loaded MRI study, of the kind chosen in ``sta_sequence_kind``."""
        kind = self.state.sta_sequence_kind
        self._from_upload(files, lambda path: self.add_sequence_path(path, kind))

    def _from_upload(self, files: list[dict] | dict | None, load) -> None:
        """Check and write an upload into a private folder, then ``load(path)``; nothing is kept if it fails."""
        if not files:
            return
        file = files[0] if isinstance(files, list) else files
        name = Path(str(file.get("name", "upload"))).name  # never a path from the client
        content = file.get("content") or b""
        if len(content) > self.max_upload_bytes or int(file.get("size") or 0) > self.max_upload_bytes:
            raise SacralTumorAIError(f"{name}: larger than the upload limit ({self.max_upload_bytes // 2**20} MB); start the app with the file path instead")
        suffix = full_suffix(name)
        if suffix != ".zip" and suffix not in IMAGE_SUFFIXES:
            raise SacralTumorAIError(f"{name}: not a volume this app reads (NIfTI, NRRD, MHA, or a .zip of a DICOM series)")
        folder = self._private_folder("uploads")
        try:
            path = folder / name
            path.write_bytes(content)
            if suffix == ".zip":
                path = self._series_folder(self._unzip(path, folder / "dicom"), name)
            load(path)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    @staticmethod
    def _unzip(archive: Path, into: Path) -> Path:
        if not zipfile.is_zipfile(archive):
            raise SacralTumorAIError(f"{archive.name}: not a readable .zip file")
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                if not (into / member.filename).resolve().is_relative_to(into.resolve()):
                    raise SacralTumorAIError(f"{archive.name}: an entry would be written outside the upload folder")
            zipped.extractall(into)
        return into

    @staticmethod
    def _series_folder(root: Path, name: str) -> Path:
        """The one folder of an unzipped upload holding a DICOM series; refuses none or several series."""
        found = [(folder, series) for folder in (root, *sorted(p for p in root.rglob("*") if p.is_dir())) for series in list_dicom_series(folder)]
        if not found:
            raise SacralTumorAIError(f"{name} holds no DICOM image series")
        if len(found) > 1:
            listing = "; ".join(f"'{series.description or series.uid}' ({len(series.files)} files)" for _, series in found)
            raise SacralTumorAIError(f"{name} holds {len(found)} DICOM series ({listing}): upload a .zip of the one series to segment")
        return found[0][0]

    def _set_volume(self, volume, kind: str | None = None) -> None:
        self._remove_results()
        for node in [self.volume, *self.sequences.values()]:
            if node is not None:
                self.logic.scene.RemoveNode(node)
        self.volume, self.sequences = volume, {}
        modality = self.logic.describe_volume(volume)["modality"]["guess"]
        kind = kind or ("ct" if modality == "CT" else (guess_sequence(volume.GetName()) or "t2"))
        if self.display is not None:  # None: a workflow without views (scripts, tests)
            self.display.show_volume(volume, do_reset_views=True)
        self.state.update({**initial_state(), "sta_volume_name": volume.GetName(), "sta_input_kind": kind, "sta_status": self._read_note(volume, kind)})
        LOG.info("volume loaded (%s)", modality)  # no names or paths: they may identify a patient

    def add_sequence_path(self, path: str | Path, kind: str) -> None:
        """Another sequence of the loaded MRI study (CET1-w beside T2-w: the T2-fusion model), replacing an
        earlier one of the same kind. Refused, with the scene unchanged, unless it is an MR image of a kind
        the study does not have yet."""
        if self.volume is None:
            raise SacralTumorAIError("open one sequence of the MRI study first, then add the others")
        shown = self.state.sta_input_kind
        if shown == "ct":
            raise SacralTumorAIError("the open volume is a CT: only an MRI study takes further sequences (or say which sequence the open volume is)")
        if kind not in SEQUENCE_KINDS:
            raise SacralTumorAIError(f"'{kind}' is not an MRI sequence this app knows ({', '.join(SEQUENCE_KINDS.values())})")
        if kind == shown:
            raise SacralTumorAIError(f"the open volume is the {SEQUENCE_KINDS[kind]}: choose which sequence the added file is")
        self._refuse_if_under_segmentation(kind)
        node = self.logic.load_volume(path, sequence=kind)
        try:
            self.logic.require_modality(node, "MR")
        except BaseException:
            self.logic.scene.RemoveNode(node)
            raise
        if kind in self.sequences:
            self.logic.scene.RemoveNode(self.sequences[kind])
        self.sequences[kind] = node
        self._show_sequences()
        self.state.sta_status = self._read_note(node, kind)
        LOG.info("sequence added (%s)", kind)

    @staticmethod
    def _read_note(node, kind: str) -> str:
        """A choice made while reading the volume (which b-value of a DWI), for the status line."""
        note = node.GetAttribute(READ_NOTE_ATTRIBUTE)
        return f"{INPUT_KINDS.get(kind, kind)}: {note}" if note else ""

    def remove_sequence(self, kind: str) -> None:
        """Take an added sequence out of the study (and the scene); not the one the segmentation lies on."""
        self._refuse_if_under_segmentation(kind)
        if kind in self.sequences:
            self.logic.scene.RemoveNode(self.sequences.pop(kind))
        self._show_sequences()

    def _refuse_if_under_segmentation(self, kind: str) -> None:
        """An added sequence may not be removed or replaced while the segmentation lies on it."""
        node = self.sequences.get(kind)
        if node is not None and self.segmentation is not None and self._reference() is node:
            raise SacralTumorAIError(f"the segmentation lies on the {SEQUENCE_KINDS[kind]}: it stays while the segmentation does")

    def _show_sequences(self) -> None:
        with self.state:
            self.state.sta_sequences = [{"kind": k, "title": SEQUENCE_KINDS[k], "name": n.GetName()} for k, n in self.sequences.items()]

    # Segment -----------------------------------------------------------------------------------------
    def _inputs(self) -> SegmentationInputs:
        if self.volume is None:
            raise SacralTumorAIError("no volume loaded: open a file first")
        shown = self.state.sta_input_kind
        if shown in self.sequences:
            raise SacralTumorAIError(f"the open volume and an added sequence are both the {SEQUENCE_KINDS[shown]}: say which sequence the open volume is, or remove the added one")
        return SegmentationInputs(**{shown: self.volume}, **self.sequences)

    async def _run_job(self, job, finish, status: str) -> None:
        """Poll a background job into the page, then ``finish(job)``; one job at a time."""
        self.job = job
        self.state.update({"sta_busy": True, "sta_progress": 0.0, "sta_status": status, "sta_error": ""})
        self.state.flush()
        try:
            while not job.done:
                fraction, message = job.update()
                with self.state:
                    self.state.sta_progress, self.state.sta_status = round(100 * fraction), message
                await asyncio.sleep(POLL_SECONDS)
            if not job.cancelled:
                finish(job)
        except SacralTumorAIError as error:
            with self.state:
                self.state.sta_error = str(error)
        finally:
            if self.job is job:
                self.job = None
            shutil.rmtree(job.staged.folder.parent, ignore_errors=True)
            with self.state:
                self.state.sta_busy = False

    def _refuse_if_busy(self) -> bool:
        if self.job is not None:
            self.state.sta_error = "A step is already running: wait for it or press Cancel."
        return self.job is not None

    async def segment(self) -> None:
        """Run the pipeline in a background process, updating the page."""
        if self._refuse_if_busy():
            return
        job = self.logic.start_segmentation(self._inputs(), SegmentationOptions(), self.python, work_root=self._private_folder("runs"))
        await self._run_job(job, self._show_segmentation, "segmenting")

    def _show_segmentation(self, job) -> None:
        outcome = self.logic.finish_segmentation(job)
        self._remove_results()
        self.segmentation = outcome.segmentation_node
        # Of a study, the mask lies on its reference sequence's grid (T2-w for T2-fusion): edit on that one.
        self.editor.set_active_segmentation(self.segmentation, outcome.reference_volume)
        self.editor.set_active_segment_id("tumor")  # corrections are mostly to the tumour
        centre = tumour_centre_ras(outcome.location.location)
        if centre is not None:
            show_slices_at(self.logic.scene, centre)
        with self.state:
            self.state.sta_status = segmented_status(outcome.result)
            self.state.sta_progress = 100
            self.state.sta_segments = self._segment_rows(outcome.result["volumes_ml"])
            self.state.sta_location = location_lines(outcome.location.location)
            self.state.sta_error = "\n".join(outcome.result.get("warnings", []))

    def cancel(self) -> None:
        """Stop the running step (segmentation or classification); the scene stays as it was."""
        if self.job is None:
            return
        job, self.job = self.job, None
        job.cancel()
        self.state.update({"sta_busy": False, "sta_progress": 0, "sta_status": "cancelled: nothing was added"})

    def _segment_rows(self, volumes: dict[str, float]) -> list[dict[str, Any]]:
        from sacral_tumor_ai.labels import label_by_name

        return [{"name": label_by_name(name).display_name, "ml": round(value, 1)} for name, value in volumes.items() if value > 0]

    def _remove_results(self) -> None:
        """Take the previous segmentation and its result nodes out of the scene (one case at a time)."""
        if self.segmentation is not None:
            self.logic.remove_segmentation(self.segmentation)
            self.segmentation = None
        self._drop_export()

    # Classify and download ---------------------------------------------------------------------------
    async def classify(self) -> None:
        """Classify from the segmentation as it is now (painted corrections included), in the background."""
        if self._refuse_if_busy():
            return
        if self.segmentation is None:
            raise SacralTumorAIError("nothing to classify yet: press Segment first")
        clinical = {"age": self.state.sta_age or None, "sex": self.state.sta_sex or None}
        job = self.logic.start_classification(self.segmentation, self._reference(), clinical, python=self.python, work_root=self._private_folder("runs"))
        await self._run_job(job, self._show_classification, "classifying")

    def _show_classification(self, job) -> None:
        outcome = self.logic.finish_classification(job)
        classification = outcome.classification
        with self.state:
            self.state.update({
                "sta_probabilities": [{"name": n.replace("_", " "), "value": classification["probabilities"][n]} for n in classification["ranking"]],
                "sta_classification_warnings": classification["warnings"],
                "sta_location": location_lines(outcome.location.location),
                "sta_segments": self._segment_rows(outcome.volumes_ml),
                "sta_classified": True, "sta_status": "classified", "sta_error": "",
            })

    def download(self, key: str) -> bytes:
        """The bytes of one export (``DOWNLOADS``) of the segmentation as it is now."""
        if self.segmentation is None:
            raise SacralTumorAIError("nothing to download yet: press Segment first")
        suffix, _ = DOWNLOADS[key]
        return (self._current_export() / f"segmentation{suffix}").read_bytes()

    def _current_export(self) -> Path:
        """A folder holding every export, written complete in a private folder first; reused for the next
        download while neither the mask nor the classification has changed."""
        reference = self._reference()
        labelmap = self.logic.current_labelmap(self.segmentation, reference)  # made once, for both calls
        fingerprint = self.logic.results_fingerprint(self.segmentation, reference, labelmap)
        if self._export is None or self._export[0] != fingerprint:
            self._drop_export()
            folder = self._private_folder("exports")
            try:
                self.logic.export_results(self.segmentation, reference, folder, "segmentation", dicom=False, labelmap=labelmap)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self._export = (fingerprint, folder)
        return self._export[1]

    def _reference(self):
        """The volume the segmentation was made on (the open one, or for a study its reference sequence)."""
        return self.logic.reference_volume(self.segmentation)

    def _drop_export(self) -> None:
        if self._export is not None:
            shutil.rmtree(self._export[1], ignore_errors=True)
            self._export = None
