"""The SacralTumorAI browser app: trame-slicer's segmentation app (2D/3D views, Segment Editor with paint,
erase, scissors, threshold) with the SacralTumorAI panel in its drawer. ``sacral-tumor-ai web`` starts it.

Safe by default: it listens on 127.0.0.1 unless told otherwise, limits uploads, and writes only inside its
working folder (removed at exit unless given by the user); logs carry no file names.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from trame.app import TrameApp, asynchronous
from trame_slicer import module as trame_slicer_module
from trame_slicer.app.logic.download_scene_logic import DownloadSceneLogic
from trame_slicer.app.logic.layout_button_logic import LayoutButtonLogic
from trame_slicer.app.logic.mpr_interaction_button_logic import MprInteractionButtonLogic
from trame_slicer.app.logic.segmentation import SegmentEditorLogic
from trame_slicer.app.logic.volume_property_logic import VolumePropertyLogic
from trame_slicer.app.ui import SegmentationAppUI, SegmentEditorUI, VolumePropertyUI
from trame_slicer.core import SlicerApp
from trame_slicer.rca_view import register_rca_factories

from sacral_tumor_ai.errors import SacralTumorAIError
from SacralTumorAIWeb.panel import SacralTumorAIPanel
from SacralTumorAIWeb.workflow_logic import WorkflowLogic

LOG = logging.getLogger("sacral_tumor_ai.web")
DEFAULT_MAX_UPLOAD_MB = 1024


class SacralTumorAIWebApp(TrameApp):
    def __init__(self, server=None, work_dir: str | Path | None = None, max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB) -> None:
        super().__init__(server)
        self.server.enable_module(trame_slicer_module)
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="sacral-tumor-ai-web-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.slicer_app = SlicerApp()
        self._shown_volume = None
        register_rca_factories(self.slicer_app.view_manager, self.server)
        # trame-slicer's own pieces, minus its file loader (ours checks inputs through the core). The views
        # (built with the UI) must exist before the Segment Editor logic creates its effects' view pipelines.
        self._layout_logic = LayoutButtonLogic(self.server, self.slicer_app)
        self.ui = SegmentationAppUI(self.server, self._layout_logic.layout_manager)
        self.segment_editor_logic = SegmentEditorLogic(self.server, self.slicer_app)
        self._volume_property_logic = VolumePropertyLogic(self.server, self.slicer_app)
        self._download_scene_logic = DownloadSceneLogic(self.server, self.slicer_app)
        self._mpr_logic = MprInteractionButtonLogic(self.server, self.slicer_app)
        self.workflow = WorkflowLogic(
            self.state, self.slicer_app.scene, self.slicer_app.segmentation_editor, self.slicer_app.display_manager, self.work_dir, max_upload_mb * 2**20
        )
        self.ui.layout.title.set_text("SacralTumorAI (research use only)")
        self._add_panel(max_upload_mb)
        self._connect()
        self.state.trame__title = "SacralTumorAI"

    def _add_panel(self, max_upload_mb: int) -> None:
        download = self.server.controller.trigger_name(self._download)
        actions = {
            "segment": self._guarded(self.workflow.segment), "cancel": self.workflow.cancel, "classify": self._guarded(self.workflow.classify),
            "remove_sequence": self._guarded(self.workflow.remove_sequence),
        }
        with self.ui.layout.drawer:
            SacralTumorAIPanel(actions, download, max_upload_mb, v_if=(f"{self.ui.name.active_tool} === 'SacralTumorAIPanel'",))
        with self.ui.layout.toolbar:
            self.ui._create_tool_button(name="SacralTumorAI", icon="mdi-bone", tool_ui_type=SacralTumorAIPanel)
        self.ui.data.active_tool = "SacralTumorAIPanel"
        self.ui.data.is_drawer_visible = True
        self.ui.layout.flush_content()  # the layout was built before the panel was added

    def _connect(self) -> None:
        self.segment_editor_logic.set_ui(self.ui.tool_registry[SegmentEditorUI])
        self._volume_property_logic.set_ui(self.ui.tool_registry[VolumePropertyUI])
        self._layout_logic.set_ui(self.ui.layout_button)
        self._download_scene_logic.set_ui(self.ui.download_scene_button)
        self._mpr_logic.set_ui(self.ui.mpr_interaction_button)
        self.ui.load_volume_items_buttons.on_load_volume.connect(self._guarded(self.workflow.load_upload))
        self.state.change("sta_upload")(self._on_upload)
        self.state.change("sta_sequence_upload")(self._on_sequence_upload)
        self.server.controller.on_client_exited.add(self.workflow.cancel)
        self.server.controller.on_server_exited.add(self._on_exit)

    def _guarded(self, action: Callable) -> Callable:
        """Run a page action; a user error becomes the panel's message instead of a server traceback."""
        import inspect

        def shown(error: Exception) -> None:
            with self.state:
                self.state.sta_error = str(error)
                self.state.sta_busy = self.workflow.job is not None

        if inspect.iscoroutinefunction(action):
            async def guarded_async(*args, **kwargs):
                try:
                    await action(*args, **kwargs)
                except SacralTumorAIError as error:
                    shown(error)

            def start(*args, **kwargs) -> None:
                # A task of its own, not returned: trame awaits what a trigger returns, and the page's next
                # clicks (Cancel) must be served while the step runs.
                asynchronous.create_task(guarded_async(*args, **kwargs))

            return start

        def guarded(*args, **kwargs):
            try:
                action(*args, **kwargs)
                self._show_volume_state()
            except SacralTumorAIError as error:
                shown(error)
        return guarded

    def _show_volume_state(self) -> None:
        """Tell trame-slicer's own tools about a newly loaded volume (window/level, 3D preset)."""
        volume = self.workflow.volume
        if volume is not None and volume is not self._shown_volume:
            self._shown_volume = volume
            self._volume_property_logic.on_volume_changed(volume)
            self.ui.data.is_volume_loaded = True

    def _on_upload(self, sta_upload, **_) -> None:
        if sta_upload:
            self._guarded(self.workflow.load_upload)(sta_upload)
            self.state.sta_upload = None

    def _on_sequence_upload(self, sta_sequence_upload, **_) -> None:
        if sta_sequence_upload:
            self._guarded(self.workflow.add_sequence_upload)(sta_sequence_upload)
            self.state.sta_sequence_upload = None

    def _download(self, key: str):
        try:
            return self.server.protocol.addAttachment(self.workflow.download(key))
        except SacralTumorAIError as error:
            with self.state:
                self.state.sta_error = str(error)
            return None

    def _on_exit(self, **_) -> None:
        self.workflow.cancel()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def load(self, path: str | Path | None = None, sequences: dict[str, str | Path] | None = None) -> None:
        """Load the case the app starts with (a file or DICOM folder on the server), or an MRI study's
        sequences (sequence -> path; T2-w shown when there is one)."""
        if sequences:
            self.workflow.load_study(sequences)
        else:
            self.workflow.load_path(path)
        self._show_volume_state()


def main(
    volume: str | Path | None = None, port: int = 8080, host: str = "127.0.0.1", work_dir: str | None = None,
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB, open_browser: bool = False, sequences: dict[str, str] | None = None,
) -> None:
    """Start the app on ``volume`` or an MRI study's ``sequences`` (default: the bundled demo case) and print its URL."""
    from sacral_tumor_ai.demo import demo_case_path

    app = SacralTumorAIWebApp(work_dir=work_dir, max_upload_mb=max_upload_mb)
    app.load(volume or (None if sequences else demo_case_path()), sequences)
    if host not in ("127.0.0.1", "localhost"):
        LOG.warning("listening on %s: anyone who can reach this machine can use the app and see its images", host)
    print(f"SacralTumorAI web app: http://{host}:{port}/  (research use only; Ctrl+C stops it)", flush=True)
    app.server.start(port=port, host=host, open_browser=open_browser, show_connection_info=False)
