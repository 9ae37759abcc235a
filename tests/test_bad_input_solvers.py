"""Bad solver input: hyper-parameters, learning rates, parameter dicts, states.

NNabla 1.39 raises TypeError for None or a string hyper-parameter; nablite also
refuses NaN and inf, which would turn every parameter into NaN at the next update.
"""
import inspect

import numpy as np
import pytest

import nablite as nn
import nablite.solvers as S


def _param():
    p = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32), need_grad=True)
    p.g = 0.5
    return p


SOLVERS = [getattr(S, n) for n in S.__all__ if n not in ("Solver", "SolverState")]


def _first_number_arg(cls):
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if isinstance(p.default, float):
            return name
    raise AssertionError(cls)


@pytest.mark.parametrize("cls", SOLVERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad,exc", [(None, TypeError), ("0.1", TypeError),
                                     (float("nan"), ValueError), (float("inf"), ValueError),
                                     (1e39, ValueError), ([0.1], TypeError)],
                         ids=["None", "str", "nan", "inf", "float32-overflow", "list"])
def test_every_solver_refuses_non_finite_or_non_real_hyper_parameters(cls, bad, exc):
    arg = _first_number_arg(cls)
    with pytest.raises(exc, match=rf"^{cls.__name__}: {arg}="):
        cls(**{arg: bad})


def test_valid_hyper_parameters_still_work():
    s = S.Adam(alpha=np.float32(0.01), beta1=np.array(0.5), beta2=1)
    assert s.learning_rate() == pytest.approx(0.01) and s.info["beta1"] == 0.5
    assert S.Sgd(lr=-0.1).learning_rate() == pytest.approx(-0.1)  # NNabla allows ascent


def test_set_learning_rate_none_is_an_error_and_keeps_the_rate():
    p = _param()
    s = S.Sgd(lr=0.1)
    s.set_parameters({"p": p})
    for bad, exc in ((None, TypeError), (float("nan"), ValueError), ("1", TypeError)):
        with pytest.raises(exc, match="^Sgd.set_learning_rate: learning_rate="):
            s.set_learning_rate(bad)
    assert s.learning_rate() == pytest.approx(0.1)
    s.update()
    np.testing.assert_allclose(p.d, 1 - 0.1 * 0.5, rtol=1e-6)  # not NaN


def test_weight_decay_clip_and_scale_values_are_checked():
    s = S.Sgd()
    s.set_parameters({"p": _param()})
    with pytest.raises(TypeError, match="^Sgd.weight_decay: decay_rate=None"):
        s.weight_decay(None)
    with pytest.raises(ValueError, match="^Sgd.clip_grad_by_norm: clip_norm=nan"):
        s.clip_grad_by_norm(float("nan"))
    with pytest.raises(TypeError, match="^Sgd.scale_grad: scale='2'"):
        s.scale_grad("2")


def test_set_parameters_needs_a_dict_of_variables():
    s = S.Adam()
    with pytest.raises(TypeError, match=r"^Adam.set_parameters: param_dict must be a dict .*"
                                        "got NoneType"):
        s.set_parameters(None)
    with pytest.raises(TypeError, match="^Adam.set_parameters: 'w' is a ndarray, expected a "
                                        "Variable"):
        s.set_parameters({"w": np.ones(2)})
    assert s.get_parameters() == {}


@pytest.mark.parametrize("t,exc,match", [
    (None, ValueError, "the step count t is missing"),
    (-5, ValueError, r"t=-5 must be in \[0, 4294967294\]"),
    (2 ** 40, ValueError, "must be in"),
    (1.5, TypeError, "t=1.5 must be an integer"),
    ("3", TypeError, "must be an integer"),
])
def test_states_with_a_missing_or_bad_step_count_are_refused(t, exc, match):
    p = _param()
    s = S.Adam()
    s.set_parameters({"p": p})
    s.update()
    states = s.get_states()
    states["p"].t = t
    with pytest.raises(exc, match=rf"^Adam.set_states: 'p': .*{match}"):
        s.set_states(states)
    assert s.get_states()["p"].t == 1
    s.update()  # still works
    assert s.get_states()["p"].t == 2


def test_states_as_dicts_without_t_and_with_non_real_arrays():
    s = S.Momentum()
    s.set_parameters({"p": _param()})
    with pytest.raises(ValueError, match="the step count t is missing"):
        s.set_states({"p": {"pstate": {"m": np.zeros((2, 3))}}})
    with pytest.raises(TypeError, match="state 'm' has dtype complex128"):
        s.set_states({"p": {"pstate": {"m": np.zeros((2, 3), complex)}, "t": 1}})
    with pytest.raises(TypeError, match="^Momentum.set_states: states must be a dict"):
        s.set_states(None)


def test_a_negative_t_in_a_state_file_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    p = _param()
    s = S.Adam()
    s.set_parameters({"p": p})
    s.update()
    path = str(tmp_path / "states.h5")
    s.save_states(path)
    with h5py.File(path, "r+") as f:
        del f["p/t"]
        f["p"].create_dataset("t", data=np.int64(-5))
    with pytest.raises(ValueError, match="t=-5 must be in"):
        s.load_states(path)
    assert s.get_states()["p"].t == 1


@pytest.mark.parametrize("t,match", [
    (None, r"state group 'p' has no step count dataset 't'"),
    (np.int64(-5), r"state group 'p': the step count t=-5 must be in \[0, 4294967294\]"),
    (np.float64(2.5), r"state group 'p': the step count 't' is a float64 dataset of shape "
                      r"\(\); expected one integer"),
    (np.array([1, 2]), r"state group 'p': the step count 't' is a int64 dataset of shape "
                       r"\(2,\); expected one integer"),
])
def test_a_state_file_without_a_valid_step_count_is_refused_at_load(tmp_path, t, match):
    """NNabla 1.39 loads a missing t as 0 and t=-5 as it is (then the update fails
    or Adam's bias correction is wrong); nablite refuses the file, naming it."""
    h5py = pytest.importorskip("h5py")
    s = S.Adam()
    s.set_parameters({"p": _param()})
    s.update()
    before = {k: v.d.copy() for k, v in s.get_states()["p"].pstate.items()}
    path = str(tmp_path / "states.h5")
    s.save_states(path)
    with h5py.File(path, "r+") as f:
        del f["p/t"]
        if t is not None:
            f["p"].create_dataset("t", data=t)
    with pytest.raises(ValueError,
                       match=rf"^load_states: cannot read .*states.h5' as \.h5 \(FileFormatError: "
                             rf"{match}\); no state was changed"):
        s.load_states(path)
    st = s.get_states()["p"]
    assert st.t == 1
    for k, v in st.pstate.items():
        np.testing.assert_array_equal(v.d, before[k])
