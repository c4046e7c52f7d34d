"""The main window: assembles the view, toolbar, menus and status bar, and wires them to the
controller. It owns no thread, camera, model or file: it only draws and reacts."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.auto_size import AUTO_SIZE
from app.controller import NO_STYLES_MESSAGE, Controller
from app.frames import ProcessedFrame
from app.make_style import MakeStyle
from app.settings import COMPARE_MODES, AppSettings
from app.sources import IMAGE_SUFFIXES, RESOLUTIONS
from app.stats import RollingStats
from app.video_view import VideoView
from app.widgets import Banner, app_icon, record_icon

COMPARE_LABELS = {"off": "Stylized only", "side": "Side by side", "split": "Split (drag the line)"}
SIZES = (AUTO_SIZE, 256, 384, 512, 0)  # processing short side; 0 = native
MODEL_CHOICES = (  # app/auto_size.py MODELS, as the View > Model menu offers them
    ("auto", "&Auto (fast model where the full one is too slow)", "The style's fast twin when this machine needs it"),
    ("full", "&Full model", "Each style's own generator: the most paint, the most compute"),
    ("fast", "Fa&st model", "Each style's fast twin (about 3x less compute), where it has one"),
)
VIRTUAL_CAMERA_PROBLEMS = ("No virtual camera", "virtual camera ")  # how the worker's failure lines start


class MainWindow(QMainWindow):
    def __init__(self, controller: Controller, settings: AppSettings, store: QSettings) -> None:
        super().__init__()
        self.controller, self.settings, self.store = controller, settings, store
        self.stats = RollingStats()
        self.close_seconds: float | None = None  # how long the last shutdown took (tests, report)
        # command-line values for this run only: {setting: (value given, saved value to keep)}
        self.session_overrides: dict[str, tuple[object, object]] = {}
        self.frames_shown = 0
        self.setWindowTitle("StyleCam")
        icon = app_icon()
        self.setWindowIcon(icon)
        if QApplication.instance() is not None:
            QApplication.instance().setWindowIcon(icon)  # dialogs and the task bar too
        self._virtual_camera_echo: Callable[[str], None] | None = None  # --virtual-camera: also to stderr

        self.view = VideoView()
        self.view.set_mode(settings.compare)
        self.banner = Banner(controller.reconnect)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.banner)
        layout.addWidget(self.view, 1)
        self.setCentralWidget(central)

        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()
        self.make_style = MakeStyle(self)  # Style > New style from paintings...
        self._connect_controller()
        self.rebuild_styles()

        self._hud_timer = QTimer(self, interval=250, timeout=self._update_readouts)
        self._hud_timer.start()
        geometry = store.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1100, 720)

    # -- building ------------------------------------------------------------------------------
    def _action(self, text: str, slot: Callable, shortcut: str = "", tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        # every action says what it does and how to reach it from the keyboard
        tip = tip or text.replace("&", "").rstrip(".")
        action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString()})" if shortcut else tip)
        action.setStatusTip(action.toolTip())
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)  # shortcuts work in fullscreen too, with menus hidden
        return action

    def _build_actions(self) -> None:
        s, c = self.settings, self.controller
        self.act_open = self._action("&Open video or image...", self.open_file, "Ctrl+O")
        self.act_quit = self._action("&Quit", self.close, "Ctrl+Q", "Quit (finishes any recording)")
        self.act_demo = self._action("&Demo scene", lambda: self.set_source("demo"), "Ctrl+D")
        self.act_auto = self._action("&First working camera", lambda: self.set_source("auto"))
        self.act_refresh = self._action("&Refresh camera list", c.refresh_cameras)
        self.act_reconnect = self._action("Re&connect source", c.reconnect, "Ctrl+Shift+R")
        self.act_mirror = self._action("&Mirror", self.set_mirror, "M", "Mirror the picture", checkable=True)
        self.act_mirror.setChecked(s.mirror)
        self.act_next = self._action("&Next style", lambda: self.step_style(1), "]")
        self.act_prev = self._action("&Previous style", lambda: self.step_style(-1), "[")
        self.act_add_style = self._action("&Add style...", self.add_style, "Ctrl+I", "Import a weights file as a style")
        self.act_stabilize = self._action(
            "&Steady strokes (stabilizer)",
            self.set_stabilize,
            "T",
            "Keep the strokes still where the scene is still (temporal stabilizer)",
            checkable=True,
        )
        self.act_stabilize.blockSignals(True)  # the saved (or --no-stabilize) state, not a user choice
        self.act_stabilize.setChecked(s.stabilize)
        self.act_stabilize.blockSignals(False)
        c.set_stabilize(s.stabilize)
        self.act_more_detail = self._action(
            "More &detail", lambda: self.nudge_detail(0.1), "D", "Keep more of the camera's edges (sharper, less paint)"
        )
        self.act_less_detail = self._action(
            "&Less detail", lambda: self.nudge_detail(-0.1), "Shift+D", "Keep fewer of the camera's edges (more paint)"
        )
        self.act_faces = self._action(
            "Keep &faces", self.set_faces, "F", "Give faces more detail than the scene", checkable=True
        )
        self.act_faces.blockSignals(True)  # the saved (or --no-faces) state, not a user choice
        self.act_faces.setChecked(s.faces)
        self.act_faces.blockSignals(False)
        c.set_faces(s.faces)
        self.model_group = QActionGroup(self)
        self.model_actions = {}
        for model, label, tip in MODEL_CHOICES:
            act = self._action(label, lambda _=False, m=model: self.set_model(m), "", tip, checkable=True)
            act.setActionGroup(self.model_group)
            act.setChecked(model == s.model)
            self.model_actions[model] = act
        c.set_model(s.model)  # before the size: Auto size times the model it was given
        self.act_compare = self._action("&Cycle compare mode", self.cycle_compare, "C")
        self.act_stronger = self._action("Strength &up", lambda: self.nudge_strength(0.1), "+")
        self.act_weaker = self._action("Strength &down", lambda: self.nudge_strength(-0.1), "-")
        self.act_fullscreen = self._action("&Fullscreen", self.toggle_fullscreen, "F11", checkable=True)
        self.act_hud = self._action("&HUD overlay", self.view.update, "H", "Show numbers on the video", checkable=True)
        self.act_hud.setChecked(True)
        self.act_record = self._action("&Record", self.toggle_recording, "R", "Start/stop recording", checkable=True)
        self.act_record.setIcon(record_icon())
        self.act_record_sbs = self._action(
            "Record side by side", self.set_record_side_by_side, "", "Record original | stylized", checkable=True
        )
        self.act_record_sbs.setChecked(s.record_side_by_side)
        self.controller.set_record_side_by_side(s.record_side_by_side)
        self.act_snapshot = self._action("&Snapshot", self.snapshot, "S", "Save the current picture as PNG")
        self.act_folder = self._action("Output &folder...", self.choose_output_folder, tip="Folder for recordings")
        self.act_snapshot_folder = self._action("S&napshot folder...", self.choose_snapshot_folder)
        self.act_virtual_camera = self._action(
            "&Virtual camera",
            self.toggle_virtual_camera,
            "V",
            "Offer the picture as a camera that video-call apps and browsers can pick",
            checkable=True,
        )
        c.set_virtual_camera_side_by_side(s.compare == "side")

    def _build_toolbar(self) -> None:
        bar = QToolBar("Controls")
        bar.setObjectName("controls")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.style_combo = QComboBox()
        self.style_combo.setMinimumWidth(160)
        self.style_combo.setToolTip("Style (1..9, [ and ])")
        self.style_combo.activated.connect(lambda i: self.choose_style(i))
        self.compare_combo = QComboBox()
        for mode in COMPARE_MODES:
            self.compare_combo.addItem(COMPARE_LABELS[mode], mode)
        self.compare_combo.setCurrentIndex(COMPARE_MODES.index(self.settings.compare))
        self.compare_combo.setToolTip("Compare with the original (C)")
        self.compare_combo.currentIndexChanged.connect(lambda i: self.set_compare(COMPARE_MODES[i]))
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setFixedWidth(120)
        self.strength.setValue(round(self.settings.strength * 100))
        self.strength.setToolTip("Strength: blend of stylized and original (+ / -)")
        self.strength.valueChanged.connect(self.set_strength)
        self.controller.set_strength(self.settings.strength)
        self.detail = QSlider(Qt.Orientation.Horizontal)
        self.detail.setRange(0, 100)
        self.detail.setFixedWidth(100)
        self.detail.setValue(round(self.settings.detail * 100))
        self.detail.setToolTip("Detail: how much of the camera's edges the picture keeps (D / Shift+D)")
        self.detail.valueChanged.connect(self.set_detail)
        self.controller.set_detail(self.settings.detail)
        self.size_combo = QComboBox()
        sizes = SIZES if self.settings.size in SIZES else (*SIZES[:-1], self.settings.size, 0)
        for size in sizes:
            self.size_combo.addItem("Auto" if size == AUTO_SIZE else f"{size}px" if size else "native", size)
        self.size_combo.setCurrentIndex(sizes.index(self.settings.size))
        self.size_combo.setToolTip(
            "Processing size (short side): Auto = the largest that holds the source's frame rate here;"
            " smaller is faster, larger is sharper"
        )
        self.size_combo.currentIndexChanged.connect(lambda i: self.set_size(self.size_combo.itemData(i)))
        self.controller.set_size(self.settings.size or None)
        for label, widget in (
            ("Style ", self.style_combo),
            ("  Compare ", self.compare_combo),
            ("  Strength ", self.strength),
            ("  Detail ", self.detail),
            ("  Size ", self.size_combo),
        ):
            bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addSeparator()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addAction(self.act_record)
        bar.addAction(self.act_snapshot)

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file = menus.addMenu("&File")
        file.addActions([self.act_open, self.act_folder, self.act_snapshot_folder])
        file.addSeparator()
        file.addAction(self.act_quit)
        source = menus.addMenu("&Source")
        source.addActions([self.act_auto, self.act_demo])
        self.camera_menu = source.addMenu("&Camera")
        self.camera_menu.aboutToShow.connect(self.controller.refresh_cameras)
        self._fill_camera_menu([])
        resolution = source.addMenu("Capture &resolution")
        group = QActionGroup(self)
        for w, h in RESOLUTIONS:
            act = resolution.addAction(f"{w}x{h}")
            act.setCheckable(True)
            act.setChecked(self.settings.resolution == f"{w}x{h}")
            act.setActionGroup(group)
            act.triggered.connect(lambda _=False, wh=(w, h): self.set_resolution(wh))
        source.addActions([self.act_open, self.act_mirror, self.act_reconnect])
        self.style_menu = menus.addMenu("S&tyle")
        view = self.view_menu = menus.addMenu("&View")
        view.addActions([self.act_compare, self.act_stronger, self.act_weaker])
        view.addActions([self.act_more_detail, self.act_less_detail, self.act_faces])
        model_menu = view.addMenu("&Model")
        model_menu.addActions(list(self.model_actions.values()))
        view.addActions([self.act_hud, self.act_fullscreen])
        record = menus.addMenu("&Record")
        record.addActions([self.act_record, self.act_record_sbs, self.act_snapshot, self.act_folder])
        record.addAction(self.act_snapshot_folder)
        output = menus.addMenu("&Output")
        output.addAction(self.act_virtual_camera)
        output.addSeparator()
        output.addActions([self.act_folder, self.act_snapshot_folder])
        for menu in menus.findChildren(QMenu):
            menu.setToolTipsVisible(True)

    def _build_status_bar(self) -> None:
        self.source_label = QLabel("source: -")
        self.device_label = QLabel(self.controller.engine.describe())
        self.numbers_label = QLabel()
        self.virtual_camera_label = QLabel()
        self.virtual_camera_label.hide()
        bar = self.statusBar()
        bar.addPermanentWidget(self.virtual_camera_label)
        bar.addPermanentWidget(self.source_label)
        bar.addPermanentWidget(self.numbers_label)
        bar.addPermanentWidget(self.device_label)

    def _connect_controller(self) -> None:
        c = self.controller
        c.frame_ready.connect(self.view.show_frame)
        self.view.frame_shown.connect(self._on_frame_shown)
        c.source_started.connect(self._on_source_started)
        c.source_message.connect(self.banner.show_message)
        c.source_lost.connect(self._on_source_lost)
        c.cameras_found.connect(self._fill_camera_menu)
        c.styles_updated.connect(self.rebuild_styles)
        c.style_changed.connect(self._on_style_changed)
        c.style_failed.connect(self._on_style_failed)
        c.recording_started.connect(lambda path: self.statusBar().showMessage(f"Recording to {path}"))
        c.recording_finished.connect(self._on_recording_finished)
        c.recording_failed.connect(self._on_recording_failed)
        c.snapshot_saved.connect(lambda path: self.statusBar().showMessage(f"Snapshot saved: {path}", 5000))
        c.snapshot_failed.connect(self.banner.show_message)
        c.notice.connect(self.banner.show_message)
        c.virtual_camera_started.connect(self._on_virtual_camera_started)
        c.virtual_camera_stopped.connect(self.virtual_camera_label.hide)
        c.virtual_camera_failed.connect(self._virtual_camera_off)

    # -- sources -----------------------------------------------------------------------------
    def set_source(self, spec: str) -> None:
        self.settings.source = spec  # what the user picked ("auto" stays "auto" even if it fell back to demo)
        self.session_overrides.pop("source", None)  # picked in the app: saved, even if --source said the same
        self.view.set_message("Opening source...")
        self.controller.set_source(spec)

    def open_file(self) -> None:
        images = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video or image", "", f"Videos and images (*.mp4 *.mkv *.mov *.avi *.webm {images});;All (*)"
        )
        if path:
            self.set_source(path)

    def set_mirror(self, on: bool) -> None:
        self.settings.mirror = on
        self.controller.set_mirror(on)

    def set_resolution(self, wh: tuple[int, int]) -> None:
        self.settings.resolution = f"{wh[0]}x{wh[1]}"
        self.controller.set_resolution(wh)

    def _fill_camera_menu(self, cameras: list) -> None:
        self.camera_menu.clear()
        for index in cameras:
            self.camera_menu.addAction(f"Camera {index}", lambda i=index: self.set_source(str(i)))
        if not cameras:
            self.camera_menu.addAction("(no camera found)").setEnabled(False)
        self.camera_menu.addSeparator()
        self.camera_menu.addAction(self.act_refresh)

    def _on_source_started(self, spec: str, description: str) -> None:
        self.source_label.setText(f"source: {description}")
        self.view.set_message("")
        if self.banner.reconnect.isVisible():
            self.banner.hide()

    def _on_source_lost(self, message: str) -> None:
        self.view.set_message("Source lost: Source > Reconnect (Ctrl+Shift+R) or pick another source")
        self.banner.show_message(f"{message}. Any recording was finished and saved.", reconnect=True)

    # -- styles ------------------------------------------------------------------------------
    def rebuild_styles(self) -> None:
        styles = self.controller.styles()
        self.style_combo.clear()
        self.style_menu.clear()
        self.view.display_names.update({s.name: s.display_name for s in styles})
        for i, style in enumerate(styles):
            self.style_combo.addItem(style.display_name, style.name)
            act = self.style_menu.addAction(style.display_name, lambda i=i: self.choose_style(i))
            if i < 9:
                act.setShortcut(QKeySequence(str(i + 1)))
                act.setToolTip(f"Switch to {style.display_name} ({i + 1})")
        if not styles:
            self.style_combo.addItem("(no styles installed)")
            self.style_combo.setEnabled(False)
            self.banner.show_message(NO_STYLES_MESSAGE)
        else:
            self.style_combo.setEnabled(True)
            if self.banner.label.text() == NO_STYLES_MESSAGE:
                self.banner.hide()
        if self.controller.style_problems:
            self.banner.show_message("; ".join(self.controller.style_problems))
        self.style_menu.addSeparator()
        self.style_menu.addActions([self.act_next, self.act_prev, self.act_add_style, self.make_style.action])
        self.style_menu.addSeparator()
        self.style_menu.addAction(self.act_stabilize)
        self._select_style(self.controller.engine.style_name)

    def _select_style(self, name: str) -> None:
        index = self.style_combo.findData(name)
        if index >= 0:
            self.style_combo.setCurrentIndex(index)

    def choose_style(self, index: int) -> None:
        name = self.style_combo.itemData(index)
        if name:
            self.session_overrides.pop("style", None)
            self.statusBar().showMessage(f"Loading style {self.style_combo.itemText(index)}...")
            self.controller.set_style(name)

    def step_style(self, step: int) -> None:
        count = self.style_combo.count()
        if count and self.style_combo.isEnabled():
            current = max(0, self.style_combo.findData(self.controller.engine.style_name))
            self.choose_style((current + step) % count)

    def add_style(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add style", "", "Generator weights (*.safetensors *.pth *.pt *.ckpt)"
        )
        if not path:
            return
        suggested = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem).strip("_.-") or "style"
        name, ok = QInputDialog.getText(self, "Add style", "Name (letters, digits, - _ .):", text=suggested)
        if ok and name:
            self.statusBar().showMessage(f"Importing {path}...")
            self.controller.import_style(Path(path), name.strip())

    def _on_style_changed(self, name: str, display_name: str) -> None:
        self.view.display_names[name] = display_name
        if self.style_combo.findData(name) < 0:  # a weights file given by path: not in the library
            self.style_combo.setEnabled(True)
            self.style_combo.addItem(display_name, name)
        self._select_style(name)
        self.statusBar().showMessage(f"Style: {display_name}", 3000)

    def _on_style_failed(self, name: str, message: str) -> None:
        current = self.controller.engine.style_name
        keeping = f"; still using {current}" if current else ""
        self.banner.show_message(f"Could not switch style: {message}{keeping}")
        self._select_style(current)

    # -- view --------------------------------------------------------------------------------
    def set_compare(self, mode: str) -> None:
        self.settings.compare = mode
        self.view.set_mode(mode)
        self.controller.set_virtual_camera_side_by_side(mode == "side")
        if self.compare_combo.currentIndex() != COMPARE_MODES.index(mode):
            self.compare_combo.setCurrentIndex(COMPARE_MODES.index(mode))

    def cycle_compare(self) -> None:
        self.set_compare(COMPARE_MODES[(COMPARE_MODES.index(self.settings.compare) + 1) % len(COMPARE_MODES)])

    def set_strength(self, value: int) -> None:
        self.settings.strength = value / 100
        self.controller.set_strength(self.settings.strength)

    def nudge_strength(self, delta: float) -> None:
        self.strength.setValue(self.strength.value() + round(delta * 100))

    def set_detail(self, value: int) -> None:
        self.settings.detail = value / 100
        self.session_overrides.pop("detail", None)  # chosen in the app: saved
        self.controller.set_detail(self.settings.detail)

    def nudge_detail(self, delta: float) -> None:
        self.detail.setValue(self.detail.value() + round(delta * 100))

    def set_faces(self, on: bool) -> None:
        self.settings.faces = on
        self.session_overrides.pop("faces", None)
        self.controller.set_faces(on)
        self.statusBar().showMessage(f"Keep faces {'on' if on else 'off'} (F)", 3000)

    def set_stabilize(self, on: bool) -> None:
        self.settings.stabilize = on
        self.session_overrides.pop("stabilize", None)  # chosen in the app: saved
        self.controller.set_stabilize(on)
        self.statusBar().showMessage(f"Steady strokes {'on' if on else 'off'} (T)", 3000)

    def set_model(self, model: str) -> None:
        self.settings.model = model
        self.session_overrides.pop("model", None)
        self.controller.set_model(model)
        self.statusBar().showMessage(f"Model: {model}", 3000)

    def set_size(self, size: int) -> None:
        self.settings.size = size
        self.session_overrides.pop("size", None)
        self.controller.set_size(size or None)

    def toggle_fullscreen(self, on: bool) -> None:
        if on:
            self.showFullScreen()
        else:
            self.showNormal()
        self.menuBar().setVisible(not on)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.act_fullscreen.setChecked(False)
        else:
            super().keyPressEvent(event)

    def _on_frame_shown(self, frame: ProcessedFrame, shown_at: float) -> None:
        self.frames_shown += 1
        self.stats.add(shown_at, frame.captured_at, frame.inference_ms)

    def _update_readouts(self) -> None:
        s = self.stats
        numbers = (
            f"{s.fps:.1f} fps | inference {s.inference_ms:.1f} ms | latency {s.latency_ms:.0f} ms | "
            f"dropped {self.controller.dropped_frames}"
        )
        self.numbers_label.setText(numbers)
        engine = self.controller.engine
        style = self.view.display_names.get(engine.style_name, engine.style_name) or "none (original)"
        style += " (fast model)" if engine.fast_twin else ""
        size = f"{self.controller.size}px" if self.controller.size else "native"  # in use, not the saved choice
        size = f"auto {size}" if self.controller.size_auto else size
        steady = "steady" if engine.stabilize else "steady off"  # the engine's flag, as the size: in use
        detail = f"detail {engine.detail:.2f}" + (" faces" if engine.faces and engine.detail else "")
        device = engine.describe()  # the style in use's runner, not the one the window started with
        self.device_label.setText(device)
        self.view.hud_lines = [numbers, f"style {style} | {size} | {steady} | {detail} | {device}"]
        if self.controller.virtual_camera_on and not self.virtual_camera_label.isHidden():
            self.view.hud_lines.append(self.virtual_camera_label.text())
        if not self.act_hud.isChecked():
            self.view.hud_lines = []
        self.view.update()

    # -- recording ---------------------------------------------------------------------------
    def toggle_recording(self, on: bool) -> None:
        if on and not self.controller.recording:
            self.controller.start_recording(Path(self.settings.output_dir), fps_hint=self.stats.fps or 30.0)
            self.view.recording_since = time.perf_counter()
        elif not on and self.controller.recording:
            self.controller.stop_recording()
            self.view.recording_since = None

    def start_recording_to(self, path: Path) -> None:
        """`--record FILE`: record to that file from the first frame."""
        self.controller.start_recording(path)
        self.view.recording_since = time.perf_counter()
        self.act_record.blockSignals(True)
        self.act_record.setChecked(True)
        self.act_record.blockSignals(False)

    def set_record_side_by_side(self, on: bool) -> None:
        self.settings.record_side_by_side = on
        self.controller.set_record_side_by_side(on)

    def _recording_ended(self) -> None:
        self.view.recording_since = None
        self.act_record.blockSignals(True)
        self.act_record.setChecked(False)
        self.act_record.blockSignals(False)

    def _on_recording_finished(self, path: str, frames: int, seconds: float) -> None:
        if not self.controller.recording:
            self._recording_ended()
        self.statusBar().showMessage(f"Saved {path} ({frames} frames, {seconds:.1f} s)", 8000)

    def _on_recording_failed(self, message: str) -> None:
        self._recording_ended()
        self.banner.show_message(message)

    def snapshot(self) -> None:
        if self.controller.snapshot(Path(self.settings.snapshot_dir), self.settings.compare == "side") is None:
            self.statusBar().showMessage("No frame to save yet", 3000)

    def choose_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder (recordings)", self.settings.output_dir)
        if folder:
            self.settings.output_dir = folder

    def choose_snapshot_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Snapshot folder", self.settings.snapshot_dir)
        if folder:
            self.settings.snapshot_dir = folder

    # -- virtual camera ----------------------------------------------------------------------
    def toggle_virtual_camera(self, on: bool) -> None:
        if on and not self.controller.virtual_camera_on:
            problem = self.controller.start_virtual_camera(fps=self.stats.fps or 30.0)
            if problem:
                self._virtual_camera_off(problem)
            else:
                self.virtual_camera_label.hide()
                self.statusBar().showMessage("Virtual camera: opening with the next frame...")
        elif not on and self.controller.virtual_camera_on:
            self.controller.stop_virtual_camera()
            self.virtual_camera_label.hide()
            self.statusBar().showMessage("Virtual camera off", 3000)

    def enable_virtual_camera(self, echo: Callable[[str], None] | None = None) -> None:
        """`--virtual-camera`: turn it on at once; `echo` also gets the line if it cannot open."""
        self._virtual_camera_echo = echo
        self.act_virtual_camera.setChecked(True)

    def _on_virtual_camera_started(self, description: str) -> None:
        self.virtual_camera_label.setText(f"virtual camera: {description}")
        self.virtual_camera_label.setToolTip("Pick this camera in the video-call app or browser (V turns it off)")
        self.virtual_camera_label.show()
        if self.banner.label.text().startswith(VIRTUAL_CAMERA_PROBLEMS):
            self.banner.hide()
        self.statusBar().showMessage(f"Virtual camera on: {description}; pick it in the call app or browser", 8000)

    def _virtual_camera_off(self, message: str) -> None:
        """No backend, or the device went away: the toggle goes off and the line says what to do."""
        self.act_virtual_camera.blockSignals(True)
        self.act_virtual_camera.setChecked(False)
        self.act_virtual_camera.blockSignals(False)
        # the status bar keeps saying so (the full line in its tooltip) after its message moves on
        self.virtual_camera_label.setText("virtual camera: off (see the notice)")
        self.virtual_camera_label.setToolTip(message)
        self.virtual_camera_label.show()
        self.statusBar().showMessage(message)
        self.banner.show_message(message)  # stays after the status bar's next message replaces it
        if self._virtual_camera_echo is not None:
            self._virtual_camera_echo(message)

    # -- closing -----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.hide()  # the window goes at once; the joins below finish behind it
        self._hud_timer.stop()
        self.store.setValue("window/geometry", self.saveGeometry())
        # read from the engine, not from style_changed: the switch lands there before its queued
        # signal reaches this thread, and the window may close in between
        self.settings.style = self.controller.engine.style_name or self.settings.style
        for key, (given, saved) in self.session_overrides.items():
            if getattr(self.settings, key) == given:  # untouched during the run: keep the saved value
                setattr(self.settings, key, saved)
        self.settings.save(self.store)
        self.make_style.stop()  # a make-style run checkpoints and ends; resumable at the next start
        self.close_seconds = self.controller.shutdown()
        event.accept()
