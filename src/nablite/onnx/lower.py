"""The opset-13 nodes the export rules write, rewritten for opsets 11 and 12
(NNabla's converter writes opset 11 by default, and older runtimes read no later).

Between 11 and 13 what the rules use changed in form only: the axes of
Squeeze, Unsqueeze and ReduceSum and Split's sizes moved from attributes to
inputs, Resize's roi and scales became optional, ArgMax/ArgMin gained
``select_last_index`` (12) and Softmax/LogSoftmax went from "flatten to 2-D at
``axis``" to "along ``axis``" (the rules give those their last axis; see
``softmax``). Each rewrite reads the constant input the rule made.
"""
import numpy as np

# operator -> (index of the input that became an attribute, the attribute's name)
_INPUT_TO_ATTRIBUTE = {"Squeeze": (1, "axes"), "Unsqueeze": (1, "axes"),
                       "ReduceSum": (1, "axes"), "Split": (1, "split")}


def lower(e, opset):
    """Rewrite ``e.nodes`` (an exporter.Emitter) in place for ``opset`` < 13."""
    if opset >= 13:
        return
    helper = e.onnx.helper
    for k, n in enumerate(e.nodes):
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        inputs = list(n.input)
        if n.op_type in _INPUT_TO_ATTRIBUTE:
            at, name = _INPUT_TO_ATTRIBUTE[n.op_type]
            if len(inputs) <= at or not inputs[at]:
                continue
            attrs[name] = [int(v) for v in np.asarray(e._arrays[inputs[at]]).reshape(-1)]
            del inputs[at]
        elif n.op_type == "Resize":  # roi and scales were required inputs in opset 11
            for i in (1, 2):
                if not inputs[i]:
                    inputs[i] = e.const(np.zeros(0, np.float32))
        elif n.op_type in ("ArgMax", "ArgMin") and opset < 12:
            if attrs.pop("select_last_index", 0):
                raise ValueError("select_last_index needs opset 12")
        else:
            continue
        e.nodes[k] = helper.make_node(n.op_type, inputs, list(n.output), name=n.name, **attrs)


def softmax(e, op, x, axis, ndim):
    """Softmax/LogSoftmax along ``axis``: in opset 13 one node; before, the node
    on the last axis (where both forms agree), between Transposes if needed."""
    axis %= ndim
    if e.opset >= 13 or axis == ndim - 1:
        return e.node(op, [x], axis=axis)
    perm = [a for a in range(ndim) if a != axis] + [axis]
    back = [int(i) for i in np.argsort(perm)]
    return e.node("Transpose", [e.node(op, [e.node("Transpose", [x], perm=perm)], axis=ndim - 1)],
                  perm=back)
