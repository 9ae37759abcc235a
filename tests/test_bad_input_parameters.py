"""Bad parameter files and keys: a failed load changes nothing, clashes are errors."""
import numpy as np
import pytest

import nablite as nn
import nablite.parametric_functions as PF
from nablite import parameter
from nablite.parameter import _assign_parameters, get_parameter_or_create


@pytest.fixture(autouse=True)
def clean_parameters():
    nn.clear_parameters()
    yield
    nn.clear_parameters()


def _snapshot():
    return {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _model():
    x = nn.Variable((2, 3))
    with nn.parameter_scope("fc1"):
        PF.affine(x, 4)
    with nn.parameter_scope("fc2"):
        PF.affine(x, 5)
    return _snapshot()


def _saved(tmp_path, items):
    """A real .h5 parameter file holding ``items`` (key -> array), written by nablite."""
    path = str(tmp_path / "p.h5")
    params = {k: nn.Variable.from_numpy_array(a) for k, a in items.items()}
    nn.save_parameters(path, params)
    return path


def test_a_key_naming_a_scope_is_an_error_and_nothing_changes(tmp_path):
    before = _model()
    path = _saved(tmp_path, {"fc2/affine/W": np.ones((3, 5), np.float32),
                             "fc1": np.zeros((3,), np.float32)})
    with pytest.raises(ValueError, match=r"'fc1' names the parameter scope 'fc1', not a "
                                         "parameter.*no parameter was changed"):
        nn.load_parameters(path)
    assert _same(_snapshot(), before)


def test_a_key_below_a_parameter_is_an_error(tmp_path):
    before = _model()
    path = _saved(tmp_path, {"fc1/affine/W/x": np.zeros((2,), np.float32)})
    with pytest.raises(ValueError, match="lies below the parameter 'fc1/affine/W'"):
        nn.load_parameters(path)
    assert _same(_snapshot(), before)
    with pytest.raises(ValueError, match="'fc1/affine/W' is a parameter, so it cannot hold"):
        get_parameter_or_create("fc1/affine/W/x", (2,))
    assert parameter.get_parameter("fc1/affine/W/x") is None


def test_the_same_key_twice_with_two_shapes_applies_nothing():
    before = _model()
    items = [("fc1/affine/b", np.full((4,), 7, np.float32), True),
             ("new/W", np.ones((2, 2), np.float32), True),
             ("new/W", np.ones((3, 3), np.float32), True)]
    with pytest.raises(ValueError, match=r"'new/W' appears twice, with shapes \(2, 2\) and "
                                         r"\(3, 3\); no parameter was changed"):
        _assign_parameters(items, "load_parameters('x.h5')")
    assert _same(_snapshot(), before)
    # the same key twice with one shape: the later value wins
    _assign_parameters([("new/W", np.ones((2, 2), np.float32), True),
                        ("new/W", np.full((2, 2), 3, np.float32), True)], "load")
    np.testing.assert_array_equal(parameter.get_parameter("new/W").d, 3)


def test_keys_of_one_file_below_each_other():
    items = [("a/b", np.ones(2, np.float32), True), ("a/b/c", np.ones(2, np.float32), True)]
    with pytest.raises(ValueError, match="'a/b/c' lies below the parameter 'a/b' of the same "
                                         "file"):
        _assign_parameters(items, "load")
    assert nn.get_parameters(grad_only=False) == {}


def test_a_shape_mismatch_late_in_the_file_changes_nothing(tmp_path):
    before = _model()
    path = _saved(tmp_path, {"fc1/affine/b": np.full((4,), 9, np.float32),
                             "fc2/affine/b": np.zeros((7,), np.float32)})
    with pytest.raises(ValueError, match=r"'fc2/affine/b' exists with shape \(5,\), the file "
                                         r"has \(7,\)"):
        nn.load_parameters(path)
    assert _same(_snapshot(), before)


@pytest.mark.parametrize("arr", [np.array([1j]), np.array(["a"]), np.array([None])],
                         ids=["complex", "str", "object"])
def test_non_real_arrays_from_a_reader_are_refused(arr):
    before = _model()
    with pytest.raises(TypeError, match=rf"^load: parameter 'x/W': got an array of dtype "
                                        rf"{arr.dtype}"):
        _assign_parameters([("fc1/affine/b", np.ones(4, np.float32), True),
                            ("x/W", arr, True)], "load")
    assert _same(_snapshot(), before)


def test_keys_must_be_non_empty_strings():
    with pytest.raises(TypeError, match="^load: parameter key must be a str"):
        _assign_parameters([(3, np.ones(2, np.float32), True)], "load")
    with pytest.raises(ValueError, match="^load: parameter key '//' is empty"):
        _assign_parameters([("//", np.ones(2, np.float32), True)], "load")


@pytest.mark.parametrize("bad", [np.array([[1j, 2], [3, 4]]), np.array([b"ab", b"cd"])],
                         ids=["complex", "bytes"])
def test_an_h5_file_with_non_real_data_is_refused_and_nothing_changes(bad, tmp_path):
    h5py = pytest.importorskip("h5py")
    before = _model()
    path = _saved(tmp_path, {"fc1/affine/b": np.full((4,), 9, np.float32),
                             "z/W": np.ones((2, 2), np.float32)})
    with h5py.File(path, "r+") as f:
        attrs = dict(f["z/W"].attrs)
        del f["z/W"]
        d = f.create_dataset("z/W", data=bad)
        for k, v in attrs.items():
            d.attrs[k] = v
    with pytest.raises(TypeError, match=rf"^load_parameters\(.*\): parameter 'z/W': got an "
                                        rf"array of dtype {bad.dtype}"):
        nn.load_parameters(path)
    assert _same(_snapshot(), before)


@pytest.mark.parametrize("make,match", [
    (lambda I: I.ConstantInitializer("a"), "^ConstantInitializer: value='a' must be a real"),
    (lambda I: I.ConstantInitializer(1j), "^ConstantInitializer: value=1j must be a real"),
    (lambda I: I.NormalInitializer(None), "^NormalInitializer: sigma=None must be a real"),
    (lambda I: I.UniformInitializer(None), r"^UniformInitializer: lim=None must be a \(low, "),
    (lambda I: I.UniformInitializer(("a", 1)), r"^UniformInitializer: lim\[0\]='a'"),
    (lambda I: I.UniformIntInitializer((0, 2.5)), r"^UniformIntInitializer: lim\[1\]=2.5 must "
                                                  "be an integer"),
    (lambda I: I.OrthogonalInitializer("x"), "^OrthogonalInitializer: gain='x'"),
])
def test_initializer_arguments_are_numbers(make, match):
    import nablite.initializer as I
    with pytest.raises(TypeError, match=match):
        make(I)


def test_fan_helpers_need_connections():
    import nablite.initializer as I
    for f in (I.calc_uniform_lim_glorot, I.calc_normal_std_glorot,
              I.calc_normal_std_he_forward, I.calc_normal_std_he_backward):
        with pytest.raises(ValueError, match=rf"^{f.__name__}: inmaps=0, outmaps=0 .* must be "
                                             "positive"):
            f(0, 0)
    assert I.calc_normal_std_he_forward(4, 0) == pytest.approx(np.sqrt(0.5))  # outmaps unused
    w = I.ConstantInitializer(np.arange(3.0))((2, 3))
    np.testing.assert_array_equal(w, [[0, 1, 2], [0, 1, 2]])
