"""Raw frames with repetitive text held as categoricals (``read_file(compact=True)``, the default).

The representation must not change a single cell, a validation outcome, the identifier check or a
formula-safe export: each is compared here with the plain ``"str"`` frames of the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.pseudonymise import IdentifierColumnsError, find_identifiers, refuse_identifiers
from evalkit.readers import compact_text_columns, read_file, read_files
from evalkit.safe_export import safe_frame
from evalkit.schemas import table_schema
from evalkit.validation import validate

TODAY = "2026-01-01"

_cell = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(
    ["", " ", "NA", "n/a", "=1+1", "-3", "3", " 3", "2.5", "03/04/2025", "13/04/2025", "2025-04-01", " 2025-04-01",
     "yes", "No", "epds", "EPDS ", "attended", "Attended", "M1", "M1 ", "M2", "P1", "GS1", "Health visitor"]))


def upload() -> st.SearchStrategy[dict[str, pd.DataFrame]]:
    """Small raw uploads of every table, cells drawn to repeat (so categories merge when cleaned)."""
    tables = {}
    for table in ("programmes", "participants", "group_sessions", "contacts", "measures"):
        names = table_schema(table).field_names[:9]
        tables[table] = st.lists(st.fixed_dictionaries({c: _cell for c in names}), max_size=8).map(
            lambda rows, names=names: pd.DataFrame(rows, columns=names, dtype=object))
    return st.fixed_dictionaries(tables)


def _cells(frame: pd.DataFrame) -> dict[str, list[object]]:
    return {c: frame[c].to_numpy(dtype=object, na_value=None).tolist() for c in frame.columns}


def _same_result(a, b) -> None:  # noqa: ANN001
    assert a.tables.keys() == b.tables.keys()
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
        pd.testing.assert_frame_equal(a.quarantine[name], b.quarantine[name])
    pd.testing.assert_frame_equal(a.report, b.report)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["", " 2", "2 ", "NA", "a", "A"])),
                min_size=2, max_size=40))
def test_compacting_keeps_every_cell_exactly(values: list[str | None]) -> None:
    plain = pd.DataFrame({"item_1": pd.array(values, dtype="str")})
    compact = compact_text_columns(plain.copy(), max_share=1.0)
    assert isinstance(compact["item_1"].dtype, pd.CategoricalDtype)
    assert _cells(compact) == _cells(plain)


def test_only_repetitive_columns_are_encoded() -> None:
    n = 100
    frame = pd.DataFrame({
        "participant_id": pd.array([f"M{i}" for i in range(n)], dtype="str"),
        "status": pd.array(["attended", "did_not_attend"] * (n // 2), dtype="str"),
        "source_file": pd.array(["a.csv"] * n, dtype="str"),
    })
    compact_text_columns(frame)
    assert str(frame["participant_id"].dtype) == "str"
    assert isinstance(frame["status"].dtype, pd.CategoricalDtype)
    assert str(frame["source_file"].dtype) == "str"  # provenance is left as it is


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload())
def test_validation_is_the_same_on_compact_frames(raw: dict[str, pd.DataFrame]) -> None:
    plain = {t: f.astype("str") for t, f in raw.items()}
    compact = {t: compact_text_columns(f.copy(), max_share=1.0) for t, f in plain.items()}
    _same_result(validate(plain, today=TODAY), validate(compact, today=TODAY))


def _messy_files(folder: Path) -> Path:
    from evalkit.generator import generate_programmes

    generate_programmes(150, seed=11).write(folder)
    contacts = pd.read_csv(folder / "contacts.csv", dtype=str, keep_default_na=False)
    contacts.loc[::7, "status"] = " Attended "  # label, blanks: cleaned on the categories
    contacts.loc[3::11, "duration_minutes"] = "NA"
    contacts.loc[5, "duration_minutes"] = "ninety"
    contacts.loc[8, "kind"] = "zoom"
    contacts.loc[9::13, "contact_date"] = "31/02/2025"
    contacts.to_csv(folder / "contacts.csv", index=False)
    measures = pd.read_csv(folder / "measures.csv", dtype=str, keep_default_na=False)
    measures.loc[::5, "item_1"] = " 2"
    measures.loc[4, "item_2"] = "two"
    measures.loc[6, "instrument"] = "EPDX"
    measures.to_csv(folder / "measures.csv", index=False)
    return folder


def test_read_validate_same_result_compact_or_not(tmp_path: Path) -> None:
    folder = _messy_files(tmp_path / "gen")
    paths = sorted(folder.glob("*.csv"))
    compact = read_files(paths)
    plain = read_files(paths, compact=False)
    assert isinstance(compact["contacts"]["status"].dtype, pd.CategoricalDtype)
    # without compacting, only the provenance names are categoricals (as every reader gives them)
    assert all(not isinstance(t, pd.CategoricalDtype) for f in plain.values()
               for c, t in f.dtypes.items() if c not in ("source_file", "source_sheet"))
    for name in plain:
        assert _cells(compact[name]) == _cells(plain[name])
    a, b = validate(plain, today="2026-11-26"), validate(compact, today="2026-11-26")
    assert set(b.report["rule"]) >= {"enum", "type", "unknown_instrument", "item_type"}
    _same_result(a, b)
    assert all(not isinstance(t, pd.CategoricalDtype) for f in b.quarantine.values() for t in f.dtypes)


def test_two_files_of_one_table_join_with_their_own_categories(tmp_path: Path) -> None:
    header = "participant_id,programme_id,contact_date,kind,status\n"
    (tmp_path / "a.csv").write_text(header + "M1,P1,2025-01-02,group,attended\nM1,P1,2025-01-09,group,attended\n")
    (tmp_path / "b.csv").write_text(header + "M2,P1,2025-01-03,phone,cancelled\nM2,P1,2025-01-04,phone,cancelled\n")
    both = read_files([tmp_path / "a.csv", tmp_path / "b.csv"], table="contacts")["contacts"]
    assert both["status"].to_numpy(dtype=object).tolist() == ["attended", "attended", "cancelled", "cancelled"]
    assert isinstance(both["status"].dtype, pd.CategoricalDtype)
    assert both["source_file"].tolist() == ["a.csv", "a.csv", "b.csv", "b.csv"]


def test_an_identifier_repeated_down_a_column_is_still_found(tmp_path: Path) -> None:
    """A repeated value is a category, counted as often as it occurs: one email address down a column of
    peer supporters is refused exactly as in a plain frame."""
    rows = "".join(f"M{i},P1,2025-01-0{1 + i % 9},group,attended,{'jo@example.org' if i % 2 else ' S1'}\n"
                   for i in range(40))
    path = tmp_path / "contacts.csv"
    path.write_text("participant_id,programme_id,contact_date,kind,status,peer_supporter_id\n" + rows)
    compact = read_file(path)["contacts"]
    plain = read_file(path, compact=False)["contacts"]
    assert isinstance(compact["peer_supporter_id"].dtype, pd.CategoricalDtype)
    found = find_identifiers(compact, table="contacts")
    pd.testing.assert_frame_equal(found, find_identifiers(plain, table="contacts"))
    assert found[["column", "kind", "matches", "checked"]].values.tolist() == [
        ["peer_supporter_id", "email address", 20, 40]]
    with pytest.raises(IdentifierColumnsError):
        refuse_identifiers({"contacts": compact})


def test_formulas_in_categorical_text_are_made_safe() -> None:
    frame = pd.DataFrame({"note": pd.Categorical(["=HYPERLINK(1)", "ok", "ok"]),
                          "score": pd.Categorical([-1, 2, 2])})
    out = safe_frame(frame)
    assert out["note"].tolist() == ["'=HYPERLINK(1)", "ok", "ok"]
    assert out["score"].tolist() == [-1, 2, 2]  # numbers are not text: a minus sign is not a formula
    assert np.array_equal(frame["note"].astype(object).to_numpy(), ["=HYPERLINK(1)", "ok", "ok"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "b", " a", "é", "2"]), st.text(max_size=4)),
                min_size=2, max_size=40), st.lists(st.integers(0, 40), max_size=4))
def test_a_column_in_parser_blocks_is_compacted_as_if_joined(values: list[str | None], cuts: list[int]) -> None:
    """read_file hands compact_text_columns the reader's blocks unjoined: same categories, same codes."""
    import pyarrow as pa

    edges = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    blocks = pa.chunked_array([pa.array(values[a:b], type=pa.large_string()) for a, b in zip(edges, edges[1:], strict=False)],
                              type=pa.large_string())
    for share in (1.0, 0.5, 0.0):
        joined = compact_text_columns(pd.DataFrame({"item_1": pd.array(values, dtype="str")}), max_share=share)
        chunked = compact_text_columns(pd.DataFrame({"item_1": pd.array(blocks, dtype="str")}), max_share=share)
        pd.testing.assert_frame_equal(chunked, joined)
        if not isinstance(chunked["item_1"].dtype, pd.CategoricalDtype):  # left as text: one contiguous array
            text = pa.array(chunked["item_1"].array)
            assert not isinstance(text, pa.ChunkedArray) or text.num_chunks <= 1


_PARSER_ENCODED = {
    "blank_lines.csv": "participant_id,programme_id,took_up,age_band\nM1,P1,yes,35_39\n\n  ,,,\nM2,P1,Yes,25_29\n"
                       ",,,\nM3,P2,no,\nM1,P1,y,35_39\n",
    "synonyms.csv": "participant_id,programme_id,took_up,perinatal_stage\n" + "".join(
        f"M{i},P{i % 3},{['Yes', 'yes', 'Y', 'no', 'NO', ' yes '][i % 6]},{['Antenatal', 'postnatal', 'Post-natal'][i % 3]}\n"
        for i in range(40)),
    "one_row.csv": "participant_id,programme_id,took_up\nM1,P1,yes\n",
    "crlf.csv": "participant_id,programme_id,took_up\r\nM1,P1,yes\r\nM2,P1,\"a\r\nb\"\r\n\r\nM3,P1,no\r\nM4,P1,no\r\n",
    "bom.csv": "\ufeffparticipant_id;programme_id;took_up\nM1;P1;yes\nM2;P1;yes\nM1;P1;no\n",
    "unknown_column.csv": "participant_id,programme_id,notes,,took_up\nM1,P1,x,,yes\nM2,P1,y,z,yes\nM3,P2,x,,no\n",
}


@pytest.mark.parametrize("name", sorted(_PARSER_ENCODED))
def test_columns_encoded_by_the_parser_are_those_compacting_gives(tmp_path: Path, name: str) -> None:
    """read_file lets Arrow's CSV parser dictionary-encode the columns: same frame as the plain text compacted."""
    path = tmp_path / name
    path.write_text(_PARSER_ENCODED[name], encoding="utf-8", newline="")
    compact = read_file(path, table="participants")
    plain = read_file(path, table="participants", compact=False)
    expected = compact_text_columns(plain["participants"].copy())
    pd.testing.assert_frame_equal(compact["participants"], expected)
    assert compact["participants"].attrs == plain["participants"].attrs
    for column in expected.columns:
        if isinstance(expected[column].dtype, pd.CategoricalDtype):
            assert compact["participants"][column].cat.categories.tolist() == expected[column].cat.categories.tolist()
