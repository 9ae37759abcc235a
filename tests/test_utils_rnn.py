"""nablite.utils.rnn (NNabla's nnabla.utils.rnn): padding, packing and unpacking
variable-length sequences, in NNabla's order, with gradients, and a parity case."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.utils.rnn as rnn_utils
from nnabla_parity import check_same_source


def V(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a, np.float32), need_grad=need_grad)


def packing_round_trip():
    """The docstrings' batch of five (lengths 2, 3, 3, 4, 2) packed unsorted,
    unpacked, and a gradient through pack + unpack (also a parity case)."""
    import importlib
    rnn_utils = importlib.import_module(nn.__name__ + ".utils.rnn")
    nn.set_auto_forward(True)
    try:
        seqs = [nn.Variable.from_numpy_array(np.asarray(v, np.float32)) for v in
                ([3, 3], [2, 2, 2], [2, 2, 2], [1, 1, 1, 1], [3, 3])]
        padded = rnn_utils.pad_sequence(seqs)
        first = rnn_utils.pad_sequence(seqs, batch_first=True, padding_value=-1)
        packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
        back, lengths = rnn_utils.pad_packed_sequence(packed)
        longer, _ = rnn_utils.pad_packed_sequence(packed, batch_first=True, total_length=5)
        x = nn.Variable.from_numpy_array(
            np.random.RandomState(0).randn(3, 2, 2).astype(np.float32), need_grad=True)
        y, _ = rnn_utils.pad_packed_sequence(rnn_utils.pack_padded_sequence(
            x, nn.Variable.from_numpy_array(np.array([3, 1]))))
        x.grad.zero()
        F.sum(y * y).backward()
    finally:
        nn.set_auto_forward(False)
    return {"padded": padded.d, "first": first.d, "data": packed.data.d,
            "batch_sizes": packed.batch_sizes.d, "sorted": packed.sorted_indices.d,
            "back": back.d, "lengths": lengths.d, "longer": longer.d, "gx": x.g}


def test_packing_round_trip():
    got = packing_round_trip()
    lengths = [2, 3, 3, 4, 2]
    values = [3, 2, 2, 1, 3]
    want = np.array([[v if t < n else 0 for v, n in zip(values, lengths)] for t in range(4)])
    np.testing.assert_array_equal(got["padded"], want)
    np.testing.assert_array_equal(got["first"], np.where(want.T == 0, -1, want.T))
    # longest first, stably: sequences 3, 1, 2, 0, 4
    np.testing.assert_array_equal(got["sorted"], [3, 1, 2, 0, 4])
    np.testing.assert_array_equal(got["batch_sizes"], [5, 5, 3, 1])
    np.testing.assert_array_equal(got["data"], [1, 2, 2, 3, 3] * 2 + [1, 2, 2, 1])
    np.testing.assert_array_equal(got["back"], want)  # the original order again
    np.testing.assert_array_equal(got["lengths"], lengths)
    np.testing.assert_array_equal(got["longer"], np.pad(want.T, ((0, 0), (0, 1))))
    x = np.random.RandomState(0).randn(3, 2, 2).astype(np.float32)
    valid = np.arange(3)[:, None] < np.array([3, 1])[None, :]  # (t, b) inside a sequence
    np.testing.assert_allclose(got["gx"], 2 * x * valid[:, :, None])


def test_parity_with_nnabla():
    check_same_source(packing_round_trip, dtypes=False)


def test_static_graph_padding_value_and_bad_input():
    seqs = [V([[1, 2]] * 3), V([[3, 4]])]
    packed = rnn_utils.pack_sequence(seqs)  # static: nothing computed yet
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    padded, lengths = rnn_utils.pad_packed_sequence(packed, padding_value=9.0)
    F.sink(padded, lengths).forward()
    np.testing.assert_array_equal(padded.d[:, 1], [[3, 4], [9, 9], [9, 9]])
    np.testing.assert_array_equal(lengths.d, [3, 1])
    with pytest.raises(ValueError, match=r"lengths \[1, 3\] are not longest first"):
        rnn_utils.pack_sequence(seqs[::-1])
    with pytest.raises(ValueError, match="total_length=2 is shorter than the longest sequence"):
        rnn_utils.pad_packed_sequence(packed, total_length=2)
    with pytest.raises(ValueError, match="lengths must be integers >= 1"):
        rnn_utils.pack_padded_sequence(V(np.zeros((3, 2))), [2.5, 1])
    with pytest.raises(ValueError, match="lengths has 3 entries"):
        rnn_utils.pack_padded_sequence(V(np.zeros((3, 2))), [3, 2, 1])
    with pytest.raises(TypeError, match="sequences must be a non-empty list of Variables"):
        rnn_utils.pad_sequence([np.zeros(3)])
    with pytest.raises(TypeError, match="must be a PackedSequence"):
        rnn_utils.pad_packed_sequence(padded)
    assert "batch_sizes=" in str(packed)
