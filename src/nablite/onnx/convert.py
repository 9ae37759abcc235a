"""File converters between ``.nnp`` and ``.onnx`` (what ``nablite convert`` calls).

Both go through a nablite graph: the .nnp side is nablite.utils.nnp_graph's
``NnpLoader`` and nablite.utils.save's ``save``; the ONNX side is this
package's ``export`` and ``import_model``. As NnpLoader does, the parameters
of the file read are registered in the current parameter scope.
"""
from ._deps import DEFAULT_OPSET


def nnp_to_onnx(nnp_path, onnx_path, network=None, batch_size=None, opset=DEFAULT_OPSET):
    """Write network ``network`` of an .nnp file as ONNX: by default the first
    executor's network (else the first network). As NNabla's converter, the graph
    outputs are the executor's output variables, in its order, where an executor
    runs the network; otherwise every variable no function reads.

    Args:
        nnp_path (str): the .nnp (or .nntxt/.protobuf with parameters) to read.
        onnx_path (str): the .onnx file to write.
        network (str): the network's name in the .nnp.
        batch_size (int): the batch size to build the network with (default:
            the one the .nnp states).
        opset (int): the ONNX opset, 11 to 17; None: the lowest from 11
            (NNabla's default) at which every function of the network exports.

    Returns:
        onnx.ModelProto: the model written.
    """
    from ..utils.nnp_graph import NnpLoader
    from .exporter import export

    loader = NnpLoader(nnp_path)
    names = list(loader.get_network_names())
    if not names:
        raise ValueError(f"nnp_to_onnx: {nnp_path} holds no network")
    executors = [e for e in loader.proto.executor if e.network_name in names]
    if network is None:
        network = executors[0].network_name if executors else names[0]
    elif network not in names:
        raise ValueError(f"nnp_to_onnx: {nnp_path} has no network {network!r}; it has {names}")
    net = loader.get_network(network, batch_size=batch_size)
    return export(_executor_outputs(net, executors, nnp_path), onnx_path,
                  inputs=dict(net.inputs), opset=opset)


def _executor_outputs(net, executors, where):
    """name -> Variable of the first executor of ``net``'s outputs, or its leaves."""
    for e in executors:
        if e.network_name == net.name and e.output_variable:
            missing = [o.variable_name for o in e.output_variable
                       if o.variable_name not in net.variables]
            if missing:
                raise ValueError(f"nnp_to_onnx: {where}: executor {e.name!r} outputs "
                                 f"{missing}, which network {net.name!r} does not have")
            return {o.variable_name: net.variables[o.variable_name] for o in e.output_variable}
    return dict(net.outputs)


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
