"""ActiveSeg: which scans of a cohort to label first, and next (Slicer module; the science lives in ``sparselabel``)."""

import logging
import pathlib
from typing import Annotated

import qt
import slicer
import vtk
from slicer import (
    vtkMRMLPlotChartNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
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

EMBEDDERS = ["filterbank", "pixels", "dinov2", "resnet50"]  # see sparselabel.selection.embedders
FOUNDATION_EMBEDDERS = ("dinov2", "resnet50")
STRATEGIES = ["coldstart", "al", "random"]
DEVICES = ["auto", "cpu", "cuda", "mps"]  # as the command line's --device

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
    """The cohort, how it is ranked, and the nodes of the current round and scan."""

    cohortFolder: pathlib.Path | None  # None (an empty field) until chosen
    labelsFolder: pathlib.Path | None  # None: <cohort>/labels
    embedder: Annotated[str, Choice(EMBEDDERS)] = "filterbank"
    embedderPath: pathlib.Path | None
    strategy: Annotated[str, Choice(STRATEGIES)] = "coldstart"
    budget: Annotated[int, WithinRange(1, 10000)] = 10
    alpha: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    worklistTable: vtkMRMLTableNode
    mapChart: vtkMRMLPlotChartNode
    currentVolume: vtkMRMLScalarVolumeNode
    currentSegmentation: vtkMRMLSegmentationNode
    device: Annotated[str, Choice(DEVICES)] = "auto"
    refitMap: bool = False  # next round only


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
        self._jobs = None
        self._plotView = None
        self._mapLayoutShown = False  # the layout is switched to map + slices once; the user's later choice stays
        self._followedLayoutManager = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ActiveSeg.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ActiveSegLogic()
        from sparselabel.slicer.path_fields import register_optional_path_connector

        register_optional_path_connector()  # before connectGui: empty path fields stay empty
        # The cohort folder is listed (a DICOM probe of every sub-folder) once typing has paused, not per keystroke.
        self._summaryTimer = qt.QTimer()
        self._summaryTimer.setSingleShot(True)
        self._summaryTimer.setInterval(600)
        self._summaryTimer.connect("timeout()", self._summariseCohort)

        self.ui.embeddedSegmentEditorWidget.setMRMLSegmentEditorNode(self.logic.segmentEditorNode())

        from sparselabel.slicer.panel_jobs import JobPanel

        self._jobs = JobPanel(self.ui.progressBar, self.ui.statusLabel, self._setBusy, "ActiveSeg",
                              _("Cancelled: the cohort's saved state is unchanged."), self.ui.logTextEdit)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.setUpComputeButton.connect("clicked(bool)", self.onSetUpCompute)
        self.ui.computeMapButton.connect("clicked(bool)", self.onComputeMap)
        self.ui.trainButton.connect("clicked(bool)", self.onTrainAndRerank)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancel)
        self.ui.labelNextButton.connect("clicked(bool)", self.onLabelNext)
        self.ui.saveNextButton.connect("clicked(bool)", self.onSaveAndNext)
        self.ui.worklistTableView.connect("clicked(QModelIndex)", self.onWorklistClicked)

        self.initializeParameterNode()
        self._setBusy(False)

    def cleanup(self) -> None:
        if self._jobs is not None:
            self._jobs.stop()
        self._connectPlotView(None)
        if self._followedLayoutManager is not None:
            self._followedLayoutManager.disconnect("layoutChanged(int)", self._followPlotView)
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
        self._mapLayoutShown = False
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())

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
        parameters = self._parameterNode
        if (parameters.cohortFolder, parameters.labelsFolder) != self._summarisedFolders:
            self._summaryTimer.start()  # (re)started by every change: it fires once the user has stopped typing
        editor = self.ui.embeddedSegmentEditorWidget
        if editor.segmentationNode() != parameters.currentSegmentation:
            editor.setSegmentationNode(parameters.currentSegmentation)
        if editor.sourceVolumeNode() != parameters.currentVolume:
            editor.setSourceVolumeNode(parameters.currentVolume)
        if self.ui.worklistTableView.mrmlTableNode() != parameters.worklistTable:
            self.ui.worklistTableView.setMRMLTableNode(parameters.worklistTable)
        self.ui.embedderPathLineEdit.enabled = parameters.embedder in FOUNDATION_EMBEDDERS
        self.ui.alphaSliderWidget.enabled = parameters.strategy == "al"
        self._setBusy(self._jobs is not None and self._jobs.busy)

    def _summariseCohort(self) -> None:
        """List the chosen cohort folder (only an existing one) and resume its last round."""
        parameters = self._parameterNode
        if parameters is None:
            return
        folders = (parameters.cohortFolder, parameters.labelsFolder)
        if folders == self._summarisedFolders or not (folders[0] is None or folders[0].is_dir()):
            return
        self._summarisedFolders = folders
        self.ui.cohortSummaryLabel.text = self.logic.cohortSummary(*folders)
        if not self._jobs.busy and parameters.cohortFolder is not None:
            self._showRound(self.logic.restoreRound(parameters))  # reopening a cohort resumes its last round

    def _setBusy(self, busy: bool) -> None:
        parameters = self._parameterNode
        ready = bool(parameters and parameters.cohortFolder is not None)
        self.ui.computeMapButton.enabled = ready and not busy
        self.ui.trainButton.enabled = ready and not busy
        self.ui.labelNextButton.enabled = ready and not busy and bool(parameters.worklistTable)
        self.ui.saveNextButton.enabled = not busy and bool(parameters and parameters.currentSegmentation)
        self.ui.cancelButton.enabled = busy
        self.ui.progressBar.visible = busy

    # ranking

    def onComputeMap(self) -> None:
        self._startRanking(self._parameterNode.strategy)

    def onTrainAndRerank(self) -> None:
        self._startRanking("al")

    def _startRanking(self, strategy: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to start ranking."), waitCursor=True):
            if not self._ensureDependencies():
                return
            self._jobs.start(self.logic.rankingJob(self._parameterNode, strategy), self._showNewRound)

    def _showNewRound(self, round_) -> None:
        self._parameterNode.refitMap = False  # asked for one round; the next keeps the map again
        self._showRound(round_)

    def _showRound(self, round_) -> None:
        """Put a round (worklist, map points, names) into table and plot nodes, and the plot into the layout."""
        if round_ is None:
            return
        worklist, points, names = round_
        chart = self.logic.showRound(self._parameterNode, worklist, points, names)[1]
        picks = sum(row.status == "next" for row in worklist)
        self.ui.statusLabel.text = _("{count} scans on the map; {picks} to label next (in order in the worklist). "
                                     "Click a point on the map or a row of the worklist to open its scan.").format(
                                         count=len(names), picks=picks)
        self._showChartInLayout(chart)

    def _showChartInLayout(self, chart) -> None:
        """Show the map in the plot view. The first round switches the layout to one with a plot view beside the
        slice views; later rounds only replace the chart, so a layout the user chose since stays."""
        layoutManager = slicer.app.layoutManager()
        if layoutManager is None:  # --no-main-window
            return
        if self._followedLayoutManager is None:  # a plot view the user shows later is made clickable too
            layoutManager.connect("layoutChanged(int)", self._followPlotView)
            self._followedLayoutManager = layoutManager
        if not self._mapLayoutShown:
            slicer.modules.plots.logic().ShowChartInLayout(chart)
            self._mapLayoutShown = True
        else:
            applicationLogic = slicer.app.applicationLogic()
            applicationLogic.GetSelectionNode().SetActivePlotChartID(chart.GetID())
            applicationLogic.PropagatePlotChartSelection()
        self._followPlotView()

    def _followPlotView(self, layout=None) -> None:
        """Listen to clicks on the layout's plot view, if it has one."""
        layoutManager = slicer.app.layoutManager()
        plotWidget = layoutManager.plotWidget(0) if layoutManager is not None else None
        plotView = plotWidget.plotView() if plotWidget is not None else None
        if plotView is not self._plotView:
            self._connectPlotView(plotView)

    def _connectPlotView(self, plotView) -> None:
        if self._plotView is not None:
            self._plotView.disconnect("dataSelected(vtkStringArray*, vtkCollection*)", self.onDataSelected)
        self._plotView = plotView
        if plotView is not None:
            plotView.connect("dataSelected(vtkStringArray*, vtkCollection*)", self.onDataSelected)

    def onDataSelected(self, seriesIds, selections) -> None:
        """A click on the map: open the first selected scan."""
        for index in range(seriesIds.GetNumberOfValues()):
            rows = selections.GetItemAsObject(index)
            if rows is not None and rows.GetNumberOfTuples() > 0:
                series = slicer.mrmlScene.GetNodeByID(seriesIds.GetValue(index))
                self._openScan(self.logic.scanAt(series, int(rows.GetValue(0))))
                return

    def onWorklistClicked(self, index) -> None:
        """A click on a worklist row: open that row's scan (the view may be sorted: the row is read as shown)."""
        table = self._parameterNode.worklistTable
        column = table.GetColumnIndex("scan") if table is not None else -1
        if column >= 0 and index.isValid():
            self._openScan(index.sibling(index.row(), column).data())

    # labelling

    def onLabelNext(self) -> None:
        name = self.logic.nextScan(self._parameterNode)
        if name is None:
            self.ui.statusLabel.text = _("Every pick of this round is labelled: press Train and re-rank for the next "
                                         "round.")
            return
        self._openScan(name)

    def onSaveAndNext(self) -> None:
        from sparselabel.slicer.panel_jobs import ShownErrors
        from sparselabel.slicer.scan_labelling import EmptyLabelError

        saved = None
        with ShownErrors(_("Failed to save the label.")):
            try:
                saved = self.logic.saveCurrentLabel(self._parameterNode)
            except EmptyLabelError:
                if not slicer.util.confirmYesNoDisplay(_("Nothing is painted on this scan. Save it as a scan without "
                                                         "the structure (a negative case)?")):
                    return
                saved = self.logic.saveCurrentLabel(self._parameterNode, allowEmpty=True)
            self.ui.statusLabel.text = _("Saved {path}").format(path=saved)
            self.ui.cohortSummaryLabel.text = self.logic.cohortSummary(self._parameterNode.cohortFolder,
                                                                       self._parameterNode.labelsFolder)
        if saved is not None:  # a failed save keeps the scan open with its edits
            self.onLabelNext()

    def _openScan(self, name: str) -> None:
        if self.logic.hasUnsavedEdits(self._parameterNode) and not slicer.util.confirmOkCancelDisplay(
                _("The label of the open scan has changes that are not saved. Discard them?")):
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to open {name}.").format(name=name), waitCursor=True):
            volume = self.logic.openScan(self._parameterNode, name)
            slicer.util.setSliceViewerLayers(background=volume, fit=True)
            self.ui.currentScanLabel.text = _("Labelling {name}").format(name=name)

    # jobs

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
# ActiveSegLogic
#


class ActiveSegLogic(ScriptedLoadableModuleLogic):
    """MRML nodes and folders in, ``sparselabel`` calls, MRML nodes and files out. Usable without the widget.

    Ranking (embedding, map, training) runs as ``sparselabel rank`` in a child process (``rankingJob``); nodes are
    created and files written on the calling (GUI) thread.
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._openedLabel = None  # the label array as opened, to notice unsaved edits

    def getParameterNode(self):
        return ActiveSegParameterNode(super().getParameterNode())

    def segmentEditorNode(self):
        from sparselabel.slicer.mrml import segment_editor_node

        return segment_editor_node(slicer.mrmlScene)

    def statusText(self, includeDevice: bool) -> str:
        from sparselabel.slicer.dependencies import status_text

        return status_text(includeDevice)

    def ensureDependencies(self) -> list:
        from sparselabel.slicer.dependencies import ensure_in_slicer

        installed = ensure_in_slicer("ActiveSeg")
        if installed:
            logging.info("ActiveSeg installed: %s", ", ".join(installed))
        return installed

    @staticmethod
    def labelsFolderFor(cohortFolder: pathlib.Path, labelsFolder: pathlib.Path | None) -> pathlib.Path:
        """The labels folder in use: the one chosen, or ``<cohort>/labels`` when none is."""
        return labelsFolder if labelsFolder is not None else cohortFolder / "labels"

    def cohortSummary(self, cohortFolder: pathlib.Path | None, labelsFolder: pathlib.Path | None) -> str:
        """One line for the panel: how many scans the cohort has and how many are labelled already."""
        from sparselabel.core.errors import UserInputError
        from sparselabel.core.io import base_name, discover_images

        if cohortFolder is None:
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

    # ranking

    def rank(self, parameters, strategy: str):
        """One ranking round, waited for (scripts and tests): ``(worklist, points, names)``."""
        job = self.rankingJob(parameters, strategy)
        job.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def rankingJob(self, parameters, strategy: str):
        """Start one round as ``sparselabel rank`` in a child process (the settings are read now); the job's result
        is ``(worklist, points, names)``."""
        from sparselabel.slicer.jobs import ranking_job

        return ranking_job(parameters.cohortFolder,
                           self.labelsFolderFor(parameters.cohortFolder, parameters.labelsFolder),
                           parameters.budget, strategy, parameters.alpha, parameters.embedder, parameters.embedderPath,
                           parameters.device, parameters.refitMap)

    def restoreRound(self, parameters):
        """The cohort's last saved round, or None (a new cohort, or a folder that is not one)."""
        from sparselabel.core.errors import UserInputError
        from sparselabel.selection.ranking import saved_round

        try:
            return saved_round(parameters.cohortFolder,
                               self.labelsFolderFor(parameters.cohortFolder, parameters.labelsFolder))
        except UserInputError as error:
            logging.warning("ActiveSeg: %s", error)
            return None

    def showRound(self, parameters, worklist, points, names):
        """Replace the round's table and chart nodes with new ones for this round; returns ``(table, chart)``."""
        from sparselabel.slicer.worklist_nodes import worklist_nodes

        self._removeRoundNodes(parameters)
        table, chart = worklist_nodes(slicer.mrmlScene, worklist, points, names)
        parameters.worklistTable, parameters.mapChart = table, chart
        return table, chart

    @staticmethod
    def _removeRoundNodes(parameters) -> None:
        chart = parameters.mapChart
        if chart is not None:
            for index in reversed(range(chart.GetNumberOfPlotSeriesNodes())):
                series = chart.GetNthPlotSeriesNode(index)
                slicer.mrmlScene.RemoveNode(series.GetTableNode())
                slicer.mrmlScene.RemoveNode(series)
            slicer.mrmlScene.RemoveNode(chart)
        if parameters.worklistTable is not None:
            slicer.mrmlScene.RemoveNode(parameters.worklistTable)

    @staticmethod
    def scanAt(seriesNode, row: int) -> str:
        from sparselabel.slicer.scan_labelling import scan_at

        return scan_at(seriesNode, row)

    # labelling

    def nextScan(self, parameters):
        """The first pick of the round whose label is not saved yet (None when all are)."""
        from sparselabel.core.io import base_name
        from sparselabel.slicer import mrml

        labels = self.labelsFolderFor(parameters.cohortFolder, parameters.labelsFolder)
        labelled = {base_name(p) for p in labels.iterdir() if p.is_file()} if labels.is_dir() else set()
        for row in mrml.rows_from_table_node(parameters.worklistTable):
            if row["status"] == "next" and row["scan"] not in labelled:
                return row["scan"]
        return None

    def _scanPath(self, parameters, name: str) -> pathlib.Path:
        from sparselabel.core.errors import UserInputError
        from sparselabel.selection.cohort_state import load_state

        state = load_state(parameters.cohortFolder)
        if state is None or name not in state.scans:
            raise UserInputError(f"scan '{name}' is not part of the cohort in {parameters.cohortFolder}; "
                                 "compute the map again")
        return parameters.cohortFolder / state.scans[name].path

    def openScan(self, parameters, name: str):
        """Load scan ``name`` and its label (if any) for editing, replacing the previous scan's nodes."""
        from sparselabel.slicer.scan_labelling import open_scan

        scan = self._scanPath(parameters, name)
        volume, segmentation = open_scan(slicer.mrmlScene, scan,
                                         self.labelsFolderFor(parameters.cohortFolder, parameters.labelsFolder))
        for node in (parameters.currentSegmentation, parameters.currentVolume):
            if node is not None:
                slicer.mrmlScene.RemoveNode(node)
        parameters.currentVolume, parameters.currentSegmentation = volume, segmentation
        self._openedLabel = self._labelArray(parameters)
        return volume

    @staticmethod
    def _labelArray(parameters):
        from sparselabel.slicer import mrml

        return mrml.segmentation_to_label_image(parameters.currentSegmentation, parameters.currentVolume).array

    def hasUnsavedEdits(self, parameters) -> bool:
        if parameters.currentSegmentation is None or self._openedLabel is None:
            return False
        current = self._labelArray(parameters)
        return current.shape != self._openedLabel.shape or bool((current != self._openedLabel).any())

    def saveCurrentLabel(self, parameters, allowEmpty: bool = False) -> pathlib.Path:
        """Write the open scan's label file (atomically, with the scan's geometry) and mark it labelled; an empty
        label only with ``allowEmpty`` (the scan does not show the structure)."""
        from sparselabel.core.errors import UserInputError
        from sparselabel.slicer import mrml
        from sparselabel.slicer.scan_labelling import save_label

        volume, segmentation = parameters.currentVolume, parameters.currentSegmentation
        if volume is None or segmentation is None:
            raise UserInputError("no scan is open: press Label next or click a scan on the map")
        name = volume.GetName()
        path = save_label(segmentation, volume, self._scanPath(parameters, name),
                          self.labelsFolderFor(parameters.cohortFolder, parameters.labelsFolder), allowEmpty)
        self._openedLabel = self._labelArray(parameters)
        table = parameters.worklistTable
        if table is not None:
            rows = mrml.rows_from_table_node(table)
            for row in rows:
                if row["scan"] == name:
                    row["status"] = "labelled"
            mrml.update_table_node(table, rows)
        return path


#
# ActiveSegTest
#


class ActiveSegTest(ScriptedLoadableModuleTest):
    def setUp(self):
        """Before each test (a test runner may call the test methods one by one): a clear scene, and the packages
        installed without asking — or the test skipped, with the reason."""
        from sparselabel.slicer.dependencies import ensure_for_self_test

        slicer.mrmlScene.Clear()
        if (reason := ensure_for_self_test("ActiveSeg")) is not None:
            self.skipTest(reason)

    def runTest(self):
        self.setUp()
        self.test_CohortSummaryOnPhantomCohort()
        self.setUp()
        self.test_RankLabelAndResumeOnPhantomCohort()

    def test_CohortSummaryOnPhantomCohort(self):
        """The built-in phantom cohort is found, with its labels, through the module's logic."""
        from sparselabel.core import phantoms

        self.delayDisplay("Writing the built-in phantom cohort")
        folder = pathlib.Path(slicer.util.tempDirectory("ActiveSegTest"))
        phantoms.write_sample_data(folder, per_group=3)
        cohort = folder / "cohort"
        logic = ActiveSegLogic()
        scans = 3 * len(phantoms.CHEST_GROUPS)
        self.assertEqual(logic.cohortSummary(cohort, None),
                         f"{scans} scans, {scans} labelled (labels in {cohort / 'labels'})")
        self.assertIn("no such folder", logic.cohortSummary(folder / "absent", None))

        parameterNode = logic.getParameterNode()
        parameterNode.cohortFolder = cohort
        self.assertEqual(logic.getParameterNode().cohortFolder, cohort)
        self.delayDisplay("Test passed")

    def test_RankLabelAndResumeOnPhantomCohort(self):
        """A cold-start round, one scan labelled through the Segment Editor's nodes, and the round resumed."""
        from sparselabel.core import phantoms
        from sparselabel.core.io import read_image, read_label
        from sparselabel.slicer import mrml

        folder = pathlib.Path(slicer.util.tempDirectory("ActiveSegFlow"))
        phantoms.write_sample_data(folder, per_group=4)
        cohort, truth = folder / "cohort", folder / "truth"
        (cohort / "labels").rename(truth)  # nothing labelled yet
        logic = ActiveSegLogic()
        parameters = logic.getParameterNode()
        parameters.cohortFolder, parameters.budget, parameters.strategy = cohort, 6, "coldstart"

        self.delayDisplay("Computing the map and the cold-start picks")
        worklist, points, names = logic.rank(parameters, "coldstart")
        table, chart = logic.showRound(parameters, worklist, points, names)
        self.assertEqual(sum(row["status"] == "next" for row in mrml.rows_from_table_node(table)), 6)
        self.assertGreaterEqual(chart.GetNumberOfPlotSeriesNodes(), 2)

        self.delayDisplay("Labelling the first pick")
        name = logic.nextScan(parameters)
        volume = logic.openScan(parameters, name)
        scan = read_image(cohort / f"{name}.png")
        reference = read_label(truth / f"{name}.png", scan).array
        segmentation = parameters.currentSegmentation
        mrml.write_segment(segmentation, mrml.segment_ids(segmentation)[0], reference[None] > 0, volume)
        self.assertTrue(logic.hasUnsavedEdits(parameters))
        saved = logic.saveCurrentLabel(parameters)
        self.assertFalse(logic.hasUnsavedEdits(parameters))
        self.assertTrue(((read_label(saved, scan).array > 0) == (reference > 0)).all())
        self.assertNotEqual(logic.nextScan(parameters), name)

        self.delayDisplay("Reopening the cohort resumes the round")
        resumed, _points, _names = logic.restoreRound(parameters)
        self.assertEqual({row.scan: row.status for row in resumed}[name], "labelled")
        self.delayDisplay("Test passed")
