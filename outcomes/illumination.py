"""Lighting normalisation between visits: one global model, so local pigment survives.

Photos from two visits differ in exposure, white balance and tone. AFTER
(already in BEFORE's frame) is corrected towards BEFORE per channel in linear
light with a handful of parameters fitted robustly on the face's skin as a
whole and the background around it; a macule is an outlier to that fit and
survives the correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.color import _LUMA, _check_mask, _check_rgb, _decode_lut, _encode, srgb_to_lab


@dataclass(frozen=True)
class IlluminationFit:
    """Global lighting correction of AFTER towards BEFORE: ``corrected = gains * after ** gammas``.

    Per channel (R, G, B), on linear light in [0, 1].

    Attributes
    ----------
    gains, gammas : ndarray, shape (3,), float64
        Per-channel gain and power (tone-curve difference; 1 when not fitted).
    exposure_stops : float
        log2 of the luminance correction at the fit pixels' median brightness (stops AFTER was brightened).
    white_balance : float
        Largest over smallest channel correction there, minus 1 (0 = no colour cast).
    nonuniformity : float
        Largest relative difference, in any channel, of the extra correction the left vs right (or
        top vs bottom) half of the face needs (0 = the lighting changed alike everywhere).
    residual_delta_e : float
        Median ΔE*ab, corrected AFTER vs BEFORE, over the fit pixels (noise and misregistration included).
    n_pixels : int
        Fit pixels used (sub-sampled, clipped and dark ones dropped).
    correctable : bool
        False when a global correction cannot be trusted; ``reason`` says why ("" otherwise).
    """

    gains: np.ndarray
    gammas: np.ndarray
    exposure_stops: float
    white_balance: float
    nonuniformity: float
    residual_delta_e: float
    n_pixels: int
    correctable: bool
    reason: str = ""


def _fit_log_linear(lx: np.ndarray, ly: np.ndarray, fit_gamma: bool, iters: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Robust per-channel fit of ``ly ≈ a + γ lx`` (logs of linear light, (N, 3)); returns a, γ, shape (3,).

    Plain least squares first (so every brightness cluster counts, not just the largest), then
    Tukey-biweight IRLS (c = 4.685 robust SDs, floored at 1 %) that rejects local changes. A weak
    ridge pulls γ towards 1 when the pixels span almost no range of brightness.
    """
    a, g = np.zeros(3), np.ones(3)
    w = np.ones_like(lx)
    for it in range(iters):
        if it:
            e = ly - a - g * lx
            scale = np.maximum(1.4826 * np.median(np.abs(e), axis=0), 0.01)
            w = np.clip(1.0 - (e / (4.685 * scale)) ** 2, 0.0, None) ** 2
        sw, sx, sy = w.sum(0), (w * lx).sum(0), (w * ly).sum(0)
        if fit_gamma:
            lam = 1e-3 * sw
            sxx, sxy = (w * lx * lx).sum(0) + lam, (w * lx * ly).sum(0) + lam
            det = sw * sxx - sx * sx
            a_new, g = (sxx * sy - sx * sxy) / det, (sw * sxy - sx * sy) / det
        else:
            a_new = (sy - sx) / sw
        done = np.max(np.abs(a_new - a)) < 1e-7
        a = a_new
        if done and it:
            break
    return a, g


def normalise_illumination(
    before_rgb: np.ndarray, after_rgb: np.ndarray, fit_mask: np.ndarray, valid: np.ndarray | None = None, *,
    face_mask: np.ndarray | None = None, fit_gamma: bool = True, max_exposure_stops: float = 2.0,
    max_white_balance: float = 0.25, max_tone_change: float = 0.3, max_nonuniformity: float = 0.10,
    code_range: tuple[int, int] = (20, 250), max_samples: int = 20_000, min_fit_pixels: int = 500,
) -> tuple[np.ndarray, IlluminationFit]:
    """Correct AFTER's exposure, white balance and tone towards BEFORE with one global model.

    Per channel, ``before ≈ gain * after ** gamma`` in linear light (a line in log-log), fitted
    robustly on a random sample of ``fit_mask & valid`` pixels neither clipped nor very dark in
    either photo. The gains are exposure and white balance; the power absorbs a tone-curve
    difference (without it a ±10 % gamma change leaves ~2.4 ΔE on skin when the fit also covers a
    bright backdrop). Six parameters over face and background cannot absorb a local pigment
    change: a macule is an outlier to the fit and survives the correction.

    Parameters
    ----------
    before_rgb, after_rgb : ndarray, shape (H, W, 3), uint8
        AFTER already warped into BEFORE's frame.
    fit_mask : ndarray, shape (H, W), bool
        Pixels whose colour should not have changed: the face's skin plus the backdrop around the head.
    valid : ndarray, shape (H, W), bool, optional
        Pixels of AFTER that came from inside the original AFTER photo.
    face_mask : ndarray, shape (H, W), bool, optional
        The face's skin: half the fit sample is drawn from it (a large backdrop cannot outvote
        the skin) and the uniformity check compares its halves. Default: ``fit_mask`` for both.
    fit_gamma : bool
        Fit the per-channel power; False fits pure gains.
    max_exposure_stops : float
        2 stops (4x light): beyond, one photo is badly exposed (clipped or noisy) and skin colour unreliable.
    max_white_balance : float
        25 %: beyond, the light source or processing differs (tungsten vs flash); gains only approximate it.
    max_tone_change : float
        0.3, largest ``|gamma - 1|``: beyond, the tone curves (camera, processing) differ too much.
    max_nonuniformity : float
        10 %: largest difference between the extra corrections the left/right or top/bottom
        halves of the face need. It leaves ±1.3 L* on mid-tone skin after a global correction,
        about half the just-noticeable ΔE (2.3) that a PIH check works at; a side-lit follow-up
        cannot be corrected globally.
    code_range : (int, int)
        Fit pixels have all channels ≥ the first 8-bit code (above quantisation noise) and < the
        second (unclipped) in both photos.
    max_samples, min_fit_pixels : int
        Fit pixels are sub-sampled at random (fixed seed) to at most ``max_samples``; with fewer
        than ``min_fit_pixels`` usable ones nothing is corrected (not correctable).

    Returns
    -------
    corrected : ndarray, shape (H, W, 3), uint8
        AFTER with the correction applied everywhere (also when not correctable: use with care).
    fit : IlluminationFit
    """
    before_rgb, after_rgb = _check_rgb(before_rgb, "before_rgb"), _check_rgb(after_rgb, "after_rgb")
    if before_rgb.shape != after_rgb.shape:
        raise ValueError(f"before_rgb {before_rgb.shape} and after_rgb {after_rgb.shape} must have the same shape "
                         "(warp AFTER into BEFORE's frame first)")
    use = _check_mask(fit_mask, before_rgb.shape, "fit_mask")
    if valid is not None:
        use = use & _check_mask(valid, before_rgb.shape, "valid")
    face = use if face_mask is None else use & _check_mask(face_mask, before_rgb.shape, "face_mask")
    rng, idx = np.random.default_rng(0), []
    for part in ((face,) if face_mask is None else (face, use & ~face)):  # at most 2 * max_samples in all
        i = np.flatnonzero(part)
        idx.append(rng.choice(i, min(len(i), 2 * max_samples // (1 if face_mask is None else 2)), replace=False))
    idx = rng.permutation(np.concatenate(idx))
    b8, a8 = before_rgb.reshape(-1, 3)[idx], after_rgb.reshape(-1, 3)[idx]
    ok = (np.minimum(b8.min(1), a8.min(1)) >= code_range[0]) & (np.maximum(b8.max(1), a8.max(1)) < code_range[1])
    idx = np.sort(idx[ok][:max_samples])  # random subset of the usable ones
    b8, a8 = before_rgb.reshape(-1, 3)[idx], after_rgb.reshape(-1, 3)[idx]
    if len(idx) < min_fit_pixels:
        return after_rgb.copy(), IlluminationFit(
            np.ones(3), np.ones(3), 0.0, 0.0, 0.0, float("nan"), len(idx), False,
            f"only {len(idx)} usable fit pixels (unclipped, not dark, inside AFTER), need {min_fit_pixels}")
    import cv2

    loglut = np.log(np.maximum(_decode_lut(), 1e-6))
    lx, ly = loglut[a8], loglut[b8]
    a, gammas = _fit_log_linear(lx, ly, fit_gamma)
    # The correction each half of the fit pixels would need on top of the global one.
    resid = ly - a - gammas * lx
    on_face, w, nonuniformity = face.reshape(-1)[idx], before_rgb.shape[1], 0.0
    for coord in (idx[on_face] % w, idx[on_face] // w):
        half = coord < np.median(coord)
        if min(half.sum(), (~half).sum()) >= min_fit_pixels // 2:
            step = np.median(resid[on_face][half], axis=0) - np.median(resid[on_face][~half], axis=0)
            nonuniformity = max(nonuniformity, float(np.exp(np.abs(step).max())) - 1.0)
    table = _encode(np.exp(a + gammas * loglut[:, None]))  # (256, 3): code → corrected code, per channel
    corrected = cv2.LUT(np.ascontiguousarray(after_rgb), table[None])
    delta = srgb_to_lab(np.take_along_axis(table, a8.astype(np.intp), axis=0)) - srgb_to_lab(b8)
    factor = np.exp(a + (gammas - 1.0) * np.median(lx, axis=0))  # correction at the median brightness
    exposure, balance = float(np.log2(_LUMA @ factor)), float(factor.max() / factor.min() - 1.0)
    reasons = []
    if abs(exposure) > max_exposure_stops:
        reasons.append(f"exposure differs by {exposure:+.2f} stops (limit ±{max_exposure_stops:g})")
    if balance > max_white_balance:
        reasons.append(f"white balance differs by {balance:.0%} between channels (limit {max_white_balance:.0%})")
    if np.abs(gammas - 1.0).max() > max_tone_change:
        reasons.append(f"tone curves differ: gamma {np.round(gammas, 2).tolist()} (limit 1 ± {max_tone_change:g})")
    if nonuniformity > max_nonuniformity:
        reasons.append(f"non-uniform lighting change: the halves of the face need corrections {nonuniformity:.0%} "
                       f"apart (limit {max_nonuniformity:.0%})")
    return corrected, IlluminationFit(np.exp(a), gammas, exposure, balance, nonuniformity,
                                      float(np.median(np.linalg.norm(delta, axis=1))), len(idx), not reasons,
                                      "; ".join(reasons))


def apply_illumination(rgb: np.ndarray, fit: IlluminationFit) -> np.ndarray:
    """Apply a fitted correction to another image of the same photo (e.g. AFTER in its own frame).

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    fit : IlluminationFit
        From :func:`normalise_illumination`.

    Returns
    -------
    ndarray, shape (H, W, 3), uint8
    """
    import cv2

    rgb = _check_rgb(rgb, "rgb")
    linear = np.maximum(_decode_lut(), 1e-6)[:, None]  # (256, 1): code → linear light
    table = _encode(fit.gains * linear**fit.gammas)  # (256, 3)
    return cv2.LUT(np.ascontiguousarray(rgb), table[None])
