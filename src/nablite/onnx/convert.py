"""File converters between ``.nnp`` and ``.onnx`` (what ``nablite convert`` calls).

Both go through a nablite graph: the .nnp side is nablite.utils.nnp_graph's
``NnpLoader`` and nablite.utils.save's ``save``; the ONNX side is this
package's ``export`` and ``import_model``.
"""
import os

from ..parameter import get_parameters, parameter_scope
from ._deps import DEFAULT_OPSET


def nnp_to_onnx(nnp_path, onnx_path, network=None, batch_size=None, opset=DEFAULT_OPSET):
    """Write network ``network`` (default: the .nnp's first) of an .nnp file as ONNX.

    Returns the onnx.ModelProto written.
    """
    from ..utils.nnp_graph import NnpLoader
    from .exporter import export

    loader = NnpLoader(nnp_path)
    names = loader.get_network_names()
    if not names:
        raise ValueError(f"nnp_to_onnx: {nnp_path} holds no network")
    if network is None:
        network = names[0]
    elif network not in names:
        raise ValueError(f"nnp_to_onnx: {nnp_path} has no network {network!r}; it has {names}")
    with parameter_scope(f"nnp_to_onnx_{os.getpid()}_{id(loader)}"):
        net = loader.get_network(network, batch_size=batch_size)
    return export(dict(net.outputs), onnx_path, inputs=dict(net.inputs), opset=opset)


def onnx_to_nnp(onnx_path, nnp_path, batch_size=1, network_name=None):
    """Write an ONNX model as an .nnp (a network, its parameters and an executor).

    Symbolic input dimensions take ``batch_size``. Returns the .nnp path.
    """
    from ..utils.save import save
    from .importer import import_model

    scope = f"onnx_to_nnp_{os.getpid()}_{id(onnx_path)}"
    with parameter_scope(scope):
        net = import_model(onnx_path, batch_size=batch_size)
        params = get_parameters(grad_only=False)
    name = network_name or net.name or "network"
    contents = {
        "networks": [{"name": name, "batch_size": batch_size,
                      "outputs": dict(net.outputs), "names": dict(net.inputs)}],
        "executors": [{"name": "runtime", "network": name, "data": list(net.inputs),
                       "output": list(net.outputs)}],
    }
    save(nnp_path, contents, parameters=params)
    return nnp_path
