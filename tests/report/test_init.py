"""render_audit: the public API writing every format, and its user errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from levier.errors import OptionError
from levier.i18n import use_language
from levier.report import FORMATS, audit_dict, output_stem, render_audit


class _Result:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def to_dict(self) -> dict[str, Any]:
        return self._data


def test_render_every_format_from_an_object(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    paths = render_audit(_Result(audit_sample), formats="html,md,pdf,xlsx,json", lang="en", out_dir=tmp_path / "o")
    names = [p.name for p in paths]
    assert names[:2] == ["audit-2026-10-en.html", "audit-2026-10-en.md"]
    assert {"audit-2026-10-en.pdf", "audit-2026-10-en.xlsx", "audit-2026-10-en.json",
            "audit-2026-10-en-scatter.png"} <= set(names)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert json.loads((tmp_path / "o" / "audit-2026-10-en.json").read_text(encoding="utf-8")) == audit_sample
    assert (tmp_path / "o" / "audit-2026-10-en.pdf").read_bytes().startswith(b"%PDF")


def test_default_is_french_html(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    [path] = render_audit(audit_sample, out_dir=tmp_path)
    assert path.name == "audit-2026-10-fr.html" and 'lang="fr"' in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"formats": "html,docx"}, "Unknown report format docx"),
    ({"formats": ""}, "Unknown report format"),
    ({"lang": "de"}, "Unknown report language de"),
])
def test_bad_options(tmp_path: Path, audit_sample: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    with use_language("en"), pytest.raises(OptionError, match=message):
        render_audit(audit_sample, out_dir=tmp_path, **kwargs)


@use_language("en")
def test_bad_input_and_unwritable_directory(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    with pytest.raises(OptionError, match="expects an audit result"):
        audit_dict([1, 2])
    with pytest.raises(OptionError, match="version 9 is not supported"):
        audit_dict(dict(audit_sample, version=9))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OptionError, match="Cannot create the output directory"):
        render_audit(audit_sample, formats="json", out_dir=blocker / "sub")


def test_output_stem_is_a_safe_file_name() -> None:
    assert output_stem({"framing": {"period": {"label": "2026-10"}}}, "fr") == "audit-2026-10-fr"
    assert output_stem({"framing": {"period": {"label": "Q4 / 2026"}}}, "en") == "audit-Q4_2026-en"
    assert output_stem({}, "fr") == "audit-period-fr"
    assert FORMATS == ("html", "pdf", "xlsx", "md", "json")


def test_french_error_messages(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    with use_language("fr"), pytest.raises(OptionError, match="Format de rapport inconnu docx"):
        render_audit(audit_sample, formats="docx", out_dir=tmp_path)
