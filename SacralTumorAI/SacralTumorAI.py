"""SacralTumorAI: the 3D Slicer module (thin front end over SacralTumorAILib and the core).

Slicer-only code lives here: the module description, the Qt widget and the in-Slicer self-test. All scene
work goes through ``SacralTumorAILib.SacralTumorAILogic``, which the browser app and the pytest suite use too.
"""

from __future__ import annotations

import logging
import os

import slicer
from slicer import vtkMRMLScalarVolumeNode
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from SacralTumorAILib import SacralTumorAILogic as _SceneLogic
from SacralTumorAILib.dependencies import REQUIREMENTS_FILE, unmet_requirements

HELP_TEXT = """
Segments sacral and pelvic tumours and the hip bones on noncontrast CT or pelvic MRI, places the tumour in a
hip-bone reference frame (with Enneking zones) and estimates the probabilities of six tumour types from the
image, a short clinical form and the location.
<p><b>Research use only. Not for diagnosis.</b> The bundled models were trained by this project on generated
and real-anatomy data, not on patients with confirmed tumours; read each model card before use.</p>
<p>Documentation: <a href="https://github.com/SacralTumorAI/SlicerSacralTumorAI">project page</a>.</p>
"""

ACKNOWLEDGEMENT_TEXT = """
Builds on the methods of Qi H. et al., Radiology: Imaging Cancer 2026 (doi 10.1148/rycan.250098; NCCT
segmentation and classification with a hip-bone reference frame) and of the 2.5D U-Net study of pelvic and
sacral tumours on multi-sequence MRI, Cancer Imaging 2025 (doi 10.1186/s40644-025-00850-8). The demo CT is
from the TotalSegmentator examples (Apache-2.0).
"""


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
    inputVolume: vtkMRMLScalarVolumeNode


class SacralTumorAILogic(ScriptedLoadableModuleLogic):
    """Slicer's module logic: a parameter node factory plus the shared scene logic on Slicer's scene."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.scene_logic = _SceneLogic(slicer.mrmlScene)

    def getParameterNode(self) -> SacralTumorAIParameterNode:
        return SacralTumorAIParameterNode(super().getParameterNode())


class SacralTumorAIWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SacralTumorAI.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = SacralTumorAILogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.checkInputButton.connect("clicked(bool)", self.onCheckInput)
        self.ui.installDependenciesButton.connect("clicked(bool)", self.onInstallDependencies)
        self.initializeParameterNode()
        self.updateDependencyStatus()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first:
                self._parameterNode.inputVolume = first

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)

    def onCheckInput(self) -> None:
        from sacral_tumor_ai.info import format_description

        with slicer.util.tryWithErrorDisplay("Could not check the input volume.", waitCursor=True):
            description = self.logic.scene_logic.describe_volume(self._parameterNode.inputVolume)
            self.ui.inputInfoText.setPlainText(format_description(description))

    def updateDependencyStatus(self) -> None:
        unmet = unmet_requirements()
        self.ui.dependencyStatusLabel.text = (
            "Dependencies: all installed" if not unmet else "Missing: " + ", ".join(unmet)
        )
        self.ui.installDependenciesButton.enabled = bool(unmet)

    def onInstallDependencies(self) -> None:
        unmet = unmet_requirements()
        if not unmet:
            return
        if not slicer.util.confirmOkCancelDisplay(
            "SacralTumorAI needs these Python packages, installed into Slicer's Python from the package "
            "registry:\n\n" + "\n".join(unmet) + "\n\nInstall now? Slicer may need a restart afterwards."
        ):
            return
        with slicer.util.tryWithErrorDisplay("Installing the Python dependencies failed.", waitCursor=True):
            slicer.util.pip_install(["-r", str(REQUIREMENTS_FILE)])
        self.updateDependencyStatus()


class SacralTumorAITest(ScriptedLoadableModuleTest):
    """In-Slicer smoke test of the shared logic on the bundled real CT (pytest covers it in depth)."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_load_describe_segment_export()

    def test_load_describe_segment_export(self) -> None:
        import tempfile

        import numpy as np
        import SimpleITK as sitk

        from sacral_tumor_ai.demo import demo_ct_path
        from sacral_tumor_ai.labels import TUMOR
        from SacralTumorAILib import image_from_volume_node

        logic = _SceneLogic(slicer.mrmlScene)
        volume = logic.load_volume(demo_ct_path())
        self.assertEqual(logic.describe_volume(volume)["modality"]["guess"], "CT")
        reference = image_from_volume_node(volume)
        array = np.zeros(sitk.GetArrayViewFromImage(reference).shape, np.uint8)
        array[50:60, 40:50, 55:65] = TUMOR.value
        labelmap = sitk.GetImageFromArray(array)
        labelmap.CopyInformation(reference)
        segmentation = logic.add_segmentation(labelmap, volume)
        self.assertEqual(segmentation.GetSegmentation().GetSegment("tumor").GetName(), "Tumor")
        with tempfile.TemporaryDirectory() as folder:
            exported = logic.export_segmentation(segmentation, volume, folder, "demo")
            self.assertTrue(os.path.exists(exported.segmentation_file))
        logging.info("SacralTumorAI self-test passed")
