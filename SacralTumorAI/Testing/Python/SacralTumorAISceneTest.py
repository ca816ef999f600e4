"""Runs inside desktop Slicer (ctest): the module's self-test on Slicer's own scene."""

import unittest

import slicer


class SacralTumorAISceneTest(unittest.TestCase):
    def test_module_self_test(self) -> None:
        from SacralTumorAI import SacralTumorAITest

        test = SacralTumorAITest()
        test.runTest()
        self.assertIsNotNone(slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode"))
