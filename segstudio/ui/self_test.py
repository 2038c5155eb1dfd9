"""``segstudio --self-test``: does this install work, end to end, on this machine?

Runs what a user's first minutes run, with no downloads and nothing written outside a temporary folder: the main
window (offscreen when there is no display), the built-in demo data, a UNet and a Mask R-CNN (small, randomly
initialised) predicting one image on every available device (the CPU, and CUDA when torch sees a GPU; Mask R-CNN
runs torchvision's compiled ``nms``, the operator a frozen app loses first), a brush stroke with the live figures
checked against a full recount, and a save read back bit-exact. Prints a short report (versions, devices, each
step's time) and returns non-zero when any step failed, so a packager can run it on the bundle as it ships.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from segstudio import __version__


@dataclass(frozen=True)
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str


class _Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.results: list[StepResult] = []

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def step(self, name: str, run: Callable[[], str | tuple[str, Any]]) -> Any:
        """Run one step; its detail (and value, when it returns ``(detail, value)``) or its failure is reported."""
        started = time.perf_counter()
        value: Any = None
        try:
            outcome = run()
            detail, value = outcome if isinstance(outcome, tuple) else (outcome, None)
            ok = True
        except Exception as error:  # a self-test reports every failure and goes on to the next step
            ok, detail = False, f"{type(error).__name__}: {error}"
            if os.environ.get("SEGSTUDIO_SELF_TEST_TRACEBACKS"):
                detail += "\n" + traceback.format_exc()
        result = StepResult(name, ok, time.perf_counter() - started, detail)
        self.results.append(result)
        self.line(f"  {'ok  ' if ok else 'FAIL'}  {name:<34} {result.seconds:7.2f} s  {detail}")
        return value


def run_self_test(out: TextIO | None = None) -> int:
    """Run every step and print the report to ``out`` (stdout); 0 when all passed, 1 otherwise."""
    report = _Report(out or sys.stdout)
    started = time.perf_counter()
    report.line(f"segstudio {__version__} self-test")
    report.line(f"  python {platform.python_version()} on {platform.platform()}")
    from segstudio.bundle import bundle_flavour

    flavour = bundle_flavour()
    where = f"{flavour} bundle at {Path(sys.executable).parent}" if getattr(sys, "frozen", False) else \
        f"from source at {Path(__file__).parents[1]}"
    report.line(f"  install: {where}")

    with tempfile.TemporaryDirectory(prefix="segstudio-self-test-") as temporary:
        work = Path(temporary)
        window = report.step("window on screen", lambda: _open_window(work))
        if window is not None:
            report.step("icons and style sheet found", _check_resources)
            report.step("demo data set opened", lambda: _open_demo(window, work))
        torch_info = report.step("torch and torchvision", _import_torch)
        devices = torch_info["devices"] if torch_info else ["cpu"]
        image = _shown_image(window)
        for device in devices:
            report.step(f"UNet predicts on {device}", lambda d=device: _predict_unet(image, d))
            report.step(f"Mask R-CNN predicts on {device}", lambda d=device: _predict_mask_rcnn(image, d))
        if window is not None and window.canvas.session is not None:
            report.step("stroke: live figures = recount", lambda: _paint_and_check(window))
            report.step("save and read back bit-exact", lambda: _save_and_reread(window))
            report.step("accept and export COCO, checked", lambda: _accept_and_export(window, work))
            report.step("instances edited, saved exact", lambda: _edit_instances(window, work))
            report.step("correction tools on the image", lambda: _correction_tools(window))
            report.step("click to segment (tiny SAM)", lambda: _click_to_segment(window, work))
            window.close()

    failed = [r for r in report.results if not r.ok]
    total = time.perf_counter() - started
    if failed:
        report.line(f"self-test FAILED: {len(failed)} of {len(report.results)} steps ({', '.join(r.name for r in failed)}), {total:.1f} s")
        return 1
    report.line(f"self-test passed: {len(report.results)} steps in {total:.1f} s")
    return 0


# -- steps ------------------------------------------------------------------------------------------------------


def _open_window(work: Path) -> tuple[str, Any]:
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QSettings, qVersion

    from segstudio.ui.app import application
    from segstudio.ui.main_window import MainWindow

    app = application()
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)  # the user's settings stay as they are
    window = MainWindow(interactive=False, settings=settings)
    window.resize(1200, 800)
    window.show()
    app.processEvents()
    return f"Qt {qVersion()}, PySide6 {pyside_version}, platform {app.platformName()}", window


def _check_resources() -> str:
    """Every icon the window's commands name loads: a bundle or wheel built without ``resources/`` fails here."""
    from segstudio.ui.actions import Command
    from segstudio.ui.resources import icon, resources_dir

    folder = resources_dir()
    wanted = sorted({command.spec.icon for command in Command if command.spec.icon is not None})
    missing = [name for name in wanted if icon(name).isNull()]
    if missing:
        raise RuntimeError(f"icons missing or unreadable in {folder / 'icons'}: {', '.join(missing)}")
    if not (folder / "style.qss").is_file():
        raise RuntimeError(f"no style sheet at {folder / 'style.qss'}")
    return f"{len(wanted)} icons and style.qss in {folder}"


def _open_demo(window: Any, work: Path) -> str:
    from segstudio.io.demo_dataset import write_demo_dataset
    from segstudio.ui.app import wait_until_loaded

    folder = write_demo_dataset(work / "demo", count=2)
    window.open_folder(folder)
    if not wait_until_loaded(window) or window.canvas.session is None:
        raise RuntimeError("the demo image did not load")
    height, width = window.canvas.session.shape
    return f"{len(window.dataset.samples)} images, {window.current_key} is {width}x{height}"


def _import_torch() -> tuple[str, dict[str, Any]]:
    import torch
    import torchvision


    devices = ["cpu"]
    detail = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    if torch.cuda.is_available():
        devices.append("cuda")
        detail += f", CUDA {torch.version.cuda} on {torch.cuda.get_device_name(0)}"
    else:
        built = torch.version.cuda
        detail += f", no CUDA device ({'built with CUDA ' + built if built else 'CPU-only build'})"
    if not hasattr(torch.ops.torchvision, "nms"):
        raise RuntimeError(f"{detail}; torchvision's compiled operators (torchvision::nms) are not registered")
    return detail, {"devices": devices}


def _shown_image(window: Any) -> np.ndarray:
    session = None if window is None else window.canvas.session
    if session is not None:
        return np.asarray(session.image)
    return np.random.default_rng(0).integers(0, 256, (256, 320, 3), dtype=np.uint8)


def _predict_unet(image: np.ndarray, device: str) -> str:
    import torch

    from segstudio.models.checkpoints import default_normalisation
    from segstudio.models.predictor import Predictor
    from segstudio.models.registry import ModelConfig, build_model

    torch.manual_seed(0)
    config = ModelConfig("unet", 4, 3, "classic", {"base_channels": 8})
    predictor = Predictor(build_model(config), normalisation=default_normalisation(config), num_classes=4,
                          device=device, tile_size=128)
    classes = predictor.predict(image).classes
    if classes.shape != image.shape[:2] or int(classes.max()) >= 4:
        raise RuntimeError(f"the prediction is {classes.shape} with values up to {int(classes.max())}")
    return f"{classes.shape[1]}x{classes.shape[0]} mask in 128 px tiles, {len(np.unique(classes))} classes present"


def _predict_mask_rcnn(image: np.ndarray, device: str) -> str:
    import torch
    import torchvision

    from segstudio.models.checkpoints import default_normalisation
    from segstudio.models.predictor import Predictor
    from segstudio.models.registry import ModelConfig, build_model

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]], device=device)
    kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7], device=device), 0.5)
    if kept.tolist() != [0, 2]:
        raise RuntimeError(f"torchvision::nms on {device} kept {kept.tolist()}, expected [0, 2]")
    torch.manual_seed(0)
    config = ModelConfig("mask_rcnn", 2, 3, "mobilenet_v3", {"min_size": 256, "max_size": 320})
    predictor = Predictor(build_model(config), task="instance", normalisation=default_normalisation(config),
                          num_classes=2, device=device, score_threshold=0.0)
    prediction = predictor.predict(image)
    instances = prediction.instances
    if instances is None or instances.ids.shape != image.shape[:2]:
        raise RuntimeError("Mask R-CNN returned no instance mask of the image's size")
    return f"nms ok, {instances.num_instances} instances from a random-weight model (any number is fine)"


def _paint_and_check(window: Any) -> str:
    from segstudio.core.metrics import Scores, confusion_matrix

    session = window.canvas.session
    labels = session.labels
    height, width = session.shape
    value = 1 % labels.num_classes
    session.begin_stroke()
    session.paint((width * 0.2, height * 0.3), (width * 0.6, height * 0.5), radius=max(3.0, width / 40), value=value)
    session.end_stroke()
    live = session.scores_vs_truth()
    truth = session.ground_truth
    if live is None or truth is None:
        raise RuntimeError("the demo image has no ground truth to score against")
    mask = session.mask
    if labels.ignore_index is not None:  # unlabelled in the working mask is left out, as the session does
        mask = np.where(mask == labels.ignore_index, truth, mask)
    full = Scores.from_confusion(confusion_matrix(truth, mask, labels.num_classes, labels.ignore_index), labels.names)
    for mine, theirs in zip(live.classes, full.classes, strict=True):
        if (mine.overlap, mine.combined, mine.union) != (theirs.overlap, theirs.combined, theirs.union):
            raise RuntimeError(f"class {mine.name}: live {mine.overlap}/{mine.combined}/{mine.union}, "
                               f"recount {theirs.overlap}/{theirs.combined}/{theirs.union}")
    return f"mean IoU {live.mean_iou:.4f} live = recount, over {labels.num_classes} classes"


def _save_and_reread(window: Any) -> str:
    from segstudio.io.mask_files import read_class_mask

    session = window.canvas.session
    path = window.saving.save(wait=True)
    if path is None:
        raise RuntimeError(f"the save did not complete: {window.statusBar().currentMessage()}")
    back = read_class_mask(path, session.labels)
    if not np.array_equal(back, session.mask) or back.dtype != session.mask.dtype:
        raise RuntimeError(f"{path} does not read back as the mask that was saved")
    return f"{path.name}, {path.stat().st_size:,} bytes"


def _accept_and_export(window: Any, work: Path) -> str:
    """Accept the shown image and export it as COCO RLE (pycocotools, compiled: the bundle must carry it)."""
    from segstudio.app.review_export import export_accepted
    from segstudio.core.review import ReviewStatus
    from segstudio.io.exchange import ExchangeFormat

    key = window.current_key
    if not window.review.decide(key, window.canvas.session, ReviewStatus.ACCEPTED):
        raise RuntimeError(f"{key} could not be accepted: {window.statusBar().currentMessage()}")
    result = export_accepted(window.dataset, [key], ExchangeFormat.COCO, work / "export")
    if not result.exact:
        raise RuntimeError("; ".join(result.report.describe()))
    return f"{result.report.files_written} file(s), read back bit-exact"


def _edit_instances(window: Any, work: Path) -> str:
    """The shown image's objects as instances: merged, split again, renumbered; the live matching equals a recount
    and the saved instance PNG reads back exactly (PNG text chunks, cv2 and the instance code in the bundle)."""
    from segstudio.core.instance_matching import match_instances
    from segstudio.core.instance_start import InstanceSources, starting_instances
    from segstudio.core.instances import InstanceMask
    from segstudio.core.session import ImageSession
    from segstudio.io.mask_files import read_tagged_instance_mask, write_instance_mask

    shown = window.canvas.session
    truth = starting_instances(None, shown.ground_truth, shown.labels)  # each object region of the truth
    session = ImageSession.start(shown.image, shown.labels, ground_truth=shown.ground_truth,
                                 instances=InstanceSources(truth=truth))
    layer = session.instances
    if layer is None or truth.num_instances < 2:
        raise RuntimeError(f"no instance session ({truth.num_instances} objects in the demo truth)")
    first, second = layer.instance_ids()[:2]
    layer.merge(first, [second])
    _, parts = layer.split_components(first)
    layer.renumber()
    edited = layer.snapshot()
    recount = match_instances(truth, InstanceMask(edited.ids, dict(edited.classes), {i: 1.0 for i in edited.instance_ids}))
    if session.instance_figures().matching != recount:
        raise RuntimeError("the live instance matching differs from a recount")
    path = work / "instances.png"
    write_instance_mask(path, edited)
    if read_tagged_instance_mask(path) != edited:
        raise RuntimeError(f"{path} does not read back as the instances that were saved")
    return (f"{truth.num_instances} objects; merged, split into {len(parts) + 1}, renumbered; "
            f"{len(recount.matches)} matched live = recount; saved exact")


def _correction_tools(window: Any) -> str:
    """The image-driven tools' OpenCV parts (flood fill, GrabCut, intelligent scissors: the bundle's cv2 must carry
    them) and an outline's exact round trip, on the demo image."""
    from segstudio.core.geometry import Rect
    from segstudio.core.image_tools import ScissorsPath, grabcut_stamp, scissors_stamp, wand_stamp
    from segstudio.core.outlines import outline_of, outline_pixels, region_under

    session = window.canvas.session
    image, mask = np.asarray(session.image), np.asarray(session.mask)
    height, width = mask.shape
    wand = wand_stamp(image, mask, (width / 2, height / 2), 1, tolerance=20)
    box = Rect(height // 4, width // 4, 3 * height // 4, 3 * width // 4)
    cut = grabcut_stamp(image, mask, 1, box=box, iterations=2)
    path = ScissorsPath(image, Rect.full(mask.shape))
    for point in ((width * 0.3, height * 0.3), (width * 0.7, height * 0.3), (width * 0.5, height * 0.7)):
        path.add_anchor(point)
    lasso = scissors_stamp(mask, path.closed_path(), 1)
    rect, pixels, value = region_under(mask, (width / 2, height / 2))
    outline = outline_of(pixels, tolerance=0, value=value, rect=rect)[0]
    back = outline_pixels(outline, mask.shape)
    again = np.zeros(mask.shape, dtype=bool)
    again[back.rect.slices] = back.pixels
    if not np.array_equal(again[rect.slices], pixels) or again.sum() != pixels.sum():
        raise RuntimeError("an exact outline did not give its region back")
    return (f"wand {wand.count:,} px, GrabCut {cut.count:,} px, lasso {lasso.count:,} px, outline of "
            f"{outline.vertex_count} vertices exact")


def _click_to_segment(window: Any, work: Path) -> str:
    """A tiny Segment Anything network of the official design, saved and loaded as a user's weights file would be
    (the bundle must carry segment_anything and read the file safely), answering a click on the demo image; its
    proposal painted as one undo step."""
    import torch

    from segstudio.models.promptable import TINY_SAM, Prompts, load_promptable, prompt_region

    torch.manual_seed(0)
    path = work / "tiny_sam.pth"
    torch.save(TINY_SAM.build().state_dict(), path)
    model = load_promptable(path, device="cpu")
    session = window.canvas.session
    height, width = session.shape
    region = prompt_region(session.shape, None)
    found = model.segment(np.asarray(session.image), region, Prompts().adding(width / 2, height / 2, True), "self-test")
    if found.pixels.shape != (region.height, region.width):
        raise RuntimeError(f"the proposal is {found.pixels.shape}, not the region's {(region.height, region.width)}")
    click = window.correction_tools.click
    click.model, click.weights, click.proposal = model, path, found
    before = np.array(session.mask, copy=True)
    changed = click.write()
    if changed is None and found.count:
        raise RuntimeError("the proposal was not painted")
    window.editing.undo()
    if not np.array_equal(np.asarray(session.mask), before):
        raise RuntimeError("undo did not take the painted proposal back")
    return f"{model.name} loaded safely; a click proposed {found.count:,} px, painted and undone"


__all__ = ["StepResult", "run_self_test"]
