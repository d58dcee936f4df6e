"""What a charity filling in the blank template is told about the three things it writes its own way: dates,
yes/no answers and codes (the validator accepts 10/02/2026, 'Yes' and a code's label; the template must say so
and say when a day/month date is set aside)."""

from __future__ import annotations

import zipfile

from openpyxl import load_workbook

from evalkit.templates import write_template

DATES = "Dates: 2026-02-10 (year-month-day) is safest; 10/02/2026 (day/month/year) is accepted too."
AMBIGUOUS = ("A date such as 10/02/2026 reads two ways: it is taken the way round the file's other dates show "
             "(a day over 12, such as 15/02/2026), and the row is set aside if nothing shows it.")
MONTH_WORDS = ("Dates with the month in words are read too (10 February 2026, 10-Feb-26, February 10, 2026). A "
               "date cell that shows a number such as 46063 (Excel's number for 10 February 2026, shown when a cell "
               "loses its date format) is read as that date, and the report lists those rows to check.")
ANSWERS = "Yes/no columns: yes or no (Yes, Y, No, N also work)."
CODES = "Coded columns: the code or its label (one_to_one or One-to-one)."


def test_csv_readme_says_how_dates_answers_and_codes_may_be_written(tmp_path) -> None:  # noqa: ANN001
    path = write_template(tmp_path / "t.zip", format="csv")
    with zipfile.ZipFile(path) as z:
        readme = z.read("README.txt").decode("utf-8")
    flat = " ".join(readme.split())
    for line in (DATES, AMBIGUOUS, MONTH_WORDS, ANSWERS, CODES):
        assert line in flat, line


def test_xlsx_instructions_say_the_same(tmp_path) -> None:  # noqa: ANN001
    wb = load_workbook(write_template(tmp_path / "t.xlsx"))
    text = " ".join(str(c.value) for row in wb["instructions"].iter_rows(max_row=8) for c in row if c.value)
    for line in (DATES, AMBIGUOUS, MONTH_WORDS, ANSWERS, CODES):
        assert line in text, line


def _filled_template(tmp_path):  # noqa: ANN001, ANN202
    import datetime as dt

    path = write_template(tmp_path / "ours.xlsx")
    wb = load_workbook(path)
    wb["programmes"].append(["P-MUMS", "Mums Together", "Sunrise Charity", "Group", "In person",
                             "Trained volunteer peers"])
    wb["participants"].append(["A1", "P-MUMS", dt.datetime(2026, 2, 3), "Health visitor", "Yes"])
    wb.save(path)
    return path


def test_a_filled_in_xlsx_template_validates_without_its_own_helper_sheets(tmp_path) -> None:  # noqa: ANN001
    """The template's 'instructions' sheet and hidden 'codes' sheet are evalkit's own: reading them as data
    turned the code lists into 19 'contacts' rows with 24 errors on the first upload of our own template."""
    from evalkit.readers import read_files
    from evalkit.validation import validate

    raw = read_files([str(_filled_template(tmp_path))])
    assert "contacts" not in raw or len(raw["contacts"]) == 0
    res = validate(raw, today="2026-12-31")
    assert res.ok, res.report[["sheet", "rule", "message"]].to_string()
    assert not set(res.report["sheet"].dropna()) & {"codes", "instructions"}
    assert len(res.tables["participants"]) == 1 and len(res.tables["programmes"]) == 1


def test_a_providers_own_sheet_called_codes_is_still_read(tmp_path) -> None:  # noqa: ANN001
    """Only the template's own layout is skipped: a provider's sheet that happens to be called 'codes' is data."""
    from openpyxl import Workbook

    from evalkit.readers import read_files

    wb = Workbook()
    ws = wb.active
    ws.title = "codes"
    ws.append(["participant_id", "programme_id", "referral_date", "referral_source"])
    ws.append(["A1", "P1", "2026-02-03", "gp"])
    wb.save(tmp_path / "own.xlsx")
    raw = read_files([str(tmp_path / "own.xlsx")])
    assert len(raw["participants"]) == 1
