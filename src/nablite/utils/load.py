"""Load NNabla files (``.nnp``, ``.nntxt``, ``.protobuf``, ``.h5``) into what
NNabla's ``nnabla.utils.load.load`` returns: an info object whose ``networks``,
``executors``, ``optimizers``, ``datasets`` and ``monitors`` are OrderedDicts by
name, with the networks rebuilt as nablite graphs and the parameters registered
in the current scope (only after everything was read and built)."""
from collections import OrderedDict

import numpy as np

from .. import solvers as S
from .._nnp.build import build_network, registered_parameters, standalone_parameters
from .._nnp.initializers import parameter_initializers
from .._nnp.files import read_network_files
from .._nnp.proto import describe
from ..parameter import _assign_parameters

__all__ = ["load"]


class _Record:
    """Attributes from keyword arguments (what NNabla's info pieces hold)."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def __repr__(self):
        return f"<{type(self).__name__} {getattr(self, 'name', '')!r}>"


class NetworkVariable(_Record):
    """A variable of a loaded network, as NNabla's load gives it (its
    ``ProtoVariable``): ``name``, ``shape``, ``type`` ("Buffer" or "Parameter"),
    ``need_grad`` and ``variable_instance``, the nablite Variable itself."""


class NetworkFunction(_Record):
    """A function of a loaded network: ``name``, ``type``, ``inputs`` and
    ``outputs`` (variable names), ``proto`` and ``function_instance`` (the
    nablite Function that computes it; None when a network pass removed it)."""


class Network(_Record):
    """A rebuilt network, as NNabla's load gives it: ``name``, ``batch_size``,
    ``variables`` (OrderedDict name -> NetworkVariable, the data and
    intermediate variables), ``parameters`` (the same for the parameters),
    ``functions`` (OrderedDict name -> NetworkFunction) and ``proto``; also
    nablite's ``inputs`` and ``outputs`` (OrderedDicts name -> Variable)."""


class Executor(_Record):
    """``network``, ``dataset_assign`` / ``generator_assign`` (OrderedDicts
    NetworkVariable -> data name or generator type), ``output_assign``
    (NetworkVariable -> [type, data name]), ``forward_target`` (the Variable
    whose forward computes every output), ``parameters`` (OrderedDict name ->
    Variable), ``num_evaluations``, ``repeat_evaluation_type``,
    ``need_back_propagation``, ``no_image_normalization`` and ``proto``."""


class Optimizer(_Record):
    """``solver`` (a nablite solver over the network's parameters), ``network``,
    ``dataset_name``, ``dataset_assign`` / ``generator_assign`` (as an
    Executor's), ``weight_decay``, ``lr_decay``, ``lr_decay_interval``,
    ``update_interval``, ``loss_variables`` (NetworkVariables), ``target`` (the
    Variable whose forward/backward computes every loss), ``parameters``
    (OrderedDict name -> Variable), ``start_iter``, ``end_iter`` and ``proto``."""


class Info(_Record):
    """What ``load`` returns."""


def _solver(sp):
    field = sp.WhichOneof("parameter")
    cls = getattr(S, sp.type, None)
    if cls is None:
        raise ValueError(f"load: solver type {sp.type!r} is not one nablite has")
    if field is None:
        return cls()
    msg = getattr(sp, field)
    return cls(**{f.name: getattr(msg, f.name) for f in msg.DESCRIPTOR.fields})


def load(filenames, prepare_data_iterator=True, batch_size=None, exclude_parameter=False,
         parameter_only=False, extension=".nntxt", context=None):
    """Read ``filenames`` (one path or a list; their contents merge) and rebuild what
    they hold. ``batch_size`` replaces the files' batch sizes; ``exclude_parameter``
    leaves the files' parameter values out (the current parameters are used, and
    those missing start from the files' initializer specs, or at zero, as in
    NNabla); ``parameter_only`` only loads parameters.
    ``prepare_data_iterator`` and ``context`` are accepted for NNabla's signature:
    datasets are returned as their file records (``uri``, ``variables``, ...), and
    the current context is used."""
    if not isinstance(filenames, (list, tuple)):
        filenames = [filenames]
    where = ", ".join(describe(f) for f in filenames)
    states = {}
    proto, params = read_network_files(list(filenames), states, extension)
    values = OrderedDict((k, (a, g)) for k, a, g in params)
    info = Info(proto=proto, batch_size=batch_size, networks=OrderedDict(),
                executors=OrderedDict(), optimizers=OrderedDict(), datasets=OrderedDict(),
                monitors=OrderedDict(), training_config=proto.training_config,
                global_config=proto.global_config)
    if parameter_only:
        if not exclude_parameter:
            _assign_parameters(params, f"load({where})")
        return info

    for net in proto.network:  # check that every network builds before changing anything
        build_network(net, standalone_parameters(values), batch_size,
                      f"{where}, network {net.name!r}")
    if not exclude_parameter:
        _assign_parameters(params, f"load({where})")
    # parameters neither loaded nor registered start as the file says (NNabla's
    # RandomState(0) per load)
    registered = registered_parameters(values, parameter_initializers(
        proto, np.random.RandomState(0)))

    for net in proto.network:
        variables, inputs, outputs = build_network(net, registered, batch_size,
                                                   f"{where}, network {net.name!r}")
        info.networks[net.name] = _network(net, variables, inputs, outputs, batch_size)
    info.proto_graph = _proto_graph(proto, info.networks)
    for ds in proto.dataset:
        info.datasets[ds.name] = _Record(
            name=ds.name, uri=ds.uri, cache_dir=ds.cache_dir, batch_size=ds.batch_size,
            shuffle=ds.shuffle, variables=list(ds.variable),
            no_image_normalization=ds.no_image_normalization, proto=ds, data_iterator=None)
    for e in proto.executor:
        network = _network_of(info, e.network_name, f"executor {e.name!r}", where)
        var = _variable_of(network, f"executor {e.name!r}", where)
        outputs = OrderedDict((var(o.variable_name), [o.type, o.data_name])
                              for o in e.output_variable)
        info.executors[e.name] = Executor(
            name=e.name, network=network, proto=e,
            dataset_assign=OrderedDict((var(d.variable_name), d.data_name)
                                       for d in e.data_variable),
            generator_assign=OrderedDict((var(g.variable_name), g.type)
                                         for g in e.generator_variable),
            output_assign=outputs,
            forward_target=_target([v.variable_instance for v in outputs]),
            parameters=_parameters(network, [p.variable_name for p in e.parameter_variable]),
            num_evaluations=e.num_evaluations or 1,
            repeat_evaluation_type=e.repeat_evaluation_type,
            need_back_propagation=e.need_back_propagation,
            no_image_normalization=e.no_image_normalization)
    for o in proto.optimizer:
        network = _network_of(info, o.network_name, f"optimizer {o.name!r}", where)
        var = _variable_of(network, f"optimizer {o.name!r}", where)
        solver = _solver(o.solver)
        parameters = _parameters(network, [p.variable_name for p in o.parameter_variable])
        solver.set_parameters(parameters)
        _restore_states(solver, o.name, states, where)
        losses = [var(v.variable_name) for v in o.loss_variable]
        info.optimizers[o.name] = Optimizer(
            name=o.name, solver=solver, network=network, proto=o,
            dataset_name=list(o.dataset_name),
            dataset_assign=OrderedDict((var(d.variable_name), d.data_name)
                                       for d in o.data_variable),
            generator_assign=OrderedDict((var(g.variable_name), g.type)
                                         for g in o.generator_variable),
            weight_decay=o.solver.weight_decay,
            lr_decay=o.solver.lr_decay, lr_decay_interval=o.solver.lr_decay_interval,
            update_interval=o.update_interval or 1, loss_variables=losses,
            target=_target([v.variable_instance for v in losses]),
            parameters=parameters, start_iter=o.start_iter, end_iter=o.end_iter)
    for m in proto.monitor:
        network = _network_of(info, m.network_name, f"monitor {m.name!r}", where)
        var = _variable_of(network, f"monitor {m.name!r}", where)
        watched = [var(v.variable_name) for v in m.monitor_variable]
        info.monitors[m.name] = _Record(
            name=m.name, network=network, proto=m, dataset_name=list(m.dataset_name),
            dataset_assign=OrderedDict((var(d.variable_name), d.data_name)
                                       for d in m.data_variable),
            generator_assign=OrderedDict((var(g.variable_name), g.type)
                                         for g in m.generator_variable),
            monitor_variables=watched,
            target=_target([v.variable_instance for v in watched]))
    return info


def _proto_graph(proto, networks):
    """The nn.graph_def ProtoGraph of the networks (NNabla's ``info.proto_graph``),
    each ProtoVariable naming the Variable ``load`` built for it."""
    from ..graph_def import ProtoGraph
    params = OrderedDict((k, e.variable_instance) for n in networks.values()
                         for k, e in n.parameters.items())
    graph = ProtoGraph.from_proto(proto, params)
    for name, net in graph.networks.items():
        for key, v in net.variables.items():
            entry = networks[name].variables.get(key)
            if entry is not None:
                v.variable_instance = entry.variable_instance
    return graph


def _network(net, variables, inputs, outputs, batch_size):
    """The Network of proto ``net`` from what build_network made of it."""
    entries = OrderedDict()
    for vp in net.variable:
        if vp.name in variables:
            v = variables[vp.name]
            kind = vp.type or "Buffer"
            entries[vp.name] = NetworkVariable(  # the file's shape (-1: the batch), as NNabla
                name=vp.name, shape=tuple(vp.shape.dim), type=kind,
                need_grad=v.need_grad if kind == "Parameter" else False,
                variable_instance=v, proto=vp)
    functions = OrderedDict()
    for fp in net.function:
        out = variables.get(fp.output[0]) if fp.output else None
        functions[fp.name] = NetworkFunction(
            name=fp.name, type=fp.type, inputs=list(fp.input), outputs=list(fp.output),
            proto=fp, function_instance=getattr(out, "parent", None))
    return Network(
        name=net.name, batch_size=int(batch_size or net.batch_size or 1),
        variables=OrderedDict((k, e) for k, e in entries.items() if e.type != "Parameter"),
        parameters=OrderedDict((k, e) for k, e in entries.items() if e.type == "Parameter"),
        functions=functions, inputs=inputs, outputs=outputs, proto=net)


def _variable_of(network, who, where):
    """name -> the network's NetworkVariable, with an error naming ``who``."""
    def find(name):
        entry = network.variables.get(name) or network.parameters.get(name)
        if entry is None:
            raise ValueError(f"load: {who} of {where} names variable {name!r}, which "
                             f"network {network.name!r} does not have")
        return entry
    return find


def _parameters(network, names):
    return OrderedDict((k, network.parameters[k].variable_instance) for k in names
                       if k in network.parameters)


def _target(variables):
    """One Variable whose forward (and backward) reaches every one of ``variables``."""
    if len(variables) == 1:
        return variables[0]
    from .. import functions as F
    return F.sink(*variables, one_input_grad=False) if variables else None


def _network_of(info, name, who, where):
    if name not in info.networks:
        raise ValueError(f"load: {who} of {where} names network {name!r}, which the files "
                         f"do not have (they have {list(info.networks)})")
    return info.networks[name]


def _restore_states(solver, name, states, where):
    """Load the solver states an .nnp stored for optimizer ``name``, if any."""
    import os
    import tempfile
    prefix = f"{name}_{solver.name}_optimizer"
    for member, data in states.items():
        if not member.startswith(prefix) or not member.endswith(".optimizer"):
            continue
        fmt = member[len(prefix):-len(".optimizer")]
        if fmt not in (".h5", ".protobuf"):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "states" + fmt)
            with open(path, "wb") as f:
                f.write(data)
            try:
                solver.load_states(path)
            except ValueError as e:
                raise ValueError(f"load: {where}, member {member!r}: {e}") from None
