"""Reading KTAS triage data (the CSV format of ``../shared/data/ktas/dev.csv``) into engine inputs.

Column mapping (see ``../shared/data/ktas/README.md``):

=================  ===========================================================================
Sex                1 female, 2 male
Age                years
Arrival mode       1 walking, 3 private vehicle → walk-in; 2 public (119) ambulance → ambulance;
                   4 private ambulance → transfer (in Korea mostly inter-hospital; unverified);
                   5–7 other → not given
Injury             1 no, 2 yes
Chief_complain     free text, matched to the complaint catalogue
Mental             1 alert, 2 voice, 3 pain, 4 unresponsive (AVPU)
Pain, NRS_pain     Pain 0 → pain score 0; Pain 1 → NRS_pain (0–10), not given if NRS_pain is empty
SBP DBP HR RR BT   vital signs; empty = not measured
Saturation         SpO2 %; empty = not measured
KTAS_expert        the reference level (label)
KTAS_RN            the triage nurse's level (the human baseline only — never an input)
=================  ===========================================================================

Columns known only after triage — ``KTAS_RN``, ``Error_group``, ``mistriage``, ``Diagnosis in ED``,
``Disposition``, ``Length of stay_min`` — are never read into an input. A row that cannot be
parsed is reported with the reason and skipped; it does not stop the run.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from hospital_ops.domain import Mental, Sex, Vitals
from triage_kiosk.triage.model import ArrivalMode, TriageInput

REQUIRED_COLUMNS: tuple[str, ...] = (
    "Sex",
    "Age",
    "Arrival mode",
    "Injury",
    "Chief_complain",
    "Mental",
    "Pain",
    "NRS_pain",
    "SBP",
    "DBP",
    "HR",
    "RR",
    "BT",
    "Saturation",
    "KTAS_RN",
    "KTAS_expert",
)

#: Columns that leak the outcome of triage; a model must never read them.
LEAKAGE_COLUMNS: tuple[str, ...] = (
    "KTAS_RN",
    "Error_group",
    "mistriage",
    "Diagnosis in ED",
    "Disposition",
    "Length of stay_min",
)

_SEX = {"1": Sex.FEMALE, "2": Sex.MALE}
_ARRIVAL: dict[str, ArrivalMode | None] = {
    "1": ArrivalMode.WALK_IN,
    "2": ArrivalMode.AMBULANCE,
    "3": ArrivalMode.WALK_IN,
    "4": ArrivalMode.TRANSFER,
    "5": None,
    "6": None,
    "7": None,
}
_INJURY = {"1": False, "2": True}
_MENTAL = {"1": Mental.ALERT, "2": Mental.VOICE, "3": Mental.PAIN, "4": Mental.UNRESPONSIVE}
_VITAL_COLUMNS = {
    "heart_rate": "HR",
    "resp_rate": "RR",
    "systolic_bp": "SBP",
    "diastolic_bp": "DBP",
    "temperature_c": "BT",
    "spo2": "Saturation",
}


class DataError(ValueError):
    """The file as a whole cannot be used (missing, unreadable, wrong columns)."""


@dataclass(frozen=True, slots=True)
class KtasCase:
    row: str
    input: TriageInput
    expert: int
    nurse: int


@dataclass(frozen=True, slots=True)
class SkippedRow:
    row: str
    reason: str


@dataclass(frozen=True, slots=True)
class KtasData:
    cases: tuple[KtasCase, ...]
    skipped: tuple[SkippedRow, ...]


def _number(raw: str, column: str) -> float | None:
    text = raw.strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column}: {text!r} is not a number") from None
    if value != value:  # NaN
        raise ValueError(f"{column}: {text!r} is not a number")
    return value


def _code(raw: str, column: str, table: dict[str, object]) -> object:
    text = raw.strip()
    if text.endswith(".0"):
        text = text[:-2]
    if text not in table:
        allowed = ", ".join(table)
        raise ValueError(f"{column}: {raw.strip()!r} is not one of {allowed}")
    return table[text]


def _level(raw: str, column: str) -> int:
    value = _number(raw, column)
    if value is None:
        raise ValueError(f"{column}: empty")
    if value != int(value) or not 1 <= value <= 5:
        raise ValueError(f"{column}: {raw.strip()!r} is not a level 1..5")
    return int(value)


def parse_row(row: dict[str, str]) -> tuple[TriageInput, int, int]:
    """One CSV row → (engine input, expert level, nurse level). Raises ``ValueError`` naming the column."""
    age = _number(row["Age"], "Age")
    if age is None:
        raise ValueError("Age: empty")
    pain_flag = row["Pain"].strip()
    nrs = _number(row["NRS_pain"], "NRS_pain")
    if nrs is not None and (nrs != int(nrs) or not 0 <= nrs <= 10):
        raise ValueError(f"NRS_pain: {row['NRS_pain'].strip()!r} is not a whole number 0..10")
    if pain_flag in ("0", "0.0"):
        pain: int | None = 0 if nrs is None else int(nrs)
    elif pain_flag in ("1", "1.0", ""):
        pain = None if nrs is None else int(nrs)
    else:
        raise ValueError(f"Pain: {pain_flag!r} is not 0 or 1")
    vitals = Vitals(**{name: _number(row[col], col) for name, col in _VITAL_COLUMNS.items()})
    inp = TriageInput(
        age=age,
        sex=_code(row["Sex"], "Sex", _SEX),  # type: ignore[arg-type]
        complaint_text=row["Chief_complain"] or "",
        pain=pain,
        mental=_code(row["Mental"], "Mental", _MENTAL),  # type: ignore[arg-type]
        vitals=vitals,
        arrival=_code(row["Arrival mode"], "Arrival mode", _ARRIVAL),  # type: ignore[arg-type]
        injury=_code(row["Injury"], "Injury", _INJURY),  # type: ignore[arg-type]
    )
    return inp, _level(row["KTAS_expert"], "KTAS_expert"), _level(row["KTAS_RN"], "KTAS_RN")


def read_ktas_csv(path: Path | str) -> KtasData:
    """Read a KTAS CSV; rows that cannot be parsed are returned in ``skipped`` with the reason."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror})") from None
    cases: list[KtasCase] = []
    skipped: list[SkippedRow] = []
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            absent = [c for c in REQUIRED_COLUMNS if c not in header]
            if not header:
                raise DataError(f"{path}: empty file (no header row)")
            if absent:
                raise DataError(f"{path}: missing column(s): {', '.join(absent)}")
            for line_no, row in enumerate(reader, start=2):
                label = f"line {line_no}"
                if row.get("row_id"):
                    label += f" (row_id {row['row_id'].strip()})"
                if None in row or any(row.get(c) is None for c in REQUIRED_COLUMNS):
                    skipped.append(SkippedRow(label, "wrong number of fields"))
                    continue
                try:
                    inp, expert, nurse = parse_row(row)  # type: ignore[arg-type]
                except ValueError as exc:
                    skipped.append(SkippedRow(label, str(exc)))
                    continue
                cases.append(KtasCase(label, inp, expert, nurse))
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    return KtasData(tuple(cases), tuple(skipped))
