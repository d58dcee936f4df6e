"""Write generated programmes as a provider's one-row-per-mother workbook, messy as real ones are.

:func:`write_wide_workbook` writes what a small charity typically keeps: one
row per referral with start and end questionnaire totals side by side, the
provider's own headers, hand-typed codes ("HV", "health visitor", "Midwife"),
day/month/year dates typed as text, a merged title row, a two-row header for
one instrument, a spacer column, "n/a" and "not done" for missing scores,
numbers stored as text, a notes row, a "Total" row and a second small table
under the data -- and identifying columns that evalkit must drop (fake names,
``ZZ99`` postcodes, dates of birth, NHS numbers in the ``999`` test range with
valid check digits, ``07700 900`` drama phone numbers and
``@example.invalid`` emails: all obviously fake).

The start and end totals are the generator's **first and last valid scores**
per participant and instrument (complete or prorated); :func:`recorded_totals`
gives the total written for every valid questionnaire (the item sum; a
prorated total rounded half up), and :func:`totals_only_measures` the long
``measures`` table on those same totals, so a wide and a long analysis can be
compared like for like.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.generator._generate import ExampleData

__all__ = ["WIDE_HEADERS", "recorded_totals", "totals_only_measures", "wide_frame", "write_wide_workbook"]

WIDE_HEADERS: dict[str, tuple[str, str]] = {
    "epds": ("EPDS at start", "EPDS at end"),
    "wemwbs": ("WEMWBS first", "WEMWBS last"),
    "swemwbs": ("SWEMWBS baseline", "SWEMWBS follow-up"),
    "phq9": ("PHQ-9 pre", "PHQ-9 post"),
    "gad7": ("GAD-7 T1", "GAD-7 T2"),
    "qpr15": ("QPR start", "QPR end"),  # written as 'start'/'end' under a merged 'QPR' cell: a two-row header
    "core10": ("CORE-10 start", "CORE-10 end"),
    "ucla3": ("UCLA start", "UCLA end"),
}
"""Provider-style headers of the start and end totals of each instrument (messy workbooks)."""

_SOURCE_TEXT = {
    "self": ("Self", "self referral", "Self-referred"), "midwife": ("Midwife", "midwife", "MW", "Community midwife"),
    "health_visitor": ("HV", "health visitor", "Health Visitor", "HV team"), "gp": ("GP", "G.P."),
    "perinatal_mental_health_team": ("PMHT", "Perinatal MH team"), "talking_therapies": ("IAPT", "Talking Therapies"),
    "other_health_professional": ("Other health professional", "Hospital"),
    "social_care": ("Social worker", "Family support worker"), "other_organisation": ("Other charity", "Family hub"),
    "friend_or_family": ("Friend", "Family"), "other": ("Other",),
}
_ENDING_TEXT = {
    "planned_ending": ("Completed", "Planned ending"), "moved_on_coping": ("No longer needed", "Feeling better"),
    "stopped_attending": ("Stopped attending", "Dropped out"), "moved_away": ("Moved away", "moved area"),
    "referred_elsewhere": ("Referred on", "Signposted"), "returned_to_work": ("Back to work",),
    "programme_ended": ("Group closed",), "other": ("Other",), "unknown": ("N/K", "not known"),
}
_DECLINE_TEXT = {
    "practical_barriers": ("Practical barriers", "Childcare"), "format_not_suitable": ("Format didn't suit",),
    "wanted_professional_help": ("Wanted professional help",), "already_supported": ("Already supported",),
    "feeling_better": ("Feeling better",), "worried_about_judgement": ("Worried about judgement",),
    "cultural_or_language": ("Language",), "not_ready": ("Not ready",), "could_not_contact": ("Could not contact",),
    "not_eligible": ("Not eligible",), "other": ("Other",), "unknown": ("N/K",),
}
_ETHNICITY_TEXT = {
    "asian_indian": "Indian", "asian_pakistani": "Pakistani", "asian_bangladeshi": "Bangladeshi",
    "asian_chinese": "Chinese", "asian_other": "Asian other", "black_caribbean": "Black Caribbean",
    "black_african": "Black African", "black_other": "Black other", "mixed_white_black_caribbean":
    "White & Black Caribbean", "mixed_white_black_african": "White & Black African", "mixed_white_asian":
    "White & Asian", "mixed_other": "Mixed other", "white_british": "White British", "white_irish": "Irish",
    "white_gypsy_irish_traveller": "Gypsy/Irish Traveller", "white_roma": "Roma", "white_other": "White other",
    "other_arab": "Arab", "other_any": "Other", "not_stated": "Prefer not to say",
}
_LANGUAGE_TEXT = {
    "en": "English", "ur": "Urdu", "pa": "Punjabi", "bn": "Bengali", "syl": "Sylheti", "gu": "Gujarati", "hi": "Hindi",
    "ta": "Tamil", "pl": "Polish", "ro": "Romanian", "lt": "Lithuanian", "pt": "Portuguese", "es": "Spanish",
    "bg": "Bulgarian", "cs": "Czech", "sk": "Slovak", "so": "Somali", "ar": "Arabic", "fr": "French", "ti": "Tigrinya",
    "zh": "Mandarin", "fa": "Farsi", "ps": "Pashto", "ku": "Kurdish", "tr": "Turkish",
}
_STAGE_TEXT = {"antenatal": ("Pregnant", "AN", "Antenatal"), "postnatal": ("Baby born", "PN", "Postnatal")}
_FIRST = ("Amy", "Beth", "Cara", "Dee", "Eve", "Fay", "Gina", "Hana", "Iris", "Jo", "Kim", "Lia", "Mia", "Nia", "Ola",
          "Pam", "Rae", "Sam", "Tia", "Uma", "Vi", "Wen", "Yas", "Zoe")
_LAST = ("Example", "Sample", "Testperson", "Fakename", "Placeholder", "Dummy")
_AGE_RANGE = {"under_20": (16, 19), "20_24": (20, 24), "25_29": (25, 29), "30_34": (30, 34), "35_39": (35, 39),
              "40_plus": (40, 44)}
_MISSING_WORDS = ("n/a", "-", "not done", "N/K", "?")
_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def recorded_totals(measures: pd.DataFrame) -> pd.DataFrame:
    """The total a provider would record for each valid questionnaire of the long ``measures`` table.

    Returns
    -------
    pandas.DataFrame
        ``programme_id``, ``participant_id``, ``instrument``, ``completed_on``,
        ``timepoint`` and ``total`` for questionnaires scored ``complete`` or
        ``prorated`` by :func:`evalkit.scoring.score`: the raw item sum for a
        complete one (7-35 for SWEMWBS, before its conversion), and the
        prorated total rounded half up for a prorated one (totals are whole
        numbers on paper). Sorted by participant, instrument and date.
    """
    from evalkit.scoring import score

    scored = score(measures)
    valid = scored["score_status"].isin(["complete", "prorated"]).to_numpy(dtype=bool)
    s = scored.loc[valid]
    prorated = (s["score_status"] == "prorated").to_numpy(dtype=bool)
    total = np.where(prorated, np.floor(s["score"].to_numpy(dtype=float) + 0.5), s["raw_score"].to_numpy(dtype=float))
    out = pd.DataFrame({
        "programme_id": s["programme_id"].astype("string").to_numpy(),
        "participant_id": s["participant_id"].astype("string").to_numpy(),
        "instrument": s["instrument"].astype("string").to_numpy(),
        "completed_on": s["completed_on"].to_numpy(dtype="datetime64[ns]"),
        "timepoint": s["timepoint"].astype("string").to_numpy(),
        "total": total,
    })
    for c in ("programme_id", "participant_id", "instrument", "timepoint"):
        out[c] = out[c].astype("string")
    return out.sort_values(["participant_id", "instrument", "completed_on"], kind="stable").reset_index(drop=True)


def totals_only_measures(measures: pd.DataFrame) -> pd.DataFrame:
    """The long ``measures`` table with each valid questionnaire's items replaced by its recorded total.

    Every valid questionnaire is kept (start, reviews and end), item columns
    blank, ``total`` from :func:`recorded_totals`; questionnaires that are not
    valid are left out (they are not valid scores either way). This is the long
    format "analysed on totals" that a wide workbook of the same data is
    compared with.
    """
    from evalkit.schemas import table_schema

    t = recorded_totals(measures)
    schema = table_schema("measures")
    out = pd.DataFrame(index=t.index)
    for f in schema.fields:
        if f.name in t.columns:
            out[f.name] = t[f.name]
        elif f.type == "number":
            out[f.name] = np.nan
        else:
            out[f.name] = pd.array([pd.NA] * len(t), dtype="string")
    return out


def _first_last(measures: pd.DataFrame) -> pd.DataFrame:
    t = recorded_totals(measures)
    g = t.groupby(["participant_id", "instrument"], sort=False)
    first = g.head(1).set_index(["participant_id", "instrument"])
    last = g.tail(1).set_index(["participant_id", "instrument"])
    both = first[["total", "completed_on"]].rename(columns={"total": "start", "completed_on": "start_date"}).join(
        last[["total", "completed_on"]].rename(columns={"total": "end", "completed_on": "end_date"}))
    single = both["start_date"] == both["end_date"]
    both.loc[single, ["end", "end_date"]] = [np.nan, pd.NaT]
    return both.reset_index()


def _nhs_numbers(rng: np.random.Generator, n: int) -> list[str]:
    out: list[str] = []
    weights = np.arange(10, 1, -1)
    while len(out) < n:
        digits = np.concatenate([[9, 9, 9], rng.integers(0, 10, 6)])
        check = (11 - int((digits * weights).sum() % 11)) % 11
        if check == 10:
            continue
        s = "".join(map(str, digits)) + str(check)
        out.append(f"{s[:3]} {s[3:6]} {s[6:]}")
    return out


def _dmy(d: pd.Timestamp | dt.date | None) -> str | None:
    if d is None or pd.isna(d):
        return None
    return pd.Timestamp(d).strftime("%d/%m/%Y")


def wide_frame(data: ExampleData, *, messy: bool = True, seed: int = 0, date_columns: bool = True) -> pd.DataFrame:
    """One row per referral with the provider-style columns :func:`write_wide_workbook` writes (cells as written).

    Columns keep the provider's headers; for the QPR-15 (a two-row header in
    the workbook) they are named ``"QPR start"`` and so on. A ``programme_id``
    column comes first. Dates are ``DD/MM/YYYY`` text when ``messy`` (a few
    left as real dates), ISO otherwise.
    """
    rng = np.random.default_rng(seed)
    p = data.participants.reset_index(drop=True)
    n = len(p)
    ref = pd.to_datetime(p["referral_date"])
    attended = data.contacts[data.contacts["status"] == "attended"].groupby("participant_id").size()
    sessions = p["participant_id"].map(attended).astype("Float64")
    sessions = sessions.where(p["took_up"].fillna(False).astype(bool), pd.NA)
    sessions = sessions.where(~(p["took_up"].fillna(False).astype(bool) & sessions.isna()), 0)

    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(0, len(options)))]

    def text(code: object, table: Mapping[str, tuple[str, ...]]) -> str | None:
        if code is None or pd.isna(code):
            return None
        return pick(table[str(code)]) if messy else str(code)

    def date(d: object) -> object:
        if d is None or pd.isna(d):
            return None
        if not messy:
            return pd.Timestamp(d).strftime("%Y-%m-%d")
        return pd.Timestamp(d).to_pydatetime().date() if rng.random() < 0.15 else _dmy(pd.Timestamp(d))

    def yes_no(v: object) -> str | None:
        if v is None or pd.isna(v):
            return None
        if not messy:
            return "yes" if bool(v) else "no"
        return pick(("Y", "Yes")) if bool(v) else pick(("N", "No"))

    def number(v: object) -> object:
        if v is None or pd.isna(v):
            return None
        x = int(round(float(v)))  # type: ignore[arg-type]
        if messy and rng.random() < 0.08:
            return pick((f"{x} ", f"{x}.0"))
        return x

    cols: dict[str, list[Any]] = {"programme_id": p["programme_id"].astype(str).tolist(),
                                     "Ref no": p["participant_id"].astype(str).tolist()}
    if messy:
        first = rng.integers(0, len(_FIRST), n)
        last = rng.integers(0, len(_LAST), n)
        cols["Mum's name"] = [f"{_FIRST[a]} {_LAST[b]}" for a, b in zip(first, last, strict=True)]
    cols["Date referred"] = [date(d) for d in ref]
    cols["Referred by"] = [text(v, _SOURCE_TEXT) for v in p["referral_source"]]
    if messy:
        dobs = []
        for band, r in zip(p["age_band"], ref, strict=True):
            lo, hi = _AGE_RANGE[str(band)]
            years = int(rng.integers(lo, hi + 1))
            dobs.append(_dmy(r - pd.DateOffset(years=years) - pd.Timedelta(days=int(rng.integers(1, 364)))))
        cols["Mum's DOB"] = dobs
    else:
        cols["Age band"] = p["age_band"].astype(object).where(p["age_band"].notna(), None).tolist()
    cols["Stage"] = [text(v, _STAGE_TEXT) for v in p["perinatal_stage"]]
    cols["Weeks pregnant"] = [number(v) for v in p["weeks_pregnant"]]
    if messy:
        baby = []
        for w, r in zip(p["baby_age_weeks"], ref, strict=True):
            baby.append(None if pd.isna(w) else _dmy(r - pd.Timedelta(days=int(w) * 7 + int(rng.integers(0, 7)))))
        cols["Baby's DOB"] = baby
        cols["Postcode"] = [f"ZZ99 {rng.integers(1, 10)}{_POSTCODE_LETTERS[rng.integers(0, 20)]}"
                            f"{_POSTCODE_LETTERS[rng.integers(0, 20)]}" for _ in range(n)]
        cols["NHS no"] = _nhs_numbers(rng, n)
        cols["Phone"] = [f"07700 900{int(rng.integers(0, 1000)):03d}" for _ in range(n)]
        cols["Email"] = [f"{str(nm).split()[0].lower()}.{str(nm).split()[1].lower()}{i}@example.invalid"
                         for i, nm in enumerate(cols["Mum's name"])]
    else:
        cols["Baby age (weeks)"] = [number(v) for v in p["baby_age_weeks"]]
    cols["Took up?"] = [yes_no(v) for v in p["took_up"]]
    cols["Reason declined"] = [text(v, _DECLINE_TEXT) for v in p["decline_reason"]]
    cols["Start date"] = [date(d) for d in p["first_contact_date"]]
    cols["End date"] = [date(d) for d in p["end_date"]]
    cols["Reason for leaving"] = [text(v, _ENDING_TEXT) for v in p["ending"]]
    cols["No. of sessions attended"] = [number(v) for v in sessions]
    cols["First baby?"] = [yes_no(v) for v in p["first_time_mother"]]
    cols["Ethnicity"] = [(_ETHNICITY_TEXT[str(v)] if messy else str(v)) if pd.notna(v) else None
                         for v in p["ethnicity"]]
    cols["Language"] = [(_LANGUAGE_TEXT[str(v)] if messy else str(v)) if pd.notna(v) else None
                        for v in p["main_language"]]
    cols["IMD decile"] = [number(v) for v in p["deprivation_decile"]]

    fl = _first_last(data.measures)
    instruments = [c for c in WIDE_HEADERS if c in set(fl["instrument"])]
    pids = p["participant_id"].astype(str)
    used_by = data.measures.groupby(data.measures["programme_id"].astype(str))["instrument"].agg(
        lambda s: set(s.astype(str)))
    uses = p["programme_id"].astype(str).map(used_by).to_numpy(dtype=object)
    for code in instruments:
        start_h, end_h = WIDE_HEADERS[code] if messy else (f"{code} start", f"{code} end")
        sub = fl[fl["instrument"] == code].set_index("participant_id")
        for h, col, dcol in ((start_h, "start", "start_date"), (end_h, "end", "end_date")):
            values = pids.map(sub[col]).to_numpy(dtype=float)
            when = pd.to_datetime(pids.map(sub[dcol]))
            totals: list[object] = []
            dates: list[object] = []
            for i in range(n):
                if np.isnan(values[i]):
                    used = isinstance(uses[i], set) and code in uses[i]
                    totals.append(pick(_MISSING_WORDS) if messy and used and rng.random() < 0.25 else None)
                    dates.append(None)
                else:
                    totals.append(number(values[i]))
                    dates.append(date(when.iloc[i]))
            cols[h] = totals
            if date_columns:
                cols[f"{h} date"] = dates
    return pd.DataFrame(cols)


def _write_sheet(ws: object, frame: pd.DataFrame, *, title: str, messy: bool, programme_column: bool,
                 rng: np.random.Generator) -> None:
    """Write one provider sheet (openpyxl worksheet) from :func:`wide_frame` rows."""
    from openpyxl.utils import get_column_letter

    headers = [c for c in frame.columns if programme_column or c != "programme_id"]
    if programme_column:
        headers = ["Programme"] + [c for c in headers if c != "programme_id"]
    if messy:
        headers.insert(next(i for i, h in enumerate(headers) if _is_score_column(h)), "")  # a spacer column
    qpr = [i for i, h in enumerate(headers) if h.startswith("QPR ")]
    row0 = 1
    if messy:
        ws.cell(row=1, column=1, value=title)  # type: ignore[attr-defined]
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))  # type: ignore[attr-defined]
        ws.cell(row=2, column=1, value="Data as at 31/12/2025 - please do not share outside the team")  # type: ignore[attr-defined]
        row0 = 4
        if qpr:
            ws.cell(row=3, column=qpr[0] + 1, value="QPR")  # type: ignore[attr-defined]
            ws.merge_cells(start_row=3, start_column=qpr[0] + 1, end_row=3,  # type: ignore[attr-defined]
                           end_column=qpr[-1] + 1)
    for j, h in enumerate(headers, start=1):
        shown = h[len("QPR "):] if messy and h.startswith("QPR ") else h
        ws.cell(row=row0, column=j, value=shown or None)  # type: ignore[attr-defined]
    body = frame.rename(columns={"programme_id": "Programme"})
    r = row0
    prog_runs: list[tuple[int, int, str]] = []
    for i in range(len(body)):
        r += 1
        rec = body.iloc[i]
        for j, h in enumerate(headers, start=1):
            if not h:
                continue
            v = rec[h]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            ws.cell(row=r, column=j, value=v)  # type: ignore[attr-defined]
        if programme_column:
            pid = str(rec["Programme"])
            if prog_runs and prog_runs[-1][2] == pid:
                prog_runs[-1] = (prog_runs[-1][0], r, pid)
            else:
                prog_runs.append((r, r, pid))
    if programme_column and messy:
        for start, end, _pid in prog_runs:  # the programme cell merged down its rows, as people do
            for rr in range(start + 1, end + 1):
                ws.cell(row=rr, column=1).value = None  # type: ignore[attr-defined]
            if end > start:
                ws.merge_cells(start_row=start, start_column=1, end_row=end, end_column=1)  # type: ignore[attr-defined]
    if messy:
        sess = headers.index("No. of sessions attended") + 1
        r += 2
        ws.cell(row=r, column=1, value="Notes: EPDS not repeated for mums who left before their last session. "  # type: ignore[attr-defined]
                "Sessions counted from the register.")
        r += 1
        total = int(pd.to_numeric(body["No. of sessions attended"].astype(str).str.strip(), errors="coerce").sum())
        ws.cell(row=r, column=1, value="Total")  # type: ignore[attr-defined]
        ws.cell(row=r, column=sess, value=total)  # type: ignore[attr-defined]
        r += 3
        ws.cell(row=r, column=1, value="Month")  # type: ignore[attr-defined]
        ws.cell(row=r, column=2, value="Referrals")  # type: ignore[attr-defined]
        months = pd.to_datetime(pd.Series([_parse_any(v) for v in body["Date referred"]])).dt.strftime("%b %Y")
        for month, k in months.value_counts(sort=False).head(3).items():
            r += 1
            ws.cell(row=r, column=1, value=month)  # type: ignore[attr-defined]
            ws.cell(row=r, column=2, value=int(k))  # type: ignore[attr-defined]
    for j in range(1, len(headers) + 1):
        ws.column_dimensions[get_column_letter(j)].width = 14  # type: ignore[attr-defined]
    del rng


def _parse_any(v: object) -> pd.Timestamp:
    if isinstance(v, dt.date):
        return pd.Timestamp(v)
    return pd.to_datetime(str(v), dayfirst=True, format="mixed")


def write_wide_workbook(
    data: ExampleData,
    path: str | Path,
    *,
    messy: bool = True,
    seed: int = 0,
    layout: Literal["sheet_per_programme", "one_sheet"] = "sheet_per_programme",
    date_columns: bool = True,
) -> Path:
    """Write generated programmes as a one-row-per-mother provider workbook.

    Parameters
    ----------
    data
        Output of :func:`evalkit.generator.generate_programmes`.
    path
        The ``.xlsx`` file to write.
    messy
        Write it as a charity would (see the module docstring): titles,
        identifying columns, typed codes, ``DD/MM/YYYY`` text dates, missing
        words, a notes row, a total row and a second table. ``False`` writes a
        tidy sheet: one header row, ISO dates, evalkit's codes, no identifiers.
    seed
        Seed of the messiness (and of the fake identifiers).
    layout
        ``"sheet_per_programme"`` (sheets named by programme id) or
        ``"one_sheet"`` (one sheet with a ``Programme`` column, merged down
        each programme's rows when ``messy``).
    date_columns
        Write a date column beside each total ("EPDS at start date"). Without
        them, evalkit dates the totals by its stated assumptions.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Start and end totals are each mother's first and last valid scores per
    instrument (:func:`recorded_totals`); a mother with one valid score has a
    start total only. ``No. of sessions attended`` is her number of attended
    contacts (0 if she took up the offer but never came, blank if she
    declined).
    """
    import openpyxl

    if layout not in ("sheet_per_programme", "one_sheet"):
        raise ValueError(f"layout must be 'sheet_per_programme' or 'one_sheet'; got {layout!r}")
    path = Path(path)
    frame = wide_frame(data, messy=messy, seed=seed, date_columns=date_columns)
    rng = np.random.default_rng(seed + 1)
    wb = openpyxl.Workbook()
    first = wb.active
    names = dict(zip(data.programmes["programme_id"].astype(str), data.programmes["name"].astype(str), strict=True))
    if layout == "one_sheet":
        first.title = "Referrals"
        ordered = frame.sort_values("programme_id", kind="stable").reset_index(drop=True)
        _write_sheet(first, ordered, title="All programmes - referrals and outcomes", messy=messy,
                     programme_column=True, rng=rng)
    else:
        wb.remove(first)
        for pid in data.programmes["programme_id"].astype(str):
            sub = frame[frame["programme_id"] == pid].reset_index(drop=True)
            if sub.empty:
                continue
            ws = wb.create_sheet(pid)
            used = [c for c in sub.columns if not (sub[c].isna().all() and _is_score_column(c))]
            _write_sheet(ws, sub[used], title=f"{names[pid]} - referrals and outcomes", messy=messy,
                         programme_column=False, rng=rng)
    wb.save(path)
    return path


def _is_score_column(header: str) -> bool:
    """A start/end total (or its date) column of :func:`wide_frame`."""
    heads = tuple(h for pair in WIDE_HEADERS.values() for h in pair)
    return header.startswith(heads) or any(header.startswith(f"{c} ") for c in WIDE_HEADERS)
