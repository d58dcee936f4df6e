"""Structure of the generated data: schema conformance, integrity, determinism, CLI.

The schema checker below reads the Table Schemas directly (the real validator
lives elsewhere); it checks the *written* CSV text, as a provider upload would
be checked.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import __version__
from evalkit.cli import main as cli_main
from evalkit.generator import (
    QUANTITIES,
    TRUE_EFFECT_COLUMNS,
    ExampleData,
    generate_programmes,
    write_examples,
)
from evalkit.instruments import get_instrument
from evalkit.schemas import TABLE_NAMES, FieldSpec, table_schema

N_SMALL = 5000
SEED = 11
INSTRUMENTS = {
    "P-GROUP": {"epds", "wemwbs", "qpr15"},
    "P-PHONE": {"epds", "phq9", "gad7", "swemwbs"},
    "P-HOME": {"epds", "swemwbs", "qpr15"},
    "P-PAID": {"epds", "wemwbs"},
}
ITEMS = [f"item_{k}" for k in range(1, 21)]


@pytest.fixture(scope="module")
def data() -> ExampleData:
    return generate_programmes(N_SMALL, seed=SEED, n_programmes=5, outlier_programme=True)


@pytest.fixture(scope="module")
def written(data: ExampleData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("examples")
    write_examples(data, out)
    return out


def _text(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------- schema checker
def _field_problems(spec: FieldSpec, values: pd.Series) -> list[str]:
    """Problems of one text column against its field spec (blank = missing)."""
    problems: list[str] = []
    blank = values == ""
    if spec.required and blank.any():
        problems.append(f"{spec.name}: {int(blank.sum())} blank but required")
    v = values[~blank]
    if v.empty:
        return problems
    if spec.type == "integer":
        bad = ~v.str.fullmatch(r"-?\d+")
        numbers = pd.to_numeric(v.where(~bad), errors="coerce")
    elif spec.type == "number":
        numbers = pd.to_numeric(v, errors="coerce")
        bad = numbers.isna()
    elif spec.type == "date":
        parsed = pd.to_datetime(v, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() | ~v.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
        numbers = None
    elif spec.type == "boolean":
        bad = ~v.isin(set(spec.true_values) | set(spec.false_values))
        numbers = None
    else:
        bad = pd.Series(False, index=v.index)
        numbers = None
    if bad.any():
        problems.append(f"{spec.name}: {int(bad.sum())} values not {spec.type}, e.g. {v[bad].iloc[0]!r}")
    if numbers is not None:
        if spec.minimum is not None and (numbers < spec.minimum).any():
            problems.append(f"{spec.name}: below minimum {spec.minimum}")
        if spec.maximum is not None and (numbers > spec.maximum).any():
            problems.append(f"{spec.name}: above maximum {spec.maximum}")
    if spec.codes is not None:
        unknown = sorted(set(v) - set(spec.codes))
        if unknown:
            problems.append(f"{spec.name}: codes not in the schema {unknown[:5]}")
    if spec.pattern is not None:
        mismatch = ~v.str.fullmatch(spec.pattern)
        if mismatch.any():
            problems.append(f"{spec.name}: {int(mismatch.sum())} values do not match {spec.pattern}")
    if spec.unique and v.duplicated().any():
        problems.append(f"{spec.name}: duplicates")
    return problems


def schema_problems(table: str, text: pd.DataFrame) -> list[str]:
    """Every problem of a text table against its Table Schema: columns, types, codes, ranges, keys."""
    schema = table_schema(table)
    if list(text.columns) != schema.field_names:
        return [f"columns {list(text.columns)} != schema {schema.field_names}"]
    problems = [p for f in schema.fields for p in _field_problems(f, text[f.name])]
    if text.duplicated(list(schema.primary_key)).any():
        problems.append(f"primary key {schema.primary_key} not unique")
    return problems


# --------------------------------------------------------------------------- tests
def test_tables_follow_schema_order_and_canonical_dtypes(data: ExampleData) -> None:
    expected = {"string": "string", "integer": "Int64", "number": "float64", "date": "datetime64[ns]",
                "boolean": "boolean"}
    assert list(data.tables) == list(TABLE_NAMES)
    for name, frame in data.tables.items():
        schema = table_schema(name)
        assert list(frame.columns) == schema.field_names, name
        for f in schema.fields:
            assert str(frame[f.name].dtype) == expected[f.type], (name, f.name, frame[f.name].dtype)


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_written_files_validate_against_the_table_schemas(written: Path, table: str) -> None:
    assert schema_problems(table, _text(written, table)) == []


def test_schema_checker_catches_problems(written: Path) -> None:
    bad = _text(written, "participants").head(5).copy()
    bad.loc[0, "referral_source"] = "neighbour"
    bad.loc[1, "deprivation_decile"] = "11"
    bad.loc[2, "took_up"] = "maybe"
    bad.loc[3, "referral_date"] = "04/03/2025"
    found = " | ".join(schema_problems("participants", bad))
    for fragment in ("referral_source", "deprivation_decile", "took_up", "referral_date"):
        assert fragment in found


def test_referential_integrity(data: ExampleData) -> None:
    participants = set(data.participants["participant_id"])
    assert set(data.participants["programme_id"]) <= set(data.programmes["programme_id"])
    assert set(data.contacts["participant_id"]) <= participants
    assert set(data.measures["participant_id"]) <= participants
    assert set(data.group_sessions["programme_id"]) <= set(data.programmes["programme_id"])
    sessions = data.group_sessions.set_index("group_session_id")
    used = data.contacts.dropna(subset=["group_session_id"])
    assert set(used["group_session_id"]) <= set(sessions.index)
    # a contact's session belongs to its programme and meets on its date
    assert (sessions.loc[used["group_session_id"], "programme_id"].to_numpy() == used["programme_id"].to_numpy()).all()
    assert (sessions.loc[used["group_session_id"], "session_date"].to_numpy() == used["contact_date"].to_numpy()).all()
    # a contact's and a measure's programme is the participant's programme
    prog = data.participants.set_index("participant_id")["programme_id"]
    assert (data.contacts["participant_id"].map(prog) == data.contacts["programme_id"]).all()
    assert (data.measures["participant_id"].map(prog) == data.measures["programme_id"]).all()


def test_natural_keys_are_unique(data: ExampleData) -> None:
    assert not data.contacts.duplicated(["participant_id", "contact_date", "kind"]).any()
    assert not data.measures.duplicated(["participant_id", "instrument", "completed_on"]).any()
    assert data.participants["participant_id"].is_unique
    assert data.group_sessions["group_session_id"].is_unique


def test_group_contacts_and_only_group_contacts_have_sessions(data: ExampleData) -> None:
    group = data.contacts["kind"] == "group_session"
    assert data.contacts.loc[group, "group_session_id"].notna().all()
    assert data.contacts.loc[~group, "group_session_id"].isna().all()


def test_head_count_is_at_least_the_named_attendees_and_sometimes_larger(data: ExampleData) -> None:
    attended = data.contacts[(data.contacts["status"] == "attended") & data.contacts["group_session_id"].notna()]
    named = attended.groupby("group_session_id").size()
    sessions = data.group_sessions.set_index("group_session_id")
    named = named.reindex(sessions.index, fill_value=0)
    assert (sessions["head_count"] >= named).all()
    assert 0.2 < (sessions["head_count"] > named).mean() < 0.9


def test_take_up_is_between_35_and_75_percent_in_every_programme(data: ExampleData) -> None:
    rate = data.participants.groupby("programme_id")["took_up"].mean()
    assert ((rate > 0.35) & (rate < 0.75)).all(), rate


def test_programmes_collect_their_instruments(data: ExampleData) -> None:
    found = {k: set(v) for k, v in data.measures.groupby("programme_id")["instrument"].unique().items()}
    for programme, instruments in INSTRUMENTS.items():
        assert found[programme] == instruments
    assert found["P-GROUP-2"] == INSTRUMENTS["P-GROUP"]
    assert found["P-OUTLIER"] == INSTRUMENTS["P-GROUP"]


def test_items_are_keyed_scores_in_range_or_blank(data: ExampleData) -> None:
    for code, rows in data.measures.groupby("instrument"):
        inst = get_instrument(code)
        used = rows[ITEMS[: inst.n_items]].to_numpy(dtype=float)
        answered = used[~np.isnan(used)]
        assert ((answered >= inst.item_min[0]) & (answered <= inst.item_max[0])).all(), code
        assert (answered == np.round(answered)).all(), code
        assert rows[ITEMS[inst.n_items:]].isna().all().all(), code
        assert rows["total"].isna().all()


def test_some_questionnaires_have_unanswered_items(data: ExampleData) -> None:
    n_items = data.measures["instrument"].map(lambda c: get_instrument(c).n_items)
    blanks = data.measures[ITEMS].isna().sum(axis=1) - (len(ITEMS) - n_items)
    assert 0.01 < (blanks == 1).mean() < 0.03
    assert 0.001 < (blanks >= 2).mean() < 0.012


def _after(later: pd.Series, earlier: pd.Series, *, strict: bool = False) -> bool:
    """Whether ``later`` is on or after (strictly after) ``earlier`` wherever both are present."""
    both = later.notna() & earlier.notna()
    ok = later[both] > earlier[both] if strict else later[both] >= earlier[both]
    return bool(ok.all())


def test_participant_paths_are_consistent(data: ExampleData) -> None:
    p = data.participants
    took = p["took_up"]
    assert p.loc[took, "decline_reason"].isna().all()
    assert p.loc[~took, "decline_reason"].notna().all()
    assert p.loc[~took, ["first_contact_date", "end_date", "ending"]].isna().all().all()
    assert _after(p["offered_date"], p["referral_date"], strict=True)
    assert p.loc[p["decline_reason"] == "could_not_contact", "offered_date"].isna().all()
    assert _after(p["first_contact_date"], p["offered_date"])
    assert _after(p["end_date"], p["first_contact_date"])
    assert (p["end_date"].isna() == p["ending"].isna()).all()
    ante = p["perinatal_stage"] == "antenatal"
    assert p.loc[ante, "weeks_pregnant"].between(12, 38).all() and p.loc[ante, "baby_age_weeks"].isna().all()
    assert p.loc[~ante, "baby_age_weeks"].between(0, 52).all() and p.loc[~ante, "weeks_pregnant"].isna().all()
    assert 0.25 < ante.mean() < 0.35
    assert p.loc[p["referral_source"] == "self", "referrer_trusted"].isna().all()
    assert (p.loc[p["interpreter"], "main_language"] != "en").all()
    assert p.loc[~took, "peer_matched"].isna().all()
    group_offer = took & (p["format_offered"] == "group")
    assert (p.loc[group_offer, "peer_matched"] == "not_applicable").all()
    assert set(p.loc[took & ~group_offer, "peer_matched"]) == {"yes", "no"}


def test_contact_dates_fit_the_participant_path(data: ExampleData) -> None:
    p = data.participants.set_index("participant_id")
    c = data.contacts
    first = c[c["status"] == "attended"].groupby("participant_id")["contact_date"].min()
    assert (first == p.loc[first.index, "first_contact_date"]).all()
    assert p.loc[p["first_contact_date"].notna()].index.isin(first.index).all()
    last = c.groupby("participant_id")["contact_date"].max()
    end = p.loc[last.index, "end_date"]
    assert (end.isna() | (end >= last)).all()
    assert (c["contact_date"] >= c["participant_id"].map(p["offered_date"])).all()
    attended = c["status"] == "attended"
    assert c.loc[attended, "duration_minutes"].notna().all() and c.loc[~attended, "duration_minutes"].isna().all()
    assert c["peer_supporter_id"].str.fullmatch(r"[VS]\d{2,}").all()
    assert (c["contact_date"].dt.day_of_week < 5).all()
    m = data.measures
    assert (m["completed_on"] >= m["participant_id"].map(p["offered_date"])).all()
    last_m = m.groupby("participant_id")["completed_on"].max()
    end_m = p.loc[last_m.index, "end_date"]
    assert (end_m.isna() | (end_m >= last_m)).all()


def test_contact_mix_is_realistic(data: ExampleData) -> None:
    c = data.contacts
    status = c["status"].value_counts(normalize=True)
    assert 0.65 < status["attended"] < 0.85
    assert {"did_not_attend", "cancelled_by_participant", "cancelled_by_programme"} <= set(status.index)
    kinds = {k: set(v) for k, v in c.groupby("programme_id")["kind"].unique().items()}
    assert kinds["P-GROUP"] == {"group_session"}
    assert "telephone" in kinds["P-PHONE"] and "one_to_one_in_person" in kinds["P-HOME"]
    assert {"group_session", "one_to_one_in_person"} <= kinds["P-PAID"]
    minutes = c.groupby("kind")["duration_minutes"].median()
    assert 90 <= minutes["group_session"] <= 120 and 30 <= minutes["telephone"] <= 60
    assert 45 <= minutes["one_to_one_in_person"] <= 75
    endings = set(data.participants["ending"].dropna())
    assert {"planned_ending", "stopped_attending", "moved_on_coping", "referred_elsewhere"} <= endings


def test_same_seed_same_frames_and_other_seed_differs() -> None:
    a = generate_programmes(600, seed=5)
    b = generate_programmes(600, seed=5)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    pd.testing.assert_frame_equal(a.true_effects, b.true_effects)
    c = generate_programmes(600, seed=6)
    assert not a.participants.equals(c.participants)
    assert not a.measures.equals(c.measures)
    pd.testing.assert_frame_equal(a.true_effects, c.true_effects)  # the truth does not depend on the seed


def test_more_programmes_cycle_the_templates_with_varied_effects() -> None:
    data = generate_programmes(300, seed=1, n_programmes=12, outlier_programme=True)
    ids = list(data.programmes["programme_id"])
    assert ids[:4] == ["P-GROUP", "P-PHONE", "P-HOME", "P-PAID"]
    assert ids[4:8] == ["P-GROUP-2", "P-PHONE-2", "P-HOME-2", "P-PAID-2"]
    assert ids[-1] == "P-OUTLIER" and len(ids) == 13
    assert data.programmes["region"].nunique() >= 8
    te = data.true_effects
    epds = te[(te["quantity"] == "latent_change_12w") & (te["instrument"] == "epds")].set_index("programme_id")["value"]
    groups = epds[["P-GROUP", "P-GROUP-2", "P-GROUP-3"]]
    assert groups.nunique() == 3 and (groups < -2).all()
    assert epds["P-OUTLIER"] > -1 and epds.drop("P-OUTLIER").max() < -2
    base = generate_programmes(50, seed=9).true_effects
    pd.testing.assert_frame_equal(base, te[te["programme_id"].isin(ids[:4])].reset_index(drop=True))


def test_true_effects_table_layout(data: ExampleData) -> None:
    te = data.true_effects
    assert tuple(te.columns) == TRUE_EFFECT_COLUMNS
    assert set(te["quantity"]) == set(QUANTITIES)
    programme_level = te["instrument"].isna()
    assert set(te.loc[programme_level, "quantity"]) == {"take_up_rate", "start_rate", "mean_dose"}
    assert te["description"].notna().all() and np.isfinite(te["value"]).all()
    for programme, instruments in INSTRUMENTS.items():
        rows = te[(te["programme_id"] == programme) & ~programme_level]
        assert set(rows["instrument"]) == instruments
    assert data.true_value("P-GROUP", "take_up_rate") == pytest.approx(0.46)
    with pytest.raises(KeyError):
        data.true_value("P-GROUP", "mean_change_12w", "phq9")


@pytest.mark.parametrize("n", [0, 1, 7])
def test_tiny_samples_still_make_valid_tables(n: int, tmp_path: Path) -> None:
    data = generate_programmes(n, seed=2)
    assert len(data.participants) == n
    write_examples(data, tmp_path)
    for table in TABLE_NAMES:
        assert schema_problems(table, _text(tmp_path, table)) == []


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_participants": -1}, "n_participants"),
        ({"n_participants": 10, "start": "08/01/2024"}, "start"),
        ({"n_participants": 10, "n_programmes": 0}, "n_programmes"),
        ({"n_participants": 10, "referral_months": 0}, "referral_months"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        generate_programmes(**kwargs)


def test_five_thousand_participants_generate_in_a_few_seconds() -> None:
    t0 = time.perf_counter()
    generate_programmes(5000, seed=3)
    assert time.perf_counter() - t0 < 4.0


def test_catalog_lists_files_rows_and_source(data: ExampleData, written: Path) -> None:
    catalog = json.loads((written / "catalog.json").read_text(encoding="utf-8"))
    assert catalog["source"] == (
        f"generated by evalkit.generator.generate_programmes(seed={SEED}, n={N_SMALL}, n_programmes=5, "
        "outlier_programme=True)"
    )
    assert catalog["evalkit_version"] == __version__
    assert catalog["name"] and catalog["description"]
    rows = {r["path"]: r["rows"] for r in catalog["resources"]}
    assert set(rows) == {f"{t}.csv" for t in (*TABLE_NAMES, "true_effects")}
    for path, count in rows.items():
        assert len(pd.read_csv(written / path, dtype=str)) == count


def test_written_files_use_iso_dates_yes_no_and_whole_numbers(written: Path) -> None:
    participants = (written / "participants.csv").read_text(encoding="utf-8")
    assert re.search(r",\d{4}-\d{2}-\d{2},", participants)
    assert ",yes," in participants and ",no," in participants
    assert "True" not in participants and "\r" not in participants
    measures = (written / "measures.csv").read_text(encoding="utf-8").splitlines()
    assert not any(".0," in line for line in measures[1:200])


def test_cli_writes_the_files_and_reports_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ex"
    code = cli_main(["examples", "--participants", "80", "--out", str(out), "--seed", "4", "--programmes", "5",
                     "--outlier"])
    assert code == 0
    printed = capsys.readouterr().out
    for name in ("programmes.csv", "participants.csv", "group_sessions.csv", "contacts.csv", "measures.csv",
                 "true_effects.csv", "catalog.json"):
        assert (out / name).is_file() and name in printed
    assert "participants.csv (80 rows)" in printed
    assert set(_text(out, "programmes")["programme_id"]) >= {"P-GROUP-2", "P-OUTLIER"}


def test_cli_help_and_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main(["examples", "--help"])
    assert exc.value.code == 0
    assert "--participants" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli_main(["examples", "--participants", "0", "--out", str(tmp_path)])
    assert exc.value.code == 2
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")
    assert cli_main(["examples", "--participants", "5", "--out", str(blocker)]) == 2
