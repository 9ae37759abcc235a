"""NnpNetworkPass: the same edits on load give the same networks (names, inputs,
outputs) and outputs in nablite as in NNabla 1.39 (one source run by both)."""
import json
import os

import numpy as np
import pytest

import nablite as nn
from nablite.utils.nnp_graph import NnpLoader, NnpNetworkPass

from nnabla_parity import check_same_source

pytest.importorskip("google.protobuf")
pytest.importorskip("h5py")

CNN = os.path.join(os.path.dirname(__file__), "fixtures", "nnp", "cnn.nnp")
with open(CNN[:-4] + ".json") as _f:
    X = np.array(json.load(_f)["inputs"]["x"], np.float32)


def pass_cases(path, x):
    from nnabla.utils.nnp_graph import NnpLoader, NnpNetworkPass
    loader = NnpLoader(path)
    out = {}

    def record(key, net, forward=True):
        out[key + "/names"] = [list(net.inputs), list(net.outputs), list(net.variables)]
        if forward:
            for k, v in net.inputs.items():
                v.d = x if v.shape == x.shape else np.ones(v.shape, np.float32) * 0.5
            for v in net.outputs.values():
                v.forward()
            out[key + "/y"] = [v.d.copy() for v in net.outputs.values()]

    p = NnpNetworkPass()
    given = nn.Variable.from_numpy_array(x)
    p.set_variable("x", given)
    net = loader.get_network("cnn", callback=p)
    out["set_variable/is_given"] = [net.variables["x"] is given]
    record("set_variable", net)

    p = NnpNetworkPass()
    p.use_up_to("@cnn/Tanh_out")
    record("use_up_to", loader.get_network("cnn", callback=p))

    p = NnpNetworkPass()
    p.remove_and_rewire("@cnn/Tanh_1")
    record("remove_and_rewire", loader.get_network("cnn", callback=p))

    p = NnpNetworkPass()
    p.drop_function("@cnn/AveragePooling")
    record("drop_function", loader.get_network("cnn", callback=p))

    nn.clear_parameters()
    p = NnpNetworkPass()
    p.fix_parameters()
    net = loader.get_network("cnn", callback=p)
    out["fix_parameters"] = [net.variables["cnn/fc3/affine/W"].need_grad,
                             nn.get_parameters(grad_only=False)["cnn/fc3/affine/W"].need_grad]

    p = NnpNetworkPass()
    p.set_batch_normalization_batch_stat_all(True)
    record("batch_stat", loader.get_network("cnn", callback=p))

    p = NnpNetworkPass()
    p.use_up_to("@cnn/AveragePooling_out")
    p.force_average_pooling_global("@cnn/AveragePooling")
    record("global_pooling", loader.get_network("cnn", callback=p))

    p = NnpNetworkPass()
    seen = []

    @p.on_generate_variable("x")
    def bigger(v):
        seen.append(["variable", v.name, v.variable is None])
        v.variable = nn.Variable((3, 1, 8, 8))
        return v

    @p.on_generate_function_by_name("@cnn/Affine")
    def see_function(f):
        seen.append(["function", f.name, [i.name for i in f.inputs]])
        return f

    @p.on_function_pass_by_name("@cnn/Tanh_1")
    def see_pass(f, variables, param_scope):
        seen.append(["pass", f.name, [i.name for i in f.inputs],
                     "cnn/conv1/conv/W" in param_scope])
        return f

    net = loader.get_network("cnn", callback=p)
    out["callbacks"] = seen
    out["callbacks/shapes"] = [list(net.inputs["x"].shape), list(net.outputs["y"].shape)]
    return out


def test_network_pass_edits_as_nnabla(tmp_path):
    mine, want = check_same_source(pass_cases, path=CNN, x=X, dtypes=False, rtol=1e-5,
                                   atol=1e-5)
    assert mine["set_variable/is_given"] == [True]
    assert mine["drop_function/names"][0] == ["x", "@cnn/AveragePooling_out"]


def test_network_pass_without_nnabla():
    """The same edits checked on their own (runs where NNabla is absent)."""
    loader = NnpLoader(CNN)
    p = NnpNetworkPass()
    p.use_up_to("@cnn/Tanh_out")
    net = loader.get_network("cnn", callback=p)
    assert list(net.outputs) == ["@cnn/Tanh_out"]
    assert "cnn/fc3/affine/W" not in net.variables
    p = NnpNetworkPass()
    p.remove_and_rewire("@cnn/Tanh_1")
    net = loader.get_network("cnn", callback=p)
    assert "@cnn/Tanh_1_out" not in net.variables and "@cnn/Tanh_out_1" not in net.variables
    p = NnpNetworkPass()
    p.drop_function("@cnn/AveragePooling")
    net = loader.get_network("cnn", callback=p)
    assert list(net.inputs) == ["x", "@cnn/AveragePooling_out"]
    nn.clear_parameters()
    p = NnpNetworkPass()
    p.fix_parameters()
    net = loader.get_network("cnn", callback=p)
    assert not net.variables["cnn/fc3/affine/W"].need_grad
    assert not nn.get_parameters(grad_only=False)["cnn/fc3/affine/W"].need_grad
    # a by-type pass sees every function of its type (NNabla 1.39 calls none of them)
    p = NnpNetworkPass()
    seen = []
    p.on_function_pass_by_type("Tanh")(lambda f, variables, scope: seen.append(f.name))
    loader.get_network("cnn", callback=p)
    assert seen == ["@cnn/Tanh", "@cnn/Tanh_1", "@cnn/Tanh_2"]
