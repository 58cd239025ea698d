"""OneSliceSeg: annotate one slice, get a 3D segmentation (Slicer module; the science lives in ``sparselabel``)."""

import logging
import pathlib
from typing import Annotated

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

SHIPPED = "Shipped network"
CHECKPOINT = "Trained checkpoint"
DEVICES = ["auto", "cpu", "cuda", "mps"]  # as the command line's --device

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
image segmentation). The shipped propagation network was trained, without labels, on images of the CHAOS, ACDC and
2018 Atrial Segmentation Challenge data sets, whose research-use terms apply to it. SparseLabel is released under the
Apache 2.0 licence.
""")


#
# OneSliceSegParameterNode
#


@parameterNodeWrapper
class OneSliceSegParameterNode:
    """The volume, its segmentation, and how the propagation network is obtained."""

    inputVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    modelSource: Annotated[str, Choice([SHIPPED, CHECKPOINT])] = SHIPPED
    checkpointPath: pathlib.Path | None  # None (an empty field) until chosen
    adaptationSteps: Annotated[int, WithinRange(0, 1000)] = 0  # fine-tuning on the volume first; 0: none
    slicesToPaint: Annotated[int, WithinRange(1, 9)] = 1
    trainingFolder: pathlib.Path | None
    device: Annotated[str, Choice(DEVICES)] = "auto"


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
        self._jobs = None
        self._propagating = False  # whether the running job is a propagation (see _setBusy)
        self._suggestions = []  # (slice index, RAS) to step through, and what they were computed for
        self._suggestedFor = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/OneSliceSeg.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = OneSliceSegLogic()
        from sparselabel.slicer.path_fields import register_optional_path_connector

        register_optional_path_connector()  # before connectGui: empty path fields stay empty

        # The embedded editor shares the Segment Editor module's node, so tools and settings carry over.
        self.ui.embeddedSegmentEditorWidget.setMRMLSegmentEditorNode(self.logic.segmentEditorNode())

        from sparselabel.slicer.panel_jobs import JobPanel

        self._jobs = JobPanel(self.ui.progressBar, self.ui.statusLabel, self._setBusy, "OneSliceSeg",
                              _("Cancelled: the segmentation is unchanged."), self.ui.logTextEdit)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.createSegmentationButton.connect("clicked(bool)", self.onCreateSegmentation)
        self.ui.suggestSliceButton.connect("clicked(bool)", self.onSuggestSlice)
        self.ui.propagateButton.connect("clicked(bool)", self.onPropagate)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.trainButton.connect("clicked(bool)", self.onTrain)
        self.ui.setUpComputeButton.connect("clicked(bool)", self.onSetUpCompute)
        self._setBusy(False)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._jobs is not None:
            self._jobs.stop()
        self.removeObservers()

    def enter(self) -> None:
        from sparselabel.slicer.panel_jobs import editor_entered

        self.initializeParameterNode()
        editor_entered(self.ui.embeddedSegmentEditorWidget)
        # Cheap (package metadata only): say at once what is missing; the device is shown after set-up.
        self.ui.statusLabel.text = self.logic.statusText(includeDevice=False)

    def exit(self) -> None:
        """The GUI stops following the parameter node, which stays: a job that ends while the user is in another
        module still finds it. The embedded editor is released as Slicer's Segment Editor module releases it."""
        from sparselabel.slicer.panel_jobs import editor_left

        editor_left(self.ui.embeddedSegmentEditorWidget)
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateFromParameters)

    def onSceneStartClose(self, caller, event) -> None:
        if self._jobs is not None:
            self._jobs.cancel()
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
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateFromParameters)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateFromParameters)
            self._updateFromParameters()

    def _updateFromParameters(self, caller=None, event=None) -> None:
        volume = self._parameterNode.inputVolume
        segmentation = self._parameterNode.segmentation
        editor = self.ui.embeddedSegmentEditorWidget
        if editor.segmentationNode() != segmentation:
            editor.setSegmentationNode(segmentation)
        if editor.sourceVolumeNode() != volume:
            editor.setSourceVolumeNode(volume)
        if self.ui.segmentsToPropagateSelector.currentNode() != segmentation:
            self.ui.segmentsToPropagateSelector.setCurrentNode(segmentation)
            self.ui.segmentsToPropagateSelector.setSelectedSegmentIDs([])  # another segmentation: none chosen yet
        self.ui.checkpointPathLineEdit.enabled = self._parameterNode.modelSource == CHECKPOINT
        self._setBusy(self._jobs is not None and self._jobs.busy)

    def _setBusy(self, busy: bool) -> None:
        ready = bool(self._parameterNode and self._parameterNode.inputVolume)
        self.ui.createSegmentationButton.enabled = ready and not busy
        self.ui.suggestSliceButton.enabled = ready and not busy
        self.ui.propagateButton.enabled = ready and not busy and bool(self._parameterNode.segmentation)
        self.ui.trainButton.enabled = not busy
        self.ui.cancelButton.enabled = busy
        self.ui.progressBar.visible = busy
        # A propagation's result replaces the segments read at its start: nothing may be painted or swapped
        # meanwhile (read-only also ends an active Paint effect, which a disabled editor would not). Training
        # touches no segment, so painting goes on while a network trains.
        locked = busy and self._propagating
        for widget in (self.ui.inputVolumeSelector, self.ui.segmentationSelector, self.ui.segmentsToPropagateSelector):
            widget.enabled = not locked
        self.ui.embeddedSegmentEditorWidget.readOnly = locked

    def onCreateSegmentation(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to create the segmentation."), waitCursor=True):
            self._parameterNode.segmentation = self.logic.createSegmentation(self._parameterNode.inputVolume)

    def onSuggestSlice(self) -> None:
        """Move the slice views to the suggested slice; with several slices to paint, to the next of them. The
        suggestions are computed on the worker thread the first time, then reused while nothing changed."""
        with slicer.util.tryWithErrorDisplay(_("Failed to suggest a slice."), waitCursor=True):
            if not self._ensureDependencies():
                return
            volumeNode, count = self._parameterNode.inputVolume, self._parameterNode.slicesToPaint
            key = (volumeNode.GetID(), volumeNode.GetMTime(), count, str(self._checkpoint()))
            if key == self._suggestedFor:
                self._showNextSuggestion(count)
                return

            def finished(suggestions):
                self._suggestions, self._suggestedFor = suggestions, key
                self._showNextSuggestion(count)

            self._propagating = False
            self._jobs.start(self.logic.suggestionJob(volumeNode, self._checkpoint(), count,
                                                      self._parameterNode.device), finished)

    def _showNextSuggestion(self, count: int) -> None:
        index, ras = self._suggestions.pop(0)
        self._suggestions.append((index, ras))  # pressing again goes on to the next one, round and round
        layoutManager = slicer.app.layoutManager()
        where = ""
        if layoutManager is not None:  # absent with --no-main-window
            for name in layoutManager.sliceViewNames():
                layoutManager.sliceWidget(name).sliceLogic().GetSliceNode().JumpSliceByOffsetting(*ras)
            red = layoutManager.sliceWidget("Red")
            if red is not None:  # the offset the Red view's slider shows
                where = _(", at {offset:.1f} mm in the Red view").format(offset=red.sliceLogic().GetSliceOffset())
        slices = self._parameterNode.inputVolume.GetImageData().GetDimensions()[2]
        if count == 1:
            self.ui.statusLabel.text = _("Suggested slice {index} of 0–{last}{where}: paint the structure on it (or "
                                         "on any other slice), then press Propagate.").format(
                                             index=index, last=slices - 1, where=where)
        else:
            allSlices = ", ".join(str(i) for i in sorted(i for i, _ras in self._suggestions))
            self.ui.statusLabel.text = _("Suggested slices {all} of 0–{last}; now on slice {index}{where}. Paint the "
                                         "structure on each (Suggest slice moves to the next), then press "
                                         "Propagate.").format(all=allSlices, last=slices - 1, index=index, where=where)

    def _checkpoint(self):
        if self._parameterNode.modelSource == CHECKPOINT:
            return self._parameterNode.checkpointPath
        return None

    def onPropagate(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to start the propagation."), waitCursor=True):
            if not self._ensureDependencies():
                return
            parameters = self._parameterNode
            chosen = list(self.ui.segmentsToPropagateSelector.selectedSegmentIDs())  # none checked: all
            painted = self.logic.readPaintedSegments(parameters.inputVolume, parameters.segmentation, chosen)
            options = self.logic.propagationOptions(self._checkpoint(), parameters.adaptationSteps,
                                                    parameters.device)
            volume, segmentation = parameters.inputVolume, parameters.segmentation

            def finished(result):
                labelImage, record = result
                # One undo step in the Segment Editor reverts the whole propagation.
                self.ui.embeddedSegmentEditorWidget.saveStateForUndo()
                self.logic.writePropagatedSegments(segmentation, volume, painted, labelImage, record["axis"])
                self.ui.statusLabel.text = self.logic.describeRun(record)

            self._propagating = True
            self._jobs.start(self.logic.propagationJob(painted, options), finished)

    def onTrain(self) -> None:
        folder = self._parameterNode.trainingFolder
        if folder is None:
            slicer.util.errorDisplay(_("Choose a folder of unlabelled volumes to train on."))
            return
        target = qt.QFileDialog.getSaveFileName(None, _("Save the trained network"), str(folder / "propagator.pt"),
                                                "PyTorch checkpoint (*.pt)")
        if not target:
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to start training."), waitCursor=True):
            if not self._ensureDependencies():
                return

            def finished(path):
                self._parameterNode.checkpointPath = path
                self._parameterNode.modelSource = CHECKPOINT
                self.ui.statusLabel.text = _("Trained network saved to {path}; it is now selected.").format(path=path)

            self._propagating = False
            self._jobs.start(self.logic.trainingJob(folder, pathlib.Path(target),
                                                    device=self._parameterNode.device), finished)

    def onCancel(self) -> None:
        self._jobs.cancel()

    def onSetUpCompute(self) -> None:
        """Install what is missing (after the user confirms) and show the compute device."""
        from sparselabel.slicer.panel_jobs import set_up_compute

        set_up_compute(self.logic, self.ui.statusLabel)

    def _ensureDependencies(self) -> bool:
        from sparselabel.slicer.panel_jobs import dependencies_ready

        return dependencies_ready(self.logic, self.ui.statusLabel)


#
# OneSliceSegLogic
#


class OneSliceSegLogic(ScriptedLoadableModuleLogic):
    """MRML nodes in, ``sparselabel`` calls, MRML nodes out. Usable without the widget (scripts, tests).

    Long work runs as ``sparselabel`` commands in child processes (``suggestionJob``, ``propagationJob``,
    ``trainingJob``); reading and writing nodes stays on the calling (GUI) thread. A network adapted to a volume is
    kept (in Slicer's temporary folder) for the next propagation of the same volume — a correction, another
    Propagate — which then starts at once.
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return OneSliceSegParameterNode(super().getParameterNode())

    def segmentEditorNode(self):
        from sparselabel.slicer.mrml import segment_editor_node

        return segment_editor_node(slicer.mrmlScene)

    def statusText(self, includeDevice: bool) -> str:
        from sparselabel.slicer.dependencies import status_text

        return status_text(includeDevice)

    def ensureDependencies(self) -> list:
        from sparselabel.slicer.dependencies import ensure_in_slicer

        installed = ensure_in_slicer("OneSliceSeg")
        if installed:
            logging.info("OneSliceSeg installed: %s", ", ".join(installed))
        return installed

    def createSegmentation(self, volumeNode, name=None):
        """A new segmentation on ``volumeNode``'s voxel grid, with one empty segment to paint in."""
        from sparselabel.slicer import mrml

        if volumeNode is None:
            raise ValueError(_("Select an input volume first."))
        segmentationNode = mrml.new_segmentation_node(
            volumeNode.GetScene(), volumeNode, name or f"{volumeNode.GetName()} segmentation")
        mrml.add_segment(segmentationNode, _("Structure"))
        return segmentationNode

    def suggestSlice(self, volumeNode, checkpoint=None):
        """The most representative slice (along k) and the RAS position of its centre, to move the views to."""
        return self.suggestSlices(volumeNode, checkpoint, 1)[0]

    def suggestSlices(self, volumeNode, checkpoint=None, count=1):
        """``count`` slices to paint (along k, one per cluster of similar slices), each with the RAS position of
        its centre, in slice order (waited for: scripts and tests)."""
        return _waitFor(self.suggestionJob(volumeNode, checkpoint, count))

    def suggestionJob(self, volumeNode, checkpoint=None, count=1, device="auto"):
        """:meth:`suggestSlices` as ``sparselabel suggest-slice`` in a child process (the volume is read here); the
        positions are where Slicer shows the slices, through the volume's parent transforms."""
        from sparselabel.slicer import mrml
        from sparselabel.slicer.jobs import suggestion_job

        return suggestion_job(mrml.volume_node_to_image(volumeNode), checkpoint, count,
                              lambda ras: mrml.to_world(volumeNode, ras), device)

    def propagationOptions(self, checkpoint=None, adaptationSteps=0, device="auto"):
        """How to propagate: with ``checkpoint`` (None: the shipped network), fine-tuned on the volume for
        ``adaptationSteps`` steps first (0: not at all)."""
        from sparselabel.propagation.one_slice import PropagationOptions

        return PropagationOptions(model=checkpoint, adaptation_steps=int(adaptationSteps), device=device)

    def readPaintedSegments(self, volumeNode, segmentationNode, segmentIds=None):
        from sparselabel.slicer.segment_propagation import read_painted_segments

        return read_painted_segments(volumeNode, segmentationNode, segmentIds)

    def writePropagatedSegments(self, segmentationNode, volumeNode, painted, labelImage, axis=None) -> None:
        from sparselabel.slicer.segment_propagation import write_propagated_segments

        write_propagated_segments(segmentationNode, volumeNode, painted, labelImage, axis)

    def propagate(self, volumeNode, segmentationNode, options=None, segmentIds=None) -> dict:
        """Blocking propagation for scripts and tests: the segments ``segmentIds`` (default: all) are propagated
        and written back; the others are left as they are."""
        painted = self.readPaintedSegments(volumeNode, segmentationNode, segmentIds)
        labelImage, record = _waitFor(self.propagationJob(painted, options or self.propagationOptions()))
        self.writePropagatedSegments(segmentationNode, volumeNode, painted, labelImage, record["axis"])
        return record

    def propagationJob(self, painted, options):
        """Start ``sparselabel propagate`` in a child process; the job's result is ``(labelImage, record)``."""
        from sparselabel.slicer.jobs import propagation_job

        return propagation_job(painted, options)

    def trainingJob(self, folder, checkpointPath, steps=3000, device="auto"):
        """``sparselabel train-propagator`` on the volumes of ``folder`` for ``steps`` steps in a child process; the
        job's result is the checkpoint path."""
        from sparselabel.slicer.jobs import training_job

        return training_job(pathlib.Path(folder), pathlib.Path(checkpointPath), steps, device)

    @staticmethod
    def describeRun(record: dict) -> str:
        text = _("Propagated from slice(s) {anchors} in {seconds:.1f} s").format(
            anchors=", ".join(map(str, record["anchors"])), seconds=record["propagation_seconds"])
        if record.get("adaptation_reused"):
            text += _(", with the network adapted to this volume before")
        elif "adaptation_steps" in record:
            text += _(" after adapting the network to this volume in {steps} steps ({seconds:.0f} s)").format(
                steps=record["adaptation_steps"], seconds=record["adaptation_seconds"])
            if record.get("adaptation_limit_hit"):
                text += _(", stopped early by the time limit")
        return text + "."


def _waitFor(job):
    """The result of a child-process job, waited for (scripts and tests; the panel follows its jobs instead)."""
    job.wait()
    if job.error is not None:
        raise job.error
    return job.result


#
# OneSliceSegTest
#


class OneSliceSegTest(ScriptedLoadableModuleTest):
    def setUp(self):
        """Before each test (a test runner may call the test methods one by one): a clear scene, and the packages
        installed without asking — or the test skipped, with the reason."""
        from sparselabel.slicer.dependencies import ensure_for_self_test

        slicer.mrmlScene.Clear()
        if (reason := ensure_for_self_test("OneSliceSeg")) is not None:
            self.skipTest(reason)

    def runTest(self):
        self.setUp()
        self.test_PropagateOnPhantom()

    def test_PropagateOnPhantom(self):
        """The whole flow on the built-in phantom: volume, segmentation, one painted slice, propagation."""
        import numpy as np

        from sparselabel.core import phantoms
        from sparselabel.core.metrics import dice
        from sparselabel.slicer import mrml

        self.delayDisplay("Loading the built-in phantom volume")
        image, label = phantoms.abdomen_volume(seed=0, shape=(24, 64, 64))
        volumeNode = mrml.image_to_volume_node(slicer.mrmlScene, image, "Phantom")
        if slicer.app.layoutManager():  # absent with --no-main-window
            slicer.util.setSliceViewerLayers(background=volumeNode, fit=True)

        logic = OneSliceSegLogic()
        segmentationNode = logic.createSegmentation(volumeNode)
        segmentId = mrml.segment_ids(segmentationNode)[0]
        index, _ras = logic.suggestSlice(volumeNode)
        self.assertTrue(0 <= index < image.shape[0])
        several = [i for i, _ras in logic.suggestSlices(volumeNode, count=3)]
        self.assertEqual(len(set(several)), 3)
        job = logic.suggestionJob(volumeNode, count=3)  # what the Suggest slice button runs, off the GUI thread
        self.assertTrue(job.wait(120))
        self.assertEqual([i for i, _ras in job.result], several)

        self.delayDisplay("Painting the liver on one slice")
        liver = label.array == 1
        anchor = int(np.flatnonzero(liver.any((1, 2))).mean())
        painted = np.zeros(image.shape, np.uint8)
        painted[anchor] = liver[anchor]
        mrml.write_segment(segmentationNode, segmentId, painted, volumeNode)

        self.delayDisplay("Propagating with the shipped network")
        record = logic.propagate(volumeNode, segmentationNode)
        self.assertEqual(record["anchors"], [anchor])
        result = mrml.segment_array(segmentationNode, segmentId, volumeNode)
        np.testing.assert_array_equal(result[anchor], painted[anchor])
        self.assertGreater(dice(result > 0, liver), 0.8)

        self.delayDisplay("Propagating after a short adaptation to the volume, twice: the second reuses the first's")
        logic.propagate(volumeNode, segmentationNode, logic.propagationOptions(adaptationSteps=10))
        result = mrml.segment_array(segmentationNode, segmentId, volumeNode)
        again = logic.propagate(volumeNode, segmentationNode, logic.propagationOptions(adaptationSteps=10))
        self.assertTrue(again["adaptation_reused"])
        self.assertGreater(dice(mrml.segment_array(segmentationNode, segmentId, volumeNode) > 0, result > 0), 0.99)
        self.delayDisplay("Test passed")
