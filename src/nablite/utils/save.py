"""Save networks, their parameters and training configurations as NNabla's files
(``.nnp``, ``.nntxt``, ``.protobuf``), as ``nnabla.utils.save`` does.

``contents`` is NNabla's dict::

    {"networks": [{"name": "net", "batch_size": 64,
                   "outputs": {"y": y}, "names": {"x": x}}],
     "executors": [{"name": "runtime", "network": "net",
                    "data": ["x"], "output": ["y"]}],
     # for training configurations also:
     "datasets": [...], "optimizers": [...], "monitors": [...],
     "training_config": {...}, "global_config": {...}}
"""
import io
import os
import tempfile

from .._nnp import config as _config
from .._nnp.export import network_proto
from .._nnp.files import extension_of, write_network_file
from .._nnp.proto import pb2
from ..logger import logger
from ..parameter import get_parameters


def _contents_proto(contents, variable_batch_size, parameters):
    proto = pb2().NNablaProtoBuf()
    if "global_config" in contents:
        _config.add_global_config(proto, contents["global_config"])
    if "training_config" in contents:
        _config.add_training_config(proto, contents["training_config"])
    params = get_parameters(grad_only=False) if parameters is None else parameters
    network_params, network_outputs, used = {}, {}, []
    for n in contents.get("networks", []):
        for key in ("name", "batch_size", "outputs"):
            if key not in n:
                raise ValueError(f"save: a network of contents has no {key!r}")
        net, names = network_proto(n["name"], n["batch_size"], n["outputs"], n.get("names"),
                                   variable_batch_size, params)
        proto.network.add().CopyFrom(net)
        network_params[n["name"]] = names
        network_outputs[n["name"]] = list(n["outputs"])
        used.extend(k for k in names if k not in used)
    for d in contents.get("datasets", []):
        _config.add_dataset(proto, d)
    optimizers = [_config.add_optimizer(proto, o, network_params, network_outputs)
                  for o in contents.get("optimizers", [])]
    for m in contents.get("monitors", []):
        _config.add_monitor(proto, m, network_outputs)
    for e in contents.get("executors", []):
        if e.get("network") not in network_params:
            raise ValueError(f"save: executor {e.get('name')!r} names network "
                             f"{e.get('network')!r}, which contents does not have")
        _config.add_executor(proto, e, network_params)
    return proto, params, optimizers


def save(filename, contents, include_params=False, variable_batch_size=True,
         extension=".nnp", parameters=None, parameter_format=".h5",
         include_solver_state=False, solver_state_format=".h5"):
    """Save ``contents`` (NNabla's dict of networks, executors, ...) to ``filename``.

    Args:
        filename (str or file object): ``.nnp`` (a zip with ``nnp_version.txt``,
            ``network.nntxt`` and the parameters), ``.nntxt`` or ``.protobuf``.
        contents (dict): see the module docstring.
        include_params (bool): Also write the parameters into ``.nntxt``/``.protobuf``
            (an ``.nnp`` always holds them).
        variable_batch_size (bool): Write the batch dimension of buffers as -1.
        extension (str): The format when ``filename`` is a file object.
        parameters (dict): ``name -> Variable`` (default: all current parameters).
        parameter_format (str): ``.h5`` or ``.protobuf`` inside an ``.nnp``.
        include_solver_state (bool): Also store each optimizer's solver states in
            the ``.nnp`` (as ``<name>_<Solver>_optimizer<format>.optimizer``).
        solver_state_format (str): ``.h5`` or ``.protobuf``.
    """
    if not isinstance(filename, (str, os.PathLike)):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "contents" + extension)
            save(path, contents, include_params, variable_batch_size, extension, parameters,
                 parameter_format, include_solver_state, solver_state_format)
            with open(path, "rb") as f:
                data = f.read()
            # a text stream (io.StringIO) gets the text of .nntxt/.prototxt
            filename.write(data.decode("utf-8") if isinstance(filename, io.TextIOBase)
                           else data)
        return
    kind = {".nnp": "nnp", ".protobuf": "protobuf"}.get(extension_of(filename), "prototxt")
    logger.info(f"Saving {filename} as {kind}")
    proto, params, optimizers = _contents_proto(contents, variable_batch_size, parameters)
    items = [(k, v.d, v.need_grad) for k, v in params.items()]
    extra = []
    if include_solver_state and extension_of(filename) == ".nnp":
        extra = _solver_states(contents, solver_state_format)
    write_network_file(filename, proto, items, parameter_format, include_params, extra)
    logger.info(f"Model file is saved as ({extension_of(filename)}): {filename}")


def _solver_states(contents, fmt):
    """[(member name, bytes)] of each optimizer's solver states."""
    from .. import _param_io
    members = []
    for o in contents.get("optimizers", []):
        solver = o["solver"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "states" + fmt)
            _param_io.save_states(path, solver._state_records())
            with open(path, "rb") as f:
                members.append((f"{o['name']}_{solver.name}_optimizer{fmt}.optimizer", f.read()))
    return members


__all__ = ["save"]
