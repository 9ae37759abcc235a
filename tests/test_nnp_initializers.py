"""Parameters started from the ``initializer`` specs of a file's Variable messages
(_nnp/initializers.py), as NNabla starts them: through ``utils.load.load`` with
``exclude_parameter`` (what ``train -c`` does) and ``nn.graph_def.load``."""
import numpy as np
import pytest

import nablite as nn

pytest.importorskip("google.protobuf")

from nablite._nnp.initializers import initializer_of  # noqa: E402
from nablite._nnp.proto import pb2  # noqa: E402
from nnabla_parity import check_same_source  # noqa: E402

# (name, shape, type, multiplier) in declaration order; the functions read them
# in the reverse order, which is the order NNabla draws them in.
PARAMETERS = [
    ("affine_he", (3, 4), "NormalAffineHe", 1.0),
    ("affine_hef", (3, 2, 2), "NormalAffineHeForward", 2.0),
    ("affine_heb", (3, 4), "NormalAffineHeBackward", 1.0),
    ("affine_glorot", (3, 4), "NormalAffineGlorot", 0.5),
    ("conv_he", (4, 3, 2, 2), "NormalConvolutionHe", 1.0),
    ("conv_heb", (4, 3, 2, 2), "NormalConvolutionHeBackward", 1.0),
    ("conv_glorot", (4, 3, 2, 2), "NormalConvolutionGlorot", 1.0),
    ("cl_he", (4, 2, 2, 3), "NormalCLConvHeForward", 1.0),
    ("cl_heb", (4, 2, 2, 3), "NormalCLConvHeBackward", 1.0),
    ("cl_glorot", (4, 2, 2, 3), "NormalCLConvGlorot", 1.0),
    ("u_affine", (3, 4), "UniformAffineGlorot", 1.0),
    ("u_conv", (4, 3, 2, 2), "UniformConvolutionGlorot", 0.5),
    ("u_cl", (4, 2, 2, 3), "UniformCLConvGlorot", 1.0),
    ("normal", (5,), "Normal", 0.1),
    ("uniform", (5,), "Uniform", 0.3),
    ("constant", (2, 2), "Constant", 0.25),
    ("range", (6,), "Range", 0.5),
    ("unknown", (3,), "UniformAffineHe", 1.0),  # not an NNabla type: zeros
    ("none", (3,), None, 0),  # no spec: zeros
]

NNTXT = "\n".join(
    ["network {", '  name: "net"', "  batch_size: 1"]
    + [f'  variable {{ name: "{n}" type: "Parameter" shape {{ '
       + " ".join(f"dim: {d}" for d in shape) + " }"
       + (f' initializer {{ type: "{t}" multiplier: {m} }}' if t else "") + " }"
       for n, shape, t, m in PARAMETERS]
    + [f'  variable {{ name: "{n}_out" type: "Buffer" shape {{ '
       + " ".join(f"dim: {d}" for d in shape) + " } }" for n, shape, _, _ in PARAMETERS]
    + [f'  function {{ name: "relu_{n}" type: "ReLU" input: "{n}" output: "{n}_out" }}'
       for n, _, _, _ in reversed(PARAMETERS)]
    + ["}"])


def _maps(kind, shape):
    """(inmaps, outmaps, kernel size) of a layout, written out for the test."""
    if "Affine" in kind:
        return shape[0], int(np.prod(shape[1:])), 1
    if "CLConv" in kind:
        return shape[-1], shape[0], shape[1] * shape[2]
    return shape[1], shape[0], shape[2] * shape[3]


def _expected(rng, kind, shape, m):
    """NumPy's values for one spec (the draw and the scale of NNabla's rules)."""
    if kind in (None, "UniformAffineHe"):
        return np.zeros(shape, np.float32)
    if kind == "Constant":
        return np.full(shape, m, np.float32)
    if kind == "Normal":
        return (rng.randn(*shape) * m).astype(np.float32)
    if kind == "Uniform":
        return rng.uniform(-m, m, size=shape).astype(np.float32)
    if kind == "Range":
        return (np.arange(np.prod(shape)).reshape(shape) * m).astype(np.float32)
    inmaps, outmaps, k = _maps(kind, shape)
    if kind.startswith("Uniform"):
        lim = np.sqrt(6.0 / (k * inmaps + k * outmaps))
        return (rng.uniform(-lim, lim, size=shape).astype(np.float32) * m).astype(np.float32)
    if kind.endswith("Glorot"):
        std = np.sqrt(2.0 / (k * inmaps + k * outmaps))
    elif kind.endswith("HeBackward"):
        std = np.sqrt(2.0 / (k * outmaps))
    else:
        std = np.sqrt(2.0 / (k * inmaps))
    return ((rng.randn(*shape) * std).astype(np.float32) * m).astype(np.float32)


def _file(tmp_path):
    path = tmp_path / "init.nntxt"
    path.write_text(NNTXT)
    return str(path)


def _reference():
    rng = np.random.RandomState(0)
    want = {}
    for n, shape, kind, m in reversed(PARAMETERS):  # drawn in the order they are read
        want[n] = _expected(rng, kind, shape, m)
    return want


def test_load_exclude_parameter_draws_every_spec_in_reading_order(tmp_path):
    from nablite.utils.load import load
    nn.clear_parameters()
    try:
        load([_file(tmp_path)], exclude_parameter=True)
        got = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    finally:
        nn.clear_parameters()
    want = _reference()
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=0, err_msg=k)


def test_load_keeps_the_registered_parameters_and_draws_only_the_missing(tmp_path):
    from nablite.utils.load import load
    nn.clear_parameters()
    try:
        kept = nn.parameter.get_parameter_or_create("constant", (2, 2), np.full((2, 2), 7.0))
        load([_file(tmp_path)], exclude_parameter=True)
        got = nn.get_parameters(grad_only=False)
        np.testing.assert_array_equal(got["constant"].d, 7.0)
        assert got["constant"] is kept or np.shares_memory(got["constant"].d, kept.d)
        np.testing.assert_allclose(got["normal"].d, _reference()["normal"], rtol=1e-6)
    finally:
        nn.clear_parameters()


def test_graph_def_load_draws_from_the_given_rng_at_the_first_call(tmp_path):
    path = _file(tmp_path)
    g = nn.graph_def.load(path, exclude_parameter=True)
    assert g.get_parameters() == {}  # made when a network is built, as NNabla
    outs = g.default_graph()(batch_size=1)
    want = _reference()
    got = {o.parent.inputs[0].name: o.parent.inputs[0].d for o in outs}
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=0, err_msg=k)
    assert set(g.get_parameters()) == set(want)
    assert nn.get_parameters(grad_only=False) == {}  # the graph's own, not the scope's
    # another rng, other numbers; a second call reuses the graph's parameters
    g2 = nn.graph_def.load(path, exclude_parameter=True, rng=np.random.RandomState(5))
    first = g2.default_graph()(batch_size=1)
    again = g2.default_graph()(batch_size=1)
    by_name = {o.parent.inputs[0].name: o.parent.inputs[0] for o in first}
    assert not np.allclose(by_name["normal"].d, want["normal"])
    for o in again:
        assert o.parent.inputs[0] is by_name[o.parent.inputs[0].name]


def test_initializer_of_reads_nothing_else():
    vp = pb2().Variable()
    vp.name, vp.type = "w", "Parameter"
    assert initializer_of(vp, np.random.RandomState(0)) is None
    vp.initializer.type = "NormalConvolutionHe"
    vp.initializer.multiplier = 3.0
    value = initializer_of(vp, np.random.RandomState(0))((2, 1, 3, 3))
    assert value.dtype == np.float32 and value.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(
        value, np.random.RandomState(0).randn(2, 1, 3, 3).astype(np.float32)
        * np.float32(np.sqrt(2 / 9)) * 3, rtol=1e-6)


def test_the_starts_equal_nnablas(tmp_path):
    """The same file loaded by NNabla's load(exclude_parameter=True) and nablite's."""
    path = _file(tmp_path)
    check_same_source('''
from nnabla.utils import load
nn.clear_parameters()
load.load([path], prepare_data_iterator=False, exclude_parameter=True)
OUT = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
OUT["names"] = sorted(OUT)
''', rtol=1e-6, atol=0, path=path)
