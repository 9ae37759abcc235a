"""Load NNabla files (``.nnp``, ``.nntxt``, ``.protobuf``, ``.h5``) into what
NNabla's ``nnabla.utils.load.load`` returns: an info object whose ``networks``,
``executors``, ``optimizers``, ``datasets`` and ``monitors`` are OrderedDicts by
name, with the networks rebuilt as nablite graphs and the parameters registered
in the current scope (only after everything was read and built)."""
from collections import OrderedDict

from .. import solvers as S
from .._nnp.build import build_network, registered_parameters, standalone_parameters
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


class Network(_Record):
    """A rebuilt network: ``name``, ``batch_size``, ``variables``, ``inputs``,
    ``outputs`` (OrderedDicts name -> Variable) and ``proto``."""


class Executor(_Record):
    """``network``, ``dataset_assign`` / ``output_assign`` / ``generator_assign``
    (OrderedDicts Variable -> data name), ``forward_target``, ``parameters``,
    ``num_evaluations``, ``repeat_evaluation_type``, ``need_back_propagation``,
    ``no_image_normalization`` and ``proto``."""


class Optimizer(_Record):
    """``solver`` (a nablite solver over the network's parameters), ``network``,
    ``dataset_name``, ``weight_decay``, ``lr_decay``, ``lr_decay_interval``,
    ``update_interval``, ``loss_variables``, ``parameters`` and ``proto``."""


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
    keeps the current parameters; ``parameter_only`` only loads parameters.
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
    registered = registered_parameters(values)

    for net in proto.network:
        variables, inputs, outputs = build_network(net, registered, batch_size,
                                                   f"{where}, network {net.name!r}")
        info.networks[net.name] = Network(
            name=net.name, batch_size=int(batch_size or net.batch_size or 1),
            variables=variables, inputs=inputs, outputs=outputs, proto=net)
    for ds in proto.dataset:
        info.datasets[ds.name] = _Record(
            name=ds.name, uri=ds.uri, cache_dir=ds.cache_dir, batch_size=ds.batch_size,
            shuffle=ds.shuffle, variables=list(ds.variable),
            no_image_normalization=ds.no_image_normalization, proto=ds, data_iterator=None)
    for e in proto.executor:
        network = _network_of(info, e.network_name, f"executor {e.name!r}", where)
        var = network.variables
        info.executors[e.name] = Executor(
            name=e.name, network=network, proto=e,
            dataset_assign=OrderedDict((var[d.variable_name], d.data_name)
                                       for d in e.data_variable),
            generator_assign=OrderedDict((var[g.variable_name], g.type)
                                         for g in e.generator_variable),
            output_assign=OrderedDict((var[o.variable_name], o.data_name)
                                      for o in e.output_variable),
            forward_target=[var[o.variable_name] for o in e.output_variable],
            parameters=[p.variable_name for p in e.parameter_variable],
            num_evaluations=e.num_evaluations or 1,
            repeat_evaluation_type=e.repeat_evaluation_type,
            need_back_propagation=e.need_back_propagation,
            no_image_normalization=e.no_image_normalization)
    for o in proto.optimizer:
        network = _network_of(info, o.network_name, f"optimizer {o.name!r}", where)
        solver = _solver(o.solver)
        names = [p.variable_name for p in o.parameter_variable]
        solver.set_parameters(OrderedDict((k, network.variables[k]) for k in names
                                          if k in network.variables))
        _restore_states(solver, o.name, states, where)
        info.optimizers[o.name] = Optimizer(
            name=o.name, solver=solver, network=network, proto=o,
            dataset_name=list(o.dataset_name), weight_decay=o.solver.weight_decay,
            lr_decay=o.solver.lr_decay, lr_decay_interval=o.solver.lr_decay_interval,
            update_interval=o.update_interval or 1,
            loss_variables=[network.variables[v.variable_name] for v in o.loss_variable],
            parameters=names, start_iter=o.start_iter, end_iter=o.end_iter)
    for m in proto.monitor:
        network = _network_of(info, m.network_name, f"monitor {m.name!r}", where)
        info.monitors[m.name] = _Record(
            name=m.name, network=network, proto=m, dataset_name=list(m.dataset_name),
            monitor_variables=[network.variables[v.variable_name]
                               for v in m.monitor_variable])
    return info


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
