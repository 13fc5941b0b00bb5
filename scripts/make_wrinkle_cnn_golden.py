"""Store the shipped wrinkle CNN's output (float32 and int8) on a fixed input, for tests/unit/test_wrinkle_cnn_golden.py.

Run after retraining and updating wrinkles.cnn_sha256 and cnn_int8_sha256; commit the .npz with the models.

    python scripts/make_wrinkle_cnn_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "unit"))

from test_wrinkle_cnn_golden import GOLDEN, golden_input, shipped_cnn  # noqa: E402

from outcomes.features.wrinkle_cnn import wrinkle_probability  # noqa: E402


def main() -> None:
    rgb, ipd = golden_input()
    out = {}
    for precision in ("float32", "int8"):
        cnn = shipped_cnn(precision)
        out[f"sha256_{precision}"] = np.array(cnn.sha256)
        out[f"probability_{precision}"] = wrinkle_probability(cnn, rgb, ipd).astype(np.float32)
        prob = out[f"probability_{precision}"]
        print(f"{precision}: {prob.shape}, mean {prob.mean():.4f}, max {prob.max():.4f}, "
              f"{int((prob >= 0.5).sum())} px >= 0.5")
    np.savez_compressed(GOLDEN, **out)
    print(f"{GOLDEN}: models {out['sha256_float32']} (float32), {out['sha256_int8']} (int8)")


if __name__ == "__main__":
    main()
