"""NNabla's ``nn.graph_def``: networks as data (ProtoGraph, ProtoNetwork,
ProtoFunction, ProtoVariable) between nablite graphs and NNabla files.

    x = nn.ProtoVariable((1, 3))
    with nn.graph_def.graph() as g:        # record what runs on ProtoVariables
        y = F.relu(PF.affine(x, 4))
    g.save("model.nnp")                      # or g.as_proto()
    y2 = g(nn.Variable.from_numpy_array(data))   # the network on real Variables

    g = nn.graph_def.create_graph_from_variable("net", y)   # from a nablite graph
    g = nn.graph_def.load("model.nnp")

A ProtoVariable is a Variable without data, so every nablite function builds
on it; a ProtoGraph holds the file form of the network (nablite.utils.save's
``Network`` message) and its parameters, and calling it rebuilds the network
with nablite's functions on the given inputs.
"""
from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict
from typing import Sequence

import numpy as np

from .variable import Variable

__all__ = ["ProtoVariable", "ProtoFunction", "ProtoNetwork", "ProtoGraph", "graph",
           "graph_name", "create_graph_from_variable", "get_default_graph",
           "get_default_graph_by_variable", "reset_default_graph", "load", "save"]


class ProtoVariable(Variable):
    """A variable of a network definition: shape, name, need_grad, type
    ('Buffer' or 'Parameter'); a Variable with no data until given some."""

    def __init__(self, shape: Sequence[int], name: str | None = None, need_grad: bool = False,
                 var_type: str = "Buffer") -> None:
        super().__init__(tuple(shape), need_grad=need_grad)
        self.name = name
        self.type = var_type
        self.required = True
        from . import graph as engine
        if engine.recording is None:  # functions on it go to the default graph
            engine.recording = _default_recorder()


class ProtoFunction:
    """A function of a network definition: NNabla type, name, input and output
    variable names and arguments (what a file's ``Function`` message holds)."""

    def __init__(self, func, f_type, args, name=None, owner=None):
        self.func = func
        self.type = f_type
        self.args = dict(args)
        self.name = name
        self.owner = weakref.ref(owner) if owner is not None else None
        self.inputs = []
        self.outputs = []

    @classmethod
    def _from_proto(cls, fp, owner):
        from .function_info import SPECS
        spec = SPECS.get(fp.type)
        args = {}
        if spec is not None and spec.param_field and fp.HasField(spec.param_field):
            from ._nnp.build import read_arguments
            args = read_arguments(fp, spec)
        f = cls(None, fp.type, args, fp.name, owner)
        f.inputs, f.outputs = list(fp.input), list(fp.output)
        return f

    def __repr__(self):
        return f"<ProtoFunction {self.type} {self.name!r}: {self.inputs} -> {self.outputs}>"


class ProtoNetwork:
    """One network: ``functions`` and ``variables`` (OrderedDicts by name), the
    names of its ``inputs`` and ``outputs``, and its ``parameters`` (name ->
    Variable). Calling it on Variables builds the network on them."""

    def __init__(self, owner, name=None, batch_size=None):
        self.owner = weakref.ref(owner)
        self.name = name
        self.batch_size = batch_size
        self.functions = OrderedDict()
        self.variables = OrderedDict()
        self.inputs = []
        self.outputs = []
        self.parameters = OrderedDict()
        self._parameter_names = set()  # those the network's functions read
        self._proto = None
        self._call_proto = None

    @classmethod
    def from_proto(cls, owner, proto, parameters):
        n = cls(owner, proto.name, proto.batch_size)
        n._proto = proto
        made = {o for f in proto.function for o in f.output}
        from . import graph as engine
        recording = engine.recording  # a file's variables start no default graph
        try:
            for vp in proto.variable:
                if vp.type == "Parameter":  # listed in parameters, not variables (NNabla)
                    n._parameter_names.add(vp.name)
                    if vp.name in parameters:
                        n.parameters[vp.name] = parameters[vp.name]
                    continue
                shape = [int(d) for d in vp.shape.dim]
                n.variables[vp.name] = ProtoVariable(tuple(abs(d) for d in shape), vp.name,
                                                     var_type=vp.type)
                if vp.name not in made:
                    n.inputs.append(vp.name)
        finally:
            engine.recording = recording
        read = {i for f in proto.function for i in f.input}
        n.outputs = [o for f in proto.function for o in f.output if o not in read]
        for fp in proto.function:
            n.functions[fp.name] = ProtoFunction._from_proto(fp, n)
        return n

    def as_proto(self, variable_batch_size=True, **kwargs):
        """The ``Network`` message of this network, with the batch axis as -1 as
        NNabla writes it (``variable_batch_size``; _nnp/batch.py)."""
        return self._batched(merge_axes=True) if variable_batch_size else self._proto

    def _for_calls(self):
        """The message calls build from (made once): any batch size, the inputs'
        shapes as recorded."""
        if self._call_proto is None:
            self._call_proto = self._batched(merge_axes=False)
        return self._call_proto

    def _batched(self, merge_axes):
        from ._nnp.batch import variable_batch_size
        proto = type(self._proto)()
        proto.CopyFrom(self._proto)
        size = variable_batch_size(proto, merge_axes)
        if size is not None and merge_axes:
            proto.batch_size = size
        return proto

    def __call__(self, *args, **kwargs):
        """The network built with nablite's functions on ``args`` (one Variable per
        input, in ``inputs`` order, extra ones ignored as NNabla does, or by name
        in ``kwargs``); its output
        Variable, or a tuple of them. Called bare, it makes its inputs, with
        ``batch_size`` (default the network's) on the batch axis. ``ctx``: the
        context to build in (default the current one)."""
        from .context import context_scope
        batch_size, ctx = kwargs.pop("batch_size", None), kwargs.pop("ctx", None)
        if ctx is not None:
            with context_scope(ctx):
                return self(*args, batch_size=batch_size, **kwargs)
        from ._nnp.build import build_network
        from .experimental.graph_converters import GraphConverter, IdentityModifier
        given = dict(zip(self.inputs, args))
        given.update(kwargs)
        if not given:  # called bare: the inputs are made here, as NNabla does
            batch = batch_size or self.batch_size or 1
            given = {n: Variable(tuple(batch if d < 0 else d for d in
                                       self._proto_shape(n))) for n in self.inputs}
        missing = [n for n in self.inputs if n not in given]
        if missing:  # (positional inputs past the network's are ignored, as NNabla)
            raise TypeError(f"ProtoNetwork {self.name!r}: takes inputs {self.inputs}, got "
                            f"{len(args)} positional and {sorted(kwargs)}")
        batch = next(iter(given.values())).shape[0] if given else self.batch_size

        def parameter(name, shape):
            p = self.parameters.get(name)
            if p is None:  # not loaded: made as the file says (or zeros), as NNabla
                p = self.owner()._initial_parameter(name, shape)
            return p
        variables, inputs, outputs = build_network(self._for_calls(), parameter, batch,
                                                   f"network {self.name!r}")
        built = [outputs[n] for n in self.outputs]
        mapping = {inputs[n]: given[n] for n in self.inputs if n in inputs}
        ys = GraphConverter([IdentityModifier(mapping)]).convert(built)
        # as NNabla: each ProtoVariable names the Variable that stands for it now
        for n in self.inputs:
            self.variables[n].variable_instance = given[n]
        for n, y in zip(self.outputs, ys):
            self.variables[n].variable_instance = y
        return ys[0] if len(ys) == 1 else tuple(ys)

    def _proto_shape(self, name):
        """The file's shape of variable ``name`` (-1 for the batch axis)."""
        for vp in self._for_calls().variable:
            if vp.name == name:
                return [int(d) for d in vp.shape.dim]
        raise KeyError(name)

    def forward_sequence(self):
        """The ProtoFunctions in the order forward runs them."""
        return iter(list(self.functions.values()))

    def save(self, filename, include_parameter=False, variable_batch_size=True, executors=None):
        self.owner().save(filename, include_parameter, variable_batch_size, executors,
                          networks=[self.name])


class ProtoGraph:
    """Networks by name (``networks``) and the parameters they use.

    Args:
        networks (OrderedDict): name -> ProtoNetwork.
        parameter_scope (OrderedDict): name -> parameter Variable.
    """

    def __init__(self, networks=None, parameter_scope=None):
        self.networks = OrderedDict(networks or {})
        self.parameters = OrderedDict(parameter_scope or {})
        self._initializers = {}

    @classmethod
    def from_proto(cls, proto, parameters=None, rng=None):
        """The graph of an ``NNablaProtoBuf`` message; parameters missing from
        ``parameters`` are made when a network is called, from the file's
        initializer specs drawn from ``rng`` (NNabla's ``RandomState(0)`` by
        default), or zeros."""
        from ._nnp.initializers import parameter_initializers
        g = cls(parameter_scope=parameters)
        for net in proto.network:
            g.networks[net.name] = ProtoNetwork.from_proto(g, net, g.parameters)
        g._proto = proto
        g._initializers = parameter_initializers(
            proto, rng if rng is not None else np.random.RandomState(0))
        return g

    def _initial_parameter(self, name, shape):
        """A new parameter ``name`` with the values its initializer gives (zeros
        without one), set in this graph's networks."""
        init = self._initializers.get(name)
        value = np.zeros(shape, np.float32) if init is None else np.asarray(init(shape))
        param = Variable.from_numpy_array(value.astype(np.float32, copy=False), need_grad=True)
        param.name = name
        self.set_parameter(name, param)
        return param

    def default_graph(self):
        """The first network."""
        if not self.networks:
            raise ValueError("ProtoGraph: the graph holds no network")
        return next(iter(self.networks.values()))

    def __getitem__(self, name):
        """The network ``name`` (``g['net']``, as ``g.net``)."""
        if name not in self.networks:
            raise KeyError(f"ProtoGraph has no network {name!r}; it has {list(self.networks)}")
        return self.networks[name]

    def __getattr__(self, name):
        networks = self.__dict__.get("networks", {})
        if name in networks:
            return networks[name]
        raise AttributeError(f"ProtoGraph has no network or attribute {name!r}")

    def __call__(self, *args, **kwargs):
        return self.default_graph()(*args, **kwargs)

    def get_parameters(self, grad_only=False):
        return OrderedDict((k, v) for k, v in self.parameters.items()
                           if not grad_only or v.need_grad)

    def set_parameter(self, key, param):
        self.parameters[key] = param
        for n in self.networks.values():
            if key in n._parameter_names:
                n.parameters[key] = param

    def set_parameters(self, params):
        for k, v in params.items():
            self.set_parameter(k, v)

    def as_proto(self, variable_batch_size=True, **kwargs):
        """The ``NNablaProtoBuf`` message of all the networks (no parameters)."""
        from ._nnp.proto import pb2
        proto = pb2().NNablaProtoBuf()
        for n in self.networks.values():
            proto.network.add().CopyFrom(n.as_proto(variable_batch_size))
        return proto

    def save(self, filename, include_parameter=False, variable_batch_size=True, executors=None,
             networks=None):
        """Write the networks (and an executor per network unless ``executors``
        gives them) as .nnp, .nntxt or .protobuf."""
        from ._nnp.files import write_network_file
        proto = self.as_proto(variable_batch_size)
        if networks is not None:
            keep = [n for n in proto.network if n.name in networks]
            del proto.network[:]
            proto.network.extend(keep)
        for n in proto.network:
            mine = [e for e in executors if e.get("network", n.name) == n.name] \
                if executors is not None else [None]
            for e in mine:
                ex = proto.executor.add()
                ex.name = (e or {}).get("name") or f"{n.name}_runtime"
                ex.network_name = n.name
                data, output = _executor_names(n, e or {})
                for name in data:
                    d = ex.data_variable.add()
                    d.variable_name = d.data_name = name
                for name in output:
                    o = ex.output_variable.add()
                    o.variable_name = o.data_name = name
                for vp in n.variable:
                    if vp.type == "Parameter":
                        p = ex.parameter_variable.add()
                        p.variable_name = vp.name
        items = [(k, v.d, v.need_grad) for k, v in self.parameters.items()]
        write_network_file(filename, proto, items, include_params=include_parameter)


def _executor_names(net, executor):
    """(data names, output names) of ``executor`` (NNabla's dict: 'data' and
    'output' as lists of names, or as {name: Variable}, which renames that
    variable in network message ``net`` first); the network's ends by default."""
    made = {o for f in net.function for o in f.output}
    read = {i for f in net.function for i in f.input}
    buffers = [v.name for v in net.variable if v.type != "Parameter"]
    ends = {"data": [n for n in buffers if n not in made],
            "output": [n for n in buffers if n in made and n not in read]}
    result = []
    for key in ("data", "output"):
        given = executor.get(key)
        if given is None:
            result.append(ends[key])
            continue
        if isinstance(given, dict):
            for new, v in given.items():
                old = v if isinstance(v, str) else getattr(v, "name", "")
                if old and old != new:
                    _rename(net, old, new)
            given = list(given)
        names = [g if isinstance(g, str) else g.name for g in given]
        known = {v.name for v in net.variable}  # (after the renames)
        missing = [n for n in names if n not in known]
        if missing:
            raise ValueError(f"ProtoGraph.save: executor {executor.get('name')!r} names "
                             f"{key} {missing}, which network {net.name!r} does not have "
                             f"(its variables: {buffers})")
        result.append(names)
    return result


def _rename(net, old, new):
    """Call variable ``old`` of network message ``net`` ``new``, everywhere."""
    for v in net.variable:
        if v.name == old:
            v.name = new
    for f in net.function:
        for field in (f.input, f.output):
            for k, n in enumerate(field):
                if n == old:
                    field[k] = new


def create_graph_from_variable(name, variables, names=None, parameter_scope=None,
                               prefix=None):
    """The ProtoGraph of the nablite graph up to ``variables`` (a Variable or a
    list), as network ``name``; ``names`` ({name: Variable}) names inputs and
    outputs, ``parameter_scope`` ({name: Variable}) the parameters (default:
    all registered ones). The others are named as NNabla names them: after
    their function, behind '@<name>/' (``prefix``)."""
    from ._nnp.export import network_proto
    from .parameter import get_parameters
    outs = list(variables) if isinstance(variables, (list, tuple)) else [variables]
    params = get_parameters(grad_only=False) if parameter_scope is None else parameter_scope
    proto, used = network_proto(name, outs[0].shape[0] if outs[0].shape else 1, outs,
                                dict(names or {}), False, params, prefix)
    used_params = OrderedDict((k, params[k]) for k in used if k in params)
    from ._nnp.proto import pb2
    full = pb2().NNablaProtoBuf()
    full.network.add().CopyFrom(proto)
    g = ProtoGraph.from_proto(full, used_params)
    return g


# -- recording networks ------------------------------------------------------------
class _Recorder:
    """What one ``graph()`` block, or the default graph outside every block,
    records: the functions run on ProtoVariables or on what those made, cut
    into networks as NNabla cuts them. An outermost Module call ends a network
    named after the module; the functions run outside modules make one when
    the default graph is asked for, or when a block or ``graph_name`` ends. The
    first network takes the given name (``graph(name=)``, ``graph_name``), a
    module's its own, the others 'model' (then 'model_1', ...). Unnamed
    functions and variables are named after their type, behind the module path
    ('@net/@conv1/Convolution') or, outside modules, '@<given name>/'."""

    def __init__(self, name=None, parameter_scope=None):
        self.graph = ProtoGraph(parameter_scope=parameter_scope)
        self.name = name
        self.pending = []   # (function, outputs, name prefix) for the next network
        self.made = {}      # id -> every Variable a recorded function made
        self.modules = []   # outermost modules of the pending functions
        self.path = []      # names of the modules being called, outermost first
        self.network_of = {}  # id(output) -> the network it ends

    def append(self, entry):
        """The engine's note of one function call (Function.__call__)."""
        f, ys = entry
        if not any(isinstance(x, ProtoVariable) or id(x) in self.made for x in f.inputs):
            return  # a real graph built meanwhile: not part of any network
        prefix = "".join(f"@{n}/" for n in self.path)
        if not prefix and self.name and self.name != "model":  # NNabla: 'model' gets none
            prefix = f"@{self.name}/"
        self.pending.append((f, ys, prefix))
        for y in ys:
            self.made[id(y)] = y

    def module_called(self, module, call, args, kwargs):
        """Run ``module.call`` noting its name in the path; the outermost call
        ends a network when it recorded anything."""
        top = not self.path
        if top and all(m is not module for m in self.modules):
            self.modules.append(module)
        before = len(self.pending)
        self.path.append(module.name)
        try:
            return call(*args, **kwargs)
        finally:
            self.path.pop()
            if top and len(self.pending) > before:
                self.commit(module.name)

    def commit(self, module_name=None):
        """Make a network of the pending functions (none: nothing to do)."""
        if not self.pending:
            return
        from ._nnp.export import network_proto
        from .parameter import get_parameters
        entries, self.pending = self.pending, []
        modules, self.modules = self.modules, []
        name = self.name or module_name or "model"
        self.name = None
        taken, n = self.graph.networks, 0
        unique = name
        while unique in taken:
            n += 1
            unique = f"{name}_{n}"
        own = {id(y) for _, ys, _ in entries for y in ys}
        read = {id(x) for f, _, _ in entries for x in f.inputs}
        outputs = [y for _, ys, _ in entries for y in ys if y is not None and id(y) not in read]
        earlier = [x for f, _, _ in entries for x in f.inputs
                   if id(x) in self.made and id(x) not in own]
        prefixes = {id(f): p for f, _, p in entries}
        params = get_parameters(grad_only=False)
        for m in modules:
            params.update(m.get_parameters())
        assigned = {}
        proto, used = network_proto(unique, outputs[0].shape[0] if outputs[0].shape else 1,
                                    outputs, None, False, params,
                                    lambda f: prefixes.get(id(f), ""), earlier, assigned)
        used_params = OrderedDict((k, params[k]) for k in used if k in params)
        net = ProtoNetwork.from_proto(self.graph, proto, used_params)
        self.graph.networks[unique] = net
        self.graph.parameters.update(used_params)
        # as NNabla: a recorded variable keeps the name the network gave it, so
        # a later network reading it names it alike
        for v in [x for f, _, _ in entries for x in f.inputs] + outputs:
            if not v.name and id(v) in assigned and (isinstance(v, ProtoVariable)
                                                         or id(v) in own):
                v.name = assigned[id(v)]
        for y in outputs:
            self.network_of[id(y)] = net


_default = None  # the default graph's recorder (made by the first ProtoVariable)


def _default_recorder():
    global _default
    if _default is None:
        _default = _Recorder()
    return _default


def _current_recorder():
    from . import graph as engine
    return engine.recording if engine.recording is not None else _default_recorder()


@contextlib.contextmanager
def graph_name(name):
    """Name the next network the current recording makes (the default graph's,
    or the enclosing ``graph()`` block's); what the block records outside
    modules becomes that network when it ends."""
    rec = _current_recorder()
    outer, rec.name = rec.name, name
    try:
        yield rec.graph
    finally:
        rec.commit()
        rec.name = outer


@contextlib.contextmanager
def graph(**kwargs):
    """Record the functions run on ProtoVariables inside the block into a new
    ProtoGraph (``name=``: the first network's name, ``parameter_scope=``:
    its parameters). Networks are cut as the default graph's are (_Recorder);
    the default graph does not see what the block records."""
    from . import graph as engine
    rec = _Recorder(kwargs.get("name"), kwargs.get("parameter_scope"))
    outer, engine.recording = engine.recording, rec
    try:
        yield rec.graph
    finally:
        engine.recording = outer
    rec.commit()
    if not rec.graph.networks:
        raise ValueError("graph(): no function ran on a ProtoVariable inside the block")


def get_default_graph(*args, **kwargs):
    """The default ProtoGraph: the networks recorded outside every ``graph()``
    block (what is pending becomes a network now); with a name (positional or
    ``name=``), that network, or None."""
    rec = _default_recorder()
    rec.commit()
    name = args[0] if args and isinstance(args[0], str) else kwargs.get("name")
    if name is None:
        return rec.graph
    return rec.graph.networks.get(name)


def get_default_graph_by_variable(proto_variable):
    """The network of the default graph that ``proto_variable`` is an output of."""
    rec = _default_recorder()
    rec.commit()
    net = rec.network_of.get(id(proto_variable))
    if net is not None and rec.made.get(id(proto_variable)) is proto_variable:
        return net
    for net in rec.graph.networks.values():
        if proto_variable.name is not None and proto_variable.name in net.outputs:
            return net
    raise ValueError(f"get_default_graph_by_variable: {proto_variable.name or 'the variable'!s} "
                     "is the output of no network of the default graph (networks recorded "
                     "in a graph() block belong to that block's ProtoGraph)")


def reset_default_graph():
    """Forget the default graph and what it is recording."""
    global _default
    from . import graph as engine
    if engine.recording is _default:
        engine.recording = None
    _default = None


def load(filename, batch_size=None, exclude_parameter=False, parameter_only=False,
         extension=".nntxt", parameter_scope=None, rng=None):
    """The ProtoGraph of an NNabla file (.nnp, .nntxt, .protobuf); its parameters
    are also registered in the current scope unless ``exclude_parameter``. Those
    it does not load are made when a network is called, from the file's
    initializer specs drawn from ``rng`` (``RandomState(0)`` by default), or zeros."""
    from ._nnp.files import read_network_files
    from .parameter import _assign_parameters, get_parameter_or_create
    proto, items = read_network_files(filename)
    if batch_size:
        for n in proto.network:
            n.batch_size = int(batch_size)
    params = OrderedDict()
    if not exclude_parameter:
        _assign_parameters(items, f"graph_def.load({filename!r})")
        for k, arr, need_grad in items:
            params[k] = get_parameter_or_create(k, arr.shape, need_grad=need_grad)
    if parameter_only:
        return ProtoGraph(parameter_scope=params)
    return ProtoGraph.from_proto(proto, params, rng)


def save(filename, content, include_parameters=False, variable_batch_size=True,
         extension=".nnp", executors=None):
    """Save a ProtoGraph (or a list of them, of which NNabla saves the first; a
    ProtoNetwork: its graph's that network), or NNabla's ``contents`` dict
    (nablite.utils.save.save)."""
    if isinstance(content, (list, tuple)) and content and isinstance(
            content[0], (ProtoGraph, ProtoNetwork)):
        content = content[0]
    if isinstance(content, ProtoNetwork):
        return content.save(filename, include_parameters, variable_batch_size, executors)
    if isinstance(content, ProtoGraph):
        return content.save(filename, include_parameters, variable_batch_size, executors)
    from .utils.save import save as save_contents
    return save_contents(filename, content, include_params=include_parameters,
                         variable_batch_size=variable_batch_size, extension=extension)
