"""Instance sessions: an ImageSession editing Penn-Fudan people object by object, and everything that must keep the
objects apart (a model's instances accepted, a new prediction handed over, recovered work, the autosave, the saved
correction read back)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from segstudio.app.sample_loader import load_sample
from segstudio.app.saving import SaveRequest, save_work
from segstudio.core.instance_start import InstanceSources
from segstudio.core.instances import InstanceMask
from segstudio.core.labels import LabelSet
from segstudio.core.session import ImageSession
from segstudio.core.working_source import WorkingSource
from segstudio.io.autosave import AutosaveStore
from segstudio.io.corrections import SavedWork, read_correction
from segstudio.io.datasets import open_dataset
from segstudio.io.file_state import UNCHECKED
from segstudio.io.mask_files import read_instance_mask, write_instance_mask

LABELS = LabelSet.with_count(2)
MULTI = "FudanPed00004"  # two pedestrians


@pytest.fixture
def penn_fudan(shared_data: Path, tmp_path: Path) -> Path:
    """A two-image copy of Penn-Fudan (the shared data is never written)."""
    source, root = shared_data / "pennfudan", tmp_path / "pennfudan"
    (root / "PNGImages").mkdir(parents=True)
    (root / "PedMasks").mkdir()
    for name in (MULTI, "FudanPed00005"):
        shutil.copy(source / "PNGImages" / f"{name}.png", root / "PNGImages" / f"{name}.png")
        shutil.copy(source / "PedMasks" / f"{name}_mask.png", root / "PedMasks" / f"{name}_mask.png")
    return root


def _truth(root: Path) -> InstanceMask:
    return read_instance_mask(root / "PedMasks" / f"{MULTI}_mask.png")


def _session(truth: InstanceMask, prediction: InstanceMask | None = None) -> ImageSession:
    image = np.zeros((*truth.shape, 3), dtype=np.uint8)
    predicted = None if prediction is None else prediction.to_class_mask()
    return ImageSession.start(image, LABELS, ground_truth=truth.to_class_mask(), prediction=predicted,
                              instances=InstanceSources(truth=truth, prediction=prediction))


def _centre(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return float(cols[len(cols) // 2]), float(rows[len(rows) // 2])


def _shifted(truth: InstanceMask, dx: int) -> InstanceMask:
    """The truth moved ``dx`` pixels right, with scores: a model's imperfect prediction."""
    ids = np.zeros_like(np.asarray(truth.ids))
    ids[:, dx:] = np.asarray(truth.ids)[:, :-dx]
    return InstanceMask(ids, dict(truth.classes), {i: 0.9 - 0.1 * i for i in truth.instance_ids})


def test_a_stroke_of_an_object_class_starts_a_new_person_and_scores_follow(penn_fudan: Path) -> None:
    truth = _truth(penn_fudan)
    session = _session(truth)
    layer = session.instances
    assert layer is not None and layer.snapshot() == truth
    assert session.working_source is WorkingSource.GROUND_TRUTH
    assert session.instance_figures().matched == truth.num_instances
    session.begin_stroke()
    session.paint((5, 5), (40, 5), radius=3, value=1)
    session.end_stroke()
    new_id = max(truth.instance_ids) + 1
    assert layer.instance_ids() == (*truth.instance_ids, new_id)
    assert np.array_equal(session.mask, layer.snapshot().to_class_mask())
    figures = session.instance_figures()
    assert figures.unmatched == 1 and figures.instances[-1].instance_id == new_id
    assert figures.instances[-1].truth_id is None
    scores = session.scores_vs_truth()
    expected = np.zeros((2, 2), dtype=np.int64)
    np.add.at(expected, (truth.to_class_mask().ravel(), session.mask.ravel()), 1)
    assert scores is not None and np.array_equal(scores.confusion, expected)
    assert session.undo() is not None and layer.snapshot() == truth and not session.dirty


def test_the_eraser_with_a_person_chosen_erases_only_that_person(penn_fudan: Path) -> None:
    truth = _truth(penn_fudan)
    first, second = truth.instance_ids[:2]
    session = _session(truth)
    layer = session.instances
    assert layer is not None
    # Grow person 1 into person 2, then erase across both with person 2 chosen: only person 2 loses pixels.
    x, y = _centre(truth.ids == first)
    layer.select(second)
    session.begin_stroke()
    session.erase((x - 200, y), (x + 200, y), radius=4)
    session.end_stroke()
    after = layer.snapshot()
    assert np.array_equal(after.ids == first, truth.ids == first)
    assert (after.ids == second).sum() <= (truth.ids == second).sum()


def test_accepting_the_models_instances_and_going_back_to_the_truth(penn_fudan: Path) -> None:
    truth = _truth(penn_fudan)
    prediction = _shifted(truth, 6)
    session = _session(truth, prediction)
    assert session.working_source is WorkingSource.PREDICTION
    layer = session.instances
    assert layer is not None and layer.snapshot() == prediction
    session.reset_to_ground_truth()
    assert layer.snapshot() == truth
    session.accept_prediction()
    assert layer.snapshot() == prediction
    session.undo()
    assert layer.snapshot() == truth


def test_a_new_prediction_restarts_an_untouched_session_with_its_instances(penn_fudan: Path) -> None:
    truth = _truth(penn_fudan)
    session = _session(truth, _shifted(truth, 4))
    newer = _shifted(truth, 9)
    prepared = session.prepare_prediction(newer.to_class_mask(), newer)()
    shown = session.set_prediction(prepared)
    assert shown is not session and shown.instances is not None and shown.instances.snapshot() == newer
    # A session with work keeps it, and "accept prediction" then takes the new model's instances.
    shown.begin_stroke()
    shown.paint((5, 5), (30, 5), radius=2, value=1)
    shown.end_stroke()
    latest = _shifted(truth, 2)
    kept = shown.set_prediction(shown.prepare_prediction(latest.to_class_mask(), latest)())
    assert kept is shown
    shown.accept_prediction()
    assert shown.instances.snapshot() == latest


def test_recovered_instances_come_back_exactly(penn_fudan: Path) -> None:
    truth = _truth(penn_fudan)
    first, second = truth.instance_ids[:2]
    merged = InstanceMask(np.where(np.asarray(truth.ids) == second, first, truth.ids), {first: 1})
    image = np.zeros((*truth.shape, 3), dtype=np.uint8)
    session = ImageSession.start(image, LABELS, ground_truth=truth.to_class_mask(), recovered=merged,
                                 instances=InstanceSources(truth=truth))
    assert session.working_source is WorkingSource.AUTOSAVE and session.dirty
    assert session.instances is not None and session.instances.snapshot() == merged  # a class mask would split them
    session.undo()
    assert session.instances.snapshot() == truth


def test_the_autosave_keeps_instances(penn_fudan: Path, tmp_path: Path) -> None:
    truth = _truth(penn_fudan)
    store = AutosaveStore(tmp_path / "autosave")
    merged = InstanceMask(np.where(np.asarray(truth.ids) == 2, 1, truth.ids), {1: 1})
    store.save(MULTI, merged.to_class_mask(), revision=3, labels=LABELS, session="s", instances=merged)
    [entry] = store.pending()
    assert store.load(entry) == merged
    store.save("plain", truth.to_class_mask(), revision=1, labels=LABELS, session="s")
    plain = next(e for e in store.pending() if e.sample_key == "plain")
    assert np.array_equal(store.load(plain), truth.to_class_mask())


def test_loading_saving_and_reopening_an_instance_sample_is_bit_exact(penn_fudan: Path) -> None:
    dataset = open_dataset(penn_fudan)
    sample = dataset.sample(next(s.key for s in dataset.samples if MULTI in s.key))
    loaded = load_sample(dataset, sample)
    session = loaded.session
    layer = session.instances
    truth = _truth(penn_fudan)
    assert layer is not None and layer.snapshot() == truth
    first, second = truth.instance_ids[:2]
    layer.merge(first, [second])
    layer.split_components(first)
    layer.renumber()
    edited = layer.snapshot()
    request = SaveRequest(dataset, sample, session.mask.copy(), dataset.spec.labels, SavedWork("w", session.revision),
                          UNCHECKED, reference=loaded.instances, instances=edited)
    outcome = save_work(request)
    assert outcome.path is not None and not outcome.lost and outcome.carry is not None
    assert outcome.carry.instances == edited
    saved = read_correction(dataset, sample, dataset.spec.labels)
    assert saved is not None and saved.instances == edited
    assert np.array_equal(np.asarray(saved.instances.ids), np.asarray(edited.ids))
    reopened = load_sample(dataset, sample).session
    assert reopened.working_source is WorkingSource.CORRECTION
    assert reopened.instances is not None and reopened.instances.snapshot() == edited


def test_a_prediction_written_as_instances_opens_as_the_models_objects(penn_fudan: Path) -> None:
    dataset = open_dataset(penn_fudan)
    sample = dataset.sample(next(s.key for s in dataset.samples if MULTI in s.key))
    truth = _truth(penn_fudan)
    predicted = _shifted(truth, 5)
    path = penn_fudan / "model-output.png"
    write_instance_mask(path, predicted)
    session = load_sample(dataset, sample, prediction_path=path).session
    assert session.working_source is WorkingSource.PREDICTION
    assert session.instances is not None and session.instances.snapshot() == predicted
    figures = session.instance_figures()
    assert figures is not None and [f.score for f in figures.instances] == [predicted.scores[i] for i in predicted.instance_ids]


def test_edited_instances_export_to_coco_as_instances(penn_fudan: Path, tmp_path: Path) -> None:
    from segstudio.app.review_export import export_accepted
    from segstudio.io.exchange import ExchangeFormat, import_annotations

    dataset = open_dataset(penn_fudan)
    sample = dataset.sample(next(s.key for s in dataset.samples if MULTI in s.key))
    loaded = load_sample(dataset, sample)
    layer = loaded.session.instances
    assert layer is not None
    first, second = layer.instance_ids()[:2]
    layer.merge(first, [second])  # two people made one object: COCO must get one annotation for them
    edited = layer.snapshot()
    save_work(SaveRequest(dataset, sample, loaded.session.mask.copy(), dataset.spec.labels,
                          SavedWork("w", loaded.session.revision), UNCHECKED, reference=loaded.instances,
                          instances=edited))
    result = export_accepted(dataset, [sample.key], ExchangeFormat.COCO, tmp_path / "coco")
    assert result.exact
    [image] = import_annotations(ExchangeFormat.COCO, tmp_path / "coco", labels=dataset.spec.labels).images
    assert image.instances is not None and image.instances.num_instances == edited.num_instances
    for instance in image.instances.instance_ids:  # the same objects, numbered in the file's order
        pixels = np.asarray(image.instances.ids) == instance
        assert len(np.unique(np.asarray(edited.ids)[pixels])) == 1


def test_error_regions_of_an_instance_image_are_fixed_object_by_object(penn_fudan: Path) -> None:
    """The model shifted 6 px and missed the second person: taking the ground truth in the missed region makes that
    person a new instance; in the sliver the shift left uncovered, the pixels join the person the user already has;
    in the sliver past the person, they become background. Each fix is one undo step."""
    from segstudio.core.error_map import ErrorKind
    from segstudio.core.error_regions import RegionFix

    truth = _truth(penn_fudan)
    first, second = truth.instance_ids[:2]
    shifted = _shifted(truth, 6)
    ids = np.asarray(shifted.ids).copy()
    ids[ids == second] = 0  # the model missed the second person
    assert not np.asarray(truth.ids)[:20, :20].any()
    ids[:20, :20] = first  # and gave the first a patch of the background
    prediction = InstanceMask(ids, {first: 1}, {first: 0.9})
    session = _session(truth, prediction)
    layer = session.instances
    assert layer is not None and layer.instance_ids() == (first,)
    truth_ids = np.asarray(truth.ids)

    missed = next(r for r in session.error_regions() if r.kind is ErrorKind.FALSE_NEGATIVE
                  and (truth_ids[r.rect.slices][r.pixels] == second).all() and r.area > 1000)
    before = layer.snapshot()
    session.fix_error_region(missed, RegionFix.TRUTH)
    after = layer.snapshot()
    (new_id,) = set(after.instance_ids) - set(before.instance_ids)
    assert after.class_of(new_id) == 1
    assert np.array_equal(np.asarray(after.ids) == new_id, missed.mask(session.shape))
    assert np.array_equal(np.asarray(after.ids) == first, np.asarray(before.ids) == first)
    session.undo()
    assert layer.snapshot() == before

    # The strip at the first person's left edge, uncovered by the shift: it joins person `first`.
    strip = max((r for r in session.error_regions() if r.kind is ErrorKind.FALSE_NEGATIVE
                 and (truth_ids[r.rect.slices][r.pixels] == first).all()), key=lambda r: r.area)
    held = (np.asarray(before.ids) == first).sum()
    session.fix_error_region(strip, RegionFix.TRUTH)
    after = layer.snapshot()
    assert after.instance_ids == before.instance_ids
    assert (np.asarray(after.ids) == first).sum() == held + strip.area
    assert (np.asarray(after.ids)[strip.mask(session.shape)] == first).all()

    # Where the truth is background (the patch in the corner), the pixels leave the object.
    extra = session.error_region_at(5, 5)
    assert extra is not None and extra.kind is ErrorKind.FALSE_POSITIVE and extra.area == 400
    session.fix_error_region(extra, RegionFix.TRUTH)
    assert (np.asarray(layer.snapshot().ids)[extra.mask(session.shape)] == 0).all()
    assert (session.mask[extra.mask(session.shape)] == 0).all()
    assert np.array_equal(session.mask, layer.snapshot().to_class_mask())


def test_taking_the_prediction_or_a_class_in_a_region_of_an_instance_image(penn_fudan: Path) -> None:
    from segstudio.core.error_map import ErrorKind
    from segstudio.core.error_regions import RegionFix

    truth = _truth(penn_fudan)
    first = truth.instance_ids[0]
    prediction = _shifted(truth, 6)
    session = _session(truth, prediction)
    layer = session.instances
    assert layer is not None
    layer.delete([first])  # the user removed the model's first person; the error map now shows it missed
    region = session.error_region_at(*_centre(np.asarray(truth.ids) == first))
    assert region is not None and region.kind is ErrorKind.FALSE_NEGATIVE
    before = layer.snapshot()
    session.fix_error_region(region, RegionFix.PREDICTION)  # the model's person, back as a new instance
    after = layer.snapshot()
    (restored,) = set(after.instance_ids) - set(before.instance_ids)
    modelled = np.asarray(prediction.ids) == first
    assert np.array_equal(np.asarray(after.ids) == restored, region.mask(session.shape) & modelled)
    assert (np.asarray(after.ids)[region.mask(session.shape) & ~modelled] == 0).all()  # where the model had none
    session.undo()

    session.fix_error_region(region, RegionFix.CLASS, 1)  # the selected class: a new person of class 1
    after = layer.snapshot()
    (painted,) = set(after.instance_ids) - set(before.instance_ids)
    assert after.class_of(painted) == 1 and (np.asarray(after.ids)[region.mask(session.shape)] == painted).all()
    session.undo()
    assert layer.snapshot() == before


def test_an_object_s_outline_is_edited_and_written_back_as_that_object(penn_fudan: Path) -> None:
    """On an instance image the outline tool traces the object under the click (not every touching pixel of its
    class): unedited at tolerance 0 it writes back nothing different; a vertex dragged outwards grows the same
    object (its id kept), one undo step."""
    from segstudio.ui.outline_tool import OutlineTool

    truth = _truth(penn_fudan)
    first = truth.instance_ids[0]
    session = _session(truth)
    layer = session.instances
    assert layer is not None
    tool = OutlineTool()
    tool.tolerance = 0.0
    person = np.asarray(truth.ids) == first
    change = tool.press(session, _centre(person))
    assert change.problem is None and tool.outline is not None
    assert "#" in (change.note or "") and "writing it changes nothing" in (change.note or "")
    unchanged = tool.commit(session)
    assert unchanged.problem is None and layer.snapshot() == truth  # exact: nothing written differently

    tool.tolerance = 2.0
    tool.press(session, _centre(person))
    ring = tool.outline.rings[0]
    index = int(np.argmin(ring[:, 1]))  # the top of the person
    x, y = (float(v) for v in ring[index])
    tool.press(session, (x, y))
    tool.move((x, y - 25.0))  # up into the background
    tool.release(session)
    done = tool.commit(session)
    assert done.problem is None and done.changed is not None
    after = layer.snapshot()
    assert after.instance_ids == truth.instance_ids and after.class_of(first) == 1
    grown = np.asarray(after.ids) == first
    assert grown.sum() > person.sum() and grown[: int(y) - 5].any()  # the same object reaches higher now
    others = np.asarray(truth.ids) != first
    assert np.array_equal(np.asarray(after.ids)[others & (np.asarray(truth.ids) > 0)],
                          np.asarray(truth.ids)[others & (np.asarray(truth.ids) > 0)])  # other people untouched
    session.undo()
    assert layer.snapshot() == truth
