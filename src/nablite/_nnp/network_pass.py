"""``NnpNetworkPass``: edits a network while ``NnpLoader.get_network`` builds it,
with NNabla 1.39's methods (decorators that see variables and functions as they are
made, and ready-made edits: replace a variable, stop at some variables, remove a
function and rewire around it, fix parameters, batch-norm batch_stat, global
average pooling)."""
from ..logger import logger


class VariableDelegate:
    """A variable of the file as a pass sees it: ``name``, ``proto`` (its
    ``Variable`` message), ``need_grad`` and ``variable`` (None until made; a
    callback that sets it replaces the variable)."""

    def __init__(self, proto, variable=None, name=None):
        self.proto = proto
        self.name = name if name is not None else proto.name
        self.variable = variable
        self.need_grad = bool(variable.need_grad) if variable is not None else False


class FunctionDelegate:
    """A function of the file as a pass sees it: ``name``, ``proto`` (a copy of its
    ``Function`` message: edit its arguments there), ``inputs`` and ``outputs``
    (VariableDelegates of the file's variables, nothing built yet); ``disable()``
    drops it."""

    def __init__(self, proto, declared):
        self.proto = proto
        self.name, self.type = proto.name, proto.type
        self.inputs = [VariableDelegate(declared.get(n), None, n) for n in proto.input]
        self.outputs = [VariableDelegate(declared.get(n), None, n) for n in proto.output]
        self.disabled = False
        self.rewire = None

    def disable(self):
        """Drop this function: its outputs become inputs of the network."""
        self.disabled = True


class NnpNetworkPass:
    """Edits applied to a network as ``NnpLoader.get_network(..., callback=pass)``
    builds it. ``verbose`` > 0 logs each edit."""

    def __init__(self, verbose=0):
        self._verbose = verbose
        self._variable_callbacks = {}
        self._by_name, self._by_type = {}, {}
        self._pass_by_name, self._pass_by_type = {}, {}
        self._fix_parameters = False
        self._use_up_to = []
        self._rewire = {}

    def _log(self, message):
        if self._verbose:
            logger.info(f"NnpNetworkPass: {message}")

    # -- decorators ----------------------------------------------------------
    def on_generate_variable(self, name):
        """``@on_generate_variable(name)``: ``callback(v) -> v`` with ``v`` a
        VariableDelegate of the input or parameter ``name``; setting ``v.variable``
        replaces it."""
        def register(callback):
            self._variable_callbacks[name] = callback
            return callback
        return register

    def on_generate_function_by_name(self, name):
        """``callback(f) -> f`` (a FunctionDelegate) for the function ``name``
        before it is built."""
        def register(callback):
            self._by_name[name] = callback
            return callback
        return register

    def on_generate_function_by_type(self, name):
        """``callback(f) -> f`` for every function of type ``name``."""
        def register(callback):
            self._by_type[name] = callback
            return callback
        return register

    def on_function_pass_by_name(self, name):
        """``callback(f, variables, param_scope) -> f`` for the function ``name``."""
        def register(callback):
            self._pass_by_name[name] = callback
            return callback
        return register

    def on_function_pass_by_type(self, name):
        """``callback(f, variables, param_scope) -> f`` for functions of type ``name``."""
        def register(callback):
            self._pass_by_type[name] = callback
            return callback
        return register

    # -- ready-made edits ----------------------------------------------------
    def set_variable(self, name, input_var):
        """Use ``input_var`` where the network has the variable ``name``."""
        def replace(v):
            v.variable = input_var
            return v
        self.on_generate_variable(name)(replace)

    def fix_parameters(self):
        """Make every parameter ``need_grad=False``."""
        self._fix_parameters = True

    def use_up_to(self, *names):
        """Build only up to the variables ``names``; they become the outputs."""
        self._use_up_to.extend(names)

    def remove_and_rewire(self, name, i=0, o=0):
        """Leave out the function ``name``: its output ``o`` becomes its input ``i``."""
        self._rewire[name] = (i, o)

    def drop_function(self, *names):
        """Drop the functions ``names``: their outputs become inputs of the network."""
        for name in names:
            self.on_generate_function_by_name(name)(_disable)

    def set_batch_normalization_batch_stat_all(self, batch_stat):
        """Set ``batch_stat`` of every BatchNormalization."""
        def edit(f):
            f.proto.batch_normalization_param.batch_stat = bool(batch_stat)
            return f
        self.on_generate_function_by_type("BatchNormalization")(edit)

    def force_average_pooling_global(self, name, by_type=False):
        """Make the AveragePooling ``name`` (or every one, ``by_type``) pool its whole
        input (kernel = stride = the spatial shape, no padding)."""
        def edit(f, variables, param_scope):
            p = f.proto.average_pooling_param
            n = len(p.kernel.dim)
            size = list(f.inputs[0].proto.shape.dim[-n:])  # the file's declared shape
            for field in (p.kernel, p.stride):
                del field.dim[:]
                field.dim.extend(size)
            del p.pad.dim[:]
            p.pad.dim.extend([0] * n)
            self._log(f"{f.name}: kernel {size}")
            return f
        (self.on_function_pass_by_type if by_type else self.on_function_pass_by_name)(name)(edit)

    def check_average_pooling_global(self, name, by_type=False):
        """Log whether the AveragePooling ``name`` pools its whole input."""
        def check(f, variables, param_scope):
            kernel = list(f.proto.average_pooling_param.kernel.dim)
            size = list(f.inputs[0].proto.shape.dim[-len(kernel):])
            if size != kernel:
                logger.warning(f"{f.name}: kernel {kernel} does not cover the input's "
                               f"{size}; not a global pooling")
            return f
        (self.on_function_pass_by_type if by_type else self.on_function_pass_by_name)(name)(check)

    # -- what build_network calls ----------------------------------------------
    def variable(self, proto, make):
        """The Variable for the file's variable ``proto`` (``make()`` builds the
        file's own)."""
        is_parameter = proto.type == "Parameter"
        v = VariableDelegate(proto, make() if is_parameter else None)
        callback = self._variable_callbacks.get(proto.name)
        if callback is not None:
            v = callback(v) or v
            self._log(f"variable {proto.name!r} passed to its callback")
        var = v.variable if v.variable is not None else make()
        if is_parameter and self._fix_parameters:
            var.need_grad = False
        return var

    def edit_functions(self, net):
        """The FunctionDelegates of ``net``'s functions after the callbacks, which run
        on the file's messages before anything is built, as in NNabla: first every
        ``on_generate_function_*``, then every ``on_function_pass_*``. A delegate
        is ``disabled`` (drop it) or has ``rewire`` (leave it out, (input, output)
        joined); its ``proto`` is an edited copy."""
        from ..parameter import get_current_parameter_scope
        from .proto import pb2
        declared = {v.name: v for v in net.variable}
        delegates = []
        for proto in net.function:
            copy = pb2().Function()
            copy.CopyFrom(proto)
            f = FunctionDelegate(copy, declared)
            for table, key in ((self._by_name, f.name), (self._by_type, f.type)):
                if key in table:
                    f = table[key](f) or f
            delegates.append(f)
        variables = [VariableDelegate(v) for v in net.variable]
        scope = get_current_parameter_scope()
        for k, f in enumerate(delegates):
            if f.disabled:
                continue
            for table, key in ((self._pass_by_name, f.name), (self._pass_by_type, f.type)):
                if key in table:
                    f = delegates[k] = table[key](f, variables, scope) or f
            if f.name in self._rewire:
                f.rewire = self._rewire[f.name]
                self._log(f"{f.name} removed and rewired")
        return delegates

    def stop_after(self):
        return list(self._use_up_to)


def _disable(f):
    f.disable()
    return f
