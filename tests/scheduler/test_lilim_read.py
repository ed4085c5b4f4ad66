"""Reading Li & Lim instance files, the BKS table and the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.lilim.read import (
    DATA_ENV,
    InstanceFormatError,
    bks_path_for,
    default_data_dir,
    find_instances,
    parse_instance,
    read_bks,
    read_instance,
    truncate_instance_text,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "lilim"
needs_data = pytest.mark.skipif(not (DATA / "100" / "lc101.txt").is_file(), reason="shared Li & Lim data absent")

# depot, then a delivery (1) listed before its pickup (3), and a pickup (2) before its delivery (4)
TINY = """2\t50\t1
0\t0\t0\t0\t0\t1000\t0\t0\t0
1\t10\t0\t-5\t0\t1000\t10\t3\t0
2\t0\t10\t7\t0\t1000\t10\t0\t4
3\t5\t5\t5\t0\t1000\t10\t0\t1
4\t0\t20\t-7\t0\t1000\t10\t2\t0
"""


@needs_data
def test_reads_lc101_with_pairs_not_ordered_pickup_first() -> None:
    """lc101: header fields, 106 tasks, and task 1 is a delivery whose pickup is task 11."""
    inst = read_instance(DATA / "100" / "lc101.txt")
    assert inst.name == "lc101"
    assert (inst.max_vehicles, inst.capacity, inst.num_tasks) == (25, 200, 106)
    assert len(inst.pairs) == 53
    assert inst.pickup_of[1] == 11 and inst.delivery_of[11] == 1
    assert inst.demand[11] == 10 and inst.demand[1] == -10
    assert (inst.ready[1], inst.due[1], inst.service[1]) == (912, 967, 90)
    assert (inst.x[0], inst.y[0], inst.due[0]) == (40.0, 50.0, 1236)
    for p, d in inst.pairs:
        assert inst.demand[p] == -inst.demand[d] > 0
        assert inst.pickup_of[d] == p and inst.delivery_of[p] == d


def test_parses_pair_mapping_in_either_order() -> None:
    """A delivery listed before its pickup still maps both ways; the depot maps to nothing."""
    inst = parse_instance(TINY, name="tiny")
    assert inst.pairs == ((2, 4), (3, 1))
    assert inst.pickup_of[1] == 3 and inst.delivery_of[3] == 1
    assert inst.pickup_of[0] == -1 and inst.delivery_of[0] == -1
    assert inst.dist(0, 3) == pytest.approx(50**0.5)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        (TINY.replace("1\t10\t0\t-5", "1\t1x\t0\t-5"), r":3: field x: '1x' is not a number"),
        (TINY.replace("2\t0\t10\t7\t0\t1000\t10\t0\t4", "2\t0\t10\t7\t0\t1000\t10\t0\t3"), "delivery_index"),
        (TINY.replace("4\t0\t20\t-7", "4\t0\t20\t-6"), "field demand"),
        (TINY.replace("3\t5\t5\t5\t0\t1000", "3\t5\t5\t5\t900\t100"), "window .* is empty"),
        (TINY.replace("\n2\t0\t10", "\n7\t0\t10"), "field id"),
        (TINY.replace("1\t10\t0\t-5\t0\t1000\t10\t3\t0", "1\t10\t0\t-5\t0\t1000\t10\t3\t3"), "exactly one"),
        (TINY.replace("0\t0\t0\t0\t0\t1000\t0\t0\t0", "0\t0\t0\t0\t0\t1000\t0\t0"), "expected 9 fields"),
    ],
)
def test_rejects_malformed_files_naming_the_field(text: str, match: str) -> None:
    """Every malformed file raises InstanceFormatError saying where and why."""
    with pytest.raises(InstanceFormatError, match=match):
        parse_instance(text, source="t.txt")


def test_truncated_instance_keeps_pairs_consistent() -> None:
    """Truncation keeps the first requests by pickup id and renumbers the cross-references."""
    inst = parse_instance(truncate_instance_text(TINY, 1))
    assert inst.num_tasks == 2
    assert inst.pairs == ((1, 2),)  # old pickup 2 and its delivery 4, renumbered 1 and 2
    assert inst.demand[1] == 7 and inst.demand[2] == -7


def test_bks_and_directory_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bks.csv is found in the directory or its parent; unknown names and empty dirs are errors."""
    data = tmp_path / "set"
    data.mkdir()
    (data / "tiny.txt").write_text(TINY)
    (tmp_path / "bks.csv").write_text("instance,vehicles,distance\ntiny,1,42.5\n")
    assert bks_path_for(data) == tmp_path / "bks.csv"
    assert read_bks(bks_path_for(data))["tiny"].vehicles == 1
    assert find_instances(data) == [data / "tiny.txt"]
    with pytest.raises(InstanceFormatError, match="unknown instance"):
        find_instances(data, ["nope"])
    with pytest.raises(InstanceFormatError, match="not a directory"):
        find_instances(tmp_path / "missing")
    with pytest.raises(InstanceFormatError, match="no instance files"):
        find_instances(tmp_path)
    (tmp_path / "bks.csv").write_text("instance,routes\n")
    with pytest.raises(InstanceFormatError, match="missing column"):
        read_bks(tmp_path / "bks.csv")
    monkeypatch.setenv(DATA_ENV, str(data))
    assert default_data_dir() == data
