"""`accelsim trace --numerics`: the exact run is plain torch training, curves repeat with the
seed, and the accuracy document has the agreed schema (needs torch)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="the accuracy mode needs torch (pip install "
                            "'accelsim[trace]')", exc_type=ImportError)

from accelsim.cli import main
from accelsim.trace.dataset import ShapesDataset
from accelsim.trace.numerics.acrtc import AcrtcNumerics, AcrtcNumericsParams
from accelsim.trace.numerics.mquans import MquansNumerics, MquansNumericsParams
from accelsim.trace.numerics.training import EvalSettings, train_curves
from accelsim.trace.options import TraceOptions
from tests.trace_models import tiny

OPTIONS = dict(model="tests.trace_models:tiny", input_shape=(3, 16, 16), out="", batch=8,
               steps=5, train_size=16, threads=1)
SETTINGS = EvalSettings(eval_every=2, test_size=16)


def test_exact_run_is_plain_torch_training_bit_for_bit():
    """Losses and batch accuracies of the exact run equal a plain torch loop written here
    (same seed, model, data order, SGD with momentum 0.9 and weight decay 5e-4)."""
    curves = train_curves(TraceOptions(**OPTIONS), SETTINGS)
    torch.manual_seed(0)
    model = tiny()
    model.train()
    data = ShapesDataset(16, (3, 16, 16), 10, 0)
    sgd = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    losses = []
    for step in range(5):
        start = (step % 2) * 8
        x = torch.from_numpy(data.images[start:start + 8])
        y = torch.from_numpy(data.labels[start:start + 8])
        sgd.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        sgd.step()
        losses.append(float(loss.detach()))
    assert curves.loss == losses
    assert curves.eval_steps == [0, 2, 4, 5]


def test_same_seed_gives_identical_curves():
    """Twice in one process, with a random hit share (ACRTC hit_rate 0.5) and with Mquans'
    reuse state: identical curves; another seed gives others."""
    def run(seed, emulation):
        return train_curves(TraceOptions(**{**OPTIONS, "seed": seed}), SETTINGS,
                            emulation).as_dict()

    for make in (lambda s: AcrtcNumerics(AcrtcNumericsParams(k=8, hit_rate=0.5), s, 2),
                 lambda s: MquansNumerics(MquansNumericsParams(), s, 2)):
        first, second = run(0, make(0)), run(0, make(0))
        assert first == second
        assert run(1, make(1))["loss"] != first["loss"]


def test_technique_run_differs_from_exact():
    exact = train_curves(TraceOptions(**OPTIONS), SETTINGS)
    acrtc = train_curves(TraceOptions(**OPTIONS), SETTINGS,
                         AcrtcNumerics(AcrtcNumericsParams(k=10), 0, 2))
    assert acrtc.loss[0] != exact.loss[0]


def test_cli_writes_the_accuracy_document(tmp_path, capsys):
    out = tmp_path / "accuracy" / "tiny"
    code = main(["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16",
                 "--batch", "8", "--steps", "4", "--train-size", "16", "--eval-every", "2",
                 "--eval-size", "16", "--numerics", "acrtc:k=8", "--numerics", "daa:low=int8",
                 "--compare-exact", "--accuracy-out", str(out)])
    assert code == 0, capsys.readouterr().err
    for technique in ("acrtc", "daa"):
        doc = json.loads((out / f"{technique}.json").read_text())
        assert list(doc)[:16] == ["schema", "workload", "technique", "params", "seed",
                                  "dataset", "steps", "batch", "exact", "technique_run",
                                  "final", "command", "versions", "approximation",
                                  "settings", "seconds"]
        assert doc["schema"] == "accelsim.accuracy/1"
        assert (doc["workload"], doc["technique"], doc["steps"], doc["batch"]) == \
            ("tiny", technique, 4, 8)
        for run in ("exact", "technique_run"):
            curves = doc[run]
            assert len(curves["loss"]) == len(curves["train_accuracy"]) == 4
            assert curves["eval_steps"] == [0, 2, 4]
            assert len(curves["test_accuracy"]) == 3
        final = doc["final"]
        assert final["exact_accuracy"] == doc["exact"]["test_accuracy"][-1]
        assert final["difference_pp"] == pytest.approx(
            100 * (final["technique_accuracy"] - final["exact_accuracy"]))
        assert final["metric"] == "held-out accuracy over the last evaluation"
        assert doc["command"].startswith("accelsim trace --model tests.trace_models:tiny")
        assert doc["approximation"] and "torch" in doc["versions"]
    assert json.loads((out / "acrtc.json").read_text())["params"]["k"] == 8
    assert json.loads((out / "daa.json").read_text())["params"]["low"] == "int8"


@pytest.mark.parametrize("extra, message", [
    (["--numerics", "ant"], "a technique with a numerics emulation"),
    (["--numerics", "acrtc:k=8", "--accuracy-out", "X"], "--compare-exact"),
    (["--numerics", "mquans", "--numerics", "mquans"], "at most once"),
    ([], "--out is required"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, extra, message):
    code = main(["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16",
                 *[str(tmp_path / e) if e == "X" else e for e in extra]])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_keeps_a_foreign_file(tmp_path, capsys):
    (tmp_path / "acrtc.json").write_text("mine")
    code = main(["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16",
                 "--steps", "1", "--numerics", "acrtc:k=8", "--compare-exact",
                 "--accuracy-out", str(tmp_path)])
    assert code == 2 and "--force" in capsys.readouterr().err
    assert (tmp_path / "acrtc.json").read_text() == "mine"


@pytest.mark.slow
def test_worker_processes_give_the_same_curves():
    """--jobs: the runs trained in worker processes equal those trained in this one."""
    from accelsim.trace.numerics.spec import NumericsSpec
    from accelsim.trace.numerics.training import train_runs

    specs = [None, NumericsSpec.parse("mquans")]
    options = TraceOptions(**OPTIONS)
    alone = train_runs(options, SETTINGS, specs, jobs=1)
    pooled = train_runs(options, SETTINGS, specs, jobs=2)
    assert [(c.as_dict(), d) for c, d in alone] == [(c.as_dict(), d) for c, d in pooled]


def test_convergence_options_are_refused_not_ignored(capsys):
    """The accuracy mode trains on the generated shapes at a constant rate: a schedule or
    another data set given beside --numerics is one error, not silently dropped."""
    for extra in (["--lr-schedule", "cosine"], ["--dataset", "digits"], ["--warmup-steps", "4"]):
        code = main(["trace", "--model", "tests.trace_models:tiny", "--input", "3x16x16",
                     "--numerics", "acrtc:k=8", *extra])
        assert code == 2
        assert f"{extra[0]}: " in capsys.readouterr().err
