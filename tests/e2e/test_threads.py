"""One set of loaded models shared by several threads: the same results as one thread, and stderr intact."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from outcomes.pipeline import assess_pair

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
SUBJECTS = ("S01", "S02", "S03", "S04")
# Ten pairs: each subject's follow-up against its baseline, the reverse, and two of other people.
PAIRS = ([(f"{s}_baseline.jpg", f"{s}_day90.jpg") for s in SUBJECTS]
         + [(f"{s}_day90.jpg", f"{s}_baseline.jpg") for s in SUBJECTS]
         + [("S01_baseline.jpg", "S02_day90.jpg"), ("S03_baseline.jpg", "S04_day90.jpg")])


def _result(models, pair: tuple[str, str]) -> dict:  # noqa: ANN001
    out = assess_pair(SAMPLES / pair[0], SAMPLES / pair[1], models).to_dict()
    out.pop("stage_ms")  # timings differ run to run
    return out


def test_four_threads_give_the_results_of_one_and_leave_stderr_working(models, capfd):
    expected = [_result(models, pair) for pair in PAIRS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [pool.submit(lambda: [_result(models, pair) for pair in PAIRS]) for _ in range(4)]
        got = [run.result() for run in runs]
    for thread_results in got:
        assert thread_results == expected
    # the process's stderr descriptor still reaches the terminal (here: pytest's capture)
    capfd.readouterr()
    os.write(2, b"stderr still works\n")
    assert capfd.readouterr().err == "stderr still works\n"
