"""Review statuses in the project file: what one status change costs as the review table grows.

    python bench/bench_review_file.py [--images 1000 10000]

For N reviewed images (each accepted, with a correction effort over CamVid's 11 classes) it times
``merge_review`` of one changed entry (read, parse, merge, write atomically under the write lock) against the
baseline of writing the same file's bytes atomically, in the same process. The window does this on a worker, so
the figure that matters to the GUI is none; it says how long until another window sees the change.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_metrics import best_of  # noqa: E402

from segstudio.core.atomic import write_bytes_atomic  # noqa: E402
from segstudio.core.review import CorrectionEffort, ReviewBook, ReviewEntry, ReviewStatus  # noqa: E402
from segstudio.io.review_file import merge_review, read_review  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    effort = CorrectionEffort(changed=4000, counted=172800, iou=0.81, added={3: 2500, 8: 1500}, removed={1: 3000, 8: 1000})
    print(f"{'images':>8} {'file':>9} {'write bytes':>12} {'read':>9} {'one change':>11} {'ratio':>7}")
    for count in args.images:
        folder = Path(tempfile.mkdtemp(prefix="segstudio-review-bench-"))
        project = folder / "segstudio.toml"
        project.write_text("# segstudio project file\nschema = 1\n")
        book = ReviewBook({f"train/0001TP_{i:06d}": ReviewEntry(ReviewStatus.ACCEPTED, "", 1e9 + i, "ann", effort)
                           for i in range(count)})
        merge_review(project, book)
        data = project.read_bytes()
        baseline = best_of(lambda: write_bytes_atomic(folder / "copy.toml", data), 3)
        reading = best_of(lambda: read_review(project), 3)
        tick = iter(range(10**6))
        change = best_of(lambda: merge_review(project, ReviewBook().with_status(
            "train/0001TP_000001", ReviewStatus.REJECTED, at=2e9 + next(tick))), 3)
        print(f"{count:>8} {len(data) / 1e6:>7.2f}MB {baseline * 1e3:>10.1f}ms {reading * 1e3:>7.0f}ms "
              f"{change * 1e3:>9.0f}ms {change / baseline:>6.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
