"""What the examples in NNabla 1.39's own docstrings do, done by nablite
(each was found running those examples under both libraries)."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF


def test_size_from_axis_counts_all_for_a_negative_axis():
    v = nn.Variable((4, 3, 2))
    assert [v.size_from_axis(k) for k in (-3, -1, 0, 1, 2, 3)] == [24, 24, 24, 6, 2, 1]
    assert v.size_from_axis() == 24


def test_a_function_prints_as_its_type_name():
    y = F.relu(nn.Variable((2,)))
    assert str(y.parent) == "ReLU" and "ReLU" in repr(y.parent)


def test_random_choice_draws_one_per_row_by_default():
    x = nn.Variable.from_numpy_array(np.arange(6.0).reshape(2, 3))
    y = F.random_choice(x, nn.Variable.from_numpy_array(np.ones((2, 3))))
    y.forward()
    assert y.shape == (2, 1) and y.parent.info.args["shape"] == []
    assert all(y.d[r, 0] in x.d[r] for r in range(2))


def test_gather_nd_takes_a_list_of_index_rows():
    data = nn.Variable.from_numpy_array(np.arange(9.0).reshape(3, 3))
    y = F.gather_nd(data, [[2, 2, 0], [0, 1, 1]])
    y.forward()
    np.testing.assert_array_equal(y.d, [6, 7, 1])


def test_no_grad_under_auto_forward_gives_values_cut_from_the_graph():
    x = nn.Variable.from_numpy_array(np.array([1.0, -2.0, 3.0]), need_grad=True)
    with nn.no_grad():
        static = F.relu(x)
    assert static.need_grad and static.parent is not None  # a static graph: as NNabla
    with nn.auto_forward(), nn.no_grad():
        y = F.relu(x)
    assert not y.need_grad and y.parent is None
    np.testing.assert_array_equal(y.d, [1, 0, 3])
    with nn.auto_forward():
        z = F.relu(x)
    assert z.parent is not None  # outside the block as before


def test_extension_module_device_helpers():
    from nablite.ext_utils import import_extension_module
    ext = import_extension_module("cpu")
    assert ext.get_devices() == ["0"] and ext.get_device_count() == 1
    ext.device_synchronize("0")
    ext.clear_memory_cache()


def test_dot_into_out():
    a = nn.NdArray.from_numpy_array(np.arange(6.0).reshape(2, 3))
    b = nn.NdArray.from_numpy_array(np.ones((3, 2)))
    out = nn.NdArray((2, 2))
    assert F.dot(a, b, out) is None
    np.testing.assert_array_equal(out.data, [[3, 3], [12, 12]])
    va, vb = nn.Variable.from_numpy_array(a.data), nn.Variable.from_numpy_array(b.data)
    vo = nn.Variable((2, 2))
    F.dot(va, vb, vo)
    vo.forward()
    np.testing.assert_array_equal(vo.d, [[3, 3], [12, 12]])
    with pytest.raises(TypeError, match="dot: out must be a Variable or NdArray of the "
                                        r"product's shape \(2, 2\)"):
        F.dot(a, b, nn.NdArray((3, 3)))


def test_graph_def_forward_sequence_save_list_and_executor_names(tmp_path):
    import nablite.graph_def as G
    from nablite.utils.nnp_graph import NnpLoader
    nn.clear_parameters()
    G.reset_default_graph()
    with G.graph(name="m") as g:
        x0 = G.ProtoVariable((2, 3), name="x0")
        y0 = F.relu(PF.affine(x0, 4, name="fc"))
    net = g["m"]
    assert [(f.type, f.name) for f in net.forward_sequence()] == [
        ("Affine", "@m/Affine"), ("ReLU", "@m/ReLU")]
    path = str(tmp_path / "m.nnp")
    G.save(path, [g], executors=[{"name": "runtime", "network": "m", "data": ["x0"],
                                  "output": {"y0": y0}}])
    loaded = NnpLoader(path).get_network("m", batch_size=1)
    assert sorted(loaded.inputs) == ["x0"] and sorted(loaded.outputs) == ["y0"]
    with pytest.raises(ValueError, match="names output \\['nope'\\], which network 'm'"):
        g.save(str(tmp_path / "bad.nnp"), executors=[{"name": "r", "network": "m",
                                                      "output": ["nope"]}])
    nn.clear_parameters()
