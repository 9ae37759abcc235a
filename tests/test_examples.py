"""The examples run and show what their tutorials describe."""
import importlib.util
import os

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
