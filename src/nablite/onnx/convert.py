"""File converters between ``.nnp`` and ``.onnx`` (what ``nablite convert`` calls).

Both go through a nablite graph: the .nnp side is nablite.utils.nnp_graph's
``NnpLoader`` and nablite.utils.save's ``save``; the ONNX side is this
package's ``export`` and ``import_model``. As NnpLoader does, the parameters
of the file read are registered in the current parameter scope.
"""
from ._deps import DEFAULT_OPSET


def nnp_to_onnx(nnp_path, onnx_path, network=None, batch_size=None, opset=DEFAULT_OPSET):
    """Write network ``network`` of an .nnp file (default: its first) as ONNX.

    Args:
        nnp_path (str): the .nnp (or .nntxt/.protobuf with parameters) to read.
        onnx_path (str): the .onnx file to write.
        network (str): the network's name in the .nnp.
        batch_size (int): the batch size to build the network with (default:
            the one the .nnp states).
        opset (int): the ONNX opset, 13 to 17.

    Returns:
        onnx.ModelProto: the model written.
    """
    from ..utils.nnp_graph import NnpLoader
    from .exporter import export

    loader = NnpLoader(nnp_path)
    names = list(loader.get_network_names())
    if not names:
        raise ValueError(f"nnp_to_onnx: {nnp_path} holds no network")
    if network is None:
        network = names[0]
    elif network not in names:
        raise ValueError(f"nnp_to_onnx: {nnp_path} has no network {network!r}; it has {names}")
    net = loader.get_network(network, batch_size=batch_size)
    return export(dict(net.outputs), onnx_path, inputs=dict(net.inputs), opset=opset)


def onnx_to_nnp(onnx_path, nnp_path, batch_size=1, network_name=None):
    """Write an ONNX model as an .nnp: one network, its parameters, and an
    executor ``runtime`` reading the graph inputs and giving its outputs.

    Args:
        onnx_path (str): the .onnx file to read.
        nnp_path (str): the .nnp (or .nntxt/.protobuf) to write.
        batch_size (int): the size given to symbolic input dimensions.
        network_name (str): the network's name (default: the ONNX graph's name).

    Returns:
        OnnxNetwork: the imported network that was saved.
    """
    from ..utils.save import save
    from .importer import import_model

    net = import_model(onnx_path, batch_size=batch_size)
    name = network_name or net.name or "network"
    # the imported graph's shapes are static: the .nnp keeps them as they are (no -1
    # batch axis) and states the first input's leading size as its batch size
    first = next(iter(net.inputs.values()), None)
    batch = first.shape[0] if first is not None and first.ndim else batch_size
    contents = {
        "networks": [{"name": name, "batch_size": batch,
                      "outputs": dict(net.outputs), "names": dict(net.inputs)}],
        "executors": [{"name": "runtime", "network": name, "data": list(net.inputs),
                       "output": list(net.outputs)}],
    }
    save(nnp_path, contents, variable_batch_size=False, parameters=dict(net.parameters))
    return net
