"""The framing check of a photo about to be uploaded: is there a face, and could it be compared
with the baseline (head pose, expression, the same person, face size)?

Run by a queue worker (which has the models loaded) at a higher priority than assessments,
so the upload page can warn within a second, before the photo is taken for good. It uses
the assessment's own thresholds, so what it warns about is what would make the pair not
usable.
"""

from __future__ import annotations


def check_framing(data: bytes, baseline, models, config) -> dict:  # noqa: ANN001 - Photo, Models, Config
    """Warnings (plain words) for the photo in ``data`` against the ``baseline`` Photo (or None).

    Returns
    -------
    dict
        ``{"face": bool, "warnings": [str], "pose_change_deg": {...} or None}``.
    """
    from outcomes.comparability import check_comparability
    from outcomes.errors import InputImageError
    from outcomes.io import decode_image
    from outcomes.types import Photo

    try:
        pixels = decode_image(data, "the photo", config.input)
    except InputImageError as exc:
        return {"face": False, "warnings": [f"The photo cannot be read: {exc}"], "pose_change_deg": None}
    photo = Photo(pixels=pixels, source="the photo", sha256="")
    try:
        after = models.landmarker.detect(photo)
    except InputImageError:
        return {"face": False, "warnings": ["No face found: frame the whole face, facing the camera, evenly lit."],
                "pose_change_deg": None}
    warnings: list[str] = []
    if baseline is None:
        return {"face": True, "warnings": warnings, "pose_change_deg": None}
    before = models.landmarker.detect(baseline)
    limits = config.alignment.qc
    change = {axis: float(getattr(after.pose, axis) - getattr(before.pose, axis)) for axis in ("yaw", "pitch", "roll")}
    if abs(change["yaw"]) > limits.max_yaw_change_deg:
        warnings.append(f"The head is turned {abs(change['yaw']):.0f}° differently from the baseline (more than "
                        f"{limits.max_yaw_change_deg:g}°): face the camera as in the baseline.")
    if abs(change["pitch"]) > limits.max_pitch_change_deg:
        warnings.append(f"The head is tilted {abs(change['pitch']):.0f}° differently up or down (more than "
                        f"{limits.max_pitch_change_deg:g}°): keep the chin at the baseline's height.")
    size_before = before.inter_pupil_distance / max(baseline.width, baseline.height)
    size_after = after.inter_pupil_distance / max(photo.width, photo.height)
    ratio = size_after / max(size_before, 1e-9)
    if abs(ratio - 1) > 0.35:
        warnings.append(f"The face fills {'more' if ratio > 1 else 'less'} of the frame than in the baseline "
                        f"({ratio:.1f}×): stand at the baseline's distance.")
    identities = (None, None)
    if models.identity is not None:
        identities = (models.identity.identify(baseline, before), models.identity.identify(photo, after))
    comparable = check_comparability(before, after, *identities, config.expression, config.identity)
    for flag in comparable.flags:
        code = flag.split(":", 1)[0]
        if code == "different_person":
            warnings.append("This does not look like the baseline's person: check the patient.")
        elif code == "expression_change":
            from outcomes.service.wording import expression_words

            changes = comparable.expression.changes if comparable.expression is not None else None
            warnings.append(f"The expression differs from the baseline: {expression_words(changes)}. Ask for a "
                            "relaxed face, lips closed, no smile, as in the baseline.")
    return {"face": True, "warnings": warnings,
            "pose_change_deg": {k: round(v, 1) for k, v in change.items()}, "size_ratio": round(float(ratio), 2),
            "faces_found": int(after.faces_found)}
