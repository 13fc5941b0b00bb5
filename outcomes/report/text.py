"""Words and numbers for the report: escaping, number formats, region names, QC flags in words."""

from __future__ import annotations

import html
import math

from outcomes.regions import REGION_NAMES


def esc(value: object) -> str:
    """HTML-escaped text (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def num(x: float | None, nd: int = 2, signed: bool = False, suffix: str = "") -> str:
    """A number for people ("—" when missing); a true minus sign for negatives."""
    if not _finite(x):
        return "—"
    text = f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"
    if float(text.lstrip("+-")) == 0:  # no "−0.00" / "+0.00"
        text = text.lstrip("+-")
    return text.replace("-", "\u2212") + suffix


def pct(fraction: float | None, nd: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage ("0.031" → "3.1 %")."""
    return "—" if not _finite(fraction) else num(100 * fraction, nd, signed, "\u202f%")


def region_title(name: str) -> str:
    """``crows_feet_right`` → "Crow's feet, right" (the subject's side)."""
    base, side = name, ""
    for s in ("_right", "_left"):
        if name.endswith(s):
            base, side = name[: -len(s)], s[1:]
    words = {"crows_feet": "Crow's feet", "under_eye": "Under-eye", "nasolabial": "Nasolabial fold",
             "marionette": "Marionette line", "jawline": "Jawline"}.get(base, base.replace("_", " ").capitalize())
    return f"{words}, {side}" if side else words


def region_short(name: str) -> str:
    """A label short enough to print on a face: "Crow's feet R"."""
    title = region_title(name)
    for side, letter in ((", right", " R"), (", left", " L")):
        title = title.replace(side, letter)
    return title.replace("Nasolabial fold", "Nasolabial").replace("Marionette line", "Marionette")


def region_order(names) -> list[str]:  # noqa: ANN001 - any iterable of str
    """Anatomical order (top to bottom), unknown names last in their own order."""
    names = list(dict.fromkeys(names))
    known = {n: i for i, n in enumerate(REGION_NAMES)}
    return sorted(names, key=lambda n: (known.get(n, len(known)), names.index(n)))


_FLAG_WORDS = {
    "refinement_rejected": "the fine (intensity-based) alignment disagreed with the landmarks and was not used; "
                           "landmark alignment only",
    "refinement_failed": "the fine (intensity-based) alignment did not converge; landmark alignment only",
    "pose_change_yaw": "the head is turned left/right differently in the two photos",
    "pose_change_pitch": "the head is tilted up/down differently in the two photos",
    "large_roll_change": "the head is tilted sideways (in the image plane) differently in the two photos",
    "large_scale_change": "the face is a markedly different size in the two photos (camera distance or zoom changed)",
    "residual_too_large": "the two photos could not be aligned closely enough",
    "face_partly_out_of_frame": "part of the face is outside the photo",
    "multiple_faces": "more than one face was found; the largest one was assessed",
    "lighting_not_correctable": "the lighting differs too much between the photos to be corrected",
    "skin_tone_not_measured": "skin tone (ITA) could not be measured",
    "too_few_regions": "too few facial regions could be scored",
}


def flag_words(flag: str) -> str:
    """A QC flag code in plain words (plain text, not escaped); unknown codes are shown as they are."""
    from outcomes.schema import QcFlag

    flag = str(flag)
    parsed = QcFlag.parse(flag)
    code, detail = parsed.code, parsed.detail
    who = ""
    for prefix, photo in (("before_", "BEFORE photo: "), ("after_", "AFTER photo: ")):
        if code.startswith(prefix) and code[len(prefix):] in _FLAG_WORDS:
            who, code = photo, code[len(prefix):]
    words = _FLAG_WORDS.get(code)
    if words is None:
        return flag
    return f"{who}{words}" + (f" ({detail})" if detail else "")
