"""``python -m benchmarks`` end to end on the tiny instances (well under a second each)."""

from __future__ import annotations

import csv
from pathlib import Path


from benchmarks.__main__ import main

DATA = Path(__file__).parent / "data"


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_toptw_writes_one_checked_row_per_instance_and_m(tmp_path: Path) -> None:
    out = tmp_path / "toptw.csv"
    assert (
        main(["toptw", "--data", str(DATA), "--seconds", "0.1", "--m", "1,2", "--skip-pyvrp", "--csv", str(out)]) == 0
    )
    rows = _rows(out)
    assert [(r["instance"], r["m"]) for r in rows] == [("tiny4", "1"), ("tiny4", "2")]
    assert {"instance", "m", "best_known", "ours", "pyvrp", "seconds"} <= set(rows[0])
    assert rows[0]["best_known"] == "42" and rows[1]["best_known"] == ""  # bks.csv found in DATA
    assert rows[0]["ours"] == "42" and rows[0]["ours_feasible"] == "True"


def test_any_folder_in_the_format_works_and_other_txt_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an instance\n")
    (tmp_path / "mine.txt").write_text((DATA / "tiny4.txt").read_text())
    out = tmp_path / "out.csv"
    assert (
        main(["toptw", "--data", str(tmp_path), "--seconds", "0.1", "--m", "2", "--skip-pyvrp", "--csv", str(out)]) == 0
    )
    rows = _rows(out)
    assert [(r["instance"], r["best_known"], r["ours"]) for r in rows] == [("mine", "", "42")]


def test_pyvrp_runs_on_the_same_instances(tmp_path: Path) -> None:
    out = tmp_path / "toptw.csv"
    assert main(["toptw", "--data", str(DATA), "--seconds", "0.1", "--m", "1", "--diagnose", "--csv", str(out)]) == 0
    row = _rows(out)[0]
    assert row["pyvrp"] == "42" and row["pyvrp_grid"] == "42"
    vrp = tmp_path / "vrptw.csv"
    assert main(["vrptw", "--data", str(DATA), "--seconds", "0.1", "--csv", str(vrp)]) == 0
    row = _rows(vrp)[0]
    # optimum by hand: [3] and [1, 2], 2.8 + 20 = 22.8 (the capacity forbids [3, 1, 2] = 20.0)
    assert row["pyvrp"] == "22.8"
    assert row["ours"] == "22.8" and row["ours_feasible"] == "True"  # our load dimension too


def test_vrptw_plans_respect_the_capacity(tmp_path: Path) -> None:
    # tiny3: [3, 1, 2] would be shorter (20.0) but loads 15 for a capacity of 10
    out = tmp_path / "vrptw.csv"
    assert main(["vrptw", "--data", str(DATA), "--seconds", "0.2", "--skip-pyvrp", "--csv", str(out)]) == 0
    (row,) = _rows(out)
    assert (row["instance"], row["ours_feasible"], row["ours"]) == ("tiny3", "True", "22.8")


def test_our_search_can_be_chosen_like_the_app_does(tmp_path: Path) -> None:
    """--strategy / --workers reach our planner (here: OR-Tools' ILS beside the LNS)."""
    out = tmp_path / "toptw.csv"
    args = ["toptw", "--data", str(DATA), "--seconds", "1", "--m", "1", "--skip-pyvrp", "--csv", str(out)]
    assert main([*args, "--strategy", "ils", "--workers", "2"]) == 0
    [row] = _rows(out)
    assert row["ours"] == "42" and row["ours_feasible"] == "True"
