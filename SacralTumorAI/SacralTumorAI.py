"""SacralTumorAI: the 3D Slicer module (thin front end over SacralTumorAILib and the core).

Slicer-only code lives here: the module description, the typed parameter node, the Qt widget and the
in-Slicer self-test. All scene work goes through ``SacralTumorAILib.SacralTumorAILogic``, which the browser
app and the pytest suite use too; long work runs in a background process that the widget polls.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any

import qt
import slicer
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from SacralTumorAILib.dependencies import REQUIREMENTS_FILE, unmet_requirements

HELP_TEXT = """
Segments sacral and pelvic tumours and the hip bones on noncontrast CT or pelvic MRI (T1-w, T2-w, DWI,
CET1-w), places the tumour in a hip-bone reference frame (with Enneking zones) and estimates the
probabilities of six tumour types from the segmentation, a short clinical form and the location.
<p>Workflow: choose the inputs, press <b>Segment</b> (runs in the background; Cancel leaves the scene as it was),
correct the segmentation in the Segment Editor if needed, fill the clinical form, press <b>Classify</b> (always
computed from the segmentation as it is now), then <b>Export</b> (.seg.nrrd, NIfTI, DICOM SEG, JSON, CSV).</p>
<p><b>Research use only. Not for diagnosis or treatment decisions.</b> No public sacral-tumour images exist;
the bundled models were trained by this project on generated pelvises and on lesions inserted into one real
CT, not on patients with confirmed tumours. Their accuracy on patients is unknown and some stated targets are
not met: read each model card (data/models/*/MODEL_CARD.md) before use.</p>
<p>Documentation: <a href="https://github.com/SacralTumorAI/SlicerSacralTumorAI">project page</a>.</p>
"""

ACKNOWLEDGEMENT_TEXT = """
Builds on the methods of Qi H. et al., Radiology: Imaging Cancer 2026 (doi 10.1148/rycan.250098; NCCT
segmentation and classification with a hip-bone reference frame) and of the 2.5D U-Net study of pelvic and
sacral tumours on multi-sequence MRI, Cancer Imaging 2025 (doi 10.1186/s40644-025-00850-8). Uses MONAI,
segmentation-models-pytorch, ANTsPy, SimpleITK, highdicom and scikit-learn. The demo CT is from the
TotalSegmentator examples (Apache-2.0).
"""

POLL_MILLISECONDS = 250
SEQUENCES = ("t1", "t2", "dwi", "cet1")


class SacralTumorAI(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "SacralTumorAI"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = []
        self.parent.contributors = ["SacralTumorAI developers"]
        self.parent.helpText = HELP_TEXT
        self.parent.acknowledgementText = ACKNOWLEDGEMENT_TEXT


@parameterNodeWrapper
class SacralTumorAIParameterNode:
    """Everything the user chooses, saved with the scene; every field is bound to a widget of the .ui."""

    inputMode: Annotated[str, Choice(["NCCT", "MRI"])] = "NCCT"
    ctVolume: vtkMRMLScalarVolumeNode
    t1Volume: vtkMRMLScalarVolumeNode
    t2Volume: vtkMRMLScalarVolumeNode
    dwiVolume: vtkMRMLScalarVolumeNode
    cet1Volume: vtkMRMLScalarVolumeNode
    mriModel: Annotated[str, Choice(["auto", "all-sequence", "t2-fusion"])] = "auto"
    boneProvider: Annotated[str, Choice(["model", "classical", "totalsegmentator"])] = "model"
    registration: Annotated[str, Choice(["rigid", "affine", "deformable"])] = "affine"
    device: Annotated[str, Choice(["cpu", "cuda"])] = "cpu"
    segmentation: vtkMRMLSegmentationNode
    exportFolder: Path = Path.home() / "SacralTumorAI-results"
    exportDicom: bool = True
    modelsFolder: Path = Path.home() / ".sacral-tumor-ai" / "models"


def __getattr__(name: str):
    """``from SacralTumorAI import SacralTumorAILogic`` gives the shared Logic (``SacralTumorAILib``) for the
    Python console and scripts: ``SacralTumorAILogic(slicer.mrmlScene).segment(...)``. Imported on first
    use, so the module loads before its Python dependencies are installed."""
    if name == "SacralTumorAILogic":
        from SacralTumorAILib import SacralTumorAILogic

        return SacralTumorAILogic
    raise AttributeError(f"module 'SacralTumorAI' has no attribute '{name}'")


class SacralTumorAIModuleLogic(ScriptedLoadableModuleLogic):
    """Slicer's module logic: the parameter node factory, and the shared scene logic on Slicer's scene
    (imported on first use, after the Python dependencies are installed)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._scene_logic = None

    @property
    def scene_logic(self):
        if self._scene_logic is None:
            from SacralTumorAILib import SacralTumorAILogic as SceneLogic

            self._scene_logic = SceneLogic(slicer.mrmlScene)
        return self._scene_logic

    def getParameterNode(self) -> SacralTumorAIParameterNode:
        return SacralTumorAIParameterNode(super().getParameterNode())


def _python_executable() -> str:
    """The interpreter for the background process: Slicer's own Python (PythonSlicer) inside Slicer."""
    return shutil.which("PythonSlicer") or sys.executable


class SacralTumorAIWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._finish: Callable[[Any], None] | None = None
        self._clinicalInputs: dict[str, Any] = {}
        self._packages: list = []
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_MILLISECONDS)
        self._timer.connect("timeout()", self.onPoll)

    # Set-up ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SacralTumorAI.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = SacralTumorAIModuleLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.inputModeComboBox.connect("currentIndexChanged(int)", self.updateInputRows)
        self.ui.guessInputsButton.connect("clicked(bool)", self.onGuessInputs)
        self.ui.checkInputButton.connect("clicked(bool)", self.onCheckInput)
        self.ui.segmentButton.connect("clicked(bool)", self.onSegment)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.editSegmentationButton.connect("clicked(bool)", self.onEditSegmentation)
        self.ui.locateButton.connect("clicked(bool)", self.onLocate)
        self.ui.classifierComboBox.connect("currentIndexChanged(int)", self.buildClinicalForm)
        self.ui.classifyButton.connect("clicked(bool)", self.onClassify)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.importModelButton.connect("clicked(bool)", self.onImportModel)
        self.ui.modelsFolderPathLineEdit.connect("currentPathChanged(QString)", self.refreshModels)
        self.ui.installDependenciesButton.connect("clicked(bool)", self.onInstallDependencies)
        for table, headers in ((self.ui.locationTable, ["Feature", "Value", "Unit"]), (self.ui.probabilityTable, ["Tumour type", "Probability"])):
            table.setColumnCount(len(headers))
            table.setHorizontalHeaderLabels(headers)
            table.horizontalHeader().setStretchLastSection(True)
            table.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
        self.initializeParameterNode()
        self.updateDependencyStatus()
        self.updateInputRows()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self._timer.stop()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onSceneStartClose(self, caller, event) -> None:
        if self._job is not None:
            self.onCancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)

    def updateInputRows(self, *_) -> None:
        mri = self.ui.inputModeComboBox.currentText == "MRI"
        self.ui.ctVolumeSelector.enabled = not mri
        for sequence in SEQUENCES:
            getattr(self.ui, f"{sequence}VolumeSelector").enabled = mri
        self.ui.mriModelComboBox.enabled = self.ui.registrationComboBox.enabled = mri

    # Dependencies and models -------------------------------------------------------------------------
    def updateDependencyStatus(self) -> bool:
        """Show what is missing; the workflow is usable only when nothing is."""
        unmet = unmet_requirements()
        self.ui.dependencyStatusLabel.text = "Dependencies: all installed" if not unmet else "Missing (press Install): " + ", ".join(unmet)
        self.ui.installDependenciesButton.enabled = bool(unmet)
        for button in (self.ui.segmentButton, self.ui.classifyButton, self.ui.exportButton, self.ui.locateButton):
            button.enabled = not unmet
        if unmet:
            self.ui.advancedCollapsibleButton.collapsed = False
        else:
            self.refreshModels()
        return not unmet

    def onInstallDependencies(self) -> None:
        unmet = unmet_requirements()
        if not unmet or not slicer.util.confirmOkCancelDisplay(
            "SacralTumorAI needs these Python packages, installed into Slicer's Python from the package registry "
            "(PyTorch through the PyTorch extension):\n\n" + "\n".join(unmet) + "\n\nInstall now? This can take several minutes."
        ):
            return
        with slicer.util.tryWithErrorDisplay("Installing the Python dependencies failed.", waitCursor=True):
            try:
                import PyTorchUtils

                if not PyTorchUtils.PyTorchUtilsLogic().torchInstalled():
                    if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True, torchVersionRequirement=">=2.4") is None:
                        raise RuntimeError("PyTorch was not installed; SacralTumorAI needs it.")
            except ImportError:
                raise RuntimeError("Install the PyTorch extension from the Extensions Manager first, restart Slicer, then press Install again.")
            slicer.util.pip_install(["-r", str(REQUIREMENTS_FILE)])
        if self.updateDependencyStatus() and slicer.util.confirmYesNoDisplay("Dependencies installed. Restart Slicer now so that every module sees them?"):
            slicer.util.restart()

    def refreshModels(self, *_) -> None:
        from sacral_tumor_ai.models.library import list_packages

        self._packages = list_packages(self._parameterNode.modelsFolder if self._parameterNode else None)
        self.ui.modelsListText.setPlainText("\n".join(entry.label() for entry in self._packages))
        usable = [entry for entry in self._packages if not entry.problem]
        for combo, task in ((self.ui.segmentationModelComboBox, "segmentation"), (self.ui.classifierComboBox, "classification")):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("bundled default", "")
            for entry in usable:
                if entry.task == task and not entry.bundled:
                    combo.addItem(entry.label(), str(entry.folder))
            combo.blockSignals(False)
        self.buildClinicalForm()

    def onImportModel(self) -> None:
        from sacral_tumor_ai.models.library import import_package

        path = qt.QFileDialog.getOpenFileName(self.parent, "Model package (.zip, or model.json in its folder)", "", "Model package (*.zip model.json)")
        if not path:
            return
        with slicer.util.tryWithErrorDisplay("The model package was not imported.", waitCursor=True):
            source = Path(path).parent if Path(path).name == "model.json" else Path(path)
            package = import_package(source, self._parameterNode.modelsFolder)
            slicer.util.infoDisplay(f"Imported {package.name} {package.version} (checksum verified) into {package.folder}.")
        self.refreshModels()

    # Inputs ------------------------------------------------------------------------------------------
    def _inputs(self):
        from SacralTumorAILib.segment_job import SegmentationInputs

        p = self._parameterNode
        if p.inputMode == "NCCT":
            return SegmentationInputs(ct=p.ctVolume)
        return SegmentationInputs(t1=p.t1Volume, t2=p.t2Volume, dwi=p.dwiVolume, cet1=p.cet1Volume)

    def _options(self):
        from SacralTumorAILib.segment_job import SegmentationOptions

        p = self._parameterNode
        model = self.ui.segmentationModelComboBox.currentData or None
        return SegmentationOptions(model=model, mri_model=p.mriModel, provider=p.boneProvider, device=p.device, registration=p.registration)

    def onGuessInputs(self) -> None:
        with slicer.util.tryWithErrorDisplay("Could not guess the inputs.", waitCursor=True):
            guessed = self.logic.scene_logic.guess_inputs()
            p = self._parameterNode
            if guessed.ct is not None:
                p.inputMode, p.ctVolume = "NCCT", guessed.ct
            elif guessed.sequences():
                p.inputMode = "MRI"
                for sequence in SEQUENCES:
                    setattr(p, f"{sequence}Volume", getattr(guessed, sequence))
            self.ui.statusLabel.text = "Inputs guessed from the scene: check them before pressing Segment." if guessed.sequences() or guessed.ct else "No CT or recognisable MRI sequence in the scene."

    def onCheckInput(self) -> None:
        from sacral_tumor_ai.info import format_description

        with slicer.util.tryWithErrorDisplay("Could not check the input volume.", waitCursor=True):
            nodes = self._inputs().nodes()
            text = [format_description(self.logic.scene_logic.describe_volume(node)) for node in nodes.values()]
            self.ui.inputInfoText.setPlainText("\n\n".join(text))

    # Segment (background process) --------------------------------------------------------------------
    def _setRunning(self, running: bool) -> None:
        self.ui.segmentButton.enabled = not running
        self.ui.cancelButton.enabled = running
        self.ui.classifyButton.enabled = self.ui.exportButton.enabled = not running

    def _start(self, start: Callable[[], Any], finish: Callable[[Any], None], status: str) -> None:
        """Start a background job (``start`` returns it) and poll it; ``finish(job)`` runs when it is done."""
        if self._job is not None:
            slicer.util.warningDisplay("A step is already running; wait for it or press Cancel.")
            return
        with slicer.util.tryWithErrorDisplay("Could not start; the scene is unchanged.", waitCursor=True):
            self._job = start()
            self._finish = finish
            self.ui.progressBar.value = 0
            self.ui.statusLabel.text = status
            self._setRunning(True)
            self._timer.start()

    def onSegment(self) -> None:
        python = _python_executable()
        self._start(lambda: self.logic.scene_logic.start_segmentation(self._inputs(), self._options(), python=python), self.showSegmentation, "Segmenting in the background...")

    def onPoll(self) -> None:
        if self._job is None:
            self._timer.stop()
            return
        fraction, message = self._job.update()
        self.ui.progressBar.value = int(round(100 * fraction))
        self.ui.statusLabel.text = message
        if not self._job.done:
            return
        self._timer.stop()
        job, self._job = self._job, None
        self._setRunning(False)
        with slicer.util.tryWithErrorDisplay("The step failed; the scene is unchanged.", waitCursor=True):
            self._finish(job)

    def showSegmentation(self, job) -> None:
        outcome = self.logic.scene_logic.finish_segmentation(job)
        self._parameterNode.segmentation = outcome.segmentation_node
        volumes = ", ".join(f"{name} {value:.1f} mL" for name, value in outcome.result["volumes_ml"].items())
        warnings = "\n".join(outcome.result.get("warnings", []))
        self.ui.statusLabel.text = f"Done: {volumes}." + (f"\n{warnings}" if warnings else "")
        self.showLocation(outcome.location.location)
        slicer.util.setSliceViewerLayers(background=outcome.reference_volume, fit=True)

    def onCancel(self) -> None:
        if self._job is None:
            return
        self._timer.stop()
        job, self._job = self._job, None
        job.cancel()
        self._setRunning(False)
        self.ui.progressBar.value = 0
        self.ui.statusLabel.text = "Cancelled: nothing was added to the scene."

    def onEditSegmentation(self) -> None:
        segmentation = self._parameterNode.segmentation
        slicer.util.selectModule("SegmentEditor")
        if segmentation is not None:
            editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
            editor.setSegmentationNode(segmentation)
            editor.setSourceVolumeNode(self.logic.scene_logic.reference_volume(segmentation))

    # Location and classification ---------------------------------------------------------------------
    def _segmentationAndVolume(self):
        """The selected segmentation and its volume; raises (shown by the caller's error display) when unset."""
        segmentation = self._parameterNode.segmentation
        if segmentation is None:
            raise ValueError("Select a segmentation (press Segment first, or choose one under Segmentation > Result).")
        return segmentation, self.logic.scene_logic.reference_volume(segmentation)

    def showLocation(self, location: dict) -> None:
        from sacral_tumor_ai.hipframe.table import location_rows

        rows = location_rows(location)
        self.ui.locationTable.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                self.ui.locationTable.setItem(r, c, qt.QTableWidgetItem(str(value)))

    def onLocate(self) -> None:
        with slicer.util.tryWithErrorDisplay("Could not compute the location.", waitCursor=True):
            segmentation, volume = self._segmentationAndVolume()
            self.showLocation(self.logic.scene_logic.locate_tumour(segmentation, volume).location)

    def buildClinicalForm(self, *_) -> None:
        """One field per clinical input of the selected classifier's metadata (codes: a list; numbers: a
        text field, empty meaning not known)."""
        from sacral_tumor_ai.demo import bundled_model_path
        from sacral_tumor_ai.models.package import read_metadata

        layout = self.ui.clinicalCollapsibleButton.layout()  # the form; row 0 is the classifier choice
        while layout.rowCount() > 1:
            layout.removeRow(1)
        self._clinicalInputs = {}
        folder = self.ui.classifierComboBox.currentData or bundled_model_path("ct-classifier")
        try:
            scalars = read_metadata(folder)["scalars"]
        except Exception as error:  # noqa: BLE001  a broken package is shown, not raised, while building the form
            layout.addRow(qt.QLabel(f"Classifier unavailable: {error}"))
            return
        for spec in (s for s in scalars if s["group"] == "clinical"):
            if "codes" in spec:
                field = qt.QComboBox()
                field.addItems(["", *spec["codes"]])
            else:
                field = qt.QLineEdit()
                low, high = spec.get("plausible", ("", ""))
                field.placeholderText = f"{low}-{high} {spec.get('unit', '')} (empty: not known)"
            field.toolTip = f"{spec['name']} ({spec.get('unit') or 'code'}); leave empty when not known: the classifier is told it is missing."
            layout.addRow(f"{spec['name'].replace('_', ' ').capitalize()}:", field)
            self._clinicalInputs[spec["name"]] = field

    def _clinicalValues(self) -> dict[str, Any]:
        values = {}
        for name, field in self._clinicalInputs.items():
            text = field.currentText if isinstance(field, qt.QComboBox) else field.text
            values[name] = text.strip() or None
        return values

    def onClassify(self) -> None:
        classifier = self.ui.classifierComboBox.currentData or None
        clinical, device, python = self._clinicalValues(), self._parameterNode.device, _python_executable()
        self._start(
            lambda: self.logic.scene_logic.start_classification(*self._segmentationAndVolume(), clinical, classifier, device, python),
            self.showClassification,
            "Classifying...",
        )

    def showClassification(self, job) -> None:
        outcome = self.logic.scene_logic.finish_classification(job)
        ranking = outcome.classification["ranking"]
        self.ui.probabilityTable.setRowCount(len(ranking))
        for row, name in enumerate(ranking):
            self.ui.probabilityTable.setItem(row, 0, qt.QTableWidgetItem(name.replace("_", " ")))
            self.ui.probabilityTable.setItem(row, 1, qt.QTableWidgetItem(f"{100 * outcome.classification['probabilities'][name]:.1f} %"))
        self.ui.classificationWarningsText.setPlainText("\n".join(["Research use only. Not for diagnosis.", *outcome.classification["warnings"]]))
        self.showLocation(outcome.location.location)
        self.ui.statusLabel.text = "Classified."
        slicer.modules.plots.logic().ShowChartInLayout(outcome.chart_node)

    # Export ------------------------------------------------------------------------------------------
    def _dicomSourceFiles(self, volume) -> list[str] | None:
        """Files of a volume loaded through Slicer's DICOM module (their instance UIDs are on the node)."""
        uids = (volume.GetAttribute("DICOM.instanceUIDs") or "").split()
        files = [slicer.dicomDatabase.fileForInstance(uid) for uid in uids] if uids and slicer.dicomDatabase else []
        return files if files and all(files) else None

    def onExport(self) -> None:
        with slicer.util.tryWithErrorDisplay("Export failed; nothing was half-written.", waitCursor=True):
            segmentation, volume = self._segmentationAndVolume()
            folder = Path(self._parameterNode.exportFolder)
            stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in segmentation.GetName())
            exported = self.logic.scene_logic.export_results(
                segmentation, volume, folder, stem, self._parameterNode.exportDicom, self._dicomSourceFiles(volume)
            )
            notes = [exported.dicom_seg.note] if exported.dicom_seg is not None and exported.dicom_seg.note else []
            self.ui.exportStatusLabel.text = f"Written to {folder}: {stem}.seg.nrrd, .nii.gz, .json, CSV" + (", DICOM SEG" if exported.dicom_seg else "") + "".join(f"\n{n}" for n in notes)


class SacralTumorAITest(ScriptedLoadableModuleTest):
    """In-Slicer test of the shared Logic on the bundled case (pytest covers it in depth on slicer-core)."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_segment_classify_export()

    def test_segment_classify_export(self) -> None:
        import tempfile

        from sacral_tumor_ai.demo import demo_case_path
        from SacralTumorAILib import SacralTumorAILogic as SceneLogic
        from SacralTumorAILib.segment_job import SegmentationInputs

        logic = SceneLogic(slicer.mrmlScene)
        volume = logic.load_volume(demo_case_path())
        outcome = logic.segment(SegmentationInputs(ct=volume))
        self.assertEqual(outcome.segmentation_node.GetSegmentation().GetSegment("tumor").GetName(), "Tumor")
        classified = logic.classify(outcome.segmentation_node, volume, {"age": 58, "sex": "M"})
        self.assertAlmostEqual(sum(classified.classification["probabilities"].values()), 1.0, places=2)
        with tempfile.TemporaryDirectory() as folder:
            exported = logic.export_results(outcome.segmentation_node, volume, folder, "demo")
            self.assertTrue(os.path.exists(exported.dicom_seg.seg_file))
        logging.info("SacralTumorAI self-test passed")
