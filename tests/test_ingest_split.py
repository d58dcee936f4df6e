"""evalkit.ingest.split_raw_by_provider and check_upload: the steps before storing, shared by CLI and dashboard."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_SECRET, example_frames
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.ingest as ingest_mod
from evalkit.access import Scope
from evalkit.ingest import ProviderConflict, check_upload, ingest, split_raw_by_provider
from evalkit.pseudonymise import PSEUDONYM_PATTERN, IdentifierColumnsError
from evalkit.readers import read_files
from evalkit.store import data_version, list_uploads, load_tables

SECRET = TEST_SECRET.encode()


def _raw() -> dict[str, pd.DataFrame]:
    """Two providers' programmes in one upload, cells as text (as the readers give them)."""
    progs = pd.DataFrame({"programme_id": ["N1", "S1", " N2 "], "provider": ["North", "South ", "North"],
                          "name": ["a", "b", "c"]})
    parts = pd.DataFrame({"participant_id": ["n1", "s1", "s2", "x1", "n2"],
                          "programme_id": ["N1", "S1", "S1", "UNKNOWN", "N2"]})
    contacts = pd.DataFrame({"participant_id": ["s1", "n1"], "programme_id": [" S1", None]})
    for f in (progs, parts, contacts):
        f.attrs["note"] = "from the reader"
    return {"programmes": progs, "participants": parts, "contacts": contacts}


def _csvs(folder: Path, provider: str, *, prefix: str | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table, frame in example_frames(provider, n=6, prefix=prefix).items():
        out = frame.drop(columns=["source_file", "source_sheet", "source_row"])
        for c in out.columns:
            if out[c].dtype.kind == "M":
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        path = folder / f"{table}.csv"
        out.to_csv(path, index=False)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- split_raw_by_provider


def test_split_by_the_uploads_own_programmes() -> None:
    parts = split_raw_by_provider(_raw())
    assert list(parts) == ["North", "South"]  # sorted; blanks around providers removed
    north, south = parts["North"], parts["South"]
    assert list(north["programmes"]["programme_id"]) == ["N1", " N2 "]  # cells are passed on as they were
    assert list(south["participants"]["participant_id"]) == ["s1", "s2"]
    assert list(south["contacts"]["participant_id"]) == ["s1"]  # ' S1' matched with blanks removed
    # rows whose programme is unknown or missing go to the provider with most rows, for validation to report
    assert list(north["participants"]["participant_id"]) == ["n1", "x1", "n2"]
    assert list(north["contacts"]["participant_id"]) == ["n1"]
    for frames in parts.values():
        for f in frames.values():
            assert f.attrs["note"] == "from the reader"  # readers' notes (row numbers, date formats) kept
            assert list(f.index) == list(range(len(f)))


def test_every_row_goes_to_exactly_one_provider() -> None:
    raw = _raw()
    parts = split_raw_by_provider(raw)
    for table, frame in raw.items():
        got = pd.concat([p[table] for p in parts.values() if table in p], ignore_index=True)
        assert sorted(map(str, got.itertuples(index=False))) == sorted(map(str, frame.itertuples(index=False)))


def test_split_uses_stored_programmes_and_an_explicit_fallback() -> None:
    raw = {"participants": pd.DataFrame({"participant_id": ["a", "b", "c"], "programme_id": ["S1", "N1", "Z9"]})}
    stored = pd.DataFrame({"programme_id": pd.array(["S1", "N1"], dtype="string"),
                           "provider": pd.array(["South", "North"], dtype="string")})
    parts = split_raw_by_provider(raw, stored_programmes=stored, fallback="South")
    assert list(parts["South"]["participants"]["participant_id"]) == ["a", "c"]
    assert list(parts["North"]["participants"]["participant_id"]) == ["b"]
    # the upload's own programmes table wins over the stored one
    raw["programmes"] = pd.DataFrame({"programme_id": ["N1"], "provider": ["South"]})
    parts = split_raw_by_provider(raw, stored_programmes=stored)
    assert list(parts) == ["South"]


def test_split_without_any_provider_is_empty_unless_a_fallback_is_given() -> None:
    raw = {"participants": pd.DataFrame({"participant_id": ["a"], "programme_id": ["P1"]})}
    assert split_raw_by_provider(raw) == {}
    parts = split_raw_by_provider(raw, fallback="North")
    assert list(parts) == ["North"] and len(parts["North"]["participants"]) == 1


# ----------------------------------------------------------------------------- check_upload


def test_check_upload_pseudonymises_and_validates_without_storing(store, tmp_path: Path) -> None:  # noqa: ANN001
    raw = read_files(_csvs(tmp_path / "north", "North"))
    before = data_version(store)
    result = check_upload(raw, store, "North", secret=SECRET)
    assert data_version(store) == before and list_uploads(store).empty  # nothing stored
    assert result.n_errors == 0, result.report
    pids = result.tables["participants"]["participant_id"].astype(str)
    assert pids.str.fullmatch(PSEUDONYM_PATTERN).all()
    assert not set(pids) & set(raw["participants"]["participant_id"].astype(str))
    assert raw["participants"]["participant_id"].astype(str).str.fullmatch(PSEUDONYM_PATTERN).sum() == 0  # input untouched
    # what it returns is what ingest stores
    summary = ingest(result, store, provider="North", file_name="north", sha256="0" * 64, secret=SECRET)
    assert summary.total_accepted == sum(len(f) for f in raw.values())


def test_check_upload_links_to_rows_stored_earlier(store, tmp_path: Path) -> None:  # noqa: ANN001
    """Only the contacts are sent the second time: their participants and programmes are found among the stored rows."""
    paths = _csvs(tmp_path / "north", "North")
    raw = read_files(paths)
    ingest(check_upload(raw, store, "North", secret=SECRET), store, provider="North", file_name="first",
           sha256="1" * 64, secret=SECRET)
    again = read_files([p for p in paths if p.stem == "contacts"])
    result = check_upload(again, store, "North", secret=SECRET)
    assert result.n_errors == 0, result.report[["rule", "message"]].to_string()
    assert "already_stored" in set(result.report["rule"])  # recognised by pseudonym
    # checked as another provider (one with no stored programme), the same rows are refused: they could not
    # link to North's programmes, and every row would be quarantined as unknown
    with pytest.raises(ProviderConflict, match="no programme is stored for provider 'South'") as named:
        check_upload(again, store, "South", secret=SECRET)
    assert "'North'" in str(named.value)  # the command line and an administrator see every provider
    # a provider's own user is not told other organisations' names
    with pytest.raises(ProviderConflict, match="no programme is stored for provider 'South'") as unnamed:
        check_upload(again, store, "South", secret=SECRET, name_other_providers=False)
    assert "North" not in str(unnamed.value) and "Nothing was stored" in str(unnamed.value)


def test_check_upload_keeps_file_row_numbers_after_a_split(store, tmp_path: Path) -> None:  # noqa: ANN001
    north = read_files(_csvs(tmp_path / "north", "North"))
    south = read_files(_csvs(tmp_path / "south", "South", prefix="S"))
    # one participants table holding both providers' rows, with a bad date in a South row
    both = pd.concat([north["participants"], south["participants"]], ignore_index=True)
    both.attrs = dict(north["participants"].attrs)
    row = len(north["participants"]) + 1  # the second South row
    both.loc[row, "referral_date"] = "2025-02-30"
    raw = {"programmes": pd.concat([north["programmes"], south["programmes"]], ignore_index=True),
           "participants": both}
    parts = split_raw_by_provider(raw)
    result = check_upload(parts["South"], store, "South", secret=SECRET)
    bad = result.report[result.report["severity"] == "error"]
    assert list(bad["column"]) == ["referral_date"]
    assert int(bad["source_row"].iloc[0]) == int(both.loc[row, "source_row"])


def test_check_upload_refuses_identifiers(store) -> None:  # noqa: ANN001
    raw = {"participants": pd.DataFrame({"participant_id": ["a"], "programme_id": ["P1"],
                                         "Email address": ["someone@example.org"]})}
    with pytest.raises(IdentifierColumnsError, match="Email address"):
        check_upload(raw, store, "North", secret=SECRET)
    with pytest.raises(ValueError, match="provider"):
        check_upload({"participants": raw["participants"].drop(columns="Email address")}, store, "  ",
                     secret=SECRET)


def test_check_upload_sees_only_its_providers_stored_rows(store, tmp_path: Path) -> None:  # noqa: ANN001
    raw = read_files(_csvs(tmp_path / "north", "North"))
    ingest(check_upload(raw, store, "North", secret=SECRET), store, provider="North", file_name="n",
           sha256="2" * 64, secret=SECRET)
    assert len(load_tables(store, Scope.admin())["participants"]) > 0
    result = check_upload(read_files(_csvs(tmp_path / "south", "South", prefix="S")), store, "South", secret=SECRET)
    assert result.n_errors == 0 and "already_stored" not in set(result.report["rule"])


# ----------------------------------------------------------------------------- one function, two callers


def test_cli_ingest_and_the_dashboard_use_the_library_functions(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from evalkit.cli import cmd_dashboard, main

    assert cmd_dashboard.check_upload is check_upload  # moved; still importable from the old place
    assert cmd_dashboard.split_raw_by_provider is split_raw_by_provider
    calls = []
    real = ingest_mod.check_upload

    def spy(raw, store, provider, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append(provider)
        return real(raw, store, provider, **kw)

    monkeypatch.setattr(ingest_mod, "check_upload", spy)
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    code = main(["ingest", *map(str, _csvs(tmp_path / "north", "North")), "--provider", "North", "--db", db])
    capsys.readouterr()
    assert code == 0 and calls == ["North"]

    from dashboards import data

    ctx = data.Context(url=f"sqlite:///{tmp_path / 'dash.sqlite'}", scope=Scope.admin())
    files = [(p.name, p.read_bytes()) for p in _csvs(tmp_path / "south", "South", prefix="S")]
    checked = data.check_upload(ctx, files, provider=None)
    assert calls == ["North", "South"] and list(checked.parts) == ["South"]


# ----------------------------------------------------------------------------- stored rows a re-upload needs


def test_stored_rows_for_upload_validate_exactly_as_every_stored_row(store, tmp_path: Path) -> None:  # noqa: ANN001
    """Validation against only the stored rows (and columns) an upload touches gives the same report, valid rows
    and quarantine as against all of the provider's stored rows: already stored keys, links to stored parents,
    a stored participant's programme and dates, stored attendance of re-sent group sessions."""
    from evalkit.generator import generate_programmes
    from evalkit.ingest import VALIDATION_COLUMNS, stored_rows_for_upload
    from evalkit.pseudonymise import pseudonymise_frame
    from evalkit.validation import validate

    generate_programmes(300, seed=3).write(tmp_path / "gen")
    raw = read_files(sorted((tmp_path / "gen").glob("*.csv")), compact=False)  # plain text: cells edited below
    raw["programmes"]["provider"] = "North"
    parts = raw["participants"]["participant_id"]
    first = set(parts.iloc[:200])
    upload1 = {
        "programmes": raw["programmes"],
        "participants": raw["participants"].iloc[:200],
        "group_sessions": raw["group_sessions"].iloc[: len(raw["group_sessions"]) // 2],
        "contacts": raw["contacts"][raw["contacts"]["participant_id"].isin(first)],
        "measures": raw["measures"][raw["measures"]["participant_id"].isin(first)],
    }
    ingest(check_upload(upload1, store, "North", secret=SECRET), store, provider="North", file_name="1",
           sha256="0", secret=SECRET)
    ingest(check_upload(split_raw_by_provider({t: f.assign(programme_id="P-S") for t, f in upload1.items()
                                               if t != "programmes"} | {"programmes": pd.DataFrame(
                                                   {"programme_id": ["P-S"], "provider": ["South"]})})["South"],
                        store, "South", secret=SECRET), store, provider="South", file_name="s", sha256="0",
           secret=SECRET)  # the same ids at another provider: never part of North's checks

    later = set(parts.iloc[100:])
    upload2 = {
        "participants": raw["participants"].iloc[150:].copy(),
        "group_sessions": raw["group_sessions"].assign(head_count="1"),
        "contacts": raw["contacts"][raw["contacts"]["participant_id"].isin(later)].copy(),
        "measures": pd.concat([raw["measures"].iloc[:3], raw["measures"][raw["measures"]["participant_id"].isin(
            later)]], ignore_index=True),
    }
    p2 = upload2["participants"]
    p2.loc[p2.index[0], "participant_id"] = f"  {p2['participant_id'].iloc[0]} "  # blanks around a stored id
    p2.loc[p2.index[1], "programme_id"] = "P-PAID" if p2["programme_id"].iloc[1] != "P-PAID" else "P-HOME"
    p2.loc[p2.index[2], "referral_date"] = "not a date"  # set aside: its contacts follow
    p2.loc[p2.index[60], "end_date"] = "2001-01-01"
    c2 = upload2["contacts"]
    c2.loc[c2.index[0], "participant_id"] = "nobody"
    c2.loc[c2.index[1], "group_session_id"] = "no such session"
    for frame in upload2.values():
        frame.attrs = {}
    pseudo = {t: pseudonymise_frame(f, secret=SECRET, namespace="North") for t, f in upload2.items()}

    everything = load_tables(store, Scope.for_provider("North"))
    touched = stored_rows_for_upload(store, pseudo, "North")
    assert list(touched) == list(everything)
    for t, frame in touched.items():
        assert list(frame.columns) == list(VALIDATION_COLUMNS[t])
        assert 0 < len(frame) <= len(everything[t])
    assert len(touched["participants"]) < len(everything["participants"])

    full = validate(pseudo, existing=everything, today="2030-01-01")
    fast = validate(pseudo, existing=touched, today="2030-01-01")
    pd.testing.assert_frame_equal(fast.report, full.report)
    for name in full.tables:
        pd.testing.assert_frame_equal(fast.tables[name], full.tables[name])
        pd.testing.assert_frame_equal(fast.quarantine[name], full.quarantine[name])
    rules = set(full.report["rule"])
    assert {"already_stored", "foreign_key", "participant_in_two_programmes", "head_count_below_named"} <= rules


def _split_one_row_at_a_time(raw: dict[str, pd.DataFrame]) -> dict[str, dict[str, list[int]]]:
    """The rule written out per row (the definition the vectorised split must equal): row positions per provider."""
    owners = {}
    progs = raw.get("programmes")
    if progs is not None:
        for pid, prov in zip(progs["programme_id"], progs["provider"], strict=True):
            if pid is not None and prov is not None:  # the last row of a programme wins
                owners[pid.strip()] = prov.strip()
    who = {}
    for name, frame in raw.items():
        col = "provider" if name == "programmes" else "programme_id"
        vals = frame[col].tolist()
        if name == "programmes":
            who[name] = [v.strip() if isinstance(v, str) and v.strip() else None for v in vals]
        else:
            who[name] = [owners.get(v.strip()) if isinstance(v, str) else None for v in vals]
    counts: dict[str, int] = {}
    for w in who.values():
        for p in w:
            if p is not None:
                counts[p] = counts.get(p, 0) + 1
    fallback = max(sorted(counts), key=lambda p: counts[p]) if counts else None
    out: dict[str, dict[str, list[int]]] = {}
    for provider in sorted(set(counts) | ({fallback} if fallback else set())):
        part = {name: [i for i, p in enumerate(w) if p == provider or (p is None and provider == fallback)]
                for name, w in who.items()}
        out[provider] = {k: v for k, v in part.items() if v}
    return out


@settings(deadline=None)
@given(st.data())
def test_split_equals_the_rule_applied_row_by_row(data) -> None:  # noqa: ANN001
    cell = st.one_of(st.none(), st.sampled_from(["P1", " P1 ", "P2", "P3", "", "  ", "p1", "P1\t"]))
    prov = st.one_of(st.none(), st.sampled_from(["North", " North", "South ", "", " ", "Ñorth"]))
    n_p, n_m = data.draw(st.integers(0, 6)), data.draw(st.integers(0, 12))
    raw = {"programmes": pd.DataFrame({"programme_id": data.draw(st.lists(cell, min_size=n_p, max_size=n_p)),
                                       "provider": data.draw(st.lists(prov, min_size=n_p, max_size=n_p))},
                                      dtype=object),
           "participants": pd.DataFrame({"programme_id": data.draw(st.lists(cell, min_size=n_m, max_size=n_m)),
                                         "participant_id": [f"m{i}" for i in range(n_m)]}, dtype=object)}
    got = split_raw_by_provider(raw)
    expected = _split_one_row_at_a_time(raw)
    assert sorted(got) == sorted(expected)
    for provider, tables in expected.items():
        assert sorted(got[provider]) == sorted(tables)
        for name, rows in tables.items():
            assert got[provider][name].equals(raw[name].iloc[rows].reset_index(drop=True)), (provider, name)
