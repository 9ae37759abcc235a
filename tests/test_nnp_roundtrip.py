"""Whole networks as .nnp files: the tutorial's MLP, CNN and Elman RNN, LeNet and a
small ResNet go nablite -> .nnp -> nablite, NNabla -> .nnp -> nablite (fixtures
written by NNabla 1.39, tests/fixtures/make_nnp_fixtures.py) and, when NNabla is
installed, nablite -> .nnp -> NNabla (NnpLoader and ``nnabla_cli infer``), with
the same outputs."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
from nablite.utils import load as nnp_load
from nablite.utils.nnp_graph import NnpLoader
from nablite.utils.save import save

from _helpers import FIXTURES, load_fixture_maker

pytest.importorskip("google.protobuf")
pytest.importorskip("h5py")

NNP = os.path.join(FIXTURES, "nnp")
NNABLA_PYTHON = os.environ.get("NNABLA_PYTHON", "/tmp/nnref/bin/python")
NNABLA_CLI = os.path.join(os.path.dirname(NNABLA_PYTHON), "nnabla_cli")

models = load_fixture_maker("make_nnp_fixtures")
MODELS = list(models.MODELS)


pytestmark = pytest.mark.usefixtures("fresh_parameters")


def build(name, seed=0):
    """The model in nablite with seeded parameters and input; (inputs, outputs, y)."""
    inputs, outputs = models.MODELS[name](nn, F, PF)
    models.randomize(nn, seed)
    rng = np.random.RandomState(7)
    for v in inputs.values():
        v.d = rng.rand(*v.shape).astype(np.float32)
    y = outputs["y"]
    y.forward()
    return inputs, outputs, y.d.copy()


def contents(name, inputs, outputs):
    return {"networks": [{"name": name, "batch_size": models.BATCH, "outputs": outputs,
                          "names": inputs}],
            "executors": [{"name": "runtime", "network": name, "data": list(inputs),
                           "output": list(outputs)}]}


def run_loaded(path, name, x, batch_size=None):
    net = NnpLoader(path).get_network(name, batch_size=batch_size)
    xv, yv = net.inputs["x"], net.outputs["y"]
    xv.d = x
    yv.forward()
    return yv.d.copy()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fmt", [".h5", ".protobuf"])
def test_nablite_nnp_nablite(name, fmt, tmp_path):
    inputs, outputs, want = build(name)
    path = str(tmp_path / (name + ".nnp"))
    save(path, contents(name, inputs, outputs), parameter_format=fmt)
    with zipfile.ZipFile(path) as z:
        assert z.namelist() == ["nnp_version.txt", "network.nntxt", "parameter" + fmt]
    x = inputs["x"].d.copy()
    nn.clear_parameters()
    got = run_loaded(path, name, x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert set(nn.get_parameters(grad_only=False))  # registered on get_network


@pytest.mark.parametrize("name", MODELS)
def test_nnabla_written_fixture_gives_nnablas_output(name):
    with open(os.path.join(NNP, name + ".json")) as f:
        record = json.load(f)
    x = np.array(record["inputs"]["x"], np.float32)
    want = np.array(record["outputs"]["y"], np.float32)
    got = run_loaded(os.path.join(NNP, name + ".nnp"), name, x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_first_base_axis_of_0_has_no_batch_axis(tmp_path):
    """As NNabla: when the first function with a base_axis has base_axis=0, no
    axis is the batch, so loading with batch_size keeps the shapes."""
    x = nn.Variable.from_numpy_array(np.random.RandomState(0).randn(3, 8, 8))
    y = F.reshape(PF.convolution(x, 3, (3, 3), name="c1", base_axis=0), (3, -1))
    y.forward()
    path = str(tmp_path / "m.nnp")
    save(path, {"networks": [{"name": "m", "batch_size": 1, "outputs": {"y": y},
                              "names": {"x": x}}]}, variable_batch_size=True)
    net = NnpLoader(path).get_network("m", batch_size=4)
    assert net.inputs["x"].shape == (3, 8, 8) and net.outputs["y"].shape == (3, 36)
    net.inputs["x"].d = x.d
    net.outputs["y"].forward()
    np.testing.assert_allclose(net.outputs["y"].d, y.d, rtol=1e-5)
    nn.clear_parameters()


def test_batch_size_on_load_and_names():
    with open(os.path.join(NNP, "cnn.json")) as f:
        x = np.array(json.load(f)["inputs"]["x"], np.float32)
    net = NnpLoader(os.path.join(NNP, "cnn.nnp")).get_network("cnn", batch_size=5)
    assert net.inputs["x"].shape == (5, 1, 8, 8) and net.outputs["y"].shape == (5, 10)
    assert "cnn/conv1/conv/W" in net.variables and "cnn/conv1/conv/W" not in net.inputs
    net.inputs["x"].d = np.concatenate([x, x, x[:1]])
    net.outputs["y"].forward()
    net2 = NnpLoader(os.path.join(NNP, "cnn.nnp")).get_network("cnn")
    net2.inputs["x"].d = x
    net2.outputs["y"].forward()
    # float32 sums grouped by batch (the convolution's fast paths depend on the work)
    np.testing.assert_allclose(net.outputs["y"].d[:2], net2.outputs["y"].d, rtol=1e-5, atol=1e-5)


def test_info_types_match_nnablas_file():
    """Every function nablite writes has NNabla's type and arguments: the network
    part of nablite's file equals NNabla's for the same model."""
    from nablite._nnp.proto import parse_text
    from nablite import nnabla_pb2
    for name in MODELS:
        nn.clear_parameters()
        inputs, outputs, _ = build(name)
        ours = nnabla_pb2.NNablaProtoBuf()
        from nablite.utils.save import _contents_proto
        ours, _, _ = _contents_proto(contents(name, inputs, outputs), True, None)
        with zipfile.ZipFile(os.path.join(NNP, name + ".nnp")) as z:
            theirs = parse_text(z.read("network.nntxt"), nnabla_pb2.NNablaProtoBuf(), name)
        assert ours.network[0] == theirs.network[0], name
        assert ours.executor[0] == theirs.executor[0], name


def test_text_and_protobuf_network_files(tmp_path):
    inputs, outputs, want = build("cnn")
    x = inputs["x"].d.copy()
    paths = [str(tmp_path / ("m" + ext)) for ext in (".nntxt", ".protobuf")]
    for path in paths:
        save(path, contents("cnn", inputs, outputs), include_params=True)
    # without the parameters the network still loads, its parameters come from elsewhere
    net_only, params = str(tmp_path / "net.nntxt"), str(tmp_path / "p.h5")
    save(net_only, contents("cnn", inputs, outputs))
    nn.save_parameters(params)
    with open(net_only) as f:
        assert "parameter {" not in f.read()
    for files in paths + [[net_only, params]]:
        nn.clear_parameters()
        np.testing.assert_allclose(run_loaded(files, "cnn", x), want, rtol=1e-6)


def test_load_gives_networks_executors_optimizers(tmp_path):
    import nablite.solvers as S
    # the training configuration the NNabla fixture is written from (one Adam update)
    c, _ = models.training(nn, F, PF, S)
    path = str(tmp_path / "train.nnp")
    save(path, c)
    nn.clear_parameters()
    info = nnp_load.load([path])
    assert list(info.networks) == ["train", "run"]
    assert list(info.datasets) == ["ds"] and info.datasets["ds"].variables == ["x", "t"]
    assert info.training_config.max_epoch == 3
    opt = info.optimizers["opt"]
    assert opt.solver.name == "Adam" and opt.solver.learning_rate() == np.float32(0.01)
    assert [v.name for v in opt.loss_variables] == ["loss"]
    e = info.executors["runtime"]
    assert list(e.dataset_assign.values()) == ["x"]
    assert list(e.output_assign.values()) == [["", "y"]]    # [type, data name], as NNabla
    assert e.network is info.networks["run"]
    assert list(info.monitors) == ["mon"]
    # NNabla's info.proto_graph: the networks as nn.graph_def, linked to what was built
    run = info.proto_graph["run"]
    assert list(info.proto_graph.networks) == ["train", "run"]
    assert run.outputs == list(info.networks["run"].outputs)
    y = run.variables[run.outputs[0]].variable_instance
    assert y is info.networks["run"].variables[run.outputs[0]].variable_instance
    assert set(run.parameters) == set(info.networks["run"].parameters)


_NNABLA_RUN = """
import numpy as np
from nnabla.utils.nnp_graph import NnpLoader
net = NnpLoader(path).get_network(name, batch_size=batch)
x, y = net.inputs["x"], net.outputs["y"]
x.d = np.array(xd, np.float32)
y.forward()
RESULT = y.d.tolist()
"""


@pytest.mark.parametrize("name", MODELS)
def test_nablite_nnp_nnabla(name, tmp_path):
    """NNabla 1.39's NnpLoader and ``nnabla_cli infer`` run nablite's file to the same
    outputs."""
    from nnabla_parity import run_in_nnabla
    inputs, outputs, want = build(name)
    path = str(tmp_path / (name + ".nnp"))
    save(path, contents(name, inputs, outputs))
    x = inputs["x"].d.copy()
    got = run_in_nnabla(_NNABLA_RUN, path=path, name=name, batch=models.BATCH,
                        xd=x.tolist())
    if got is None:
        pytest.skip("NNabla 1.39 is not installed")
    np.testing.assert_allclose(np.array(got, np.float32), want, rtol=1e-5, atol=1e-5)
    x.tofile(str(tmp_path / "x.bin"))
    proc = subprocess.run([NNABLA_CLI, "infer", "-b", str(models.BATCH), "-c", path,
                           "-o", str(tmp_path / "out"), str(tmp_path / "x.bin")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-1000:]
    rows = [np.fromfile(str(tmp_path / f"out_{k}.bin"), np.float32)
            for k in range(models.BATCH)]  # out_<k>.bin: y[k]
    np.testing.assert_allclose(np.stack(rows), want[:models.BATCH].reshape(models.BATCH, -1),
                               rtol=1e-5, atol=1e-5)


def test_save_of_a_training_config_equals_nnablas(tmp_path):
    """The same contents (global and training config, network, parameters, dataset,
    optimizer with its solver, monitor, executor) saved by both libraries give the
    same message, field for field."""
    import test_protobuf_schema as schema
    from nnabla_parity import run_in_nnabla
    want = run_in_nnabla(schema._WRITE_ALL, path=str(tmp_path / "nnabla.protobuf"))
    if want is None:
        pytest.skip("NNabla 1.39 is not installed")
    source = (schema._WRITE_ALL.replace("import nnabla as nn", "import nablite as nn")
              .replace("nnabla.", "nablite.").replace("from nnabla.utils import nnabla_pb2",
                                                       "from nablite import nnabla_pb2")
              .replace("from nablite.utils import nnabla_pb2", "from nablite import nnabla_pb2"))
    # in a fresh interpreter, as NNabla's side: no state of other tests (context,
    # scopes) reaches the file
    runner = (f"path = {str(tmp_path / 'nablite.protobuf')!r}\n" + source
              + "\nimport sys\nsys.stdout.write(RESULT)\n")
    proc = subprocess.run([sys.executable, "-c", runner], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == want


def test_nnabla_written_training_config_loads():
    """NNabla's training .nnp (fixture): networks compute NNabla's values, the
    optimizer is an Adam over the network's parameters with the stored states."""
    with open(os.path.join(NNP, "training.json")) as f:
        facts = json.load(f)
    info = nnp_load.load([os.path.join(NNP, "training.nnp")])
    assert list(info.networks) == ["train", "run"]
    assert info.training_config.max_epoch == 3 and info.training_config.iter_per_epoch == 10
    ds = info.datasets["ds"]
    assert (ds.uri, ds.variables, ds.shuffle, ds.batch_size) == ("data.csv", ["x", "t"],
                                                                  True, 4)
    run = info.executors["runtime"]
    (x,) = run.dataset_assign
    x.variable_instance.d = np.array(facts["x"], np.float32)
    run.forward_target.forward()
    (y,) = run.output_assign
    np.testing.assert_allclose(y.variable_instance.d, facts["y"], rtol=1e-5, atol=1e-6)
    opt = info.optimizers["opt"]
    assert opt.solver.name == "Adam" and opt.solver.learning_rate() == np.float32(0.01)
    states = opt.solver.get_states()
    assert set(states) == set(facts["states"])
    for key, want in facts["states"].items():
        assert states[key].t == want["t"]
        for name, value in want.items():
            if name != "t":
                np.testing.assert_allclose(states[key].pstate[name].d, value, rtol=1e-6)
    assert [v.name for v in info.monitors["mon"].monitor_variables] == ["loss"]


def test_solver_states_round_trip(tmp_path):
    import nablite.solvers as S
    contents, facts = models.training(nn, F, PF, S)
    path = str(tmp_path / "t.nnp")
    save(path, contents, include_solver_state=True)
    with zipfile.ZipFile(path) as z:
        assert "opt_Adam_optimizer.h5.optimizer" in z.namelist()
    nn.clear_parameters()
    opt = nnp_load.load([path]).optimizers["opt"]
    for key, want in facts["states"].items():
        st = opt.solver.get_states()[key]
        assert st.t == want["t"] == 1
        np.testing.assert_allclose(st.pstate["mean"].d, want["mean"], rtol=1e-6)


def _readme_python_block():
    """The first Python block of README.md's "Model files (.nnp)" section."""
    import re
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.find("## Model files (.nnp)")
    assert start >= 0, "README.md has no '## Model files (.nnp)' section"
    block = re.search(r"```python\n(.*?)```", text[start:].split("\n## ", 1)[0], re.S)
    assert block, "README.md's 'Model files (.nnp)' section has no Python block"
    return block.group(1)


def test_readme_example(tmp_path, monkeypatch):
    code = _readme_python_block()
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README: Model files (.nnp)", "exec"), {"__name__": "readme"})
    assert os.path.exists(tmp_path / "model.nnp")
    with zipfile.ZipFile(tmp_path / "model.nnp") as z:
        assert z.namelist() == ["nnp_version.txt", "network.nntxt", "parameter.h5"]


def test_readme_names_the_regeneration_command():
    """The README says how nnabla_pb2 is regenerated, with the command the schema's
    header gives."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        section = f.read().split("## Model files (.nnp)", 1)[1].split("\n### ", 1)[0]
    with open(os.path.join(root, "src", "nablite", "nnabla.proto"), encoding="utf-8") as f:
        header = f.read()
    command = "python -m grpc_tools.protoc -I src --python_out=src src/nablite/nnabla.proto"
    assert command in header and command in section


def test_protobuf_parameters_in_nnp_load_in_nnabla(tmp_path):
    from nnabla_parity import run_in_nnabla
    inputs, outputs, want = build("cnn")
    path = str(tmp_path / "cnn.nnp")
    save(path, contents("cnn", inputs, outputs), parameter_format=".protobuf")
    got = run_in_nnabla(_NNABLA_RUN, path=path, name="cnn", batch=models.BATCH,
                        xd=inputs["x"].d.tolist())
    if got is None:
        pytest.skip("NNabla 1.39 is not installed")
    np.testing.assert_allclose(np.array(got, np.float32), want, rtol=1e-5, atol=1e-5)


def test_file_objects(tmp_path):
    import io
    inputs, outputs, want = build("mlp")
    buf = io.BytesIO()
    save(buf, contents("mlp", inputs, outputs), extension=".nnp")
    nn.clear_parameters()
    net = NnpLoader(io.BytesIO(buf.getvalue()), extension=".nnp").get_network("mlp")
    net.inputs["x"].d = inputs["x"].d
    net.outputs["y"].forward()
    np.testing.assert_allclose(net.outputs["y"].d, want, rtol=1e-6)
    # text formats go to a text stream as text (NNabla's own save test), parameters too
    for ext in (".nntxt", ".prototxt"):
        inputs, outputs, want = build("mlp")
        text = io.StringIO()
        save(text, contents("mlp", inputs, outputs), extension=ext, include_params=True)
        text.seek(0)
        nn.clear_parameters()
        net = NnpLoader(text, extension=ext).get_network("mlp")
        net.inputs["x"].d = inputs["x"].d
        net.outputs["y"].forward()
        np.testing.assert_allclose(net.outputs["y"].d, want, rtol=1e-6)


def test_a_function_nnabla_has_no_type_for_is_named_and_nothing_is_written(tmp_path):
    from nablite.function import PythonFunction

    class Double(PythonFunction):
        @property
        def name(self):
            return "Double"

        def min_outputs(self):
            return 1

        def setup_impl(self, inputs, outputs):
            outputs[0].reset_shape(inputs[0].shape, True)

        def forward_impl(self, inputs, outputs):
            outputs[0].d = inputs[0].d * 2

        def grad_depends_input_data(self, i, j):
            return False

        def grad_depends_output_data(self, i, o):
            return False

    x = nn.Variable((2, 3))
    y = Double()(F.tanh(x))
    path = tmp_path / "m.nnp"
    with pytest.raises(ValueError, match=r"'Double \(Callback\)'.*no NNabla function type"):
        save(str(path), {"networks": [{"name": "n", "batch_size": 2, "outputs": {"y": y}}]})
    assert not os.listdir(tmp_path)


def test_load_options():
    path = os.path.join(NNP, "training.nnp")
    info = nnp_load.load([path], batch_size=6)
    assert info.networks["run"].inputs["x"].shape == (6, 5)
    w = nn.get_parameters(grad_only=False)["fc/affine/W"]
    w.d = 7.0
    nnp_load.load([path], exclude_parameter=True)  # keeps the registered values
    assert (nn.get_parameters(grad_only=False)["fc/affine/W"].d == 7).all()
    info = nnp_load.load([path], parameter_only=True)
    assert not info.networks
    assert (nn.get_parameters(grad_only=False)["fc/affine/W"].d != 7).all()


_NNABLA_LOAD_SCRIPT = """
import numpy as np
import nnabla as nn
from nnabla.utils.load import load
info = load([PATH])
net = info.networks["run"]
out = {"variables": [[v.name, v.type, list(v.shape), bool(v.need_grad)]
                     for v in net.variables.values()],
       "functions": [[f.name, f.type] for f in net.functions.values()]}
e = info.executors["runtime"]
for v, name in e.dataset_assign.items():
    v.variable_instance.d = np.array(X, np.float32)
e.forward_target.forward()
out["outputs"] = [[name, v.variable_instance.d.tolist()] for v, name in e.output_assign.items()]
opt = info.optimizers["opt"]
out["losses"] = [v.name for v in opt.loss_variables]
out["parameters"] = list(opt.parameters)
opt.target.forward()
out["loss_shape"] = list(opt.target.shape)
RESULT = out
"""


def test_load_gives_nnablas_structure():
    """A script reading load()'s networks, executors and optimizers as NNabla's
    users do (variable_instance, output_assign, forward_target) gets the same
    names, types and numbers from both libraries."""
    from nnabla_parity import run_in_nnabla
    path = os.path.join(NNP, "training.nnp")
    with open(os.path.join(NNP, "training.json")) as f:
        x = json.load(f)["x"]
    script = "PATH = %r\nX = %r\n" % (path, x) + _NNABLA_LOAD_SCRIPT.split("\n", 1)[1]
    ns = {}
    exec(compile(script.replace("nnabla", "nablite"), "load script", "exec"), ns)
    mine = json.loads(json.dumps(ns["RESULT"]))
    assert mine["losses"] == ["loss"] and mine["parameters"] == ["fc/affine/W", "fc/affine/b"]
    assert [v[0] for v in mine["variables"]] == ["x", "y"]
    want = run_in_nnabla(script)
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    for key in ("variables", "functions", "losses", "parameters", "loss_shape"):
        assert mine[key] == want[key], key
    (name, y), = mine["outputs"]
    (want_name, want_y), = want["outputs"]
    assert name == want_name
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-6)
