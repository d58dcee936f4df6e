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
ANSWERS = "Yes/no columns: yes or no (Yes, Y, No, N also work)."
CODES = "Coded columns: the code or its label (one_to_one or One-to-one)."


def test_csv_readme_says_how_dates_answers_and_codes_may_be_written(tmp_path) -> None:  # noqa: ANN001
    path = write_template(tmp_path / "t.zip", format="csv")
    with zipfile.ZipFile(path) as z:
        readme = z.read("README.txt").decode("utf-8")
    flat = " ".join(readme.split())
    for line in (DATES, AMBIGUOUS, ANSWERS, CODES):
        assert line in flat, line


def test_xlsx_instructions_say_the_same(tmp_path) -> None:  # noqa: ANN001
    wb = load_workbook(write_template(tmp_path / "t.xlsx"))
    text = " ".join(str(c.value) for row in wb["instructions"].iter_rows(max_row=8) for c in row if c.value)
    for line in (DATES, AMBIGUOUS, ANSWERS, CODES):
        assert line in text, line
