"""The wrinkle CNN's training renders: visible labels and depth scaled by skin tone, on small synthetic faces."""

from __future__ import annotations

import numpy as np
import pytest
from test_simulate import SKIN, fake_anchors, skin_image

from outcomes.simulate import VISIBLE_TEXTURE_SDS, Wrinkle, render_wrinkles, visible_wrinkles, wrinkle_darkening
from outcomes.training.synthetic import MAX_TONE_GAIN, render_training_image, tone_depth_gain


def skin_of_tone(scale: float, noise: float = 3.0, seed: int = 0) -> np.ndarray:
    """Skin of the test's colour × ``scale`` with sensor noise of ``noise`` grey levels, whatever the tone."""
    rng = np.random.default_rng(seed)
    img = np.array(SKIN, float) * scale + rng.normal(0.0, noise, (200, 200, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def line(depth: float, y: float = 100.0) -> Wrinkle:
    return Wrinkle("forehead", ((30.0, y), (170.0, y)), 3.0, depth, 0.2, 0.0, 0)


def test_a_deep_line_is_visible_and_a_faint_one_is_not():
    image = skin_image(noise=3.0)
    rendered, drawn = render_wrinkles(image, [line(0.4, 60.0), line(0.01, 140.0)])
    skin = np.ones(drawn.shape, bool)
    seen = visible_wrinkles(image, rendered, drawn, skin)
    assert not (seen & ~drawn).any()
    assert seen[50:70].sum() > 0.6 * drawn[50:70].sum()
    assert not seen[130:150].any()
    darkening, texture_sd = wrinkle_darkening(image, rendered, drawn, skin)
    assert 1.5 < texture_sd < 2.5  # noise sd 3 per channel: 2.0 in luma, a little less after the blur
    assert np.all(darkening[seen] > VISIBLE_TEXTURE_SDS * texture_sd)


def test_the_same_depth_is_less_visible_on_darker_skin():
    light, dark = skin_of_tone(1.0), skin_of_tone(0.45)
    skin = np.ones(light.shape[:2], bool)
    shares = []
    for image in (light, dark):
        rendered, drawn = render_wrinkles(image, [line(0.06)])
        shares.append(visible_wrinkles(image, rendered, drawn, skin).sum() / drawn.sum())
    assert shares[0] > shares[1] + 0.2


def test_tone_gain_is_one_on_light_skin_and_capped_on_dark():
    skin = np.ones((200, 200), bool)
    assert tone_depth_gain(skin_image(), skin) == 1.0
    luma = 0.299 * SKIN[0] + 0.587 * SKIN[1] + 0.114 * SKIN[2]
    assert tone_depth_gain(skin_of_tone(0.6), skin) == pytest.approx(150 / (0.6 * luma), abs=0.02)
    assert tone_depth_gain((skin_image() * 0.2).astype(np.uint8), skin) == MAX_TONE_GAIN
    assert tone_depth_gain(skin_image(), np.zeros((200, 200), bool)) == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_visible_and_unseen_split_the_exact_mask(seed):
    """Same draws: the visible mask plus the unseen pixels are exactly the drawn lines, and the images agree."""
    image, anchors = skin_image(noise=2.0, seed=seed), fake_anchors()
    exact_img, exact, none = render_training_image(image, anchors, np.random.default_rng(seed), labels="exact")
    img, mask, unseen = render_training_image(image, anchors, np.random.default_rng(seed))
    assert not none.any()
    np.testing.assert_array_equal(img, exact_img)
    assert not (mask & unseen).any()
    np.testing.assert_array_equal(mask | unseen, exact)


def test_deeper_lines_give_more_visible_labels_on_dark_skin():
    image, anchors = skin_of_tone(0.4), fake_anchors()
    visible = [sum(render_training_image(image, anchors, np.random.default_rng(s), depth_gain=gain)[1].sum()
                   for s in range(6)) for gain in (1.0, MAX_TONE_GAIN)]
    assert visible[1] > 1.3 * visible[0]


def test_unknown_label_convention_is_refused():
    with pytest.raises(ValueError, match="labels must be one of"):
        render_training_image(skin_image(), fake_anchors(), np.random.default_rng(0), labels="soft")
