"""examples/from_scratch.py, run as a script (--quick), shows what seed 001's
chapters 4-6 show. The references are the book's closed forms and numbers."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "examples", "from_scratch.py")


def run_script(*args):
    # One BLAS thread: the matrices are small, and on a shared machine two
    # spinning OpenBLAS threads made the run over ten times slower.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One shortened run of every section; its stdout, facts and output folder."""
    out = tmp_path_factory.mktemp("from_scratch")
    proc = run_script("--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "from_scratch.json") as f:
        return proc.stdout, json.load(f), out


def test_numerical_derivatives_are_the_books(quick):
    stdout, facts, _ = quick
    derivative = facts["numerical"]["derivative"]
    for x0, want in (("5.0", 0.2), ("10.0", 0.3)):
        numeric, backward, closed = derivative[x0]
        assert closed == pytest.approx(want, abs=1e-15)
        assert backward == pytest.approx(want, abs=1e-15)
        # the seed's central difference: 0.1999999999990898 and 0.2999999999986347
        assert 1e-13 < abs(numeric - want) < 1e-11
    assert "central difference 0.1999999999990898" in stdout
    field = facts["numerical"]["gradient_field"]
    assert field["backward_vs_closed_form"] < 1e-12
    assert field["numerical_vs_backward"] < 1e-6


def test_gradient_descent_converges_diverges_or_stays_by_learning_rate(quick):
    descent = quick[1]["numerical"]["descent"]
    start = np.array([-3.0, 4.0])
    for lr, ends in descent.items():
        np.testing.assert_allclose(ends["backward"], ends["closed_form"], rtol=1e-9)
    assert np.linalg.norm(descent["0.1"]["backward"]) < 1e-8      # reaches the origin
    assert np.linalg.norm(descent["0.1"]["numerical"]) < 1e-8
    assert np.linalg.norm(descent["10.0"]["backward"]) > 1e100    # (-19)**100 times the start
    # the seed's numerical route stalls near 1e13, where x**2 +- 2xh rounds to x**2
    assert 1e10 < np.linalg.norm(descent["10.0"]["numerical"]) < 1e16
    moved = np.abs(np.array(descent["1e-10"]["backward"]) - start)
    assert 0 < moved.max() < 1e-6                                 # hardly moves


def test_two_layer_net_learns_without_overfitting(quick):
    facts = quick[1]["twolayer"]
    train, test = np.array(facts["history"]["train_acc"]), np.array(facts["history"]["test_acc"])
    assert len(train) == len(test) == quick[1]["settings"]["epochs"]
    third = len(train) // 3
    for acc in (train, test):
        assert acc[-1] > 0.6                                      # chance is 0.1
        assert acc[-third:].mean() > acc[:third].mean() + 0.3     # rising
    assert abs(train[-1] - test[-1]) < 0.1                        # together
    assert quick[0].count("train acc, test acc | ") == len(train)


def test_gradient_check_below_1e_6_in_float64(quick):
    facts = quick[1]["twolayer"]
    assert list(facts["gradient_check"]) == ["W1", "b1", "W2", "b2"]
    assert len(facts["gradient_check_samples"]) == 3
    for name, diff in facts["gradient_check"].items():
        assert 0 < diff < 1e-6, name


def test_computational_graph_gives_the_books_gradients(quick):
    stdout, facts, _ = quick
    graph = facts["graph"]
    assert graph["functions"] == ["Mul2", "Mul2", "Add2", "Mul2"]
    assert graph["price"] == pytest.approx(715)
    want = {"apple": 2.2, "apple_num": 110, "orange": 3.3, "orange_num": 165, "tax": 650}
    for name, g in want.items():
        assert graph["grads"][name] == pytest.approx(g, rel=1e-12), name
    assert "price: 715\n" in stdout and "dtax: 650 " in stdout
    for layer, err in graph["layer_errors"].items():
        assert err < 1e-12, layer


def test_batch_norm_ahead_at_most_weight_scales(quick):
    facts, settings = quick[1]["batchnorm"], quick[1]["settings"]
    cells = facts["accuracy"]
    assert len(cells) == settings["bn_scales"]
    np.testing.assert_allclose([c["scale"] for c in cells], np.logspace(0, -4, len(cells)))
    for c in cells:
        assert len(c["normal"]) == len(c["batchnorm"]) == settings["bn_epochs"]
    ahead = sum(c["batchnorm"][-1] > c["normal"][-1] for c in cells)
    assert ahead == facts["ahead_final"] > len(cells) / 2
    assert max(c["batchnorm"][-1] for c in cells) > 0.8


def test_every_figure_is_written(quick):
    out = quick[2]
    for name in ("gradient_1d.png", "gradient_2d.png", "gradient_method.png",
                 "train_neuralnet.png", "batch_norm_test.png"):
        with open(out / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name


def test_one_section_alone_and_a_bad_section(tmp_path):
    proc = run_script("--sections", "graph", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "from_scratch.json") as f:
        assert set(json.load(f)) == {"settings", "graph"}
    proc = run_script("--sections", "graph,bogus", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "unknown sections ['bogus']" in proc.stderr
