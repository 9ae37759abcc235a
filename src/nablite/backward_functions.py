"""Gradient rules registered by name for ``nn.grad`` (``nnabla.backward_functions``).

``register("MyFunc", rule)`` makes ``nn.grad`` build the gradient of every
function whose type name is "MyFunc" with ``rule`` instead of the function's
own: the way to give a user-defined ``PythonFunction`` gradients that can be
differentiated again, or to replace a built-in function's. As in NNabla, the
rule is called as ``rule(grad_inputs, inputs, input_shapes, outputs,
output_shapes, **args)`` with the gradient Variables of the function's outputs,
its input and output Variables (None for those its gradient does not read),
their shapes and the function's arguments (``f.info.args``), and returns one
gradient Variable (or None) per input, built with ``F`` functions.

NNabla's registry lists its built-in functions' rules too; nablite's own rules
live with the functions, so ``registry`` holds only what was registered here.
"""
from collections import OrderedDict

__all__ = ["register", "registry", "show_registry"]

registry = OrderedDict()


def register(func_name, func):
    """Use ``func`` for the gradient of functions of type ``func_name`` in nn.grad."""
    if not isinstance(func_name, str) or not callable(func):
        raise TypeError(f"register: expected a function type name and a callable; got "
                        f"{func_name!r} and {type(func).__name__}")
    registry[func_name] = func


def show_registry():
    """Print the registered rules, one ``name rule`` a line."""
    for name, func in registry.items():
        print(name, func)
    print("Functions not listed use nablite's own gradient rules (and F.constant & "
          "co. may be parts of the graphs nn.grad differentiates).")


def registered_grad(f, need, gys):
    """The gradient Variables the rule registered for ``f``'s type gives, or None
    when none is registered."""
    if not registry:
        return None
    kind = f.info.type_name  # a PythonFunction's own name, not "Callback"
    rule = registry.get(kind)
    if rule is None:
        return None
    inputs = [x if f.grad_reads_inputs else None for x in f.inputs]
    outputs = [y if f.grad_reads_outputs else None for y in f.outputs]
    gxs = rule(list(gys), inputs, [tuple(x.shape) for x in f.inputs], outputs,
               [tuple(s) for s in f.out_shapes], **dict(f.info.args))
    gxs = list(gxs) if isinstance(gxs, (list, tuple)) else [gxs]
    if len(gxs) != len(f.inputs):
        raise ValueError(f"nn.grad: the rule registered for {kind} returned {len(gxs)} "
                         f"gradients; the function has {len(f.inputs)} inputs")
    return [g if n else None for g, n in zip(gxs, need)]
