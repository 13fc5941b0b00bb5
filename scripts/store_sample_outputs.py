"""Store the bundled samples' assessment JSON (default configuration) for tests/e2e/test_sample_outputs.py.

The stored outputs pin what `outcomes assess` reports on the samples: a change to the code
that moves any field (other than provenance and timings) fails that test. Regenerate only
for an intended change of results, and say which in the commit.

    python scripts/store_sample_outputs.py
"""

from __future__ import annotations

import json
from pathlib import Path

from outcomes.pipeline import assess_pair
from outcomes.runtime import load_models

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data_samples"
STORED = REPO / "tests" / "golden" / "samples"
UNSTORED = ("provenance", "stage_ms")  # what changes run to run or release to release


def sample_output(models, subject: str) -> dict:  # noqa: ANN001 - Models
    out = assess_pair(SAMPLES / f"{subject}_baseline.jpg", SAMPLES / f"{subject}_day90.jpg", models).to_dict()
    return {k: v for k, v in out.items() if k not in UNSTORED}


def main() -> None:
    STORED.mkdir(parents=True, exist_ok=True)
    models = load_models()
    for subject in ("S01", "S02", "S03", "S04"):
        path = STORED / f"{subject}.json"
        path.write_text(json.dumps(sample_output(models, subject), indent=1, sort_keys=True) + "\n")
        print(path)


if __name__ == "__main__":
    main()
