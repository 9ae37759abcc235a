"""examples/fc_net.py (CS231n "Fully-Connected Neural Nets", seed 003),
examples/optimizers.py and examples/weight_init.py ("Deep Learning from
Scratch" ch. 6, seed 001), shortened, show what their seeds describe."""
import math

import numpy as np
import pytest

from _helpers import load_example


@pytest.fixture(scope="module")
def fc_net():
    return load_example("fc_net")


@pytest.fixture(scope="module")
def fc_run(fc_net, tmp_path_factory):
    out = tmp_path_factory.mktemp("fc_net")
    return out, fc_net.main(str(out), epochs=4, verbose=False)


@pytest.fixture(scope="module")
def data(fc_net):
    return fc_net.get_digits_data()


def test_layer_checks_match_the_seed(fc_run):
    r = fc_run[1]["checks"]
    assert r["affine_forward"] < 1e-8                    # seed: ~1e-9
    for k in ("affine_backward_dx", "affine_backward_dw", "affine_backward_db",
              "affine_relu_dx", "affine_relu_dw", "affine_relu_db"):
        assert r[k] < 1e-8, k                            # seed: ~1e-10
    assert r["relu_forward"] < 1e-7                      # seed: ~5e-8
    assert r["relu_backward_dx"] < 1e-10                 # seed: ~3e-12
    assert abs(r["svm_loss"] - 8.999602749096233) < 1e-9      # seed: ~9, dx ~1e-9
    assert abs(r["softmax_loss"] - 2.302545844500738) < 1e-9   # seed: ~log(10), dx ~1e-8
    assert abs(r["softmax_loss"] - math.log(10)) < 1e-3
    assert r["svm_loss_dx"] < 1e-7 and r["softmax_loss_dx"] < 1e-7


def test_two_layer_and_fc_net_checks_match_the_seed(fc_run):
    r = fc_run[1]["checks"]
    assert r["init_W1_std_error"] < 0.1 and r["init_W2_std_error"] < 0.1
    assert r["two_layer_scores_abs_diff"] < 1e-6
    assert r["two_layer_loss_abs_diff"] < 1e-10
    assert r["two_layer_reg_loss_abs_diff"] < 1e-10
    # NumPy's generator in CS231n's order gives the seed's initial losses exactly.
    assert abs(r["fc_initial_loss_reg0"] - 2.307941433441618) < 1e-9
    assert abs(r["fc_initial_loss_reg3.14"] - 6.765122333792326) < 1e-9
    grad_errors = {k: v for k, v in r.items()
                   if k.startswith(("two_layer_reg0", "fc_reg"))}
    assert len(grad_errors) == 2 * 4 + 2 * 6
    assert max(grad_errors.values()) < 1e-5, grad_errors   # seed: ~1e-6 or less


def test_update_rules_match_the_seed_through_nablite_solvers(fc_run):
    r = fc_run[1]["checks"]
    for k in ("sgd_momentum_next_w", "sgd_momentum_velocity", "rmsprop_next_w",
              "rmsprop_cache", "adam_next_w", "adam_v", "adam_m"):
        assert r[k] < 2e-7, k                            # seed: 1e-8 .. 1e-7


@pytest.mark.parametrize("hidden, scale, lr", [([100, 100], 1e-1, 0.3),
                                               ([100] * 4, 1.5e-1, 0.1)])
def test_overfits_100_samples(fc_net, data, hidden, scale, lr):
    solver = fc_net.overfit_small_data(data, hidden, scale, lr, num_train=100, num_epochs=20)
    assert solver.train_acc_history[-1] >= 0.95
    assert solver.loss_history[-1] < 0.3 < 2.0 < solver.loss_history[0]
    assert solver.val_acc_history[-1] < solver.train_acc_history[-1]


def test_solver_histories_decay_and_best_params(fc_net, data):
    np.random.seed(0)
    model = fc_net.FullyConnectedNet([50], weight_scale=1e-1)
    solver = fc_net.Solver(model, data, update_rule="sgd_momentum",
                           optim_config={"learning_rate": 0.2}, lr_decay=0.9, num_epochs=3,
                           batch_size=100, verbose=False, seed=0)
    solver.train()
    per_epoch = len(data["X_train"]) // 100
    assert len(solver.loss_history) == 3 * per_epoch
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4
    assert np.mean(solver.loss_history[-5:]) < 0.5 * np.mean(solver.loss_history[:5])
    assert solver.optim.learning_rate() == pytest.approx(0.2 * 0.9 ** 3, rel=1e-6)
    # The model ends with the parameters of the best validation epoch.
    assert sorted(solver.best_params) == sorted(model.state)
    for k, v in solver.best_params.items():
        np.testing.assert_array_equal(model.state[k].d, v)
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc
    assert solver.best_val_acc == max(solver.val_acc_history) > 0.85
    with pytest.raises(ValueError, match="update_rule"):
        fc_net.Solver(model, data, update_rule="adadelta")


def test_fc_net_experiments_and_plots(fc_run):
    out, facts = fc_run
    for name in ("two_layer", "overfit", "update_rules", "batchnorm", "dropout"):
        assert (out / f"{name}.png").stat().st_size > 10000, name
    rules = facts["update_rules"]
    for rule in ("sgd_momentum", "rmsprop", "adam"):   # all faster than plain SGD
        assert rules[rule].train_acc_history[-1] > rules["sgd"].train_acc_history[-1] + 0.1
        assert rules[rule].loss_history[-1] < rules["sgd"].loss_history[-1]
    # weight_scale 1e-3: without batch norm the loss stays at log(10); with it, it drops.
    bn = facts["batchnorm"]
    assert np.mean(bn["baseline"].loss_history[-5:]) > 2.25
    assert np.mean(bn["batchnorm"].loss_history[-5:]) < 2.0
    assert facts["best_val_acc"] >= 0.9 and facts["best_test_acc"] >= 0.9


def test_fc_net_batchnorm_and_dropout_model(fc_net):
    np.random.seed(0)
    model = fc_net.FullyConnectedNet([20, 30], input_dim=15, use_batchnorm=True, dropout=0.5,
                                     dtype=np.float64, seed=1)
    assert sorted(model.params) == ["W1", "W2", "W3", "b1", "b2", "b3",
                                    "beta1", "beta2", "gamma1", "gamma2"]
    assert "running_mean1" in model.state and "running_var2" in model.state
    X, y = np.random.randn(8, 15), np.random.randint(10, size=8)
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss) and set(grads) == set(model.params)
    scores = model.loss(X)
    assert scores.shape == (8, 10)
    np.testing.assert_array_equal(scores, model.loss(X))   # test mode: no dropout
    # Gradient check with batch norm (dropout off: its mask changes every forward).
    model = fc_net.FullyConnectedNet([20, 30], input_dim=15, use_batchnorm=True, reg=0.1,
                                     weight_scale=5e-2, dtype=np.float64)
    errors = fc_net._param_grad_errors(model, X, y, "bn")
    assert max(errors.values()) < 1e-4, errors


def test_optimizer_paths_and_digits_mlp(tmp_path):
    opt = load_example("optimizers")
    facts = opt.main(str(tmp_path), steps=30, iterations=150, verbose=False)
    # SGD at the book's lr 0.95 zig-zags across the steep y direction.
    assert opt.zigzag(facts["paths"]["SGD"]) > 0.9
    for path in facts["paths"].values():
        assert path.shape == (31, 2)
        np.testing.assert_array_equal(path[0], [-7, 2])
    # At the same learning rate, Momentum and Adam end far lower than SGD.
    for lr, fs in facts["same_rate"].items():
        assert fs["Momentum"] < 0.5 * fs["SGD"], (lr, fs)
        assert fs["Adam"] < 0.8 * fs["SGD"], (lr, fs)
        assert fs["RMSprop"] < fs["SGD"], (lr, fs)
    # On the digits MLP, SGD is the slowest learner.
    final = facts["final_loss"]
    assert all(final["SGD"] > 2 * v for k, v in final.items() if k != "SGD"), final
    for name in ("optimizer_paths.png", "optimizer_compare_digits.png"):
        assert (tmp_path / name).stat().st_size > 10000


def test_weight_init_histograms_and_training(tmp_path):
    wi = load_example("weight_init")
    facts = wi.main(str(tmp_path), iterations=300, verbose=False)
    acts = facts["activations"]
    saturated = np.mean([np.mean((a < 0.05) | (a > 0.95)) for a in acts["std 1, sigmoid"]])
    assert saturated > 0.5                                    # piled up at 0 and 1
    assert all(a.std() < 0.05 for a in acts["std 0.01, sigmoid"])   # all near 0.5
    assert all(a.std() > 0.1 for a in acts["Xavier, sigmoid"])
    assert acts["std 0.01, ReLU"][-1].std() < 1e-3 * acts["std 0.01, ReLU"][0].std()
    he = [a.std() for a in acts["He, ReLU"]]
    assert max(he) < 1.5 * min(he)                            # the spread is kept
    final = facts["final_loss"]
    assert final["std=0.01"] > 2.2                            # hardly learns
    assert final["He"] < final["Xavier"] < final["std=0.01"]
    for name in ("activation_histograms.png", "weight_init_compare.png"):
        assert (tmp_path / name).stat().st_size > 10000
