"""Accessibility basics checked statically: the CSS we ship keeps main text and controls at a
contrast of at least 4.5:1 (WCAG AA), and every template image or chart has a text alternative."""

from __future__ import annotations

import re
from importlib import resources

CSS = (resources.files("levier.web") / "static" / "levier.css").read_text(encoding="utf-8")
TEMPLATES = resources.files("levier.web") / "templates"


def _vars() -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_known_values() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-below-AA grey


def test_main_colour_pairs_reach_aa() -> None:
    v = _vars()
    pairs = {
        "text on background": (v["text"], v["bg"]), "muted text": (v["muted"], v["bg"]), "muted on soft panels": (v["muted"], v["soft"]),
        "links": (v["accent"], v["bg"]), "button label": (v["accent-text"], v["accent"]), "text on soft panels": (v["text"], v["soft"]),
        "success badge": (v["ok-text"], v["ok-bg"]), "error message": (v["ko-text"], v["ko-bg"]),
    }
    low = {name: round(contrast(*p), 2) for name, p in pairs.items() if contrast(*p) < 4.5}
    assert low == {}
    assert round(contrast(v["text"], v["bg"]), 1) == 16.6


def test_charts_and_images_have_text_alternatives() -> None:
    for entry in TEMPLATES.iterdir():
        html = entry.read_text(encoding="utf-8")
        assert not re.search(r"<img(?![^>]*\balt=)", html), entry.name
        for fig in re.findall(r"<figure[^>]*>", html):
            assert 'role="img"' in fig and "aria-label" in fig, entry.name
