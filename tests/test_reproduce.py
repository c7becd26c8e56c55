"""``accelsim reproduce``: the accuracy column from accuracy files (schema accelsim.accuracy/1),
one technique's table beside the paper's figures with its CSV and figure, and ``all`` with the
stacks (slow)."""

from __future__ import annotations

import csv
import json

import pytest

from accelsim import cli
from accelsim.errors import WorkloadError
from accelsim.reproduce import accuracy
from accelsim.reproduce.accuracy import read_accuracy

PNG = b"\x89PNG\r\n\x1a\n"


def accuracy_fixture(folder, workload="mlp", technique="daa", **changes) -> None:
    """A small accuracy file in the schema the accuracy-side training mode writes."""
    data = {
        "schema": "accelsim.accuracy/1", "workload": workload, "technique": technique,
        "params": {"low": "int8"}, "seed": 0, "dataset": "generated", "steps": 4, "batch": 32,
        "exact": {"accuracy": [0.1, 0.2, 0.3, 0.35]},
        "technique_run": {"accuracy": [0.1, 0.19, 0.29, 0.338]},
        "final": {"exact_accuracy": 0.35, "technique_accuracy": 0.338,
                  "difference_pp": -1.2, "metric": "train accuracy"},
        "command": "accelsim trace ...", "versions": {"torch": "2.13.0"},
        "approximation": "smaller product of each pair rounded to int8",
    }
    data.update(changes)
    path = folder / workload
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{technique}.json").write_text(json.dumps(data))


def test_accuracy_file_read_or_not_measured(tmp_path):
    """With a file, the column shows final.difference_pp and the footnote its approximation;
    without one, "not measured" and the reason given; a file with the wrong schema or a
    difference that is not a number is one error naming the file and the key."""
    found = read_accuracy("mlp", "daa", tmp_path)
    assert (found.text, found.difference_pp) == ("not measured", None)
    assert "does not exist" in found.note
    accuracy_fixture(tmp_path)
    found = read_accuracy("mlp", "daa", tmp_path)
    assert (found.text, found.difference_pp) == ("-1.20 pp", -1.2)
    assert "smaller product of each pair rounded to int8" in found.note
    # a row whose setting gives a studied parameter another value is not what was measured
    found = read_accuracy("mlp", "daa", tmp_path, setting="daa:low=fp16,phases=fwd")
    assert found.text == "not measured" and "low=int8 (this row: fp16)" in found.note
    assert read_accuracy("mlp", "daa", tmp_path, setting="daa:low=int8").text == "-1.20 pp"
    accuracy_fixture(tmp_path, schema="accelsim.accuracy/0")
    with pytest.raises(WorkloadError, match="daa.json.*schema"):
        read_accuracy("mlp", "daa", tmp_path)
    accuracy_fixture(tmp_path, final={"difference_pp": "small", "metric": "accuracy"})
    with pytest.raises(WorkloadError, match="final.difference_pp"):
        read_accuracy("mlp", "daa", tmp_path)


def test_reproduce_daa_quick_table_csv_and_figure(tmp_path, monkeypatch, capsys):
    """``accelsim reproduce daa --quick`` prints one table with ours beside the paper's 2x
    and 35% and the accuracy read from the (fixture) accuracy file with its approximation in
    the footnote; it writes the summary CSV and figure and the technique's report, CSV and
    figure."""
    accuracy_fixture(tmp_path / "accuracy")
    monkeypatch.setattr(accuracy, "ACCURACY_FOLDER", tmp_path / "accuracy")
    out = tmp_path / "out"
    assert cli.main(["reproduce", "daa", "--quick", "--out", str(out), "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "(2.00x)" in text and "(35.0%)" in text
    assert "-1.20 pp" in text and "rounded to int8" in text
    rows = list(csv.DictReader((out / "reproduction.csv").open(encoding="utf-8")))
    assert [(r["technique"], r["workload"], r["accuracy"]) for r in rows] == [
        ("daa", "mlp", "-1.20 pp")]
    assert float(rows[0]["speedup"]) >= 1.0 and float(rows[0]["paper_speedup"]) == 2.0
    assert (out / "reproduction.png").read_bytes()[:8] == PNG
    assert (out / "daa" / "daa.png").read_bytes()[:8] == PNG
    assert "DAA reproduction" in (out / "daa" / "report.txt").read_text()


def test_reproduce_daa_quick_quotes_the_shipped_accuracy_study(tmp_path, capsys):
    """Without a fixture, the table's accuracy is the shipped study's difference
    (workloads/accuracy/mlp/daa.json) and its footnote the study's approximation and file."""
    shipped = accuracy.accuracy_file("mlp", "daa")
    doc = json.loads(shipped.read_text(encoding="utf-8"))
    out = tmp_path / "out"
    assert cli.main(["reproduce", "daa", "--quick", "--out", str(out), "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    figure = f"{doc['final']['difference_pp']:+.2f} pp"
    assert f"daa, mlp: {figure}: " in text
    assert doc["approximation"] in " ".join(text.split())
    assert f"accuracy difference, mlp: {figure}: " in (out / "daa" / "report.txt").read_text()
    rows = list(csv.DictReader((out / "reproduction.csv").open(encoding="utf-8")))
    assert [r["accuracy"] for r in rows] == [figure]


def test_reproduce_refuses_a_file_as_output_folder(tmp_path, capsys):
    """An --out that is a file is one error line and exit code 2, before any simulation."""
    target = tmp_path / "taken"
    target.write_text("mine")
    assert cli.main(["reproduce", "daa", "--quick", "--out", str(target)]) == 2
    assert capsys.readouterr().err.startswith("error: --out")
    assert target.read_text() == "mine"


@pytest.mark.slow
def test_reproduce_all_quick_runs_every_technique_and_the_stacks(tmp_path, capsys):
    """``all --quick``: a row per technique, the four stacks with the MAC invariant holding and
    each MAC skipped at most once, and the pairs that are not stacked with their reason."""
    out = tmp_path / "all"
    assert cli.main(["reproduce", "all", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = list(csv.DictReader((out / "reproduction.csv").open(encoding="utf-8")))
    assert {r["technique"] for r in rows if r["kind"] == "technique"} == {
        "ant", "acrtc", "daa", "mquans", "confidence_skip"}
    assert len([r for r in rows if r["kind"] == "stack"]) == 4
    assert text.count("holds") == 4 and text.count("each MAC skipped at most once") == 4
    assert "Not stacked" in text and "acrtc + daa" in text


@pytest.mark.parametrize("name, paper", [("daa", "2.00x"), ("confidence_skip", "72.6%")])
def test_scripts_are_thin_wrappers_with_their_options(tmp_path, name, paper):
    """scripts/reproduce_<name>.py --quick runs the package's reproduction: its report with
    the paper's figure, its CSV and figure in --out, and nothing else there."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / name
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / f"reproduce_{name}.py"),
                           "--quick", "--out", str(out)], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert paper in done.stdout
    shipped = list((ROOT / "workloads" / "accuracy").glob(f"*/{name}.json"))
    if shipped:  # the accuracy column quotes the shipped study's difference
        difference = json.loads(shipped[0].read_text())["final"]["difference_pp"]
        assert f"{difference:+.2f} pp" in done.stdout
    else:
        assert "not measured" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [f"{name}.csv", f"{name}.png"]
