"""ActiveSeg: which scans of a cohort to label first, and next (Slicer module; the science lives in ``sparselabel``)."""

import logging
import pathlib

import slicer
import vtk
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
# ActiveSeg
#


class ActiveSeg(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("ActiveSeg")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["SparseLabel contributors"]
        self.parent.helpText = _("""
ActiveSeg tells you which scans of a cohort to label first and which next: it maps the cohort with image
embeddings and t-SNE, picks representative scans of every cluster for a cold start, then ranks the rest by model
uncertainty and diversity once a model is trained. See the
<a href="https://github.com/sparselabel/SlicerSparseLabel#activeseg">module documentation</a>.
""")
        self.parent.acknowledgementText = _("""
The selection follows Levy &amp; Assayag, "From Cold Start to Active Learning: Embedding-Based Scan Selection for
Medical Image Segmentation" (2026). SparseLabel is released under the Apache 2.0 licence.
""")


#
# ActiveSegParameterNode
#


@parameterNodeWrapper
class ActiveSegParameterNode:
    """The cohort folder and where its labels live (default: the cohort's ``labels`` sub-folder)."""

    cohortFolder: pathlib.Path
    labelsFolder: pathlib.Path


#
# ActiveSegWidget
#


class ActiveSegWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._summarisedFolders = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ActiveSeg.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ActiveSegLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
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

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateCohortSummary)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateCohortSummary)
            self._updateCohortSummary()

    def _updateCohortSummary(self, caller=None, event=None) -> None:
        folders = (self._parameterNode.cohortFolder, self._parameterNode.labelsFolder)
        if folders == self._summarisedFolders:
            return  # the parameter node changed for another reason: no need to list the folder again
        self._summarisedFolders = folders
        self.ui.cohortSummaryLabel.text = self.logic.cohortSummary(*folders)

    def onSetUpCompute(self) -> None:
        """Install what is missing (after the user confirms) and show the compute device."""
        with slicer.util.tryWithErrorDisplay(_("Failed to set up the compute environment."), waitCursor=True):
            if self._ensureDependencies():
                self.ui.statusLabel.text = self.logic.statusText(includeDevice=True)

    def _ensureDependencies(self) -> bool:
        """Install what is missing after the user confirms; False (and a note in the status) if they decline."""
        from sparselabel.errors import CancelledError

        try:
            self.logic.ensureDependencies()
        except CancelledError as error:
            self.ui.statusLabel.text = str(error)
            return False
        return True


#
# ActiveSegLogic
#


class ActiveSegLogic(ScriptedLoadableModuleLogic):
    """MRML nodes and folders in, ``sparselabel`` calls, MRML nodes and files out. Usable without the widget."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return ActiveSegParameterNode(super().getParameterNode())

    def statusText(self, includeDevice: bool) -> str:
        from sparselabel.dependencies import status_text

        return status_text(includeDevice)

    def ensureDependencies(self) -> list:
        from sparselabel.dependencies import ensure_in_slicer

        installed = ensure_in_slicer("ActiveSeg")
        if installed:
            logging.info("ActiveSeg installed: %s", ", ".join(installed))
        return installed

    @staticmethod
    def labelsFolderFor(cohortFolder: pathlib.Path, labelsFolder: pathlib.Path) -> pathlib.Path:
        """The labels folder in use: the one chosen, or ``<cohort>/labels`` when none is."""
        return labelsFolder if labelsFolder != pathlib.Path() else cohortFolder / "labels"

    def cohortSummary(self, cohortFolder: pathlib.Path, labelsFolder: pathlib.Path) -> str:
        """One line for the panel: how many scans the cohort has and how many are labelled already."""
        from sparselabel.errors import UserInputError
        from sparselabel.io import base_name, discover_images

        if cohortFolder == pathlib.Path():
            return _("Choose the folder that holds the cohort's scans.")
        try:
            scans = discover_images(cohortFolder)
        except UserInputError as error:
            return str(error)
        labels = self.labelsFolderFor(cohortFolder, labelsFolder)
        try:
            labelled = {base_name(p) for p in discover_images(labels)}
        except UserInputError:
            labelled = set()
        count = sum(base_name(p) in labelled for p in scans)
        return _("{scans} scans, {labelled} labelled (labels in {folder})").format(
            scans=len(scans), labelled=count, folder=labels)


#
# ActiveSegTest
#


class ActiveSegTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_CohortSummaryOnPhantomCohort()

    def test_CohortSummaryOnPhantomCohort(self):
        """The built-in phantom cohort is found, with its labels, through the module's logic."""
        from sparselabel import phantoms

        self.delayDisplay("Writing the built-in phantom cohort")
        folder = pathlib.Path(slicer.util.tempDirectory("ActiveSegTest"))
        phantoms.write_sample_data(folder, per_group=3)
        cohort = folder / "cohort"
        logic = ActiveSegLogic()
        scans = 3 * len(phantoms.CHEST_GROUPS)
        self.assertEqual(logic.cohortSummary(cohort, pathlib.Path()),
                         f"{scans} scans, {scans} labelled (labels in {cohort / 'labels'})")
        self.assertIn("no such folder", logic.cohortSummary(folder / "absent", pathlib.Path()))

        parameterNode = logic.getParameterNode()
        parameterNode.cohortFolder = cohort
        self.assertEqual(logic.getParameterNode().cohortFolder, cohort)
        self.delayDisplay("Test passed")
