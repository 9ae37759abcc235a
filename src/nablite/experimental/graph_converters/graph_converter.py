"""GraphConverter and FunctionModifier: rebuild a graph function by function.

A converter walks the graph up to its outputs in forward order, once per
modifier. For every function the modifier's ``modify(f, inputs)`` receives the
original function and its inputs in the new graph; it returns the Variable
that replaces ``f``'s output (a new function's output, or one of ``inputs`` to
drop ``f``) or None to copy ``f`` unchanged onto the new inputs. The original
graph is left as it was; parameters are shared unless a modifier makes new ones.
"""
import copy
import inspect

from ... import graph
from ... import parameter as _parameter
from ...variable import Variable


def _as_list(o):
    return list(o) if isinstance(o, (list, tuple)) else [o]


def function_by_type(type_name):
    """The public ``F`` function building NNabla function type ``type_name``
    (``"BatchNormalization"`` -> ``F.batch_normalization``)."""
    from ... import function_info
    from ... import functions as F
    spec = function_info.SPECS.get(type_name)
    fn = getattr(F, spec.function, None) if spec is not None else None
    if fn is None:
        raise ValueError(f"graph_converters: no nablite function builds a {type_name!r} node")
    return fn


def call_function(type_name, inputs, args):
    """Build a ``type_name`` node on ``inputs`` with NNabla's ``args`` (those the
    function does not take, such as BatchNormalization's no_scale, are dropped)."""
    fn = function_by_type(type_name)
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = dict(args)
    else:
        kwargs = {k: v for k, v in args.items() if k in params}
    return fn(*inputs, **kwargs)


class FunctionModifier:
    """Base of the modifiers: subclasses define ``modify(f, inputs)``.

    ``modify`` is called for each function of the graph in forward order, with
    ``inputs`` the function's inputs in the graph being built. Return a
    Variable (or list) to replace the function's outputs, or None to keep the
    function as it is. ``references(v)`` lists the functions of the original
    graph that read ``v`` (in forward order); ``__finish__`` resets any state a
    subclass keeps between conversions.
    """

    def __init__(self):
        self._map_func_inputs = {}
        self._refs = {}
        self._replaced = {}

    def replace_variable(self, old, new):
        """Make every function reading ``old`` read ``new`` in the new graph."""
        self._replaced[id(old)] = (old, new)

    def init_map_func_inputs(self, f, inputs):
        """Make ``f`` read ``inputs`` in the new graph (replacing network inputs)."""
        self._map_func_inputs[f] = list(inputs)

    def get_parameter_scope(self, v):
        """The scope ('a/b') of the parameter that ``v`` is, '' if it is none."""
        for name, p in _parameter.get_parameters(grad_only=False).items():
            if p._data is v._data:  # parameters come back as views of one array
                return "/".join(name.split("/")[:-1])
        return ""

    def references(self, v):
        """Functions of the graph being converted that take ``v`` as an input."""
        return self._refs.get(id(v), [])

    def modify(self, f, inputs):
        """Return the replacement of ``f``'s output(s), or None to copy ``f``."""
        return None

    def _modify_as_same(self, f, inputs):
        # A shallow copy keeps the function's arguments; calling it runs setup
        # again on the new inputs, so shapes are inferred afresh.
        return copy.copy(f)(*inputs)

    def _call_function(self, type_name, inputs, args):
        return call_function(type_name, inputs, args)

    def _convert(self, outputs):
        sink = _sink(outputs)
        order = graph.topological_order([sink])
        self._refs = {}
        for f in order:
            for x in f.inputs:
                refs = self._refs.setdefault(id(x), [])
                if f not in refs:
                    refs.append(f)
        new = {k: v for k, (_, v) in self._replaced.items()}
        for f in order:
            mapped = self._map_func_inputs.get(f)
            inputs = [new.get(id(x), x) for x in f.inputs]
            if mapped:
                inputs = [m if m is not None else x for m, x in zip(mapped, inputs)] \
                    + inputs[len(mapped):]
            if f is sink.parent:
                return inputs
            o = self.modify(f, list(inputs))
            if o is None:
                o = self._modify_as_same(f, inputs)
            ys = _as_list(o)
            if not all(isinstance(y, Variable) for y in ys):
                raise ValueError(f"{type(self).__name__}.modify: return None, a Variable "
                                 f"or a list of Variables, got {type(o).__name__}")
            for y_old, y_new in zip(f.outputs, ys):
                if y_old is not None:
                    new[id(y_old)] = y_new
        return [new.get(id(y), y) for y in outputs]

    def __finish__(self):
        pass

    def finish_up(self):
        """Forget the state of the conversion just finished."""
        self._map_func_inputs = {}
        self._refs = {}
        self._replaced = {}
        self.__finish__()


def _sink(outputs):
    from ... import functions as F
    return F.sink(*outputs)


class GraphConverter:
    """Convert the graph up to ``o`` with each modifier in turn.

    Args:
        modifiers (list of FunctionModifier): applied in order; nested lists
            (what BatchNormalizationFoldingModifier() returns) are flattened.
    """

    def __init__(self, modifiers=[]):
        self._modifiers = self._prepare_modifiers(modifiers)

    def _prepare_modifiers(self, modifiers):
        flat = []
        for m in _as_list(modifiers):
            flat += self._prepare_modifiers(m) if isinstance(m, (list, tuple)) else [m]
        return flat

    def convert(self, o):
        """The converted output Variable (a list if ``o`` is a list).

        Args:
            o (Variable or list of Variable): outputs of the graph to convert.
        """
        outputs = _as_list(o)
        for bad in [v for v in outputs if not isinstance(v, Variable)]:
            raise TypeError(f"GraphConverter.convert: o must be a Variable or a list of "
                            f"Variables, got {type(bad).__name__}")
        for modifier in self._modifiers:
            outputs = modifier._convert(outputs)
            modifier.finish_up()
        return outputs if isinstance(o, list) else outputs[0]
