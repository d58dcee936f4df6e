"""The generator's entry point: :func:`generate_programmes` and its result :class:`ExampleData`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.generator import _parameters as par
from evalkit.generator import _tables as tables
from evalkit.generator._contacts import sample_contacts
from evalkit.generator._experience import add_experience, experience_truth
from evalkit.generator._extract import censor_contacts, censor_days, censor_occasions
from evalkit.generator._measures import last_occasion_day, sample_measures, schedule
from evalkit.generator._outcomes import sample_endings, sample_latents
from evalkit.generator._output import write_examples
from evalkit.generator._referrals import sample_referrals
from evalkit.generator._sampling import MISSING, allocate, to_weekday
from evalkit.generator._truth import true_effects
from evalkit.schemas import TABLE_NAMES

_END_GAP_DAYS = {  # ending -> (low, high) days from the last contact or questionnaire to closing the case
    "planned_ending": (0, 15),
    "moved_on_coping": (0, 15),
    "stopped_attending": (14, 57),
}
_OTHER_END_GAP = (7, 29)
_NOT_STARTED_END_GAP = (14, 43)


@dataclass(frozen=True, eq=False)
class ExampleData:
    """A generated dataset: the five canonical tables and the true effects behind them.

    Attributes
    ----------
    programmes, participants, group_sessions, contacts, measures
        Canonical frames (schema column order, canonical dtypes; blanks are missing values).
    true_effects
        One row per programme x quantity (x instrument): ``programme_id``,
        ``instrument`` (missing for programme-level rows), ``quantity``,
        ``value``, ``description``. See :mod:`evalkit.generator` for the model.
    seed, n_participants, n_programmes, outlier_programme, start, referral_months, follow_up_months, experience
        The arguments that produced it.
    """

    programmes: pd.DataFrame
    participants: pd.DataFrame
    group_sessions: pd.DataFrame
    contacts: pd.DataFrame
    measures: pd.DataFrame
    true_effects: pd.DataFrame
    seed: int
    n_participants: int
    n_programmes: int
    outlier_programme: bool
    start: str
    referral_months: float = 18.0
    follow_up_months: float = 6.0
    experience: bool = False

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The canonical tables keyed by name, in load order (parents first)."""
        return {name: getattr(self, name) for name in TABLE_NAMES}

    def true_value(self, programme_id: str, quantity: str, instrument: str | None = None) -> float:
        """One true quantity, e.g. ``true_value("P-GROUP", "mean_change_12w", "epds")``."""
        te = self.true_effects
        rows = te[(te["programme_id"] == programme_id) & (te["quantity"] == quantity)]
        rows = rows[rows["instrument"].isna()] if instrument is None else rows[rows["instrument"] == instrument]
        if len(rows) != 1:
            raise KeyError(f"no true value for programme {programme_id!r}, quantity {quantity!r}, instrument {instrument!r}")
        return float(rows["value"].iloc[0])

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write the dataset as CSV files with ``catalog.json`` (see :func:`write_examples`)."""
        return write_examples(self, out_dir)


def _start_day(start: str) -> int:
    try:
        day = dt.date.fromisoformat(start)
    except (TypeError, ValueError):
        raise ValueError(f"start must be an ISO date (YYYY-MM-DD); got {start!r}") from None
    return int((day - dt.date(1970, 1, 1)).days)


def _end_days(rng: np.random.Generator, started: np.ndarray, ending: np.ndarray, last_offered: np.ndarray,
              last_measure: np.ndarray) -> np.ndarray:
    """Day the case was closed: after the last contact (and any questionnaire)."""
    n = started.size
    low = np.full(n, _OTHER_END_GAP[0])
    high = np.full(n, _OTHER_END_GAP[1])
    for name, (lo, hi) in _END_GAP_DAYS.items():
        mask = ending == par.ENDINGS.index(name)
        low[mask], high[mask] = lo, hi
    low[~started], high[~started] = _NOT_STARTED_END_GAP
    return to_weekday(np.maximum(last_offered, last_measure) + rng.integers(low, high))


def generate_programmes(
    n_participants: int,
    *,
    seed: int = 0,
    n_programmes: int = 4,
    outlier_programme: bool = False,
    start: str = "2024-01-08",
    referral_months: float = 18.0,
    follow_up_months: float = 6.0,
    experience: bool = False,
) -> ExampleData:
    """Generate realistic programmes of perinatal peer support with known true effects.

    Parameters
    ----------
    n_participants
        Referrals in total, shared between programmes in proportion to their sizes.
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical frames.
    n_programmes
        Programmes before the outlier: the four base programmes (``P-GROUP``,
        ``P-PHONE``, ``P-HOME``, ``P-PAID``), then further sites of the same
        templates (``P-GROUP-2``, ...) with slightly different true effects.
    outlier_programme
        Add ``P-OUTLIER``, a drop-in group whose mean changes are a tenth of P-GROUP's.
    start
        First day of referrals (ISO date).
    referral_months
        Length of the referral period.
    follow_up_months
        Time from the end of the referral period to the data extract. Nothing
        after the extract day is recorded; support still running then is
        ongoing (blank ``end_date`` and ``ending``).
    experience
        Add experience questionnaires (``pex_group``, ``pex_one_to_one``) to
        ``measures`` and their true relations (endorsement rates, ending
        distress, slopes of change on the mechanism scores, take-up log odds)
        to ``true_effects`` (see :mod:`evalkit.generator._experience`). They
        come from a separate random stream: every other row is the same either way.

    Returns
    -------
    ExampleData
        The five canonical tables and ``true_effects``.

    Examples
    --------
    >>> from evalkit.generator import generate_programmes
    >>> data = generate_programmes(200, seed=1)
    >>> sorted(data.tables)
    ['contacts', 'group_sessions', 'measures', 'participants', 'programmes']
    >>> len(data.participants)
    200
    """
    if isinstance(n_participants, bool) or not isinstance(n_participants, (int, np.integer)) or n_participants < 0:
        raise ValueError(f"n_participants must be a whole number >= 0; got {n_participants!r}")
    if referral_months <= 0:
        raise ValueError(f"referral_months must be positive; got {referral_months!r}")
    if follow_up_months < 0:
        raise ValueError(f"follow_up_months must be zero or more; got {follow_up_months!r}")
    start_day = _start_day(start)
    referral_days = max(1, int(round(referral_months * 30.44)))
    programmes = par.build_programmes(int(n_programmes), bool(outlier_programme))
    rng = np.random.default_rng(seed)
    counts = allocate(int(n_participants), np.array([p.referral_weight for p in programmes]))

    ref = sample_referrals(rng, programmes, counts, start_day, referral_days)
    takers = np.flatnonzero(ref.took_up)
    t_prog, t_started, t_dose = ref.programme[takers], ref.started[takers], ref.dose[takers]
    latents = sample_latents(rng, programmes, t_prog, t_dose, ref.prior_mh_support[takers])
    ending = sample_endings(rng, programmes, t_prog, t_started, t_dose, latents.symptom_change_factor)
    group = ref.format_offered[takers] == par.FORMATS.index("group")
    contacts, sessions = sample_contacts(rng, programmes, counts, takers, t_prog, t_started, t_dose,
                                         ref.offered_day[takers], group, ending, start_day, referral_days)
    attended = contacts.status == par.CONTACT_STATUSES.index("attended")
    taker_of_participant = np.full(len(ref), MISSING, dtype=np.int64)
    taker_of_participant[takers] = np.arange(takers.size)
    occasions = schedule(rng, programmes, t_prog, t_started, ref.offered_day[takers], ending,
                         contacts.first_attended_day, contacts.last_attended_day,
                         taker_of_participant[contacts.participant[attended]], contacts.day[attended])
    end_taker = _end_days(rng, t_started, ending, contacts.last_offered_day,
                          last_occasion_day(occasions, takers.size))
    extract_day = start_day + referral_days + int(round(follow_up_months * 30.44))
    occasions = censor_occasions(occasions, extract_day)
    measures = sample_measures(rng, programmes, takers, t_prog, t_started, contacts.first_attended_day, occasions,
                               latents)
    if experience:
        measures = add_experience(seed, programmes, measures, takers, t_prog, t_started, group, ending,
                                  latents.symptom_change_factor, occasions, contacts.last_attended_day, end_taker,
                                  extract_day)
    contacts, sessions = censor_contacts(contacts, sessions, extract_day)

    n = len(ref)
    first_contact, end_day, ending_all = (np.full(n, MISSING, dtype=np.int64) for _ in range(3))
    first_contact[takers] = censor_days(contacts.first_attended_day, extract_day)
    end_day[takers] = censor_days(end_taker, extract_day)
    ending_all[takers] = np.where(end_day[takers] == MISSING, MISSING, ending)
    ids = tables.participant_ids(n)
    return ExampleData(
        programmes=tables.programmes_frame(programmes),
        participants=tables.participants_frame(programmes, ref, ids, first_contact, end_day, ending_all),
        group_sessions=tables.group_sessions_frame(programmes, sessions),
        contacts=tables.contacts_frame(programmes, contacts, ref.programme, ids, sessions),
        measures=tables.measures_frame(programmes, measures, ref.programme, ids),
        true_effects=pd.concat([true_effects(programmes), experience_truth(programmes)], ignore_index=True)
        if experience else true_effects(programmes),
        seed=int(seed),
        n_participants=int(n_participants),
        n_programmes=int(n_programmes),
        outlier_programme=bool(outlier_programme),
        start=start,
        referral_months=float(referral_months),
        follow_up_months=float(follow_up_months),
        experience=bool(experience),
    )
