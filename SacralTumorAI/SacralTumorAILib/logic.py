"""SacralTumorAILogic: the module's logic on MRML nodes, shared by desktop Slicer and the browser app."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sacral_tumor_ai.errors import SacralTumorAIError
from sacral_tumor_ai.hipframe import describe_location
from sacral_tumor_ai.info import describe_image
from sacral_tumor_ai.io import read_image, write_image
from sacral_tumor_ai.io.image_io import read_image_and_sources
from sacral_tumor_ai.modality import ModalityGuess, require_modality
from sacral_tumor_ai.progress import Progress
from sacral_tumor_ai.report import save_report
from sacral_tumor_ai.run import BUNDLED_CLASSIFIERS, assess_tumour, load_classifier
from sacral_tumor_ai.segmentation import label_volumes_ml
from SacralTumorAILib.classification_nodes import CLASSIFICATION_ATTRIBUTE, add_probability_chart, add_probability_table
from SacralTumorAILib.location_nodes import add_frame_markups, add_location_table
from SacralTumorAILib.scene_changes import all_or_nothing, replace_referenced
from SacralTumorAILib.background import BackgroundJob, StagedRun, optional_arguments, stage_images
from SacralTumorAILib.segment_job import (
    SegmentationInputs,
    SegmentationOptions,
    run_in_process,
    stage_inputs,
    start_segmentation_job,
)
from SacralTumorAILib.results_export import read_json_attribute, results_document, write_results
from SacralTumorAILib.segmentations import add_segmentation_node, find_segment_ids, labelmap_from_segmentation_node, save_segmentation
from SacralTumorAILib.volumes import add_volume_node, image_from_volume_node

# Node attributes: what the core decided about a volume, where it came from, and a segmentation's run result,
# so that later steps and a saved scene keep the answers.
MODALITY_ATTRIBUTE = "SacralTumorAI.Modality"
SOURCE_FILES_ATTRIBUTE = "SacralTumorAI.SourceFiles"
RESULT_ATTRIBUTE = "SacralTumorAI.Result"
CLASSIFIED_MASK_ATTRIBUTE = "SacralTumorAI.ClassifiedMask"
READ_NOTE_ATTRIBUTE = "SacralTumorAI.ReadNote"  # a choice made while reading, e.g. which b-value of a DWI
# Node reference roles from a segmentation to the result nodes made from it (replaced on every new result).
FRAME_ROLE, LOCATION_ROLE = "sacralTumorAIFrame", "sacralTumorAILocation"
PROBABILITIES_ROLE, CHART_ROLE, SERIES_ROLE = "sacralTumorAIProbabilities", "sacralTumorAIChart", "sacralTumorAIChartSeries"
RESULT_ROLES = (SERIES_ROLE, CHART_ROLE, PROBABILITIES_ROLE, FRAME_ROLE, LOCATION_ROLE)  # removal order: users first


@dataclass(frozen=True)
class TumourLocation:
    """The location result and the nodes showing it (None when the location is unavailable)."""

    location: dict[str, Any]
    frame_node: Any
    table_node: Any


@dataclass(frozen=True)
class SegmentationOutcome:
    """A segmentation in the scene: its node, the volume it lies on, the run's result and the location."""

    segmentation_node: Any
    reference_volume: Any
    result: dict[str, Any]
    location: TumourLocation


@dataclass(frozen=True)
class ExportedSegmentation:
    segmentation_file: Path
    labelmap_file: Path


@dataclass(frozen=True)
class ExportedResults:
    segmentation_file: Path
    labelmap_file: Path
    json_file: Path
    csv_files: list[Path]
    report_file: Path  # one-page PNG
    dicom_seg: Any  # DicomSegExport, or None when not asked for
    document: dict[str, Any]


@dataclass(frozen=True)
class ClassificationOutcome:
    classification: dict[str, Any]
    location: TumourLocation
    table_node: Any
    chart_node: Any
    volumes_ml: dict[str, float]  # of the segmentation as classified


def mask_fingerprint(labelmap: sitk.Image) -> str:
    """A short hash of a labelmap's voxels: tells whether a segmentation changed since it was classified."""
    import hashlib

    return hashlib.sha1(sitk.GetArrayViewFromImage(labelmap).tobytes()).hexdigest()[:16]


def _write_segmentation(segmentation_node, labelmap: sitk.Image, folder: Path, stem: str) -> ExportedSegmentation:
    labelmap_file = write_image(labelmap, folder / f"{stem}.nii.gz")
    return ExportedSegmentation(save_segmentation(segmentation_node, folder / f"{stem}.seg.nrrd"), labelmap_file)


class SacralTumorAILogic:
    """Scene-level operations. Takes the scene it works on; uses no ``slicer.util``, ``slicer.app`` or Qt.

    Every method is synchronous (for scripts and tests) except ``start_segmentation`` and
    ``start_classification``, which run the same steps in a background process for front ends; their
    ``finish_*`` methods bring the results in. A method that fails leaves the scene as it was.
    """

    def __init__(self, scene) -> None:
        self.scene = scene

    # Volumes -----------------------------------------------------------------------------------------
    def load_volume(self, path: str | Path, series: str | None = None, name: str | None = None, sequence: str | None = None):
        """Read a volume file or DICOM folder through the core (checked, geometry exact) into the scene.
        A DICOM series' files are recorded on the node, for a DICOM SEG that references them. ``sequence``
        "dwi": a DWI with several b-values (a 4D file, or one DICOM series) gives its b = 1000 volume (else
        the highest b), and the choice is recorded on the node (``READ_NOTE_ATTRIBUTE``)."""
        from sacral_tumor_ai.mriseg.inputs import read_dwi_and_sources

        path = Path(path)
        if sequence == "dwi":
            image, note, sources = read_dwi_and_sources(path, series)
        else:
            (image, sources), note = read_image_and_sources(path, series=series), None
        node = add_volume_node(self.scene, image, name or path.name.split(".")[0])
        if sources:
            node.SetAttribute(SOURCE_FILES_ATTRIBUTE, json.dumps(sources))
        if note:
            node.SetAttribute(READ_NOTE_ATTRIBUTE, note)
        return node

    def describe_volume(self, volume_node) -> dict[str, Any]:
        """Geometry, intensities and the CT/MR guess of a volume node (see ``describe_image``)."""
        description = describe_image(image_from_volume_node(volume_node), volume_node.GetName())
        volume_node.SetAttribute(MODALITY_ATTRIBUTE, description["modality"]["guess"])
        return description

    def require_modality(self, volume_node, expected: str) -> ModalityGuess:
        """Raise ``ModalityError`` unless the volume is ``expected`` ("CT" or "MR")."""
        return require_modality(image_from_volume_node(volume_node), expected, volume_node.GetName())

    def guess_inputs(self) -> SegmentationInputs:
        """Pre-fill the inputs from the scene's volumes (the user confirms): the first volume that looks like
        CT as the NCCT; otherwise MR volumes by the sequence their name or series description suggests."""
        from sacral_tumor_ai.modality import guess_modality
        from sacral_tumor_ai.mriseg.sequence_names import guess_sequence

        inputs = SegmentationInputs()
        nodes = self.scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
        for node in (nodes.GetItemAsObject(i) for i in range(nodes.GetNumberOfItems())):
            if node.IsA("vtkMRMLLabelMapVolumeNode") or node.GetImageData() is None:
                continue
            modality = node.GetAttribute(MODALITY_ATTRIBUTE) or guess_modality(image_from_volume_node(node)).modality
            if modality == "CT":
                return SegmentationInputs(ct=node)
            sequence = guess_sequence(" ".join(filter(None, (node.GetAttribute("DICOM.SeriesDescription"), node.GetName()))))
            if modality == "MR" and sequence and getattr(inputs, sequence) is None:
                setattr(inputs, sequence, node)
        return inputs

    def add_segmentation(self, labelmap: sitk.Image, reference_volume, name: str = "Segmentation"):
        """Add a labelmap with the project's label table as a segmentation beside ``reference_volume``."""
        return add_segmentation_node(self.scene, labelmap, name, reference_volume)

    def remove_segmentation(self, segmentation_node) -> None:
        """Take a segmentation and the result nodes made from it (frame, tables, chart) out of the scene."""
        for role in RESULT_ROLES:
            node = segmentation_node.GetNodeReference(role)
            if node is not None:
                self.scene.RemoveNode(node)
        self.scene.RemoveNode(segmentation_node)

    def _modality(self, segmentation_node, reference_volume) -> str:
        """"MR" or "CT": what the segmentation was made from, else the volume's own CT/MR guess."""
        modality = segmentation_node.GetAttribute(MODALITY_ATTRIBUTE) or self.describe_volume(reference_volume)["modality"]["guess"]
        return "MR" if modality == "MR" else "CT"

    def reference_volume(self, segmentation_node):
        """The volume a segmentation was made on (its reference geometry); raises when it has none."""
        volume = segmentation_node.GetNodeReference(segmentation_node.GetReferenceImageGeometryReferenceRole())
        if volume is None or not volume.IsA("vtkMRMLScalarVolumeNode"):
            raise SacralTumorAIError(f"'{segmentation_node.GetName()}' has no reference volume: select the volume it was drawn on as its source geometry")
        return volume

    # Segment -----------------------------------------------------------------------------------------
    def segment(self, inputs: SegmentationInputs, options: SegmentationOptions | None = None, progress: Progress | None = None, work_root: str | Path | None = None) -> SegmentationOutcome:
        """Segment in this process (scripts, tests): stage the inputs, run the pipeline, add the results."""
        options = options or SegmentationOptions()
        staged = stage_inputs(inputs, work_root)
        try:
            return self._add_run(staged, inputs, run_in_process(staged, options, progress))
        finally:
            staged.remove()

    def start_segmentation(self, inputs: SegmentationInputs, options: SegmentationOptions | None = None, python: str | None = None, work_root: str | Path | None = None) -> BackgroundJob:
        """Start the same pipeline in a background process; poll the job, then ``finish_segmentation``."""
        staged = stage_inputs(inputs, work_root)
        job = start_segmentation_job(staged, options or SegmentationOptions(), python)
        job.context = inputs
        return job

    def finish_segmentation(self, job: BackgroundJob) -> SegmentationOutcome:
        """Add a finished job's results to the scene (raises its error, or ``CancelledError``)."""
        try:
            return self._add_run(job.staged, job.context, job.result())
        finally:
            job.staged.remove()

    def _add_run(self, staged: StagedRun, inputs: SegmentationInputs, result: dict[str, Any]) -> SegmentationOutcome:
        reference = inputs.nodes()[staged.input_key(result["input"]["path"])]
        labelmap = read_image(staged.out / result["files"]["labelmap"])
        result = {**result, "classification": {"available": False, "reason": "not classified yet: fill the clinical form and press Classify"}}
        with all_or_nothing(self.scene):
            node = self.add_segmentation(labelmap, reference, f"{reference.GetName()} SacralTumorAI")
            node.SetAttribute(RESULT_ATTRIBUTE, json.dumps(result))
            node.SetAttribute(MODALITY_ATTRIBUTE, inputs.modality())
            location = self._show_location(node, result["location"])
        return SegmentationOutcome(node, reference, result, location)

    # Location and classification ---------------------------------------------------------------------
    def _show_location(self, segmentation_node, location: dict[str, Any]) -> TumourLocation:
        frame = add_frame_markups(self.scene, location, f"{segmentation_node.GetName()} hip frame") if location["available"] else None
        table = add_location_table(self.scene, location, f"{segmentation_node.GetName()} tumour location")
        replace_referenced(segmentation_node, FRAME_ROLE, frame)
        replace_referenced(segmentation_node, LOCATION_ROLE, table)
        return TumourLocation(location, frame, table)

    def current_labelmap(self, segmentation_node, reference_volume) -> sitk.Image:
        """The segmentation as it is now (manual edits included), on the reference volume's grid."""
        return labelmap_from_segmentation_node(segmentation_node, image_from_volume_node(reference_volume))

    def locate_tumour(self, segmentation_node, reference_volume) -> TumourLocation:
        """The tumour's location in the hip frame from the current segmentation, shown as a frame markups
        node and a features table (replacing earlier ones); an unavailable location has a table, no frame."""
        location = describe_location(self.current_labelmap(segmentation_node, reference_volume))
        with all_or_nothing(self.scene):
            return self._show_location(segmentation_node, location)

    def _classification_inputs(self, segmentation_node, reference_volume, clinical: dict[str, Any] | None, classifier: str | Path | None) -> tuple[sitk.Image, sitk.Image, str]:
        """The image, the current labelmap and the modality; raises when there is no tumour to classify or a
        form value is impossible (checked against the classifier's metadata, without loading it)."""
        from sacral_tumor_ai.classify.scalars import gather
        from sacral_tumor_ai.demo import bundled_model_path
        from sacral_tumor_ai.models.package import read_metadata

        if "tumor" not in find_segment_ids(segmentation_node):
            raise SacralTumorAIError(f"'{segmentation_node.GetName()}' has no tumour segment: add one (named Tumor) or press Segment first")
        image = image_from_volume_node(reference_volume)
        labelmap = labelmap_from_segmentation_node(segmentation_node, image)
        if label_volumes_ml(labelmap)["tumor"] <= 0:
            raise SacralTumorAIError("the tumour segment is empty: paint the tumour (Segment Editor) before classifying")
        modality = self._modality(segmentation_node, reference_volume)
        folder = Path(classifier) if classifier else bundled_model_path(BUNDLED_CLASSIFIERS[modality])
        if (folder / "model.json").is_file():
            gather(read_metadata(folder)["scalars"], dict(clinical or {}), None)  # raises on an impossible value
        return image, labelmap, modality

    def classify(self, segmentation_node, reference_volume, clinical: dict[str, Any] | None = None, classifier: str | Path | None = None, device: str = "cpu") -> ClassificationOutcome:
        """Classify in this process (scripts, tests) from the segmentation as it is now: crop, volume and
        location are recomputed from the current segments, never taken from the model's output. Raises with a
        clear message when there is no tumour segment, it is empty, a form value is impossible or no
        classifier is installed."""
        image, labelmap, modality = self._classification_inputs(segmentation_node, reference_volume, clinical, classifier)
        assessed = assess_tumour(image, labelmap, dict(clinical or {}), load_classifier(classifier, device, modality), modality)
        return self._show_classification(segmentation_node, assessed, mask_fingerprint(labelmap))

    def start_classification(self, segmentation_node, reference_volume, clinical: dict[str, Any] | None = None, classifier: str | Path | None = None, device: str = "cpu", python: str | None = None, work_root: str | Path | None = None) -> BackgroundJob:
        """The same classification in a background process (front ends: torch stays out of the UI's process);
        poll the job, then ``finish_classification``."""
        image, labelmap, modality = self._classification_inputs(segmentation_node, reference_volume, clinical, classifier)
        staged = stage_images({"image": image, "labelmap": labelmap}, work_root)
        clinical = clinical or {}
        arguments = ["classify", str(staged.files["image"]), str(staged.files["labelmap"]), "--out", str(staged.out / "classification.json"), "--modality", modality, "--device", device]
        arguments += optional_arguments((("--age", clinical.get("age")), ("--sex", clinical.get("sex")), ("--classifier", classifier)))
        job = BackgroundJob(staged, arguments, staged.out / "classification.json", python)
        job.context = (segmentation_node, mask_fingerprint(labelmap))
        return job

    def finish_classification(self, job: BackgroundJob) -> ClassificationOutcome:
        """Show a finished classification job's result (raises its error, or ``CancelledError``)."""
        try:
            segmentation_node, fingerprint = job.context
            return self._show_classification(segmentation_node, job.result(), fingerprint)
        finally:
            job.staged.remove()

    def _show_classification(self, segmentation_node, assessed: dict[str, Any], fingerprint: str) -> ClassificationOutcome:
        classification = assessed["classification"]
        if not classification["available"]:
            raise SacralTumorAIError(classification["reason"])
        with all_or_nothing(self.scene):
            shown = self._show_location(segmentation_node, assessed["location"])
            table = add_probability_table(self.scene, classification, f"{segmentation_node.GetName()} probabilities")
            chart, series = add_probability_chart(self.scene, table, f"{segmentation_node.GetName()} probabilities")
            replace_referenced(segmentation_node, SERIES_ROLE, series)
            replace_referenced(segmentation_node, CHART_ROLE, chart)
            replace_referenced(segmentation_node, PROBABILITIES_ROLE, table)
            segmentation_node.SetAttribute(CLASSIFIED_MASK_ATTRIBUTE, fingerprint)
        return ClassificationOutcome(classification, shown, table, chart, assessed["volumes_ml"])

    # Export ------------------------------------------------------------------------------------------
    def export_segmentation(self, segmentation_node, reference_volume, folder: str | Path, stem: str) -> ExportedSegmentation:
        """Write ``stem.seg.nrrd`` and a NIfTI labelmap ``stem.nii.gz`` on the reference volume's grid."""
        return _write_segmentation(segmentation_node, self.current_labelmap(segmentation_node, reference_volume), Path(folder), stem)

    def results_fingerprint(self, segmentation_node, reference_volume, labelmap: sitk.Image | None = None) -> str:
        """Changes whenever :meth:`export_results` would write something different: the mask (manual edits
        included), the classification or the reference volume. Lets a front end reuse an export.
        ``labelmap``: the :meth:`current_labelmap`, when the caller has it already (it is not made twice)."""
        classification_table = segmentation_node.GetNodeReference(PROBABILITIES_ROLE)
        parts = (
            mask_fingerprint(labelmap if labelmap is not None else self.current_labelmap(segmentation_node, reference_volume)),
            reference_volume.GetID(), reference_volume.GetName(),
            classification_table.GetAttribute(CLASSIFICATION_ATTRIBUTE) if classification_table is not None else "",
            segmentation_node.GetAttribute(CLASSIFIED_MASK_ATTRIBUTE) or "",
        )
        return "|".join(str(part) for part in parts)

    def export_results(
        self, segmentation_node, reference_volume, folder: str | Path, stem: str, dicom: bool = True,
        source_files: list[str] | None = None, labelmap: sitk.Image | None = None,
    ) -> ExportedResults:
        """Everything a user takes away: ``stem.seg.nrrd``, ``stem.nii.gz``, ``stem.json``, CSV tables, a PNG report,
        and (``dicom``) a DICOM SEG in ``stem_dicom/`` referencing the volume's DICOM files (``source_files``,
        else those recorded when it was loaded), or a new DICOM series of the volume when it has none.
        ``labelmap``: the :meth:`current_labelmap`, when the caller has it already."""
        folder = Path(folder)
        image = image_from_volume_node(reference_volume)
        labelmap = labelmap if labelmap is not None else labelmap_from_segmentation_node(segmentation_node, image)
        classification_table = segmentation_node.GetNodeReference(PROBABILITIES_ROLE)
        classification = read_json_attribute(classification_table, CLASSIFICATION_ATTRIBUTE) or None
        stale = classification is not None and segmentation_node.GetAttribute(CLASSIFIED_MASK_ATTRIBUTE) != mask_fingerprint(labelmap)
        document = results_document(reference_volume.GetName(), labelmap, read_json_attribute(segmentation_node, RESULT_ATTRIBUTE), classification, stale)
        segmentation = _write_segmentation(segmentation_node, labelmap, folder, stem)
        files = write_results(document, folder, stem)
        modality = self._modality(segmentation_node, reference_volume)
        report = save_report(image, labelmap, document, folder / f"{stem}_report.png", modality, reference_volume.GetName())
        dicom_seg = None
        if dicom:
            from sacral_tumor_ai.io.dicom_seg import write_dicom_seg

            files_attribute = reference_volume.GetAttribute(SOURCE_FILES_ATTRIBUTE)
            sources = source_files or (json.loads(files_attribute) if files_attribute else None)
            dicom_seg = write_dicom_seg(labelmap, folder / f"{stem}_dicom", image, sources, modality, reference_volume.GetName())
        return ExportedResults(segmentation.segmentation_file, segmentation.labelmap_file, files[0], files[1:], report, dicom_seg, document)
