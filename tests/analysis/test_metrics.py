"""The metric catalogue is the single source of docs/metrics.md."""

from pathlib import Path

from levier.analysis.metrics import METRICS, definitions, render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_docs_metrics_is_generated_from_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), "run: python -m levier.analysis.metrics > docs/metrics.md"


def test_definitions_in_both_languages() -> None:
    en, fr = definitions("en"), definitions("fr")
    assert [d["key"] for d in en] == [m.key for m in METRICS] and len({m.key for m in METRICS}) == len(METRICS)
    assert all(a["formula"] != b["formula"] for a, b in zip(en, fr, strict=True))
