from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segstudio.core.error_map import ErrorKind, error_map
from segstudio.core.geometry import EMPTY_RECT, Rect
from segstudio.core.labels import LabelSet
from segstudio.core.metrics import Scores, confusion_matrix
from segstudio.core.paint_scope import PaintScope
from segstudio.core.session import ImageSession, NoEraseValue
from segstudio.core.working_source import WorkingSource
from tests.core.test_editing import capsule

HEIGHT, WIDTH = 36, 48

# Two label sets: ignore id == number of classes (SegNet CamVid style) and a far ignore id (VOC style).
NEAR_IGNORE = LabelSet.from_names(["background", "road", "car", "person", "tree"], ignore_index=5)
FAR_IGNORE = LabelSet.from_names(["background", "road", "car", "person", "tree"], ignore_index=255)


def expected_scores(reference: np.ndarray, working: np.ndarray, labels: LabelSet) -> Scores:
    """From scratch: ``Scores.from_confusion(confusion_matrix(gt, working))``. Where the working mask holds the
    ignore id the pixel is not scored (the session's documented rule), so the reference is marked ignored there
    too; without such pixels this is exactly confusion_matrix(gt, working)."""
    ignore = labels.ignore_index
    if ignore is not None:
        reference = np.where(working == ignore, ignore, reference)
    return Scores.from_confusion(confusion_matrix(reference, working, labels.num_classes, ignore), labels.names)


def expected_error_map(gt: np.ndarray, working: np.ndarray, labels: LabelSet) -> np.ndarray:
    ignore = labels.ignore_index
    if ignore is not None:
        gt = np.where(working == ignore, ignore, gt)  # the same rule: ignored on either side
    return error_map(gt, working, background=labels.background, ignore_index=ignore)


def assert_consistent(session: ImageSession) -> None:
    labels, working = session.labels, np.array(session.mask)
    truth, prediction = session.ground_truth, session.prediction
    got = session.scores_vs_truth()
    want = expected_scores(truth, working, labels)
    assert got is not None
    np.testing.assert_array_equal(got.confusion, want.confusion)
    assert got.class_names == labels.names
    versus = session.scores_vs_prediction()
    assert versus is not None
    np.testing.assert_array_equal(versus.confusion, expected_scores(prediction, working, labels).confusion)
    np.testing.assert_array_equal(session.error_map, expected_error_map(truth, working, labels))


def random_masks(seed: int, labels: LabelSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = labels.num_classes
    # Blocky masks (runs and regions, like real ones) with some ignore pixels in the truth.
    truth = np.repeat(np.repeat(rng.integers(0, n, (HEIGHT // 4, WIDTH // 4)), 4, axis=0), 4, axis=1).astype(np.uint8)
    truth[rng.random(truth.shape) < 0.05] = labels.ignore_index
    prediction = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, n, truth.shape)).astype(np.uint8)
    prediction[prediction == labels.ignore_index] = 0
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return image, truth, prediction


coordinate = st.tuples(st.floats(-5, WIDTH + 5, allow_subnormal=False), st.floats(-5, HEIGHT + 5, allow_subnormal=False))
inside = st.tuples(st.floats(0, WIDTH - 1), st.floats(0, HEIGHT - 1))
value = st.sampled_from([0, 1, 2, 3, 4, "ignore"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("stroke"), st.lists(coordinate, min_size=1, max_size=4), st.floats(0.5, 6), value, st.booleans()),
        st.tuples(st.just("erase"), coordinate, coordinate, st.floats(0.5, 6)),
        st.tuples(st.just("fill"), inside, value, st.booleans(), st.sampled_from([4, 8])),
        st.tuples(st.just("polygon"), st.lists(coordinate, min_size=3, max_size=6), value),
        st.tuples(st.sampled_from(["undo", "redo", "accept", "reset"])),
    ),
    min_size=1,
    max_size=14,
)


@pytest.mark.parametrize("labels", [NEAR_IGNORE, FAR_IGNORE], ids=["ignore=n", "ignore=255"])
@settings(max_examples=25, deadline=None)
@given(ops=operations, seed=st.integers(0, 3))
def test_scores_error_map_and_listeners_follow_any_edit_sequence(labels: LabelSet, ops: list[tuple], seed: int) -> None:
    image, truth, prediction = random_masks(seed, labels)
    session = ImageSession.start(image, labels, ground_truth=truth, prediction=prediction)
    heard: list[Rect] = []
    session.add_listener(heard.append)
    assert_consistent(session)

    def as_value(v: object) -> int:
        return labels.ignore_index if v == "ignore" else int(v)  # type: ignore[return-value, arg-type]

    for op in ops:
        before = np.array(session.mask)
        heard.clear()
        returned: list[Rect | None] = []
        kind = op[0]
        if kind == "stroke":
            _, points, radius, v, keep = op
            scope = PaintScope(keep_other_classes=keep)
            session.begin_stroke()
            for start, end in zip([points[0], *points[:-1]], points, strict=True):
                returned.append(session.paint(start, end, radius=radius, value=as_value(v), scope=scope))
            net = session.end_stroke()
        elif kind == "erase":
            returned.append(session.erase(op[1], op[2], radius=op[3]))
        elif kind == "fill":
            returned.append(session.fill(op[1], as_value(op[2]), contiguous=op[3], connectivity=op[4]))
        elif kind == "polygon":
            try:
                returned.append(session.fill_polygon(op[1], as_value(op[2])))
            except ValueError as error:  # collinear or repeated vertices: refused, nothing written
                assert "polygon" in str(error)
        elif kind == "undo":
            returned.append(session.undo())
        elif kind == "redo":
            returned.append(session.redo())
        elif kind == "accept":
            returned.append(session.accept_prediction())
        else:
            returned.append(session.reset_to_ground_truth())

        after = np.array(session.mask)
        assert_consistent(session)
        # Listeners heard exactly the non-empty rectangles the edits returned, and those cover every change.
        assert heard == [r for r in returned if r is not None and not r.is_empty]
        changed = before != after
        covered = np.zeros_like(changed)
        for rect in heard:
            covered[rect.slices] = True
        assert not (changed & ~covered).any()
        if kind == "stroke" and changed.any():
            rows, cols = np.nonzero(changed)
            assert net == Rect(rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)


def test_accept_prediction_and_reset_are_single_undo_steps() -> None:
    image, truth, prediction = random_masks(1, FAR_IGNORE)
    session = ImageSession.start(image, FAR_IGNORE, ground_truth=truth, prediction=prediction)
    assert session.working_source is WorkingSource.PREDICTION
    session.begin_stroke()
    session.paint((5, 5), (30, 20), radius=4, value=3)
    session.end_stroke()
    with_stroke = np.array(session.mask)

    rect = session.reset_to_ground_truth()
    assert rect != EMPTY_RECT
    np.testing.assert_array_equal(session.mask, truth)
    assert session.scores_vs_truth().mean_iou == 1.0  # type: ignore[union-attr]
    assert session.undo() is not None
    np.testing.assert_array_equal(session.mask, with_stroke)  # one step back: the painted state
    assert session.redo() is not None
    np.testing.assert_array_equal(session.mask, truth)

    session.accept_prediction()
    np.testing.assert_array_equal(session.mask, prediction)
    assert session.undo() is not None
    np.testing.assert_array_equal(session.mask, truth)
    assert session.undo() is not None
    np.testing.assert_array_equal(session.mask, with_stroke)
    assert_consistent(session)
    assert session.accept_prediction() != EMPTY_RECT
    assert session.accept_prediction() == EMPTY_RECT  # already the prediction: no change, no undo step


def test_class_at_picks_the_nearest_pixel_and_none_outside() -> None:
    labels = LabelSet.with_count(4)
    working = np.zeros((3, 4), dtype=np.uint8)
    working[1, 2] = 3
    working[2, 3] = 1
    session = ImageSession(np.zeros((3, 4), np.uint8), labels, ground_truth=None, prediction=None,
                           working=working, working_source=WorkingSource.CORRECTION)
    assert session.class_at(2, 1) == 3
    assert session.class_at(2.4, 0.6) == 3  # rounds to the nearest centre
    assert session.class_at(3.49, 2.49) == 1
    assert session.class_at(0, 0) == 0
    assert session.class_at(-0.4, -0.4) == 0  # still inside pixel (0, 0)
    assert session.class_at(-0.6, 0) is None
    assert session.class_at(3.6, 0) is None
    assert session.class_at(0, 2.5) is None
    assert session.class_at(float("nan"), 0) is None


def test_start_chooses_the_working_mask_and_says_which() -> None:
    labels = LabelSet.with_count(3)
    image = np.zeros((4, 5, 3), np.uint8)
    truth = np.ones((4, 5), np.uint8)
    prediction = np.full((4, 5), 2, np.uint8)
    correction = np.zeros((4, 5), np.uint8)
    correction[0, 0] = 1
    cases = [
        ({"ground_truth": truth, "prediction": prediction, "correction": correction}, WorkingSource.CORRECTION, correction),
        ({"ground_truth": truth, "prediction": prediction}, WorkingSource.PREDICTION, prediction),
        ({"ground_truth": truth}, WorkingSource.GROUND_TRUTH, truth),
        ({}, WorkingSource.BLANK, np.zeros((4, 5), np.uint8)),
    ]
    for kwargs, source, expected in cases:
        session = ImageSession.start(image, labels, **kwargs)
        assert session.working_source is source
        np.testing.assert_array_equal(session.mask, expected)
        assert not session.dirty
        assert session.mask.dtype == np.uint8
    assert ImageSession.start(image, labels).scores_vs_truth() is None
    assert ImageSession.start(image, labels).scores_vs_prediction() is None
    assert ImageSession.start(image, labels).error_map is None


def test_recovered_autosave_is_one_unsaved_step_on_top_of_the_correction() -> None:
    labels = LabelSet.with_count(3)
    correction = np.zeros((4, 5), np.uint8)
    recovered = correction.copy()
    recovered[1:3, 1:4] = 2
    session = ImageSession.start(np.zeros((4, 5), np.uint8), labels, correction=correction, recovered=recovered)
    assert session.working_source is WorkingSource.AUTOSAVE
    np.testing.assert_array_equal(session.mask, recovered)
    assert session.dirty
    session.mark_saved()
    assert not session.dirty
    session.undo()
    np.testing.assert_array_equal(session.mask, correction)
    assert session.dirty


def test_revision_dirty_and_listener_removal() -> None:
    labels = LabelSet.with_count(3)
    session = ImageSession.start(np.zeros((10, 10), np.uint8), labels)
    heard: list[Rect] = []
    session.add_listener(heard.append)
    start = session.revision
    session.fill((0, 0), 2)
    assert session.dirty and session.revision > start and heard == [Rect(0, 0, 10, 10)]
    session.remove_listener(heard.append)
    session.fill((0, 0), 1)
    assert len(heard) == 1
    with pytest.raises(ValueError, match="never added"):
        session.remove_listener(heard.append)
    session.undo()
    session.undo()
    assert not session.dirty


def test_bad_arguments_are_refused_with_a_reason() -> None:
    labels = LabelSet.from_names(["background", "thing"], ignore_index=255)
    image = np.zeros((6, 8), np.uint8)
    with pytest.raises(ValueError, match="ground truth is 7x6 but the image is 8x6"):
        ImageSession.start(image, labels, ground_truth=np.zeros((6, 7), np.uint8))
    with pytest.raises(ValueError, match=r"prediction holds values 7, outside the label set \(classes 0..1, ignore id 255\)"):
        ImageSession.start(image, labels, prediction=np.full((6, 8), 7, np.uint8))
    session = ImageSession.start(image, labels)
    with pytest.raises(ValueError, match="class 2 is not in the label set"):
        session.paint((1, 1), (2, 2), radius=1, value=2)
    with pytest.raises(ValueError, match="no prediction to accept"):
        session.accept_prediction()
    with pytest.raises(ValueError, match="no ground truth"):
        session.reset_to_ground_truth()
    assert session.paint((1, 1), (1, 1), radius=1, value=1) != EMPTY_RECT
    assert session.paint((1, 1), (1, 1), radius=1, value=255) != EMPTY_RECT  # the ignore id may be painted


def test_prediction_error_map_is_the_models_own() -> None:
    image, truth, prediction = random_masks(2, NEAR_IGNORE)
    session = ImageSession.start(image, NEAR_IGNORE, ground_truth=truth, prediction=prediction)
    original = session.prediction_error_map()
    assert original is not None and not original.flags.writeable
    np.testing.assert_array_equal(original, error_map(truth, prediction, ignore_index=5))
    session.reset_to_ground_truth()
    assert session.prediction_error_map() is original  # computed once, unchanged by edits
    assert set(np.unique(session.error_map).tolist()) <= {ErrorKind.TRUE_NEGATIVE, ErrorKind.TRUE_POSITIVE, ErrorKind.IGNORED}


def test_on_a_real_camvid_image(shared_data: Path) -> None:
    from segstudio.io.images import read_image
    from segstudio.io.mask_files import read_class_mask

    camvid = shared_data / "camvid"
    name = min((camvid / "valannot").glob("*.png")).name
    labels = LabelSet.camvid()
    image = read_image(camvid / "val" / name)
    truth = read_class_mask(camvid / "valannot" / name, labels)
    assert image.shape[:2] == truth.shape == (360, 480)
    assert (truth == labels.ignore_index).any()  # the real annotation has unlabelled pixels
    # A plausible "model": the truth shifted by 6 pixels, unlabelled guessed as class 0.
    prediction = np.roll(truth, 6, axis=1)
    prediction[prediction == labels.ignore_index] = 0
    session = ImageSession.start(image, labels, ground_truth=truth, prediction=prediction)
    assert session.working_source is WorkingSource.PREDICTION
    assert_consistent(session)
    start_iou = session.scores_vs_truth().mean_iou  # type: ignore[union-attr]

    # Paint the true classes back along a row band with a stroke, then fill and undo.
    session.begin_stroke()
    for x in range(0, 480, 20):
        session.paint((x, 200), (x + 20, 200), radius=8, value=labels.id_of("Road"))
    session.end_stroke()
    assert_consistent(session)
    session.fill((10, 10), labels.id_of("Sky"))
    assert_consistent(session)
    session.undo()
    session.reset_to_ground_truth()  # the working mask now holds the ignore id where the prediction has classes
    assert_consistent(session)
    assert session.scores_vs_truth().mean_iou == 1.0  # type: ignore[union-attr]
    assert session.scores_vs_prediction().mean_iou == pytest.approx(start_iou)  # type: ignore[union-attr]
    assert session.undo() is not None
    assert_consistent(session)


def test_error_map_background_comes_from_the_label_set() -> None:
    truth = np.array([[0, 1]], dtype=np.uint8)
    working = np.array([[1, 0]], dtype=np.uint8)
    image = np.zeros((1, 2, 3), dtype=np.uint8)
    usual = ImageSession.start(image, LabelSet.with_count(2), ground_truth=truth, correction=working)
    assert usual.background == 0
    assert ErrorKind.WRONG_CLASS not in set(np.asarray(usual.error_map).ravel().tolist())
    none = dataclasses.replace(LabelSet.with_count(2), background=None)
    session = ImageSession.start(image, none, ground_truth=truth, correction=working)
    assert session.background is None
    assert set(np.asarray(session.error_map).ravel().tolist()) == {ErrorKind.WRONG_CLASS}
    assert ImageSession.start(image, none, ground_truth=truth, correction=working, background=0).background == 0


# -- the eraser and "keep other classes" write what the label set means by "nothing", never a guessed class 0 ----

CAMVID_TRAIN_NAME = "0001TP_006690"  # a train image with a wide band of Sky above buildings


def camvid_train(shared_data: Path) -> tuple[np.ndarray, np.ndarray, LabelSet]:
    """A CamVid train image and its annotation as the app opens them: the folder's detected layout and label set
    (its project file goes to the isolated user data folder, the data being read-only)."""
    from segstudio.io.datasets import open_dataset
    from segstudio.io.images import read_image
    from segstudio.io.mask_files import read_class_mask

    dataset = open_dataset(shared_data / "camvid")
    labels = dataset.spec.labels
    assert labels.background is None and labels.ignore_index == 11 and labels.ignore_name == "Unlabelled"
    sample = dataset.sample(f"train/{CAMVID_TRAIN_NAME}")
    source = dataset.ground_truth_source(sample)
    truth_path = dataset.ground_truth(sample)
    assert source is not None and truth_path is not None and truth_path.parent.name == "trainannot"
    truth = read_class_mask(truth_path, labels, value_map=source.value_map)
    return read_image(sample.image), truth, labels


def test_erasing_on_camvid_writes_unlabelled_not_sky(shared_data: Path) -> None:
    image, truth, labels = camvid_train(shared_data)
    sky, unlabelled = labels.id_of("Sky"), 11
    session = ImageSession.start(image, labels, ground_truth=truth, correction=truth)
    assert session.scores_vs_truth()["Sky"].iou == 1.0  # type: ignore[index]
    # A stroke down through the sky into what lies below it, so old behaviour (painting class 0) would show.
    column = int(np.argmax((truth[:80] == sky).sum(axis=0)))
    top = int(np.argmax(truth[:, column] == sky))
    bottom = top + int(np.argmax(truth[top:, column] != sky)) + 12
    assert (truth[top : bottom - 12, column] == sky).all() and truth[bottom - 12, column] != sky
    before = np.array(session.mask)

    session.begin_stroke()
    session.erase((column, top), (column, bottom), radius=6)
    session.end_stroke()

    after = np.array(session.mask)
    erased = capsule(truth.shape, (column, top), (column, bottom), 6)
    changed = before != after
    assert (after[erased] == unlabelled).all(), "erased pixels must hold Unlabelled (11)"
    assert not ((after == sky) & (before != sky)).any(), "the eraser painted Sky (class 0)"
    np.testing.assert_array_equal(changed, erased & (before != unlabelled))
    assert (truth[changed] == sky).any() and (truth[changed] != sky).any()  # the stroke crossed Sky and more
    assert session.class_at(column, top) == unlabelled
    assert session.class_at(column, bottom) == unlabelled
    assert (session.error_map[erased] == ErrorKind.IGNORED).all()  # type: ignore[index]
    # Full recount: erased pixels drop out of the score on both sides, everything else still agrees.
    recount = Scores.from_confusion(
        confusion_matrix(np.where(after == unlabelled, unlabelled, truth), after, labels.num_classes, unlabelled),
        labels.names,
    )
    got = session.scores_vs_truth()
    assert got is not None
    np.testing.assert_array_equal(got.confusion, recount.confusion)
    erased_sky = int(((truth == sky) & changed).sum())
    assert got["Sky"].true == got["Sky"].overlap == int((truth == sky).sum()) - erased_sky
    assert got["Sky"].iou == 1.0 and got.mean_iou == 1.0
    assert_consistent_vs_truth(session)
    assert labels.name_of(session.class_at(column, top)) == "Unlabelled"  # type: ignore[arg-type]  # the readout




def assert_consistent_vs_truth(session: ImageSession) -> None:
    working, labels = np.array(session.mask), session.labels
    got = session.scores_vs_truth()
    assert got is not None
    np.testing.assert_array_equal(got.confusion, expected_scores(session.ground_truth, working, labels).confusion)
    np.testing.assert_array_equal(session.error_map, expected_error_map(session.ground_truth, working, labels))


def test_keep_other_classes_on_camvid_never_overwrites_sky(shared_data: Path) -> None:
    image, truth, labels = camvid_train(shared_data)
    sky, road, unlabelled = labels.id_of("Sky"), labels.id_of("Road"), 11
    session = ImageSession.start(image, labels, ground_truth=truth, correction=truth)
    keep = PaintScope(keep_other_classes=True)  # the session decides what is free: here only Unlabelled
    # A brush, a polygon and flood fills over the whole image: only unlabelled pixels may become Road.
    before = np.array(session.mask)
    session.begin_stroke()
    for y in range(0, 360, 30):
        session.paint((0, y), (479, y), radius=14, value=road, scope=keep)
    session.end_stroke()
    session.fill_polygon([(-1, -1), (480, -1), (480, 120), (-1, 120)], road, keep)
    sky_seed = np.argwhere(truth == sky)[0]
    assert session.fill((float(sky_seed[1]), float(sky_seed[0])), road, scope=keep).is_empty
    after = np.array(session.mask)
    changed = before != after
    assert changed.any()
    assert (before[changed] == unlabelled).all()
    assert (after[before == sky] == sky).all()
    unlabelled_seed = np.argwhere(after == unlabelled)[0]
    session.fill((float(unlabelled_seed[1]), float(unlabelled_seed[0])), road, contiguous=False, scope=keep)
    final = np.array(session.mask)
    assert not (final == unlabelled).any() and (final[before == sky] == sky).all()
    assert ((final != before) <= (before == unlabelled)).all()
    assert_consistent_vs_truth(session)


@pytest.mark.parametrize(
    ("labels", "written"),
    [
        (LabelSet.voc(), 255),  # an ignore id and a background class: the ignore id ("not annotated")
        (LabelSet.from_names(["background", "road", "car"], ignore_index=5), 5),
        (LabelSet.with_count(3), 0),  # no ignore id: the background class
        (dataclasses.replace(LabelSet.with_count(4), background=2), 2),
    ],
    ids=["voc", "ignore=n", "background only", "background 2"],
)
def test_the_eraser_writes_the_ignore_id_else_the_background(labels: LabelSet, written: int) -> None:
    truth = np.ones((12, 16), np.uint8)
    truth[:, 8:] = 2
    session = ImageSession.start(np.zeros((12, 16, 3), np.uint8), labels, ground_truth=truth, correction=truth)
    assert session.erase_value == labels.erase_value == written
    changed = session.erase((4, 6), (12, 6), radius=2)
    assert not changed.is_empty
    erased = capsule(truth.shape, (4, 6), (12, 6), 2)
    assert (session.mask[erased] == written).all() and (session.mask[~erased] == truth[~erased]).all()
    assert session.class_at(8, 6) == written
    assert_consistent_vs_truth(session)
    if labels.ignore_index is not None:
        assert (session.error_map[erased] == ErrorKind.IGNORED).all()  # type: ignore[index]


def test_the_eraser_refuses_when_the_label_set_has_nothing_to_write() -> None:
    labels = dataclasses.replace(LabelSet.with_count(3), background=None)
    truth = np.ones((6, 8), np.uint8)
    session = ImageSession.start(np.zeros((6, 8), np.uint8), labels, ground_truth=truth, correction=truth)
    assert session.erase_value is None and labels.erase_value is None
    session.begin_stroke()
    with pytest.raises(NoEraseValue, match="no background class and no unlabelled value") as raised:
        session.erase((1, 1), (5, 1), radius=2)
    session.end_stroke()
    assert isinstance(raised.value, ValueError) and "project file" in str(raised.value)
    np.testing.assert_array_equal(session.mask, truth)
    assert not session.dirty and not session.can_undo
    # The session's own "nothing there" class (an explicit background) gives the eraser a value again.
    assert ImageSession.start(np.zeros((6, 8), np.uint8), labels, correction=truth, background=0).erase_value == 0


def test_keep_other_classes_frees_only_the_ignore_id_and_the_background() -> None:
    labels = LabelSet.from_names(["background", "road", "car", "person"], ignore_index=255)
    working = np.array([[0, 1, 2, 255, 3, 0]], np.uint8)
    session = ImageSession.start(np.zeros((1, 6), np.uint8), labels, correction=working)
    scope = session.paint_scope(keep_other_classes=True)
    assert scope.background == 0 and scope.unlabelled == 255
    session.fill_polygon([(-1, -1), (6, -1), (6, 1), (-1, 1)], 2, scope)
    assert session.mask.tolist() == [[2, 1, 2, 2, 3, 2]]
    # The session applies its own free values whatever a caller's scope says (a default PaintScope guesses 0).
    working = np.array([[0, 11, 3, 0]], np.uint8)
    camvid = ImageSession.start(np.zeros((1, 4), np.uint8), LabelSet.camvid(), correction=working)
    camvid.paint((0, 0), (3, 0), radius=1, value=8, scope=PaintScope(keep_other_classes=True, background=0))
    assert camvid.mask.tolist() == [[0, 8, 3, 0]]
    assert camvid.paint_scope(keep_other_classes=True).background is None
