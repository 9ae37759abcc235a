"""NnpLoader and the registered parameters, as NNabla's: the first network a loader
builds registers the file's values over parameters of the same names (any shape),
later ones use what is registered then."""
import numpy as np
import pytest

pytest.importorskip("google.protobuf")

from nnabla_parity import check_same_source  # noqa: E402

CASE = '''
from nnabla.utils.save import save
from nnabla.utils.nnp_graph import NnpLoader

def write(path, n_in, n_out, value):
    nn.clear_parameters()
    x = nn.Variable((1, n_in))
    y = PF.affine(x, n_out, name="fc")
    nn.get_parameters()["fc/affine/W"].d = value
    save(path, {"networks": [{"name": "n", "batch_size": 1, "outputs": {"y": y},
                              "names": {"x": x}}],
                "executors": [{"name": "e", "network": "n", "data": ["x"], "output": ["y"]}]})

write(folder + "/a.nnp", 3, 2, 1.0)
write(folder + "/b.nnp", 5, 4, 2.0)
nn.clear_parameters()
stale = nn.parameter.get_parameter_or_create("fc/affine/W", (3, 2), np.full((3, 2), 7.0))
loader = NnpLoader(folder + "/a.nnp")
OUT = {"before": sorted(nn.get_parameters(grad_only=False))}
a = loader.get_network("n")
a.inputs["x"].d = 1
a.outputs["y"].forward()
OUT["a"] = a.outputs["y"].d.copy()  # the file's W, not the stale one
OUT["stale"] = stale.d.copy()
nn.get_parameters()["fc/affine/W"].d = 0  # the network reads the registered one
a.outputs["y"].forward()
OUT["edited"] = a.outputs["y"].d.copy()
again = loader.get_network("n")  # the same loader: what is registered now
again.inputs["x"].d = 1
again.outputs["y"].forward()
OUT["again"] = again.outputs["y"].d.copy()
b = NnpLoader(folder + "/b.nnp").get_network("n")  # another shape replaces it
b.inputs["x"].d = 1
b.outputs["y"].forward()
OUT["b"] = b.outputs["y"].d.copy()
OUT["b_shape"] = list(nn.get_parameters()["fc/affine/W"].shape)
a.outputs["y"].forward()
OUT["a_after_b"] = a.outputs["y"].d.copy()
'''


def _run_here(folder):
    import nablite as nn
    import nablite.functions as F
    import nablite.parametric_functions as PF
    ns = {"nn": nn, "F": F, "PF": PF, "np": np, "folder": folder}
    try:
        exec(CASE.replace("from nnabla.", "from nablite."), ns)
    finally:
        nn.clear_parameters()
    return ns["OUT"]


def test_file_values_replace_registered_parameters(tmp_path):
    check_outputs(_run_here(str(tmp_path)))


def test_the_same_as_nnabla(tmp_path):
    mine, _ = check_same_source(CASE, folder=str(tmp_path))
    check_outputs(mine)


def check_outputs(mine):
    np.testing.assert_array_equal(mine["a"], [[3, 3]])  # sum of 3 inputs times W = 1
    np.testing.assert_array_equal(mine["stale"], np.full((3, 2), 7))
    np.testing.assert_array_equal(mine["edited"], [[0, 0]])
    np.testing.assert_array_equal(mine["again"], [[0, 0]])
    np.testing.assert_array_equal(mine["b"], [[10] * 4])
    assert mine["b_shape"] == [5, 4]
    np.testing.assert_array_equal(mine["a_after_b"], [[0, 0]])  # keeps its own W
