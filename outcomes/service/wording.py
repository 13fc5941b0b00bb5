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


def flag_text(flag: str) -> str:
    from outcomes.report.text import flag_words
    from outcomes.schema import QcFlag

    parsed = QcFlag.parse(str(flag))
    if parsed.code in FLAG_TEXT:
        return FLAG_TEXT[parsed.code] + (f" ({parsed.detail})" if parsed.detail else "")
    return flag_words(flag)


def advice(flag_codes: list[str]) -> list[str]:
    """What to do, once per distinct piece of advice, in the order of the flags."""
    out: list[str] = []
    for code in flag_codes:
        bare = code.removeprefix("before_").removeprefix("after_")
        text = ADVICE.get(bare)
        if text and text not in out:
            out.append(text)
    return out


def region_title(name: str) -> str:
    from outcomes.report.text import region_title as title

    return title(name)
