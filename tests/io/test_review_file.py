"""Statuses in the project file: human-readable, merged when two windows write, kept when the rest is rewritten."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest

from segstudio.core.errors import FileProblem
from segstudio.core.review import CorrectionEffort, ReviewBook, ReviewStatus
from segstudio.io.datasets import open_dataset
from segstudio.io.project_file import PROJECT_FILE_NAME, read_project_file, write_project_file
from segstudio.io.review_file import merge_review, read_review
from tests.io.test_datasets import _copy_camvid_subset


@pytest.fixture
def project(shared_data: Path, tmp_path: Path) -> Path:
    root = _copy_camvid_subset(shared_data, tmp_path / "camvid", count=3)
    return open_dataset(root).project_file


def test_statuses_are_written_as_readable_toml_and_read_back(project: Path) -> None:
    effort = CorrectionEffort(changed=40, counted=1000, iou=0.75, added={8: 40}, removed={3: 40})
    book = (ReviewBook().with_status("train/0001TP_006690", ReviewStatus.ACCEPTED, at=100.5, by="ann",
                                     comment="bus edge redrawn", effort=effort)
            .with_status("train/0001TP_006720", ReviewStatus.REJECTED, at=101.0, by="ann", comment="blurred"))
    assert merge_review(project, book) == book
    assert read_review(project) == book
    text = project.read_text()
    assert text.startswith("# segstudio project file")  # the header comment survives
    assert '\n[review]\n"train/0001TP_006690" = { status = "accepted", comment = "bus edge redrawn", ' in text
    assert read_project_file(project) is not None  # still a project file


def test_two_windows_writing_in_turn_keep_each_others_newer_decisions(project: Path) -> None:
    first = ReviewBook().with_status("a", ReviewStatus.ACCEPTED, at=10.0, by="ann")
    second = ReviewBook().with_status("b", ReviewStatus.REJECTED, at=11.0, by="bob")
    merge_review(project, first)
    seen_by_second = merge_review(project, second)  # bob's window never read ann's entry, and must not drop it
    assert seen_by_second.status_of("a") is ReviewStatus.ACCEPTED and seen_by_second.status_of("b") is ReviewStatus.REJECTED
    stale = ReviewBook().with_status("a", ReviewStatus.TO_DO, at=5.0, by="bob")  # older than ann's decision
    assert merge_review(project, stale).status_of("a") is ReviewStatus.ACCEPTED
    newer = ReviewBook().with_status("a", ReviewStatus.IN_PROGRESS, at=12.0, by="bob")
    assert read_review(project).status_of("a") is ReviewStatus.ACCEPTED
    assert merge_review(project, newer).status_of("a") is ReviewStatus.IN_PROGRESS


def test_concurrent_writers_lose_nothing(project: Path) -> None:
    def writer(name: str) -> None:
        for index in range(25):
            merge_review(project, ReviewBook().with_status(f"{name}/{index}", ReviewStatus.ACCEPTED, at=index, by=name))

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("ann", "bob", "cy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read_review(project)) == 75


def test_rewriting_the_project_file_keeps_the_review(project: Path) -> None:
    book = ReviewBook().with_status("train/0001TP_006690", ReviewStatus.ACCEPTED, at=1.0, comment="ok")
    merge_review(project, book)
    spec = read_project_file(project)
    write_project_file(project, project.parent, spec)
    assert read_review(project) == book
    open_dataset(project.parent, redetect=True)  # detection rewrites the file from scratch
    assert read_review(project) == book


def test_a_broken_review_table_names_the_file_and_the_image(project: Path) -> None:
    with project.open("a") as stream:
        stream.write('\n[review."train/x"]\nstatus = "finished"\n')
    with pytest.raises(FileProblem, match=r"segstudio.toml: the review table is malformed: review of 'train/x'"):
        read_review(project)
    with pytest.raises(FileProblem, match="review of 'train/x'"):
        merge_review(project, ReviewBook().with_status("y", ReviewStatus.ACCEPTED, at=1.0))
    assert 'status = "finished"' in project.read_text()  # nothing written over it


def test_an_unreadable_project_file_is_kept_aside_before_detection_replaces_it(project: Path) -> None:
    broken = 'schema = 1\n[review."a"]\nstatus = "accepted"\nlayout = [unclosed\n'
    project.write_text(broken)
    open_dataset(project.parent, redetect=True)
    kept = sorted(project.parent.glob(f"{PROJECT_FILE_NAME}.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() == broken
    tomllib.loads(project.read_text())  # the new one is valid


@pytest.mark.parametrize("comment", ['says "no"', "two\nlines", "tab\there", "del\x7fchar", "naïve 🚲", "back\\slash", "nul\x00"])
def test_any_comment_survives_the_file(project: Path, comment: str) -> None:
    book = ReviewBook().with_status("train/a b.png", ReviewStatus.REJECTED, at=1.25, by="ann ö", comment=comment)
    merge_review(project, book)
    assert read_review(project) == book


def test_one_line_per_image(project: Path) -> None:
    effort = CorrectionEffort(changed=4, counted=100, iou=0.5, added={2: 4}, removed={0: 4})
    merge_review(project, ReviewBook().with_status("train/x", ReviewStatus.ACCEPTED, at=3.0, effort=effort))
    line = next(line for line in project.read_text().splitlines() if line.startswith('"train/x"'))
    assert line == ('"train/x" = { status = "accepted", changed_at = 3.0, effort = { changed = 4, counted = 100, '
                    'iou = 0.5, added = [0, 0, 4], removed = [4, 0, 0] } }')
