"""Rebuild the networks of NNabla files (``.nnp``, ``.nntxt``, ``.protobuf``) as
nablite graphs, as ``nnabla.utils.nnp_graph`` does::

    from nablite.utils.nnp_graph import NnpLoader
    nnp = NnpLoader("model.nnp")
    net = nnp.get_network(nnp.get_network_names()[0], batch_size=1)
    x, y = next(iter(net.inputs.values())), next(iter(net.outputs.values()))
    x.d = data
    y.forward()

The file is read and checked in full when the loader is made; ``get_network``
uses the parameters already registered in the current scope and registers the
missing ones from the file only once the graph is built, so a file that fails
changes nothing.
"""
from collections import OrderedDict

from .._nnp.build import build_network, standalone_parameters
from .._nnp.files import read_network_files
from .._nnp.proto import describe
from .._nnp.network_pass import NnpNetworkPass
from ..parameter import _check_place, _split, get_parameter, get_parameter_or_create, \
    set_parameter

__all__ = ["NnpLoader", "NnpNetwork", "NnpNetworkPass"]


def check_parameter_place(key, shape, where, any_shape=False):
    """Raise unless a parameter of ``shape`` may be registered at ``key`` (with
    ``any_shape``, replacing a parameter of another shape)."""
    parts, leaf = _split(key)
    _check_place(tuple(parts) + (leaf,), shape, where, any_shape)


class NnpNetwork:
    """A network rebuilt from a file: ``variables``, ``inputs`` (variables no
    function makes, parameters aside) and ``outputs`` (variables no function
    reads), each an OrderedDict name -> Variable."""

    def __init__(self, proto_network, batch_size, callback=None, parameter=None,
                 where="network"):
        variables, inputs, outputs = build_network(
            proto_network, parameter or standalone_parameters({}), batch_size, where, callback)
        self.name = proto_network.name
        self.variables = OrderedDict(variables)
        self.inputs = OrderedDict(inputs)
        self.outputs = OrderedDict(outputs)


class NnpLoader:
    """Networks of an NNabla file, rebuilt with nablite's functions.

    Args:
        filepath (str or list of str): ``.nnp``, ``.nntxt``/``.prototxt``, ``.protobuf``
            (several files merge, as NNabla's loader does).
        scope: Unused (NNabla's parameter scope argument; parameters go to the current
            scope).
        extension (str): The format when ``filepath`` is a file object
            (``.nntxt``, ``.protobuf`` or ``.nnp``).
    """

    def __init__(self, filepath, scope=None, extension=".nntxt"):
        self._where = describe(filepath) if not isinstance(filepath, list) else \
            ", ".join(describe(p) for p in filepath)
        self.proto, params = read_network_files(filepath, extension=extension)
        self._params = OrderedDict((k, (a, g)) for k, a, g in params)
        self.network_dict = OrderedDict((n.name, n) for n in self.proto.network)
        self._values_registered = False

    def get_network_names(self):
        """Names of the networks in the file, in file order."""
        return list(self.network_dict)

    def get_network(self, name, batch_size=None, callback=None):
        """The network ``name`` as an ``NnpNetwork``, on the parameters registered
        in the current scope. As NNabla's loader, the first network a loader
        builds registers the file's parameter values, replacing parameters of the
        same names (whatever their shapes); later ones use the registered
        parameters as they are then, and parameters the file has no values for
        are the registered ones or new zeros. ``batch_size`` replaces the file's;
        ``callback`` is an ``NnpNetworkPass`` editing the network as it is built."""
        if name not in self.network_dict:
            raise ValueError(f"NnpLoader: {self._where} has no network {name!r}; it has "
                             f"{self.get_network_names()}")
        proto = self.network_dict[name]
        where = f"{self._where}, network {name!r}"
        # What is made here is registered only once the whole network is built,
        # so a file that fails changes nothing.
        made = OrderedDict()
        standalone = standalone_parameters(self._params)
        replacing = not self._values_registered

        def parameter(key, shape):
            if get_parameter(key) is not None and not (replacing and key in self._params):
                return get_parameter_or_create(key, shape,
                                               need_grad=get_parameter(key).need_grad)
            made[key] = var = standalone(key, shape)
            return var
        network = NnpNetwork(proto, batch_size, callback, parameter, where)
        for key, var in made.items():
            check_parameter_place(key, var.shape, f"NnpLoader.get_network({name!r})",
                                  any_shape=replacing and key in self._params)
        for key, var in made.items():
            set_parameter(key, var)
        self._values_registered = True
        if getattr(callback, "_fix_parameters", False):
            for key in (v.name for v in proto.variable if v.type == "Parameter"):
                if get_parameter(key) is not None:
                    get_parameter(key).need_grad = False
        return network
