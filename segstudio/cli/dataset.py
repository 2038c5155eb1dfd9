"""``segstudio scan`` and ``segstudio demo``: how a folder pairs up, and the built-in demo data scored.

``segstudio demo`` scores what the window shows for the demo: the demo model's predictions (the same cached model,
trained on first use), counted with the window's scoring, ending with the metrics panel's dataset line word for
word; ``--synthetic`` scores the demo's synthetic masks instead and says so."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from segstudio.cli.evaluate import print_scores, progress_bars
from segstudio.cli.exits import EXIT_OK

if TYPE_CHECKING:
    from segstudio.app.project import Project


def _run_scan(args: argparse.Namespace) -> int:
    from segstudio.app.project import open_project
    from segstudio.io.datasets import check_files

    project = open_project(args.folder, redetect=args.redetect)
    problems = list(project.dataset.problems)
    if args.check:
        problems.extend(check_files(project.dataset))
    print_dataset(project, problems, sys.stdout)
    return EXIT_OK


def print_dataset(project: Project, problems: Sequence[object], out: TextIO, *, shown_per_kind: int = 3) -> None:
    dataset = project.dataset
    spec = dataset.spec
    state = "guessed now and saved to" if dataset.detected_now else "read from"
    print(f"{dataset.root}: {spec.layout.value} layout, {len(dataset.samples)} images", file=out)
    print(f"project file ({state}): {dataset.project_file}", file=out)
    for split in spec.splits:
        in_split = [s for s in dataset.samples if s.split == split]
        with_truth = sum(1 for s in in_split if dataset.ground_truth(s) is not None)
        with_prediction = sum(1 for s in in_split if project.has_prediction(s))
        print(f"  {split}: {len(in_split)} images, {with_truth} with ground truth, {with_prediction} with predictions", file=out)
    if project.app_predictions:
        print(f"predicted by segstudio in earlier runs: {len(project.app_predictions)} images (segstudio-predictions/)", file=out)
    labels = spec.labels
    ignore = f", ignore id {labels.ignore_index} ({labels.ignore_name})" if labels.ignore_index is not None else ""
    print(f"classes ({labels.num_classes}{ignore}): {', '.join(f'{c.id} {c.name}' for c in labels.classes)}", file=out)
    print("how it was read:", file=out)
    for note in spec.notes:
        print(f"  - {note}", file=out)
    if problems:
        print(f"{len(problems)} problem(s):", file=out)
        by_kind: dict[str, list[object]] = {}
        for problem in problems:
            by_kind.setdefault(str(getattr(problem, "kind", "problem")), []).append(problem)
        for kind, listed in by_kind.items():
            print(f"  {kind} ({len(listed)}):", file=out)
            for problem in listed[:shown_per_kind]:
                print(f"    {problem}", file=out)
            if len(listed) > shown_per_kind:
                print(f"    ... and {len(listed) - shown_per_kind} more", file=out)


def _run_demo(args: argparse.Namespace) -> int:
    from segstudio.app import demo_model
    from segstudio.app.project import open_project
    from segstudio.app.score_sources import dataset_line, score_sources
    from segstudio.app.scoring import score_dataset
    from segstudio.io.demo_dataset import ensure_demo_dataset
    from segstudio.io.project_file import user_data_dir

    folder = ensure_demo_dataset(getattr(args, "folder", None) or user_data_dir() / "demo")
    project = open_project(folder)
    print_dataset(project, project.dataset.problems, sys.stdout)
    print(file=sys.stdout)
    with progress_bars() as progress:
        if getattr(args, "synthetic", False):
            # The synthetic masks alone: what the window shows only until the demo model's predictions are in.
            result = score_dataset(project.dataset, {}, progress=progress)
            source = score_sources(project.dataset, {}, demo_model.SYNTHETIC_WORDS).overall
        else:
            settings = demo_model.DEFAULT_SETTINGS
            if demo_model.cached_checkpoint(folder, settings) is None:
                print("training the demo model (about half a minute on a laptop CPU; the app uses the same "
                      "model and trains it only once)...", file=sys.stderr)
            scored = demo_model.score_demo_model(folder, settings, progress=progress)
            result, source = scored.result, scored.source
            how = (f"trained now in {scored.trained.seconds:.0f} s" if scored.trained is not None
                   else "cached")
            print(f"demo model: {scored.checkpoint} ({how}); its predictions: {scored.predicted.folder}",
                  file=sys.stdout)
    print(f"scored: {source} against the ground truth", file=sys.stdout)
    if result.scores is not None:
        print_scores(result.scores, sys.stdout)
    scored_images = sum(1 for score in result.per_image.values() if score.confusion is not None)
    # The metrics panel's dataset line, word for word: the window shows these figures for this folder.
    print("\n" + dataset_line(result.scores, scored_images, result.total, source), file=sys.stdout)
    print(
        "\nOpen it in the desktop app with: segstudio (no arguments) or segstudio open DIR. "
        "Batch work: segstudio scan DIR, segstudio evaluate --gt DIR --pred DIR",
        file=sys.stdout,
    )
    return EXIT_OK
