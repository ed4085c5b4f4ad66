"""`hospital-ops triage eval`: figures on a small hand-made CSV, JSON output, clear errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from triage_kiosk.cli import DEFAULT_DATA, app

HEADER = [
    "row_id",
    "Group",
    "Sex",
    "Age",
    "Patients number per hour",
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
    "Diagnosis in ED",
    "Disposition",
    "KTAS_expert",
    "Error_group",
    "Length of stay_min",
    "KTAS duration_min",
    "mistriage",
]

NORMAL = {"SBP": "124", "DBP": "78", "HR": "78", "RR": "16", "BT": "36.8", "Saturation": "98"}

# (complaint, changes, expert, nurse) with the engine level each must get (from the shipped rules):
CASES = [
    ("chest pain", {"Pain": "1", "NRS_pain": "3"}, 2, 2),  # engine 2: cardiac chest pain
    ("ankle pain", {"Pain": "1", "NRS_pain": "2", "Injury": "2"}, 5, 4),  # engine 5: mild peripheral pain
    ("open wound", {"Pain": "1", "NRS_pain": "3", "Injury": "2"}, 4, 4),  # engine 4: wound
    ("abd pain", {"Pain": "1", "NRS_pain": "5"}, 3, 4),  # engine 3: moderate central pain
    ("arrest", {"Mental": "4", "Arrival mode": "2", **dict.fromkeys(NORMAL, "")}, 1, 1),  # engine 1
    ("dizziness", {}, 4, 4),  # engine 3: over-triage
    ("abd pain", {"Pain": "1", "NRS_pain": "3"}, 3, 3),  # engine 4: under-triage
]


def write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        for i, (complaint, changes, expert, nurse) in enumerate(CASES, start=1):
            r = dict.fromkeys(HEADER, "")
            r.update({"row_id": str(i), "Group": "1", "Sex": "2", "Age": "45", "Arrival mode": "3", "Injury": "1"})
            r.update({"Mental": "1", "Pain": "0", **NORMAL, "Chief_complain": complaint})
            r.update(changes)
            # leakage columns filled with misleading values: the engine must not read them
            r.update({"KTAS_RN": str(nurse), "KTAS_expert": str(expert), "Diagnosis in ED": "Cardiac arrest"})
            r.update({"Disposition": "6", "Error_group": "0", "mistriage": "0", "Length of stay_min": "1"})
            w.writerow(r)
        bad = dict.fromkeys(HEADER, "")
        bad.update({"row_id": "99", "Sex": "2", "Age": "not a number", "KTAS_expert": "3", "KTAS_RN": "3"})
        w.writerow(bad)


def root_app() -> typer.Typer:
    """The app mounted the way the lead mounts it: `hospital-ops triage ...`."""
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """hospital-ops"""

    root.add_typer(app, name="triage")
    return root


def test_eval_gives_exact_figures_on_a_small_csv(tmp_path: Path) -> None:
    """On 7 good rows + 1 unparseable row the JSON holds the hand-computed engine and nurse figures."""
    data, out = tmp_path / "ktas.csv", tmp_path / "out.json"
    write_csv(data)
    result = CliRunner().invoke(root_app(), ["triage", "eval", "--data", str(data), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "unparseable rows: 1" in result.output
    assert "Age: 'not a number' is not a number" in result.output
    got = json.loads(out.read_text(encoding="utf-8"))
    assert got["n"] == 7
    assert got["unparseable"] == 1
    assert got["exact"] == pytest.approx(5 / 7)
    assert got["under_triage"] == pytest.approx(1 / 7)
    assert got["over_triage"] == pytest.approx(1 / 7)
    # hand computation: O = 2·(1/16), E from marginals (1,1,2,2,1) × (1,1,2,2,1) / 7 → 69/76
    assert got["kappa_quadratic"] == pytest.approx(69 / 76)
    assert got["confusion"] == [
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 0, 0, 1],
    ]
    nurse = got["nurse"]
    assert nurse["n"] == 7
    assert nurse["exact"] == pytest.approx(5 / 7)
    assert nurse["under_triage"] == pytest.approx(1 / 7)  # expert 3, nurse 4
    assert nurse["over_triage"] == pytest.approx(1 / 7)  # expert 5, nurse 4
    assert nurse["kappa_quadratic"] == pytest.approx(62 / 69)
    assert nurse["confusion"][4] == [0, 0, 0, 1, 0]
    assert set(got) >= {"n", "exact", "kappa_quadratic", "under_triage", "over_triage", "confusion", "nurse"}


def test_eval_prints_both_tables(tmp_path: Path) -> None:
    """The printed report shows engine and nurse figures and both confusion matrices."""
    data = tmp_path / "ktas.csv"
    write_csv(data)
    result = CliRunner().invoke(app, ["eval", "--data", str(data)])
    assert result.exit_code == 0, result.output
    for text in ("kappa (quadratic)", "0.908", "0.899", "under-triage", "Engine: rows = expert", "Nurse: rows"):
        assert text in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing data file exits with code 2 and a one-line message naming --data, no traceback."""
    result = CliRunner().invoke(app, ["eval", "--data", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "--data" in result.output and "cannot open" in result.output
    assert "Traceback" not in result.output


def test_file_without_parseable_rows_fails(tmp_path: Path) -> None:
    """A CSV whose every row is bad exits non-zero, saying so."""
    data = tmp_path / "k.csv"
    data.write_text(",".join(HEADER) + "\n" + ",".join(["x"] * len(HEADER)) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "--data", str(data)])
    assert result.exit_code == 1
    assert "no row could be parsed" in result.output


def test_bad_rules_file_is_a_clear_error(tmp_path: Path) -> None:
    """An invalid --rules file exits with code 2 naming the problem."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("name: x\n", encoding="utf-8")
    data = tmp_path / "k.csv"
    write_csv(data)
    result = CliRunner().invoke(app, ["eval", "--data", str(data), "--rules", str(rules)])
    assert result.exit_code == 2
    assert "complaints_file" in result.output


def test_default_data_is_the_shared_dev_split() -> None:
    """Without --data the command reads ../shared/data/ktas/dev.csv relative to the project root."""
    assert DEFAULT_DATA.parts[-4:] == ("shared", "data", "ktas", "dev.csv")
    assert DEFAULT_DATA.parent.parent.parent.parent == Path(__file__).resolve().parents[2].parent
