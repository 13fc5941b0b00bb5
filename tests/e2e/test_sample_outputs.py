"""The bundled samples' assessment JSON equals the stored one (scripts/store_sample_outputs.py),
field for field, except provenance and timings: refactoring must not move a result. Fields
added since the outputs were stored are allowed (the contract only grows).

Numbers may differ by rounding on another CPU (onnxruntime's kernels differ by instruction
set), so they are compared within 2e-3; keys, strings, flags and grades exactly.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("store_sample_outputs", REPO / "scripts" / "store_sample_outputs.py")
store = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(store)


def _differences(stored, got, where: str = "") -> list[str]:
    if isinstance(stored, dict) and isinstance(got, dict):
        # the contract only grows: a field added since the outputs were stored is not a difference
        out = [f"{where}.{k}: missing" for k in set(stored) - set(got)]
        return out + [d for k in set(stored) & set(got) for d in _differences(stored[k], got[k], f"{where}.{k}")]
    if isinstance(stored, list) and isinstance(got, list):
        if len(stored) != len(got):
            return [f"{where}: {len(stored)} items stored, {len(got)} now"]
        return [d for i, (a, b) in enumerate(zip(stored, got)) for d in _differences(a, b, f"{where}[{i}]")]
    both_numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (stored, got))
    if both_numbers and not (isinstance(stored, int) and isinstance(got, int)):
        return [] if math.isclose(stored, got, abs_tol=2e-3, rel_tol=1e-3) else [f"{where}: {stored} stored, {got} now"]
    return [] if stored == got else [f"{where}: {stored!r} stored, {got!r} now"]


@pytest.mark.parametrize("subject", ["S01", "S02", "S03", "S04"])
def test_sample_output_is_the_stored_one(subject, models):
    stored = json.loads((store.STORED / f"{subject}.json").read_text())
    got = json.loads(json.dumps(store.sample_output(models, subject)))
    differences = _differences(stored, got)
    assert not differences, "\n".join(sorted(differences)[:20])
