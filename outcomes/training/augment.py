"""Training augmentation (albumentations 2.0.8, the last MIT-licensed release).

Only the training code imports this module; the pipeline never does.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np

from outcomes.color import _decode_lut, _encode

_SRGB_TO_LINEAR = _decode_lut()


def darker_skin(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same photo as darker, browner skin: linear light × 0.1-0.5, blue and green lowered more.

    A wrinkle removes a fraction of the light, so it keeps its relative depth; what changes is
    what dark skin really does to it: fewer 8-bit levels across the line and more relative
    noise. Lets every training face teach lines on dark skin, of which the set has few.
    """
    gain = rng.uniform(0.1, 0.5) * np.array([1.0, rng.uniform(0.8, 0.95), rng.uniform(0.65, 0.85)])
    return _encode(_SRGB_TO_LINEAR[image] * gain)


def wrinkle_augmentation(darker_skin_probability: float = 0.0):  # noqa: ANN201 - callable(image=, mask=, seed=)
    """Photometric and mild geometric changes a clinic's photos show between cameras and visits.

    Photometric: brightness/contrast, hue/saturation, gamma, JPEG (quality 75-98), sensor noise
    (σ ≤ 1 % of full scale), slight blur. Geometric: flip, affine (±15 % scale, ±20° rotation,
    ±5° shear), small elastic warps. Masks follow the geometry with nearest-neighbour
    interpolation. Call as ``aug(image=rgb_uint8, mask=mask_uint8, seed=int)``; the same seed
    gives the same result. With probability ``darker_skin_probability`` the patch is first made
    to look like darker skin (:func:`darker_skin`).
    """
    # Mild on purpose: a fine line is often only a few grey levels deep, and an augmentation that
    # erases it (heavy noise, JPEG, blur) while its label stays teaches the network to hedge.
    compose = A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(scale=(0.85, 1.15), rotate=(-20, 20), shear=(-5, 5), border_mode=cv2.BORDER_REFLECT_101, p=0.7),
        A.ElasticTransform(alpha=20, sigma=8, border_mode=cv2.BORDER_REFLECT_101, p=0.1),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.15, p=0.6),
        A.HueSaturationValue(hue_shift_limit=6, sat_shift_limit=15, val_shift_limit=8, p=0.4),
        A.RandomGamma(gamma_limit=(80, 125), p=0.4),
        A.GaussNoise(std_range=(0.002, 0.01), p=0.3),
        A.GaussianBlur(blur_limit=(3, 3), sigma_limit=(0.3, 0.6), p=0.1),
        A.ImageCompression(quality_range=(75, 98), p=0.4),
    ])

    def apply(*, image, mask, seed: int) -> dict:
        rng = np.random.default_rng(seed)
        if rng.uniform() < darker_skin_probability:
            image = darker_skin(image, rng)
        compose.set_random_seed(seed)
        return compose(image=image, mask=mask)

    return apply
