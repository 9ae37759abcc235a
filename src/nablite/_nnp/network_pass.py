"""``NnpNetworkPass``: edits a network while ``NnpLoader.get_network`` builds it,
with NNabla 1.39's methods (decorators that see variables and functions as they are
made, and ready-made edits: replace a variable, stop at some variables, remove a
function and rewire around it, fix parameters, batch-norm batch_stat, global
average pooling)."""
from ..logger import logger


class FunctionDelegate:
    """A function of the file as a pass sees it: ``name``, ``type``, ``inputs`` and
    ``outputs`` (variable names), ``args`` (its arguments, editable) and ``proto``."""

    def __init__(self, proto, args):
        self.proto = proto
        self.name, self.type = proto.name, proto.type
        self.inputs, self.outputs = list(proto.input), list(proto.output)
        self.args = args
        self.disabled = False

    def disable(self):
        """Leave this function out; its first output becomes its first input."""
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
        """``@on_generate_variable(name)``: ``callback(v) -> v`` for the input or
        parameter variable ``name`` as it is made."""
        def register(callback):
            self._variable_callbacks[name] = callback
            return callback
        return register

    def on_generate_function_by_name(self, name):
        """``callback(f) -> f`` for the function ``name`` before it is built."""
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
        self.on_generate_variable(name)(lambda v: input_var)

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
        """Leave out the functions ``names`` (each output becomes its first input)."""
        for name in names:
            self._rewire[name] = (0, 0)

    def set_batch_normalization_batch_stat_all(self, batch_stat):
        """Set ``batch_stat`` of every BatchNormalization."""
        def edit(f):
            f.args["batch_stat"] = bool(batch_stat)
            return f
        self.on_generate_function_by_type("BatchNormalization")(edit)

    def force_average_pooling_global(self, name, by_type=False):
        """Make the AveragePooling ``name`` (or every one, ``by_type``) pool its whole
        input (kernel = stride = the spatial shape, no padding)."""
        def edit(f, variables, param_scope):
            shape = variables[f.inputs[0]].shape
            n = len(f.args["kernel"])
            f.args.update(kernel=list(shape[-n:]), stride=list(shape[-n:]), pad=[0] * n)
            self._log(f"{f.name}: kernel {f.args['kernel']}")
            return f
        (self.on_function_pass_by_type if by_type else self.on_function_pass_by_name)(name)(edit)

    def check_average_pooling_global(self, name, by_type=False):
        """Log whether the AveragePooling ``name`` pools its whole input."""
        def check(f, variables, param_scope):
            shape = variables[f.inputs[0]].shape
            n = len(f.args["kernel"])
            if list(shape[-n:]) != list(f.args["kernel"]):
                logger.warning(f"{f.name}: kernel {f.args['kernel']} does not cover the "
                               f"input's {list(shape[-n:])}; not a global pooling")
            return f
        (self.on_function_pass_by_type if by_type else self.on_function_pass_by_name)(name)(check)

    # -- what build_network calls ----------------------------------------------
    def variable(self, name, var, is_parameter):
        callback = self._variable_callbacks.get(name)
        if callback is not None:
            var = callback(var)
            self._log(f"variable {name!r} replaced")
        if is_parameter and self._fix_parameters:
            var.need_grad = False
        return var

    def function(self, proto, args, variables):
        """The delegate of a function about to be built (``disabled``: leave it out)."""
        f = FunctionDelegate(proto, args)
        for table, key in ((self._by_name, f.name), (self._by_type, f.type)):
            if key in table:
                f = table[key](f) or f
        for table, key in ((self._pass_by_name, f.name), (self._pass_by_type, f.type)):
            if key in table:
                f = table[key](f, variables, None) or f
        if f.name in self._rewire:
            f.disabled = True
            f.rewire = self._rewire[f.name]
            self._log(f"{f.name} removed and rewired")
        return f

    def stop_after(self):
        return list(self._use_up_to)
