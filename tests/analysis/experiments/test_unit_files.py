"""Unit files (``--units``, ``--exclude-file``) read by the engine: the ids, the layouts, the errors (file, row, column)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from levier.analysis.experiments.engine import plan_in_engine
from levier.analysis.experiments.unit_files import read_unit_file
from levier.cli import app
from levier.data._frames import insert_frames
from levier.errors import FileFormatError, OptionError
from levier.i18n import use_language
from levier.workspace import create_workspace, open_workspace

from .assignment_setup import ARMS, KEY, LISTED, frames, write_ids


def _former_reader(path: Path) -> list[str]:
    """The Python reader the CLI used before (the reference for the files it read correctly)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0]]
    for name in ("unit_id", "lead_id", "account_id", "anonymous_id", "id"):
        if name in header:
            i = header.index(name)
            return [r[i].strip() for r in rows[1:] if len(r) > i and r[i].strip()]
    return [r[0].strip() for r in rows if r and r[0].strip()]


def _ids(table) -> list[str]:  # noqa: ANN001
    return [str(x) for x in table.to_pyarrow().column("unit_id").to_pylist()]


FILES = {
    "header.csv": "lead_id\nL1\nL2\nL2\n",
    "bom_crlf.csv": "\ufeffLead_ID\r\nL1\r\n  L2 \r\n\r\nL3\r\n",
    "second_column.csv": "name,Account_Id,score\nAcme,A1,3\n\"Dupont, SA\",A2,1\nNone,,4\n",
    "no_header.csv": "L9\nL8\n\n  L7\t\n",
    "quoted.csv": "unit_id\n\"L,1\"\n\"L \"\"2\"\"\"\n",
    "short_rows.csv": "x,id\n1,V1\n2\n3,V3\n",
    "header_only.csv": "unit_id\n",
    "empty.csv": "",
    "blank.csv": "\ufeff\n  \n",
    "visitors.csv": "anonymous_id\nV1\nV2\nV3\nV4\n",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_engine_reads_what_the_former_reader_read(workspace, tmp_path: Path, name: str) -> None:  # noqa: ANN001
    path = tmp_path / name
    path.write_text(FILES[name], encoding="utf-8", newline="")
    want = _former_reader(path)
    got = read_unit_file(workspace, path)
    assert Counter(_ids(got)) == Counter(want)
    assert Counter(_ids(read_unit_file(None, path))) == Counter(want)  # the private reader (engines other than DuckDB)


def test_hand_worked_ids() -> None:
    """The reference above on three files, by hand (so the reference itself is checked)."""
    assert _former_reader_text(FILES["bom_crlf.csv"]) == ["L1", "L2", "L3"]
    assert _former_reader_text(FILES["second_column.csv"]) == ["A1", "A2"]
    assert _former_reader_text(FILES["quoted.csv"]) == ["L,1", 'L "2"']


def _former_reader_text(text: str) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        path.write_text(text, encoding="utf-8", newline="")
        return _former_reader(path)


def test_semicolons_and_windows_encodings(workspace, tmp_path: Path) -> None:  # noqa: ANN001
    semi = tmp_path / "semi.csv"
    semi.write_text("nom;lead_id\nDupont;L1\nDurand; L2 \n", encoding="utf-8")
    assert sorted(_ids(read_unit_file(workspace, semi))) == ["L1", "L2"]  # the former reader split on commas only
    cp = tmp_path / "cp1252.csv"
    cp.write_bytes("unit_id\nL1\nÉté€\n".encode("cp1252"))
    assert sorted(_ids(read_unit_file(workspace, cp))) == ["L1", "Été€"]
    late = tmp_path / "late.csv"  # UTF-8 in the sniffed sample, a cp1252 byte far beyond it
    late.write_bytes(b"unit_id\n" + b"".join(b"L%06d\n" % i for i in range(40_000)) + "Zoë\n".encode("cp1252"))
    ids = _ids(read_unit_file(workspace, late))
    assert len(ids) == 40_001 and "Zoë" in ids


def test_the_ids_stay_in_the_engine(workspace, tmp_path: Path) -> None:  # noqa: ANN001
    t = read_unit_file(workspace, write_ids(tmp_path / "ids.csv", ["L1", "L2"]))
    assert "_lv_units_" in str(workspace.facts.con.compile(t))  # a temporary table of the facts connection
    assert t.count().execute() == 2


BAD = {
    "too_many.csv": ("unit_id,name\nL1,a\nL2,b,c\n", "too_many.csv, row 3: 3 fields where the first row has 2 (--units).",
                     "too_many.csv, ligne 3 : 3 champs alors que la première ligne en a 2 (--units)."),
    "quote.csv": ("unit_id\nL1\n\"L2\nL3\n", "quote.csv, row 3, column 1: a quoted value is never closed (--units).",
                  "quote.csv, ligne 3, colonne 1 : un guillemet ouvert n'est jamais fermé (--units)."),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_name_the_file_row_and_column(workspace, tmp_path: Path, name: str) -> None:  # noqa: ANN001
    text, en, fr = BAD[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    for lang, message in (("en", en), ("fr", fr)):
        with use_language(lang), pytest.raises(FileFormatError) as err:
            read_unit_file(workspace, path)
        assert err.value.message == message and err.value.hint
    with pytest.raises(FileFormatError):
        read_unit_file(None, path)
    names = [r[0] for r in workspace.facts.con.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()]
    assert not [n for n in names if n.startswith("_lv_units_")]  # nothing left behind
    with pytest.raises(OptionError, match="nope.csv"):
        read_unit_file(workspace, tmp_path / "nope.csv", option="--exclude-file")
    binary = tmp_path / "ids.csv"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    with use_language("en"), pytest.raises(FileFormatError, match="binary"):
        read_unit_file(workspace, binary)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_cli_shows_the_row_and_column_in_both_languages(runner, workspace, tmp_path: Path, lang: str) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, frames(12))
    for name, (text, en, fr) in BAD.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        for option in ("--units", "--exclude-file"):
            out = runner.invoke(app, ["experiment", "assign", KEY, option, str(path), "--dry-run", "-w", str(workspace.path)],
                                env={"LEVIER_LANG": lang})
            assert out.exit_code == 1, out.output
            message = (en if lang == "en" else fr).replace("--units", option)
            assert message in " ".join(out.output.split()), out.output
            assert "Traceback" not in out.output


def test_cli_assign_reads_both_files_in_the_engine(runner, workspace, tmp_path: Path) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, frames(12))
    units = write_ids(tmp_path / "units.csv", [f"L{i:03d}" for i in range(12)] + ["L001", "new-one"], header="Lead_ID")
    barred = write_ids(tmp_path / "barred.csv", LISTED, header=None)
    out = runner.invoke(app, ["experiment", "assign", KEY, "--units", str(units), "--exclude-file", str(barred),
                              "--variants", ",".join(ARMS), "--weights", "2,1,1", "--dry-run", "--json",
                              "-w", str(workspace.path)], env={"LEVIER_LANG": "en"})
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    # 13 distinct units: L001 L002 L005 kept; L003 opted out, L007 VIP, L009 do-not-contact, L011 listed; 6 new
    assert (plan["new"], plan["kept"], plan["excluded"], plan["stored"]) == (6, 3, 4, 0)
    assert plan["excluded_by_reason"] == {"opted_out": 1, "vip": 1, "do_not_contact": 1, "list": 1}


def test_a_read_only_workspace_reads_unit_files(tmp_path: Path) -> None:
    """Several web workers on a DuckDB file open it read-only: temporary tables still work."""
    ws = create_workspace(tmp_path / "ws")
    insert_frames(ws.facts, frames(12))
    ws.close()
    listed = write_ids(tmp_path / "listed.csv", LISTED)
    with open_workspace(tmp_path / "ws", read_only=True) as ro:
        plan = plan_in_engine(ro, KEY, ARMS, excluded=read_unit_file(ro, listed, option="--exclude-file")).plan()
    # L000…L011: kept L001 L002 L005 (listed, but assigned before); excluded L003 L007 L009 and L011 (L012 is no lead)
    assert plan.excluded_by_reason == {"opted_out": 1, "vip": 1, "do_not_contact": 1, "list": 1}
    assert (plan.new, plan.kept) == (5, 3)
