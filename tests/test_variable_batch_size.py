"""A variable batch size in network files, as NNabla 1.39 writes and reads it:
the batch axis found from the last base_axis function, -1 on every data buffer
with it, Reshape and Broadcast targets from -1, base_axis > 1 merged into one
batch axis (nablite._nnp.batch). Each case saved at batch 1..3 is loaded back
at other batch sizes."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF

pytest.importorskip("google.protobuf")
from nablite.utils import load, save  # noqa: E402

from nnabla_parity import check_same_source  # noqa: E402


def conv_reshape(x, base_axis, shape):
    return F.reshape(PF.convolution(x, 3, (3, 3), name="c1", base_axis=base_axis), shape)


def conv_broadcast(x, base_axis, shape):
    return F.broadcast(PF.convolution(x, 3, (2, 2), name="c1", base_axis=base_axis), shape)


# (model, base_axis, target shape, input shape, batch of the loaded output: None = the
# batch size asked for)
CASES = [
    (conv_reshape, 0, (3, 36), (3, 8, 8), 3),      # base_axis 0: no batch axis at all
    (conv_broadcast, 0, (3, 3, 3), (3, 2, 2), 3),
    (conv_reshape, 1, (1, 18, -1), (1, 3, 8, 8), None),
    (conv_broadcast, 1, (2, 3, 3, 3), (2, 3, 2, 2), None),
    (conv_reshape, 2, (2, 18, 6), (1, 2, 3, 8, 8), None),  # axes 0, 1 become the batch
    (conv_broadcast, 2, (1, 2, 3, 3, 3), (1, 2, 3, 2, 2), None),
]


def _save(path, case, variable_batch_size=True):
    model, base_axis, shape, input_shape, _ = case
    nn.clear_parameters()
    x = nn.Variable(input_shape)
    y = model(x, base_axis, shape)
    save.save(path, {"networks": [{"name": "model", "batch_size": 1, "outputs": {"y": y},
                                   "names": {"x": x}}],
                     "executors": [{"name": "runtime", "network": "model", "data": ["x"],
                                    "output": ["y"]}]},
              variable_batch_size=variable_batch_size)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].__name__}-{c[1]}")
@pytest.mark.parametrize("batch_size", [4, 8])
def test_a_saved_network_loads_at_another_batch_size(tmp_path, case, batch_size):
    path = str(tmp_path / "m.nnp")
    _save(path, case)
    g = load.load(path, batch_size=batch_size).proto_graph
    net = g.default_graph()
    (x,) = [net.variables[n].variable_instance for n in net.inputs]
    (y,) = [net.variables[n].variable_instance for n in net.outputs]
    x.d = np.random.RandomState(0).rand(*x.shape)
    y.forward()
    assert y.shape[0] == (case[4] or batch_size)
    assert np.all(np.isfinite(y.d))


def test_without_a_variable_batch_size_the_shapes_stay(tmp_path):
    path = str(tmp_path / "m.nntxt")
    _save(path, CASES[3], variable_batch_size=False)
    text = open(path).read()
    assert "dim: -1" not in text


def written_networks(directory):
    import importlib
    import os
    save = importlib.import_module(nn.__name__ + ".utils.save")

    def conv(x, base_axis, kernel):
        return PF.convolution(x, 3, kernel, name="c1", base_axis=base_axis)

    models = [  # CASES above
        lambda x: F.reshape(conv(x, 0, (3, 3)), (3, 36)),
        lambda x: F.broadcast(conv(x, 0, (2, 2)), (3, 3, 3)),
        lambda x: F.reshape(conv(x, 1, (3, 3)), (1, 18, -1)),
        lambda x: F.broadcast(conv(x, 1, (2, 2)), (2, 3, 3, 3)),
        lambda x: F.reshape(conv(x, 2, (3, 3)), (2, 18, 6)),
        lambda x: F.broadcast(conv(x, 2, (2, 2)), (1, 2, 3, 3, 3)),
        lambda x: F.tanh(F.relu(x)),  # no base_axis function: no batch axis
        lambda x: PF.affine(x, 2, name="fc") + F.constant(1.0, (3, 2)),
    ]
    shapes = [(3, 8, 8), (3, 2, 2), (1, 3, 8, 8), (2, 3, 2, 2), (1, 2, 3, 8, 8),
              (1, 2, 3, 2, 2), (3, 4), (3, 4)]
    out = {}
    for k, (model, shape) in enumerate(zip(models, shapes)):
        nn.clear_parameters()
        x = nn.Variable(shape)
        y = model(x)
        path = os.path.join(directory, f"{k}.nntxt")
        save.save(path, {"networks": [{"name": "model", "batch_size": 1,
                                       "outputs": {"y": y}, "names": {"x": x}}],
                         "executors": [{"name": "runtime", "network": "model",
                                        "data": ["x"], "output": ["y"]}]})
        text = open(path).read()
        out[str(k)] = text[text.index("network {"):text.index("executor {")]
    return out


def test_parity_files_as_nnabla_writes_them(tmp_path):
    """The network part of each .nntxt is NNabla's, character for character."""
    check_same_source(written_networks, directory=str(tmp_path))
