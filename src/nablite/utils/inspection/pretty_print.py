"""pprint: each function of a graph with its arguments, shapes and, on request,
statistics of its inputs' and outputs' values and gradients."""
import numpy as np

from ... import parameter as _parameter

_STATS = (("Med", np.median), ("Ave", np.mean), ("Std", np.std), ("Min", np.min),
          ("Max", np.max))


class PrettyPrinter:
    """Prints one function per call (use with ``Variable.visit``).

    Args:
        summary (bool): also print median, mean, std, min and max of the
            inputs' and outputs' data and gradients.
        hidden (bool): keep, in ``functions``, a dict per function with its
            ``name``, ``inputs`` and ``outputs``.
    """

    def __init__(self, summary=False, hidden=False):
        self._summary = summary
        self._hidden = hidden
        self.functions = []

    def get_scope_name(self, x):
        """The parameter scope of ``x`` ('conv1/conv'), or None when it is no parameter."""
        for name, p in _parameter.get_parameters(grad_only=False).items():
            if p._data is x._data:
                return "/".join(name.split("/")[:-1])
        return None

    def _stats(self, title, arrays):
        print(f"\t{title}:")
        for label, fn in _STATS:
            print(f"\t\t{label}: ", [float(fn(a)) if np.size(a) else None for a in arrays])

    def __call__(self, f):
        scope = self.get_scope_name(f.inputs[1]) if len(f.inputs) > 1 else None
        name = f"{f.name}({f.info.type_name})"
        if scope:
            name = f"{scope}/{name}"
        outputs = [y for y in f.outputs if y is not None]
        print(name)
        print(f"\tDepth = {f.rank}")
        print("\tArgs:", [f"{k}={v}" for k, v in f.info.args.items()])
        print("\tInputs:", [tuple(x.shape) for x in f.inputs])
        print("\tOutputs:", [tuple(y.shape) for y in outputs])
        print("\tBackward Inputs:", [x.need_grad for x in f.inputs])
        if self._summary:
            self._stats("Input Data", [x.d for x in f.inputs])
            self._stats("Output Data", [y.d for y in outputs])
            self._stats("Input Grads", [x.g for x in f.inputs])
            self._stats("Output Grads", [y.g for y in outputs])
        if self._hidden:
            self.functions.append({"name": name, "inputs": list(f.inputs), "outputs": outputs})


def pprint(v, forward=False, backward=False, summary=False, hidden=False, printer=False):
    """Print every function of the graph up to ``v``, in forward order.

    With ``summary``, the statistics are of the values the graph holds, so run
    forward (and backward) first, or ask for them with ``forward``/``backward``.

    Args:
        v (Variable): the end of the graph.
        forward (bool): run ``v.forward()`` first.
        backward (bool): run ``v.backward()`` first (after forward).
        summary (bool): print statistics of values and gradients.
        hidden (bool): keep the functions' inputs and outputs in the printer.
        printer (bool): return the PrettyPrinter.

    Returns:
        PrettyPrinter or None.
    """
    if forward:
        v.forward()
    if backward:
        v.backward()
    p = PrettyPrinter(summary, hidden)
    v.visit(p)
    return p if printer else None
