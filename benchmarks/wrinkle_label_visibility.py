"""How visible are the rendered training wrinkles, by skin-tone group?

The wrinkle CNN is trained and scored on wrinkles rendered onto the London
faces (outcomes.training.synthetic) with exact masks: a pixel is a wrinkle
where the rendered valley reaches half its depth, however faint it looks.
Rendering multiplies linear light, so the same depth darkens dark skin by
fewer grey levels than light skin. This script renders each face's training
wrinkles once (the generator's own sampling) and prints, per group:

- the skin's mean grey level (8-bit luma);
- the median darkening inside the mask, in grey levels;
- the skin's fine texture (sd of luma minus its Gaussian blur, sigma 2 px,
  outside the dilated mask): pores, hair and sensor noise that a detector
  must tell wrinkles from;
- their ratio (contrast-to-texture), and the share of mask pixels darkened
  by more than twice the texture sd;
- that share again with the depths scaled by skin tone, as the training
  renderer does since 2026-11-21 (``tone_depth_gain``: 150 / skin grey,
  1-2×), and the gain itself.

    python benchmarks/wrinkle_label_visibility.py [--per-group 6]
"""

from __future__ import annotations

import argparse
import csv

import cv2
import numpy as np
from _common import shared_data

from outcomes.simulate import VISIBLE_TEXTURE_SDS, london_anchors, read_tem, render_wrinkles, wrinkle_darkening
from outcomes.training.synthetic import skin_of, tone_depth_gain, training_wrinkles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-group", type=int, default=6, help="faces per ethnicity group")
    args = parser.parse_args()
    london = shared_data() / "london"
    with open(london / "faces.csv", newline="") as f:
        ethnicity = {r["face_id"]: r["face_eth"] for r in csv.DictReader(f)}
    rows: dict[str, list] = {}
    for jpg in sorted((london / "neutral").glob("*.jpg")):
        ident = jpg.stem.split("_")[0]
        group = ethnicity.get(ident, "")
        if len(rows.get(group, [])) >= args.per_group:
            continue
        image = cv2.cvtColor(cv2.imread(str(jpg)), cv2.COLOR_BGR2RGB)
        anchors = london_anchors(read_tem(jpg.with_suffix(".tem")))
        skin = skin_of(image, anchors)
        gain = tone_depth_gain(image, skin)
        measured = []
        for depth_gain in (1.0, gain):  # the same lines, as drawn before and after the tone scaling
            rendered, mask = render_wrinkles(
                image, training_wrinkles(anchors, np.random.default_rng([0, int(ident)]), depth_gain))
            mask &= skin
            darkening, texture = wrinkle_darkening(image, rendered, mask, skin)
            measured.append((darkening[mask], texture))
        (darkening, texture), (toned, _) = measured
        if darkening.size < 50:
            continue
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[skin].mean()
        rows.setdefault(group, []).append((grey, np.median(darkening), texture, np.median(darkening) / texture,
                                           np.mean(darkening > VISIBLE_TEXTURE_SDS * texture),
                                           np.mean(toned > VISIBLE_TEXTURE_SDS * texture), gain))
    print(f"{'group':<18}{'faces':>6}{'skin grey':>11}{'Δgrey (median)':>16}{'texture sd':>12}"
          f"{'contrast/texture':>18}{'mask px > 2 sd':>16}{'same, tone depth':>18}{'tone gain':>11}")
    for group, values in sorted(rows.items()):
        v = np.array(values)
        print(f"{group:<18}{len(v):>6}{v[:, 0].mean():>11.1f}{v[:, 1].mean():>16.2f}{v[:, 2].mean():>12.2f}"
              f"{v[:, 3].mean():>18.2f}{v[:, 4].mean():>16.2f}{v[:, 5].mean():>18.2f}{v[:, 6].mean():>11.2f}")


if __name__ == "__main__":
    main()
