"""OneSliceSeg: annotate one slice, get a 3D segmentation (Slicer module; the science lives in ``sparselabel``)."""

import logging

import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#
# OneSliceSeg
#


class OneSliceSeg(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("OneSliceSeg")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["SparseLabel contributors"]
        self.parent.helpText = _("""
Paint one slice of a structure and OneSliceSeg propagates it through the whole volume, slice by slice, with a
self-supervised reconstruction network (GPU when available). Correct any slice and propagate again: every slice
you drew is kept exactly as drawn. See the <a href="https://github.com/sparselabel/SlicerSparseLabel#onesliceseg">
module documentation</a>.
""")
        self.parent.acknowledgementText = _("""
The propagation follows OneSeg (single-slice annotation with self-learning and one-shot learning for 3D medical
image segmentation). SparseLabel is released under the Apache 2.0 licence.
""")


#
# OneSliceSegParameterNode
#


@parameterNodeWrapper
class OneSliceSegParameterNode:
    """The volume to segment and the segmentation that receives the propagated label."""

    inputVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode


#
# OneSliceSegWidget
#


class OneSliceSegWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/OneSliceSeg.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = OneSliceSegLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.createSegmentationButton.connect("clicked(bool)", self.onCreateSegmentation)
        self.ui.setUpComputeButton.connect("clicked(bool)", self.onSetUpCompute)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()
        # Cheap (package metadata only): say at once what is missing; the device is shown after set-up.
        self.ui.statusLabel.text = self.logic.statusText(includeDevice=False)

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
            self._updateButtons()

    def _updateButtons(self, caller=None, event=None) -> None:
        hasVolume = bool(self._parameterNode and self._parameterNode.inputVolume)
        self.ui.createSegmentationButton.enabled = hasVolume
        self.ui.createSegmentationButton.toolTip = (
            _("Create a segmentation for the selected volume") if hasVolume else _("Select an input volume first"))

    def onCreateSegmentation(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to create the segmentation."), waitCursor=True):
            self._parameterNode.segmentation = self.logic.createSegmentation(self._parameterNode.inputVolume)

    def onSetUpCompute(self) -> None:
        """Install what is missing (after the user confirms) and show the compute device."""
        from sparselabel.errors import CancelledError

        try:
            with slicer.util.tryWithErrorDisplay(_("Failed to set up the compute environment."), waitCursor=True):
                self.logic.ensureDependencies()
                self.ui.statusLabel.text = self.logic.statusText(includeDevice=True)
        except CancelledError as error:
            self.ui.statusLabel.text = str(error)


#
# OneSliceSegLogic
#


class OneSliceSegLogic(ScriptedLoadableModuleLogic):
    """MRML nodes in, ``sparselabel`` calls, MRML nodes out. Usable without the widget (scripts, tests)."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return OneSliceSegParameterNode(super().getParameterNode())

    def statusText(self, includeDevice: bool) -> str:
        from sparselabel.dependencies import status_text

        return status_text(includeDevice)

    def ensureDependencies(self) -> list:
        from sparselabel.dependencies import ensure_in_slicer

        installed = ensure_in_slicer("OneSliceSeg")
        if installed:
            logging.info("OneSliceSeg installed: %s", ", ".join(installed))
        return installed

    def createSegmentation(self, volumeNode, name=None):
        """A new segmentation on ``volumeNode``'s voxel grid, with one empty segment to paint in."""
        from sparselabel import mrml

        if volumeNode is None:
            raise ValueError(_("Select an input volume first."))
        segmentationNode = mrml.new_segmentation_node(
            volumeNode.GetScene(), volumeNode, name or f"{volumeNode.GetName()} segmentation")
        mrml.add_segment(segmentationNode, _("Structure"))
        return segmentationNode


#
# OneSliceSegTest
#


class OneSliceSegTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_SegmentationOnPhantom()

    def test_SegmentationOnPhantom(self):
        """A phantom volume goes into the scene, gets a segmentation, and a painted label round-trips."""
        import numpy as np

        from sparselabel import mrml, phantoms

        self.delayDisplay("Loading the built-in phantom volume")
        image, label = phantoms.abdomen_volume(seed=0, shape=(24, 64, 64))
        volumeNode = mrml.image_to_volume_node(slicer.mrmlScene, image, "Phantom")
        if slicer.app.layoutManager():  # absent with --no-main-window
            slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)

        logic = OneSliceSegLogic()
        segmentationNode = logic.createSegmentation(volumeNode)
        segmentId = mrml.segment_ids(segmentationNode)[0]
        self.assertEqual(segmentationNode.GetSegmentation().GetSegment(segmentId).GetName(), "Structure")

        liver = (label.array == 1).astype(np.uint8)
        mrml.write_segment(segmentationNode, segmentId, liver, volumeNode)
        np.testing.assert_array_equal(mrml.segment_array(segmentationNode, segmentId, volumeNode), liver)
        self.assertEqual(mrml.volume_node_to_image(volumeNode).geometry.differences(image.geometry), [])
        self.delayDisplay("Test passed")
