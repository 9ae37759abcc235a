"""The examples run and show what their tutorials describe."""
import os
import re

import numpy as np
import pytest

from _helpers import EXAMPLES, load_example


def test_linear_regression_solver_and_gradient_semantics(tmp_path):
    facts = load_example("linear_regression").main(str(tmp_path), verbose=False)
    np.testing.assert_array_equal(facts["zero_grad"][0], 0)
    np.testing.assert_array_equal(facts["zero_grad"][1], 0)
    (want_a, want_b), (a, b) = facts["update"]           # update == a.d - 0.01 * a.g
    np.testing.assert_allclose(a, want_a, rtol=1e-6)
    np.testing.assert_allclose(b, want_b, rtol=1e-6)
    (ga, gb), (ga2, gb2) = facts["accumulate"]           # a second backward adds
    np.testing.assert_allclose(ga2, 2 * ga, rtol=1e-5)
    np.testing.assert_allclose(gb2, 2 * gb, rtol=1e-5)
    (want_a, want_b), (a, b) = facts["manual_grad"]      # a.g = 15 steers the update
    np.testing.assert_allclose(a, want_a, rtol=1e-6)
    np.testing.assert_allclose(b, want_b, rtol=1e-6)
    a, b = facts["final"]
    assert abs(a - 0.3) < 0.05 and abs(b - 1.5) < 0.05
    assert (tmp_path / "fitted.png").stat().st_size > 0


def test_spiral_linear_about_49_and_net_above_95_percent(tmp_path):
    linear, net = load_example("spiral").main(str(tmp_path), verbose=False)
    assert 0.45 <= linear <= 0.56
    assert net >= 0.95
    assert (tmp_path / "loss.png").stat().st_size > 0


def test_by_examples_every_section_shortened(tmp_path):
    history = load_example("by_examples").main(str(tmp_path), steps=150)
    for key in ("logreg", "mlp", "cnn", "rnn"):
        losses = history[key]
        assert len(losses) == 150
        assert np.mean(losses[-20:]) < 0.85 * np.mean(losses[:5]), key
    assert len(history["siamese"]) == 2 * 2 * 150
    assert abs(history["siamese_lr"] - 1e-3) < 1e-9          # the decayed learning rate
    assert history["cnn_accuracy"] > 0.8
    for name in ("digits.png", "minibatch.png", "mlp_layers.png", "cnn_layers.png",
                 "rnn_layers.png", "siamese_embedding.png", "tmp.params.cnn.h5"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_by_examples_runs_unchanged_on_nnabla_imports(tmp_path):
    """The tutorial code with `import nnabla` left as it is, through `nablite run`."""
    import subprocess
    import sys
    code = open(os.path.join(EXAMPLES, "by_examples.py")).read()
    code = code.replace("import nablite", "import nnabla").replace("from nablite", "from nnabla")
    code = code.replace("from nnabla.datasets import tiny_digits", "import tiny_digits")
    assert not [line for line in code.splitlines() if line.startswith(("import ", "from ")) and "nablite" in line]
    script = tmp_path / "by_examples_nnabla.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, "-m", "nablite.cli", "run", str(script),
                           "--steps", "60", "--out", str(tmp_path / "out"),
                           "--sections", "logreg,mlp,rnn"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "rnn_layers.png").stat().st_size > 0


def test_gradient_penalty_holds_the_critic_near_1_lipschitz(tmp_path):
    example = load_example("gradient_penalty")
    history = example.main(str(tmp_path), iterations=120, verbose=False)
    first, last = np.mean(history["distance"][:20]), np.mean(history["distance"][-20:])
    assert last < 0.5 * first  # the generator closes the gap the critic measures
    assert 0.7 < np.mean(history["grad_norm"][-20:]) < 1.4
    assert (tmp_path / "wgan_gp.png").stat().st_size > 0
    assert (tmp_path / "wgan_gp_samples.png").stat().st_size > 0
    # without the penalty (whose gradient is second order) nothing holds the norm
    free = example.main(str(tmp_path / "free"), iterations=40, lam=0.0, verbose=False)
    assert np.mean(free["grad_norm"][-10:]) > 5


# -- the examples' command lines ------------------------------------------------------
# example -> its count option (each must reject 0 before doing any work)
COUNT_OPTIONS = {"by_examples": "--steps", "fc_net": "--epochs", "gradient_penalty": "--iterations",
                 "linear_regression": "--steps", "optimizers": "--iterations",
                 "spiral": "--net-steps", "weight_init": "--iterations",
                 "data_parallel": "--steps", "from_scratch": "--epochs"}


def run_example(name, *args, env=None):
    import subprocess
    import sys
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("name", sorted(COUNT_OPTIONS))
def test_example_help_and_bad_counts(name):
    helped = run_example(name, "--help")
    assert helped.returncode == 0, helped.stderr
    text = " ".join(helped.stdout.split())
    assert "takes about" in text and "``" not in text and ":func:" not in text
    blocks = re.split(r"\n  (?=-)", helped.stdout.split("options:", 1)[1])[1:]
    assert len(blocks) >= 2
    for block in blocks:                     # every option but --help states its default
        assert block.startswith("-h") or "(default" in block, block
    option = COUNT_OPTIONS[name]
    proc = run_example(name, option, "0", "--out", os.devnull)
    assert proc.returncode == 2
    assert f"argument {option}: must be at least 1, got 0" in proc.stderr


def test_data_parallel_rejects_bad_learning_rates():
    for value in ("-1", "nan", "0"):
        proc = run_example("data_parallel", "--lr", value)
        assert proc.returncode == 2
        assert f"argument --lr: must be a finite positive number, got {float(value)}" \
            in proc.stderr, proc.stderr


def test_by_examples_rejects_unknown_sections():
    proc = run_example("by_examples", "--sections", "logreg,nope")
    assert proc.returncode == 2
    assert "unknown section(s) nope; choose from logreg,mlp,cnn,rnn,siamese" in proc.stderr
    with pytest.raises(ValueError, match=r"by_examples.main: unknown section\(s\) nope"):
        load_example("by_examples").main(os.devnull, steps=1, sections=["nope"])


@pytest.mark.parametrize("name, kwargs", [("gradient_penalty", {"iterations": 0}),
                                          ("weight_init", {"iterations": 0}),
                                          ("optimizers", {"iterations": 0}),
                                          ("fc_net", {"epochs": 0}),
                                          ("linear_regression", {"steps": 0}),
                                          ("spiral", {"net_steps": 0})])
def test_example_mains_reject_zero_counts(name, kwargs):
    with pytest.raises(ValueError, match=rf"{name}.main: .*must be at least 1"):
        load_example(name).main(os.devnull, **kwargs)


def test_save_stacked_curves_puts_each_quantity_on_its_own_axes(tmp_path):
    """gradient_penalty's wgan_gp.png: the Wasserstein estimate and the gradient
    norm have different units, so each gets its own y axis."""
    pytest.importorskip("matplotlib")
    import matplotlib.image
    from nablite.utils.plot import save_stacked_curves
    path = str(tmp_path / "two.png")
    steps = np.arange(50)
    assert save_stacked_curves(path, [("a (m)", {"a": (steps, steps * 2.0)}),
                                      ("b (s)", {"b": (steps, np.sqrt(steps))})],
                               title="two panels", xlabel="step") == path
    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == (640, 620)              # 6.4 x 6.2 inches: two rows
    with pytest.raises(TypeError, match="save_stacked_curves: panels must be"):
        save_stacked_curves(path, {"a": (steps, steps)})
    with pytest.raises(ValueError, match=r"series\['b'\] has 50 x values but 3 y values"):
        save_stacked_curves(path, [("b", {"b": (steps, [1, 2, 3])})])


def test_by_examples_cnn_on_the_simulated_device(tmp_path):
    """--context cudnn: the CNN section on the device code path (the simulated
    device here), to the CPU's accuracy."""
    env = dict(os.environ, NABLITE_DEVICE_SIM="1")
    proc = run_example("by_examples", "--steps", "60", "--sections", "cnn", "--context", "cudnn",
                       "--out", str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Context: Context(backend=['cudnn:float'" in proc.stdout
    assert "CNN training accuracy" in proc.stdout
