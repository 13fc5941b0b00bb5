"""Store the shipped wrinkle CNN's output on a fixed input, for tests/unit/test_wrinkle_cnn_golden.py.

Run after retraining and updating wrinkles.cnn_sha256; commit the .npz with the weights.

    python scripts/make_wrinkle_cnn_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "unit"))

from test_wrinkle_cnn_golden import GOLDEN, golden_input  # noqa: E402

from outcomes.config import Config, WrinkleConfig  # noqa: E402
from outcomes.features.wrinkle_cnn import wrinkle_probability  # noqa: E402
from outcomes.features.wrinkle_fusion import load_configured_cnn  # noqa: E402


def main() -> None:
    cnn = load_configured_cnn(WrinkleConfig(detector="cnn", cnn_sha256=Config().wrinkles.cnn_sha256, device="cpu"))
    rgb, ipd = golden_input()
    prob = wrinkle_probability(cnn, rgb, ipd)
    np.savez_compressed(GOLDEN, probability=prob.astype(np.float32), sha256=np.array(cnn.sha256))
    print(f"{GOLDEN}: {prob.shape}, mean {prob.mean():.4f}, max {prob.max():.4f}, model {cnn.sha256}")


if __name__ == "__main__":
    main()
