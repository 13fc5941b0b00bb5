"""What the result pages say in words: GAIS probabilities, QC flags and what to do about them."""

from __future__ import annotations

GRADE_LABELS = {1: "Very much improved", 2: "Much improved", 3: "Improved", 4: "No change", 5: "Worse"}

# QC flag code → what the clinician should do.
ADVICE = {
    "expression_change": "Retake the follow-up with the baseline's expression: relaxed, lips closed, eyes open, "
                         "no smile.",
    "pose_change_yaw": "Retake facing the camera as in the baseline (the head is turned differently).",
    "pose_change_pitch": "Retake with the chin at the baseline's height (the head is tilted up or down "
                         "differently).",
    "large_roll_change": "Retake with the head upright as in the baseline.",
    "large_scale_change": "Retake from the baseline's distance and zoom.",
    "residual_too_large": "Retake with the same distance, pose and expression as the baseline.",
    "face_partly_out_of_frame": "Retake with the whole face inside the frame.",
    "lighting_not_correctable": "Retake under the baseline's lighting: same room, same light position, no flash "
                                "if the baseline had none.",
    "different_person": "This follow-up does not show the baseline's person. Check that the photo belongs to "
                        "this patient.",
    "too_few_regions": "Retake with the face unobstructed (hair, glasses, hands) and evenly lit.",
    "multiple_faces": "Retake with only the patient in the frame.",
    "face_rotated": "Retake with the camera upright.",
}
FLAG_TEXT = {
    "expression_change": "the expression differs between the photos",
    "different_person": "the follow-up does not show the same person",
}


def probability_words(probabilities: dict) -> str:
    """"Most likely Improved (68 %); possibly No change (29 %)" from the contract's probabilities."""
    ranked = sorted(((float(p), int(g)) for g, p in probabilities.items()), reverse=True)
    if not ranked:
        return ""
    p, g = ranked[0]
    words = f"Most likely {GRADE_LABELS[g]} ({p:.0%})"
    others = [f"{GRADE_LABELS[g2]} ({p2:.0%})" for p2, g2 in ranked[1:] if p2 >= 0.1]
    if others:
        words += "; possibly " + " or ".join(others)
    return words + "."


EXPRESSION_WORDS = {
    "mouth_width": ("the mouth is wider (a smile)", "the mouth is narrower"),
    "corner_lift": ("the mouth corners are raised (a smile)", "the mouth corners are lowered"),
    "lip_opening": ("the lips are parted", "the lips are closed"),
    "eye_aperture": ("the eyes are opened wider", "the eyes are narrowed (squinting or smiling)"),
    "brow_height": ("the brows are raised", "the brows are lowered (frowning)"),
    "cheek_height": ("the cheeks are raised (a smile)", "the cheeks are lower"),
}


def _code(flag: object) -> str:
    """A flag's code, from its text (``"code: detail"``) or its ``{"code", "detail"}`` object."""
    if isinstance(flag, dict):
        return str(flag.get("code", ""))
    return str(flag).partition(":")[0].strip()


def expression_words(changes_ipd: dict | None, limit: int = 3) -> str:
    """The largest expression changes in words: "the mouth corners are raised (a smile), the eyes are narrowed"."""
    if not changes_ipd:
        return "the expression differs"
    ranked = sorted(((abs(v), k, v) for k, v in changes_ipd.items() if k in EXPRESSION_WORDS and v), reverse=True)
    words = [EXPRESSION_WORDS[k][0 if v > 0 else 1] for _, k, v in ranked[:limit]]
    return ", ".join(words) or "the expression differs"


def flag_text(flag: object, result: dict | None = None) -> str:
    """A QC flag in plain words; the expression change from the measured changes, not the statistics."""
    from outcomes.report.text import flag_words

    code = _code(flag)
    if code == "expression_change":
        changes = ((result or {}).get("qc", {}).get("expression") or {}).get("changes_ipd")
        return f"the expression differs from the baseline: {expression_words(changes)}"
    if code in FLAG_TEXT:
        return FLAG_TEXT[code]
    return flag_words(flag if isinstance(flag, str) else code)


def change_summary(gais: dict) -> str:
    """"Wrinkle severity 16 % lower than baseline; fold depth and jowl bulge essentially unchanged"."""
    parts = []
    components = gais.get("components") or {}
    for key, what in (("wrinkle", "wrinkle severity"), ("laxity", "fold depth and jowl bulge")):
        value = components.get(key)
        if value is None:
            continue
        if abs(value) < 0.005:
            parts.append(f"{what} essentially unchanged from baseline")
        else:
            parts.append(f"{what} {abs(value):.0%} {'lower' if value > 0 else 'higher'} than baseline")
    text = "; ".join(parts) or "no regions could be compared"
    return text[0].upper() + text[1:] + "."


def relative_change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "—"
    if before <= 0:
        return "new" if after > 0 else "±0 %"
    return f"{(after - before) / before:+.0%}"


def advice(flag_codes: list) -> list[str]:
    """What to do, once per distinct piece of advice, in the order of the flags (codes or flag objects)."""
    out: list[str] = []
    for flag in flag_codes:
        bare = _code(flag).removeprefix("before_").removeprefix("after_")
        text = ADVICE.get(bare)
        if text and text not in out:
            out.append(text)
    return out


def region_title(name: str) -> str:
    from outcomes.report.text import region_title as title

    return title(name)


def region_short(name: str) -> str:
    """A region's name short enough to sit on the picture: "Crow's feet R"."""
    from outcomes.report.text import region_short as short

    return short(name)
