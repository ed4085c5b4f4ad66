"""Reading KTAS CSV rows into engine inputs: column mapping, missing values, leakage, bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hospital_ops.domain import Mental, Sex, Vitals
from triage_kiosk.triage.ktas import LEAKAGE_COLUMNS, DataError, parse_row, read_ktas_csv
from triage_kiosk.triage.model import ArrivalMode

HEADER = (
    "row_id,Group,Sex,Age,Patients number per hour,Arrival mode,Injury,Chief_complain,Mental,Pain,NRS_pain,"
    "SBP,DBP,HR,RR,BT,Saturation,KTAS_RN,Diagnosis in ED,Disposition,KTAS_expert,Error_group,"
    "Length of stay_min,KTAS duration_min,mistriage"
)


def row(**values: str) -> dict[str, str]:
    base = dict.fromkeys(HEADER.split(","), "")
    base.update(
        {
            "row_id": "1",
            "Sex": "1",
            "Age": "68",
            "Arrival mode": "2",
            "Injury": "2",
            "Chief_complain": "arm pain, Lt",
            "Mental": "1",
            "Pain": "1",
            "NRS_pain": "2",
            "SBP": "130",
            "DBP": "80",
            "HR": "102",
            "RR": "20",
            "BT": "36.6",
            "Saturation": "98",
            "KTAS_RN": "4",
            "KTAS_expert": "5",
        }
    )
    base.update(values)
    return base


def test_columns_map_to_the_input() -> None:
    """Sex 1 = female, arrival 2 = ambulance, injury 2 = yes, mental 1 = alert, vitals by name."""
    inp, expert, nurse = parse_row(row())
    assert (expert, nurse) == (5, 4)
    assert inp.sex is Sex.FEMALE
    assert inp.age == 68
    assert inp.arrival is ArrivalMode.AMBULANCE
    assert inp.injury is True
    assert inp.mental is Mental.ALERT
    assert inp.pain == 2
    assert inp.complaint_text == "arm pain, Lt"
    assert inp.vitals == Vitals(
        heart_rate=102, resp_rate=20, systolic_bp=130, diastolic_bp=80, temperature_c=36.6, spo2=98
    )


@pytest.mark.parametrize(
    ("code", "mode"),
    [("1", ArrivalMode.WALK_IN), ("3", ArrivalMode.WALK_IN), ("4", ArrivalMode.TRANSFER), ("6", None)],
)
def test_arrival_modes(code: str, mode: ArrivalMode | None) -> None:
    """Walking and private car are walk-ins, private ambulance is a transfer, 5–7 are unknown."""
    assert parse_row(row(**{"Arrival mode": code}))[0].arrival is mode


@pytest.mark.parametrize(("code", "state"), [("2", Mental.VOICE), ("3", Mental.PAIN), ("4", Mental.UNRESPONSIVE)])
def test_mental_is_avpu(code: str, state: Mental) -> None:
    """Mental 1–4 is AVPU."""
    assert parse_row(row(Mental=code))[0].mental is state


def test_pain_flag_and_score() -> None:
    """Pain 0 means a pain score of 0; Pain 1 with no NRS means the score was not given."""
    assert parse_row(row(Pain="0", NRS_pain=""))[0].pain == 0
    assert parse_row(row(Pain="1", NRS_pain=""))[0].pain is None
    assert parse_row(row(Pain="1", NRS_pain="7"))[0].pain == 7


def test_empty_vitals_are_missing_not_zero() -> None:
    """An empty vital-sign cell is None (not measured)."""
    inp = parse_row(row(Saturation="", HR=""))[0]
    assert inp.vitals.spo2 is None and inp.vitals.heart_rate is None


def test_leakage_columns_never_reach_the_input() -> None:
    """Changing KTAS_RN, diagnosis, disposition, error group, mistriage or length of stay leaves the input unchanged."""
    plain = parse_row(row())[0]
    leaked = row(
        KTAS_RN="1",
        **{"Diagnosis in ED": "Cardiac arrest", "Disposition": "6", "Error_group": "2"},
        mistriage="2",
        **{"Length of stay_min": "99999"},
    )
    assert set(LEAKAGE_COLUMNS) <= set(HEADER.split(","))
    assert parse_row(leaked)[0] == plain


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"Sex": "3"}, "Sex"),
        ({"Age": "abc"}, "Age"),
        ({"Mental": "5"}, "Mental"),
        ({"HR": "fast"}, "HR"),
        ({"NRS_pain": "12"}, "NRS_pain"),
        ({"KTAS_expert": "0"}, "KTAS_expert"),
        ({"KTAS_expert": ""}, "KTAS_expert"),
        ({"Saturation": "130"}, "spo2"),
    ],
)
def test_bad_rows_name_the_column(change: dict[str, str], column: str) -> None:
    """A bad cell raises ValueError naming the column (or the vital sign)."""
    with pytest.raises(ValueError, match=column):
        parse_row(row(**change))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER.split(","))
        w.writeheader()
        w.writerows(rows)


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    """Unparseable rows are reported with line, row id and reason; the others are read."""
    path = tmp_path / "k.csv"
    _write(path, [row(row_id="1"), row(row_id="2", Age="old"), row(row_id="3")])
    data = read_ktas_csv(path)
    assert len(data.cases) == 2
    assert [(s.row, s.reason) for s in data.skipped] == [("line 3 (row_id 2)", "Age: 'old' is not a number")]


def test_whole_file_problems_are_clear_errors(tmp_path: Path) -> None:
    """A missing file or missing columns raise DataError naming the file and what is wrong."""
    with pytest.raises(DataError, match="cannot open"):
        read_ktas_csv(tmp_path / "absent.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("Sex,Age\n1,30\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        read_ktas_csv(bad)


def test_short_row_is_skipped(tmp_path: Path) -> None:
    """A row with too few fields is counted as unparseable, not fatal."""
    path = tmp_path / "k.csv"
    _write(path, [row()])
    with path.open("a", encoding="utf-8") as f:
        f.write("99,1,2\n")
    data = read_ktas_csv(path)
    assert len(data.cases) == 1 and len(data.skipped) == 1
    assert data.skipped[0].reason == "wrong number of fields"
