"""A variable batch size in a ``Network`` message, as NNabla 1.39 writes it.

With ``variable_batch_size=True`` (the default of every save), NNabla marks the
batch axis -1 so that the file loads with any batch size. The rules, measured
on NNabla 1.39's files:

- The batch size is the product of the leading axes, up to ``base_axis``, of the
  first data input of the last function with a nonzero ``base_axis`` (affine,
  convolution, ...). Without one, nothing changes.
- Data are the network's buffers not computed from parameters and constants
  alone (a Constant's or a Rand's output keeps its shape).
- A function with ``base_axis`` > 1 gets ``base_axis`` 1, and its inputs and
  outputs have the axes before it merged into one (so the batch is one axis).
- A Reshape's target and a Broadcast's shape start with -1 where they start
  with the batch (a Broadcast that adds leading axes merges them into it).
- Every data buffer whose first axis is the batch size gets -1 there.

NNabla 1.39 also merges the axes of a base_axis-0 function into a new first
axis and merges a variable twice when two such functions follow each other;
those files cannot be read back, so nablite leaves both alone.
"""
from math import prod

from ..function_info import SPECS

_SHAPE_FIELDS = {"Reshape": "reshape_param", "Broadcast": "broadcast_param"}


def _base_axis(fp, shapes):
    """The function's base_axis (made non-negative), or None without one."""
    spec = SPECS.get(fp.type)
    if spec is None or spec.param_field is None or "base_axis" not in dict(spec.args):
        return None
    axis = getattr(fp, spec.param_field).base_axis
    if axis < 0:
        x = next((n for n in fp.input if n in shapes), None)
        axis += len(shapes[x]) if x is not None else 0
    return axis


def variable_batch_size(net, merge_axes=True):
    """Rewrite ``net`` (a ``Network`` message) in place with its batch axis as -1;
    returns the batch size, or None when the network has no batch axis or has
    one already. ``merge_axes=False`` keeps base_axis > 1 functions as they are
    (a network called in memory keeps its input shapes)."""
    buffers = {v.name: v for v in net.variable if v.type != "Parameter"}
    shapes = {n: list(v.shape.dim) for n, v in buffers.items()}
    if any(s and s[0] < 0 for s in shapes.values()):
        return None  # written with a variable batch already
    size = None
    for fp in net.function:
        axis = _base_axis(fp, shapes)
        x = next((n for n in fp.input if n in shapes), None)
        if axis and x is not None:
            size = prod(shapes[x][:axis])
    if size is None:
        return None
    constant, merged = set(), set()
    for fp in net.function:
        if not any(n in shapes and n not in constant for n in fp.input):
            constant.update(fp.output)
            continue
        axis = _base_axis(fp, shapes)
        if merge_axes and axis is not None and axis > 1:
            for n in list(fp.input) + list(fp.output):
                if n in shapes and n not in constant and n not in merged:
                    shapes[n] = [prod(shapes[n][:axis])] + shapes[n][axis:]
                    merged.add(n)
            getattr(fp, SPECS[fp.type].param_field).base_axis = 1
        field = _SHAPE_FIELDS.get(fp.type)
        if field is not None:
            dims = getattr(fp, field).shape.dim
            target = list(dims)
            if fp.type == "Broadcast" and fp.input[0] in shapes:
                lead = len(target) - len(shapes[fp.input[0]])
                if lead > 0 and prod(target[:lead + 1]) == size:
                    target = [size] + target[lead + 1:]
            if target and target[0] == size:
                del dims[:]
                dims.extend([-1] + target[1:])
    for n, v in buffers.items():
        s = shapes[n]
        if n not in constant and s and s[0] == size:
            s[0] = -1
        if s != list(v.shape.dim):
            del v.shape.dim[:]
            v.shape.dim.extend(s)
    return size
