"""Privacy at the door: keyed pseudonyms, the secret never stored, direct identifiers refused."""

from __future__ import annotations

import hmac
import os
import stat

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import TEST_SECRET, example_frames, result_of

from evalkit.access import Scope
from evalkit.errors import EvalkitError, StoreError
from evalkit.ingest import ingest
from evalkit.pseudonymise import (
    IdentifierColumnsError,
    find_identifiers,
    is_valid_nhs_number,
    load_secret,
    pseudonymise_ids,
)
from evalkit.store import _tables as T
from evalkit.store import list_uploads, load_tables, open_store

KEY = TEST_SECRET.encode()


def test_pseudonym_is_keyed_hmac_sha256() -> None:
    ids = pd.Series(["M0001", " M0001 ", None, "M0002"], dtype="string")
    out = pseudonymise_ids(ids, secret=KEY, namespace="North")
    expected = "p_" + hmac.new(KEY, b"North\x1fM0001", "sha256").hexdigest()[:16]
    assert out.iloc[0] == out.iloc[1] == expected
    assert pd.isna(out.iloc[2]) and out.iloc[3] != expected
    assert str(out.dtype) == "string" and out.index.equals(ids.index)
    # stable across calls, different per provider and per secret, idempotent
    assert out.equals(pseudonymise_ids(ids, secret=KEY, namespace="North"))
    assert pseudonymise_ids(ids, secret=KEY, namespace="South").iloc[0] != expected
    assert pseudonymise_ids(ids, secret=b"another-secret-of-32-bytes-xxxxx", namespace="North").iloc[0] != expected
    assert pseudonymise_ids(out, secret=KEY, namespace="North").equals(out)


def test_reuploads_match_and_neither_secret_nor_raw_ids_are_stored(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "e.sqlite"
    frames = example_frames("North")
    with open_store(path) as store:
        ingest(result_of(frames), store, provider="North", file_name="a.xlsx", sha256="0" * 64)
        again = ingest(result_of(example_frames("North")), store, provider="North", file_name="b.xlsx",
                       sha256="0" * 64)
        assert again.total_unchanged == again.total_accepted == 107
        stored = load_tables(store, Scope.admin())
        assert stored["participants"]["participant_id"].str.fullmatch(r"p_[0-9a-f]{16}").all()
        assert stored["contacts"]["peer_supporter_id"].str.fullmatch(r"p_[0-9a-f]{16}").all()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("e.sqlite"))
    assert TEST_SECRET.encode() not in data
    assert TEST_SECRET.encode().hex().encode() not in data
    for raw_id in frames["participants"]["participant_id"].iloc[:10]:
        assert raw_id.encode() not in data, raw_id
    assert b"V01" not in data and b"V02" not in data  # peer supporter ids


def test_secret_not_in_postgresql(pg_url: str) -> None:
    with open_store(pg_url) as store:
        ingest(result_of(example_frames("North")), store, provider="North", file_name="a.xlsx", sha256="0" * 64)
        with store.engine.connect() as conn:
            text = " ".join(
                str(row) for t in T.metadata.sorted_tables for row in conn.execute(sa.select(t)).fetchall()
            )
    assert TEST_SECRET not in text and "N0001" not in text and len(text) > 10_000


def test_a_different_secret_is_refused(store, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    ingest(result_of(example_frames("North")), store, provider="North", file_name="a", sha256="0")
    monkeypatch.setenv("EVALKIT_SECRET", "a-completely-different-secret")
    with pytest.raises(StoreError, match="different pseudonymisation secret"):
        ingest(result_of(example_frames("North")), store, provider="North", file_name="b", sha256="0")
    assert len(list_uploads(store)) == 1


def test_secret_sources(monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    assert load_secret() == TEST_SECRET.encode()
    monkeypatch.setenv("EVALKIT_SECRET", "short")
    with pytest.raises(EvalkitError, match="too short"):
        load_secret()
    monkeypatch.delenv("EVALKIT_SECRET")
    # the per-user default is created on first use, 0600, with a note
    first = load_secret()  # XDG_CONFIG_HOME points into a temp folder (conftest)
    note = capsys.readouterr().err
    assert "created a new pseudonymisation key" in note and "never stored in the database" in note
    path = os.path.join(os.environ["XDG_CONFIG_HOME"], "evalkit", "secret.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(first) == 64
    assert load_secret() == first and capsys.readouterr().err == ""
    # an explicit key file wins over the default
    explicit = tmp_path / "k.key"
    explicit.write_text("0123456789abcdef0123456789abcdef\n")
    explicit.chmod(0o600)
    monkeypatch.setenv("EVALKIT_SECRET_FILE", str(explicit))
    assert load_secret() == b"0123456789abcdef0123456789abcdef"
    with pytest.raises(EvalkitError, match="no pseudonymisation secret"):
        monkeypatch.setenv("EVALKIT_SECRET_FILE", str(tmp_path / "nope.key"))
        load_secret(create=False)


def test_nhs_number_check_digit() -> None:
    values = pd.Series(["943 476 5919", "9434765919", "9434765918", "0000000000", "12345", None, "401-023-2137"])
    assert is_valid_nhs_number(values).tolist() == [True, True, False, False, False, False, True]


def test_identifier_columns_found_by_name_and_by_value() -> None:
    raw = pd.DataFrame({
        "participant_id": ["M1", "M2", "M3"],
        "programme_id": ["P", "P", "P"],
        "Mother's Name": ["a", "b", "c"],
        "D.O.B.": ["", "", ""],
        "notes": ["call back", "jo@example.org", ""],
        "contact": ["07700 900123", "0161 496 0000", "+44 7700 900456"],
        "ref": ["943 476 5919", "401 023 2137", "x"],
        "area": ["M1 1AE", "", ""],
        "region": ["North West", "Leeds", "LS1"],
    }, dtype="string")
    found = find_identifiers(raw, table="participants")
    kinds = {(r.column, r.kind) for r in found.itertuples()}
    assert kinds == {("Mother's Name", "name"), ("D.O.B.", "date of birth"), ("notes", "email address"),
                     ("contact", "phone number"), ("ref", "NHS number"), ("area", "postcode")}
    # canonical columns are not flagged by name (programmes.name is the programme's name)
    progs = pd.DataFrame({"programme_id": ["P"], "name": ["Bumps and Babes"], "provider": ["X"]})
    assert find_identifiers(progs, table="programmes").empty
    # random 10-digit ids pass the NHS check one time in eleven: not flagged unless most do
    ids = pd.Series([f"{i:010d}" for i in range(1_000_000_000, 1_000_000_000 + 33 * 97, 97)])
    assert find_identifiers(pd.DataFrame({"participant_id": ids}), table="participants").empty


@pytest.mark.parametrize("where", ["valid", "quarantine"])
def test_identifier_columns_refuse_the_upload(store, where: str) -> None:  # noqa: ANN001
    frames = example_frames("North")
    quarantine = {}
    if where == "valid":
        frames["participants"]["main_language"] = frames["participants"]["main_language"].astype(object)
        frames["participants"].loc[3, "main_language"] = "mum@example.com"
        frames["participants"]["main_language"] = frames["participants"]["main_language"].astype("string")
    else:
        quarantine = {"participants": pd.DataFrame({"participant_id": ["M9"], "programme_id": ["P-N1"],
                                                    "postcode": ["SW1A 1AA"], "reasons": ["bad"]}, dtype="string")}
    with pytest.raises(IdentifierColumnsError) as err:
        ingest(result_of(frames, quarantine), store, provider="North", file_name="a", sha256="0")
    msg = str(err.value)
    assert ("participants.main_language" in msg) if where == "valid" else ("participants.postcode" in msg)
    assert "never stores" in msg
    assert len(list_uploads(store)) == 0
    assert all(len(f) == 0 for f in load_tables(store, Scope.admin()).values())


def _value_kinds_cell_by_cell(col: pd.Series) -> dict[str, int]:
    """The identifier counts as they were computed before the pre-filter: every pattern over every cell."""
    from evalkit.pseudonymise import _EMAIL, _PHONE, _PHONE_WRITTEN, _POSTCODE, _POSTCODE_SPACED, _fullmatch

    text = col.dropna().astype("string[pyarrow]").str.strip()
    text = text[(text != "").to_numpy(dtype=bool)]
    if text.empty:
        return {}
    return {
        "email address": int(_fullmatch(text, _EMAIL).sum()),
        "postcode": int(_fullmatch(text, _POSTCODE).sum()),
        "_postcode_spaced": int(_fullmatch(text, _POSTCODE_SPACED).sum()),
        "phone number": int(_fullmatch(text, _PHONE).sum()),
        "_phone_written": int(_fullmatch(text, _PHONE_WRITTEN).sum()),
        "NHS number": int(is_valid_nhs_number(text).sum()),
        "_n": len(text),
    }


def test_identifier_prefilter_gives_the_same_counts() -> None:
    """Only distinct values matching the union of the patterns reach the patterns one by one: the counts
    equal those of every pattern over every cell (random strings from the patterns' alphabets, every
    whitespace character, near misses, and an upload's real columns)."""
    import numpy as np

    from evalkit.pseudonymise import _WS_CODES, _value_kinds, pseudonymise_ids

    rng = np.random.default_rng(8)
    alphabet = list("0123456789AaBbGgIiRrZz@._-+()%'/xX#é٣") + [chr(c) for c in _WS_CODES]
    random = ["".join(rng.choice(alphabet, size=rng.integers(0, 16))) for _ in range(60_000)]
    near = ["SW1A 1AA", " sw1a1aa ", "GIR 0AA", "GIR0AA", "M1 1AE", "M1\u00a01AE", "07700 900123", "07700900123",
            "+44 (0)7700 900123", "+447700900123", "0161-496-0000", "943 476 5919", "943-476-5919", "9434765919",
            "9434765918", "0000000000", "jo@example.org", "a@b.co", "@", "x@y", "p_0123456789abcdef",
            "2024-01-05", "05/01/2024", "12.5", "3", "", "   ", None, "M0001", "٣٣٣ ٣٣٣ ٣٣٣٣", "07700 900123\n"]
    seeds = [v for v in near if v]
    mutated = []
    for _ in range(30_000):  # one character of a (near) identifier replaced, inserted or deleted
        v = seeds[rng.integers(len(seeds))]
        i = int(rng.integers(len(v) + 1))
        c = str(rng.choice(alphabet))
        mutated.append([v[:i] + c + v[i + 1:], v[:i] + c + v[i:], v[:i] + v[i + 1:]][int(rng.integers(3))])
    cols = {"random": pd.Series(random + near * 50, dtype="string"), "near": pd.Series(near, dtype=object),
            "mutated": pd.Series(mutated, dtype="string"),
            "empty": pd.Series([None, "", " "], dtype="string"), "none": pd.Series([], dtype="string")}
    frames = example_frames("North", n=300)
    for name, frame in frames.items():
        for c in frame.columns:
            if pd.api.types.is_string_dtype(frame[c].dtype) or frame[c].dtype == object:
                cols[f"{name}.{c}"] = frame[c]
    cols["pseudonyms"] = pseudonymise_ids(frames["participants"]["participant_id"], secret=TEST_SECRET.encode())
    for name, col in cols.items():
        assert _value_kinds(col) == _value_kinds_cell_by_cell(col), name
    assert _value_kinds(cols["near"])["NHS number"] == 3 and _value_kinds(cols["near"])["email address"] == 2
    assert all(_value_kinds(cols["mutated"])[k] > 100 for k in ("email address", "postcode", "phone number",
                                                                  "NHS number"))


def test_a_missing_secret_is_refused_without_creating_a_new_key(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    """A database holding uploads and no secret configured: refused at once, saying the key is missing (not
    that it differs), and no new key file is written - its ids could never match the stored ones."""
    from test_ingest_cli import write_csvs

    from evalkit.cli import main
    from evalkit.ingest import check_upload
    from evalkit.pseudonymise import default_secret_path

    db = tmp_path / "e.sqlite"
    files = [str(p) for p in write_csvs(tmp_path / "north")]
    assert main(["ingest", *files, "--provider", "North", "--db", str(db)]) == 0
    monkeypatch.delenv("EVALKIT_SECRET")
    capsys.readouterr()
    assert main(["ingest", *files, "--provider", "North", "--db", str(db)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "no pseudonymisation secret" in err and "No new key was created" in err and "Traceback" not in err
    assert "checking" not in err  # refused before the rows are read against the store
    assert not default_secret_path().exists()
    with open_store(db) as store:
        with pytest.raises(StoreError, match="no pseudonymisation secret"):
            check_upload(example_frames("North"), store, "North")
        with pytest.raises(StoreError, match="no pseudonymisation secret"):
            ingest(result_of(example_frames("North")), store, provider="North", file_name="b", sha256="0")
        assert len(list_uploads(store)) == 1
    assert not default_secret_path().exists()
    # a changed key is refused by the command as clearly, before the rows are checked
    monkeypatch.setenv("EVALKIT_SECRET", "a-completely-different-secret")
    assert main(["ingest", *files, "--provider", "North", "--db", str(db)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "different pseudonymisation secret" in err and "checking" not in err
