"""Registration of a follow-up photo (AFTER) onto its baseline (BEFORE).

Three steps, each bounded by the one before:

1. a robust similarity fit (RANSAC) of landmarks that do not move with
   expression (eye corners, irises, nose, glabella);
2. an intensity refinement of that fit: ECC (enhanced correlation
   coefficient, invariant to gain and bias of brightness) with a homography
   motion model, coarse to fine, on the face's skin with eyes and mouth masked
   out; it is rejected if it wanders from the landmark fit;
3. an optional non-rigid correction (dense optical flow, heavily smoothed and
   clamped to a fraction of the inter-pupil distance) for residual expression
   or pose differences, reported as its largest displacement.
"""

from __future__ import annotations

import time

import numpy as np

from outcomes.config import AlignmentConfig
from outcomes.landmarks import FACE_OVAL, LEFT_EYE_CONTOUR, LIPS_OUTER, RIGHT_EYE_CONTOUR, STABLE_INDICES
from outcomes.types import HeadPose, Landmarks, Registration


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 3×3 homography."""
    pts = np.asarray(points, dtype=np.float64)
    homog = np.c_[pts, np.ones(len(pts))] @ np.asarray(h, dtype=np.float64).T
    return homog[:, :2] / homog[:, 2:3]


def _scale_matrix(scale: float, offset: np.ndarray) -> np.ndarray:
    """Full-resolution pixel → pixel of a crop starting at ``offset`` resized by ``scale``.

    Follows cv2.resize's pixel-centre convention: u = s·(x − offset + ½) − ½.
    """
    return np.array([
        [scale, 0.0, scale * (0.5 - offset[0]) - 0.5],
        [0.0, scale, scale * (0.5 - offset[1]) - 0.5],
        [0.0, 0.0, 1.0],
    ])


def landmark_similarity(before: Landmarks, after: Landmarks, config: AlignmentConfig) -> np.ndarray:
    """Robust similarity AFTER → BEFORE from the stable landmarks, as a 3×3 matrix."""
    import cv2

    src = after.points[list(STABLE_INDICES)].astype(np.float32)
    dst = before.points[list(STABLE_INDICES)].astype(np.float32)
    threshold = config.ransac_threshold_rel_ipd * before.inter_pupil_distance
    m, _ = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold,
        maxIters=2000, confidence=0.999, refineIters=20,
    )
    if m is None:  # degenerate landmarks; fall back to a plain least-squares fit
        m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    return np.vstack([m, [0.0, 0.0, 1.0]])


def skin_mask(landmarks: Landmarks, shape: tuple[int, int], transform: np.ndarray | None = None) -> np.ndarray:
    """Face oval without the eye openings and the mouth, as uint8 0/255.

    ``transform`` (3×3) maps the landmarks' pixels into the mask's pixels.
    """
    import cv2

    def poly(indices: tuple[int, ...]) -> np.ndarray:
        pts = landmarks.points[list(indices)]
        if transform is not None:
            pts = apply_homography(transform, pts)
        return np.round(pts * 16).astype(np.int32)  # 4 fractional bits

    scale = 1.0 if transform is None else float(np.sqrt(abs(np.linalg.det(transform[:2, :2]))))
    ipd = landmarks.inter_pupil_distance * scale
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [poly(FACE_OVAL)], 255, cv2.LINE_8, shift=4)
    holes = np.zeros(shape, np.uint8)
    for contour in (RIGHT_EYE_CONTOUR, LEFT_EYE_CONTOUR, LIPS_OUTER):
        cv2.fillPoly(holes, [poly(contour)], 255, cv2.LINE_8, shift=4)
    radius = max(1, int(round(0.08 * ipd)))
    holes = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    mask[holes > 0] = 0
    return mask


def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def refine_ecc(
    before_rgb: np.ndarray, before: Landmarks,
    after_rgb: np.ndarray, after: Landmarks,
    after_to_before: np.ndarray, config: AlignmentConfig,
) -> np.ndarray:
    """Refine AFTER → BEFORE by ECC on the skin, coarse to fine.

    Raises ``cv2.error`` when ECC does not converge.
    """
    import cv2

    motion = {"homography": cv2.MOTION_HOMOGRAPHY, "affine": cv2.MOTION_AFFINE}[config.refine_model]
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, config.refine_max_iterations, config.refine_epsilon)
    grey_b, grey_a = _grey(before_rgb), _grey(after_rgb)
    oval = before.points[list(FACE_OVAL)]
    margin = 0.15 * before.inter_pupil_distance
    lo = np.floor(np.maximum(oval.min(axis=0) - margin, 0)).astype(int)
    hi = np.ceil(np.minimum(oval.max(axis=0) + margin, [grey_b.shape[1] - 1, grey_b.shape[0] - 1])).astype(int)
    h_ab = np.linalg.inv(after_to_before)
    for target_ipd in config.refine_ipd_px:
        s_b = min(1.0, target_ipd / before.inter_pupil_distance)
        s_a = min(1.0, target_ipd / after.inter_pupil_distance)
        t_b = _scale_matrix(s_b, lo)
        crop_b = grey_b[lo[1]: hi[1] + 1, lo[0]: hi[0] + 1]
        template = cv2.resize(crop_b, None, fx=s_b, fy=s_b, interpolation=cv2.INTER_AREA)
        template_mask = skin_mask(before, template.shape, t_b)
        # The part of AFTER that the BEFORE crop maps into, with a margin.
        corners = apply_homography(h_ab, np.array([lo, [hi[0], lo[1]], hi, [lo[0], hi[1]]], float))
        a_lo = np.floor(np.maximum(corners.min(axis=0) - margin, 0)).astype(int)
        a_hi = np.ceil(np.minimum(corners.max(axis=0) + margin, [grey_a.shape[1] - 1, grey_a.shape[0] - 1])).astype(int)
        t_a = _scale_matrix(s_a, a_lo)
        crop_a = grey_a[a_lo[1]: a_hi[1] + 1, a_lo[0]: a_hi[0] + 1]
        moving = cv2.resize(crop_a, None, fx=s_a, fy=s_a, interpolation=cv2.INTER_AREA)
        warp = (t_a @ h_ab @ np.linalg.inv(t_b)).astype(np.float32)
        warp /= warp[2, 2]
        if motion == cv2.MOTION_AFFINE:
            warp = warp[:2]
        _, warp = cv2.findTransformECCWithMask(
            template, moving, template_mask, np.full(moving.shape, 255, np.uint8),
            warp, motion, criteria, 5,
        )
        if warp.shape[0] == 2:
            warp = np.vstack([warp, [0, 0, 1]])
        h_ab = np.linalg.inv(t_a) @ warp.astype(np.float64) @ t_b
        h_ab /= h_ab[2, 2]
    h_ba = np.linalg.inv(h_ab)
    return h_ba / h_ba[2, 2]


def local_correction(
    before_rgb: np.ndarray, before: Landmarks, after_rgb: np.ndarray,
    after_to_before: np.ndarray, config: AlignmentConfig,
) -> np.ndarray:
    """Bounded smooth flow (H, W, 2) in BEFORE's frame, full resolution, pixels.

    After the global warp, BEFORE pixel ``p`` is matched to the warped AFTER
    at ``p + flow[p]``. The flow is computed on the face's bounding box only
    and is zero elsewhere.
    """
    import cv2

    h, w = before_rgb.shape[:2]
    ipd = before.inter_pupil_distance
    s = min(1.0, config.local_ipd_px / ipd)
    oval = before.points[list(FACE_OVAL)]
    lo = np.floor(np.maximum(oval.min(axis=0) - 0.3 * ipd, 0)).astype(int)
    hi = np.ceil(np.minimum(oval.max(axis=0) + 0.3 * ipd, [w - 1, h - 1])).astype(int)
    box_w, box_h = hi - lo + 1
    small_size = (max(8, int(round(box_w * s))), max(8, int(round(box_h * s))))
    to_small = _scale_matrix(s, lo)
    crop_b = cv2.cvtColor(before_rgb[lo[1]: hi[1] + 1, lo[0]: hi[0] + 1], cv2.COLOR_RGB2GRAY)
    grey_b = cv2.resize(crop_b, small_size, interpolation=cv2.INTER_AREA)
    # AFTER straight into the small BEFORE crop (one resampling).
    grey_a = cv2.warpPerspective(
        cv2.cvtColor(after_rgb, cv2.COLOR_RGB2GRAY), to_small @ after_to_before, small_size,
        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE,
    )
    flow_full = np.zeros((h, w, 2), np.float32)
    mask = skin_mask(before, grey_b.shape, to_small) > 0
    if mask.sum() < 100:
        return flow_full
    # Equalise brightness so that a lighting change is not read as motion.
    gb, ga = grey_b.astype(np.float32), grey_a.astype(np.float32)
    ga = (ga - ga[mask].mean()) * (gb[mask].std() / max(ga[mask].std(), 1e-3)) + gb[mask].mean()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(np.clip(gb, 0, 255).astype(np.uint8), np.clip(ga, 0, 255).astype(np.uint8), None)
    # Normalised convolution: smooth the flow using skin pixels only, and let
    # it fade to zero away from the face.
    sigma = config.local_smoothing_rel_ipd * ipd * s
    weight = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    flow = np.dstack([cv2.GaussianBlur(flow[..., i] * mask, (0, 0), sigma) for i in range(2)])
    flow = flow / np.maximum(weight, 1e-3)[..., None] * np.clip(weight * 2.0, 0.0, 1.0)[..., None]
    limit = config.local_max_rel_ipd * ipd * s
    magnitude = np.linalg.norm(flow, axis=2, keepdims=True)
    flow = flow * np.minimum(1.0, limit / np.maximum(magnitude, 1e-9))
    flow_full[lo[1]: hi[1] + 1, lo[0]: hi[0] + 1] = cv2.resize(flow, (int(box_w), int(box_h)), interpolation=cv2.INTER_LINEAR) / s
    return flow_full


def register(
    before_rgb: np.ndarray, before: Landmarks, after_rgb: np.ndarray, after: Landmarks,
    config: AlignmentConfig | None = None,
) -> Registration:
    """Register AFTER onto BEFORE. See the module docstring for the method.

    Parameters
    ----------
    before_rgb, after_rgb : ndarray, shape (H, W, 3), uint8
    before, after : Landmarks
        Of the same photos.
    config : AlignmentConfig, optional

    Returns
    -------
    Registration
        ``ok`` is False, with the reasons in ``qc_flags``, when the pair
        cannot be compared pixel by pixel.
    """
    import cv2

    config = config or AlignmentConfig()
    qc = config.qc
    flags: list[str] = []
    times: dict[str, float] = {}
    start = time.perf_counter()
    h = landmark_similarity(before, after, config)
    times["landmark_fit_ms"] = (time.perf_counter() - start) * 1e3
    ipd = before.inter_pupil_distance
    stable_a = after.points[list(STABLE_INDICES)]
    stable_b = before.points[list(STABLE_INDICES)]

    def landmark_residual(transform: np.ndarray) -> float:
        return float(np.median(np.linalg.norm(apply_homography(transform, stable_a) - stable_b, axis=1)))

    if config.refine:
        start = time.perf_counter()
        try:
            refined = refine_ecc(before_rgb, before, after_rgb, after, h, config)
            # Intensity fits the skin's surface; when head pose differs, that
            # surface's best homography can pull the eyes and nose away from
            # their landmarks. Keep it only while it agrees with them.
            if landmark_residual(refined) > landmark_residual(h) + config.refine_max_disagreement_rel_ipd * ipd:
                flags.append("refinement_rejected")
            else:
                h = refined
        except cv2.error:  # ECC did not converge
            flags.append("refinement_failed")
        times["refine_ms"] = (time.perf_counter() - start) * 1e3
    flow = None
    local_max = 0.0
    if config.local:
        start = time.perf_counter()
        flow = local_correction(before_rgb, before, after_rgb, h, config)
        local_max = float(np.linalg.norm(flow, axis=2).max())
        times["local_ms"] = (time.perf_counter() - start) * 1e3

    residual = landmark_residual(h)
    pose_change = HeadPose(
        yaw=after.pose.yaw - before.pose.yaw,
        pitch=after.pose.pitch - before.pose.pitch,
        roll=after.pose.roll - before.pose.roll,
    )
    ok = True
    if abs(pose_change.yaw) > qc.max_yaw_change_deg:
        flags.append("pose_change_yaw")
        ok = False
    if abs(pose_change.pitch) > qc.max_pitch_change_deg:
        flags.append("pose_change_pitch")
        ok = False
    if abs(pose_change.roll) > qc.warn_roll_change_deg:
        flags.append("large_roll_change")
    scale = float(np.sqrt(abs(np.linalg.det(h[:2, :2]))))
    if abs(scale - 1.0) > qc.warn_scale_change:
        flags.append("large_scale_change")
    if residual / ipd > qc.max_residual_rel_ipd:
        flags.append("residual_too_large")
        ok = False
    if _out_of_frame(before, after, h) > qc.max_out_of_frame:
        flags.append("face_partly_out_of_frame")
        ok = False
    for name, lm in (("before", before), ("after", after)):
        flags.extend(f"{name}_{f}" for f in lm.qc_flags)
    return Registration(
        after_to_before=h, local_flow=flow, residual_px=residual, residual_rel_ipd=residual / ipd,
        local_max_px=local_max, pose_change=pose_change, ok=ok, qc_flags=tuple(flags), stage_ms=times,
    )


def _out_of_frame(before: Landmarks, after: Landmarks, after_to_before: np.ndarray) -> float:
    """Fraction of BEFORE's face (oval points and a grid inside) outside AFTER's image."""
    import cv2

    oval = before.points[list(FACE_OVAL)].astype(np.float32)
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 24), np.linspace(lo[1], hi[1], 24))
    grid = np.c_[gx.ravel(), gy.ravel()]
    inside = np.array([cv2.pointPolygonTest(oval, (float(x), float(y)), False) >= 0 for x, y in grid])
    samples = np.vstack([oval, grid[inside]])
    in_after = apply_homography(np.linalg.inv(after_to_before), samples)
    w, h = after.image_size
    outside = (in_after[:, 0] < 0) | (in_after[:, 1] < 0) | (in_after[:, 0] > w - 1) | (in_after[:, 1] > h - 1)
    return float(outside.mean())


def warp_to_before(after_rgb: np.ndarray, registration: Registration, before_size: tuple[int, int],
                   maps: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Resample AFTER into BEFORE's frame with the full registration.

    Parameters
    ----------
    after_rgb : ndarray, shape (H', W', 3) or (H', W'), uint8 or float32
        AFTER, or any per-pixel map of AFTER (a wrinkle response, a mask).
    registration : Registration
    before_size : (width, height)
    maps : (map_x, map_y), optional
        From :func:`sampling_maps` for this registration and size, to warp several maps of
        one photo without recomputing them (used only with a local correction).

    Returns
    -------
    pixels : ndarray, shape (H, W[, C]), the input's dtype
        Bicubic for images, so that the one resampling AFTER undergoes blurs
        fine texture as little as possible; bilinear for float maps.
    valid : ndarray, shape (H, W), bool
        True where the pixel came from inside AFTER.
    """
    import cv2

    w, h = before_size
    interpolation = cv2.INTER_CUBIC if after_rgb.dtype == np.uint8 else cv2.INTER_LINEAR
    h_ab = np.linalg.inv(registration.after_to_before)
    ah, aw = after_rgb.shape[:2]
    if registration.local_flow is None:
        pixels = cv2.warpPerspective(after_rgb, h_ab, (w, h), flags=interpolation | cv2.WARP_INVERSE_MAP)
        ones = np.full((ah, aw), 255, np.uint8)
        valid = cv2.warpPerspective(ones, h_ab, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
        return pixels, valid
    map_x, map_y = maps if maps is not None else sampling_maps(registration, before_size)
    pixels = cv2.remap(after_rgb, map_x, map_y, interpolation, borderMode=cv2.BORDER_CONSTANT)
    valid = (map_x >= 0) & (map_y >= 0) & (map_x <= aw - 1) & (map_y <= ah - 1)
    return pixels, valid


def sampling_maps(registration: Registration, before_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """For each BEFORE pixel, where to sample AFTER: ``(map_x, map_y)``, float32 (H, W).

    None without a local correction (the homography alone is warped directly).
    """
    if registration.local_flow is None:
        return None
    w, h = before_size
    h_ab = np.linalg.inv(registration.after_to_before).astype(np.float32)  # float32 maps: float32 arithmetic
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    qx = xs + registration.local_flow[..., 0]
    qy = ys + registration.local_flow[..., 1]
    den = h_ab[2, 0] * qx + h_ab[2, 1] * qy + h_ab[2, 2]
    map_x = ((h_ab[0, 0] * qx + h_ab[0, 1] * qy + h_ab[0, 2]) / den).astype(np.float32)
    map_y = ((h_ab[1, 0] * qx + h_ab[1, 1] * qy + h_ab[1, 2]) / den).astype(np.float32)
    return map_x, map_y
