"""NNabla's ``nnabla.utils.rnn``: variable-length sequences for the recurrent layers.

A batch of sequences of lengths T_i is padded to the longest (``pad_sequence``),
or packed time step by time step, longest first, with the batch size of each
step (``pack_sequence``, ``pack_padded_sequence``: a ``PackedSequence``), and
unpacked again (``pad_packed_sequence``). Everything is built from F functions,
so gradients flow through; the lengths are read on the host, as in NNabla. Static
graphs work too (NNabla needs ``nn.auto_forward()``): the batch sizes are
computed when the graph is built, from the lengths alone.

    packed = rnn_utils.pack_sequence([a, b, c], enforce_sorted=False)
    padded, lengths = rnn_utils.pad_packed_sequence(packed)
"""
import numpy as np

from .. import functions as F
from ..backend import to_numpy
from ..graph import get_auto_forward
from ..variable import Variable

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pack_sequence",
           "pad_packed_sequence"]


class PackedSequence:
    """A packed batch: ``data`` (sum T_i, *), ``batch_sizes`` (how many sequences
    each time step holds), and, when the batch was sorted here, the
    ``sorted_indices`` that ordered it longest first and the
    ``unsorted_indices`` that undo that (None otherwise)."""

    def __init__(self):
        self.data = None
        self.batch_sizes = None
        self.sorted_indices = None
        self.unsorted_indices = None

    def __str__(self):
        return (f"data={self.data}, batch_sizes={self.batch_sizes}, "
                f"sorted_indices={self.sorted_indices}, "
                f"unsorted_indices={self.unsorted_indices}")


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """Stack Variables of shapes (T_i, *) into (T, B, *) (or (B, T, *) with
    ``batch_first``), filling past each end with ``padding_value``."""
    sequences = _variables(sequences, "pad_sequence", "sequences")
    tail = sequences[0].shape[1:]
    for s in sequences:
        if s.ndim < 1 or s.shape[1:] != tail:
            raise ValueError(f"pad_sequence: sequences must be (T_i, *) of one * shape; got "
                             f"{[v.shape for v in sequences]}")
    longest = max(s.shape[0] for s in sequences)
    padded = [s if s.shape[0] == longest else
              F.pad(s, (0, longest - s.shape[0]) + (0, 0) * len(tail),
                    constant_value=padding_value)
              for s in sequences]
    return F.stack(*padded, axis=0 if batch_first else 1)


def pack_padded_sequence(padded_sequence, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ((T, B, *), or (B, T, *) with ``batch_first``) whose
    sequences have ``lengths`` (a Variable or array of B integers). With
    ``enforce_sorted`` they must come longest first; otherwise they are sorted
    here (stably) and the PackedSequence remembers how."""
    if not isinstance(padded_sequence, Variable):
        raise TypeError(f"pack_padded_sequence: padded_sequence must be a Variable, got "
                        f"{type(padded_sequence).__name__}")
    lens = _lengths(lengths, "pack_padded_sequence")
    batch_axis = 0 if batch_first else 1
    if padded_sequence.ndim < 2 or padded_sequence.shape[batch_axis] != len(lens):
        raise ValueError(f"pack_padded_sequence: lengths has {len(lens)} entries for a padded "
                         f"sequence of shape {padded_sequence.shape} (batch axis "
                         f"{batch_axis})")
    packed = PackedSequence()
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        packed.sorted_indices = Variable.from_numpy_array(order)
        packed.unsorted_indices = Variable.from_numpy_array(np.argsort(order))
        padded_sequence = F.gather(padded_sequence, packed.sorted_indices, axis=batch_axis)
        lens = lens[order]
    elif np.any(lens[:-1] < lens[1:]):
        raise ValueError(f"pack_padded_sequence: lengths {lens.tolist()} are not longest "
                         "first; sort them or pass enforce_sorted=False")
    packed.data, packed.batch_sizes = F.pack_padded_sequence(
        padded_sequence, Variable.from_numpy_array(lens), batch_first)
    return packed


def pack_sequence(sequences, batch_first=False, enforce_sorted=True):
    """Pack Variables of shapes (T_i, *): ``pad_sequence`` then
    ``pack_padded_sequence`` (``batch_first`` does not change the result)."""
    sequences = _variables(sequences, "pack_sequence", "sequences")
    lengths = np.array([s.shape[0] for s in sequences], np.int64)
    return pack_padded_sequence(pad_sequence(sequences, batch_first), lengths, batch_first,
                                enforce_sorted)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack a PackedSequence into (T, B, *) (or (B, T, *)), padded with
    ``padding_value`` up to ``total_length`` if given (at least the longest),
    in the original order; -> (padded Variable, lengths Variable)."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: sequence must be a PackedSequence, got "
                        f"{type(sequence).__name__}")
    if sequence.batch_sizes.parent is not None and not get_auto_forward():
        # a static graph: the sizes follow from the lengths alone, and unpacking
        # needs their values now (NNabla asks for nn.auto_forward() instead)
        sequence.batch_sizes.forward()
    longest = sequence.batch_sizes.shape[0]
    if total_length is not None and total_length < longest:
        raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than "
                         f"the longest sequence ({longest} steps)")
    padded, lengths = F.pad_packed_sequence(sequence.data, sequence.batch_sizes, batch_first,
                                            padding_value, total_length)
    if sequence.unsorted_indices is not None:
        padded = F.gather(padded, sequence.unsorted_indices, axis=0 if batch_first else 1)
        lengths = F.gather(lengths, sequence.unsorted_indices, axis=0)
    return padded, lengths


def _variables(sequences, fname, arg):
    sequences = list(sequences) if isinstance(sequences, (list, tuple)) else None
    if not sequences or not all(isinstance(s, Variable) for s in sequences):
        raise TypeError(f"{fname}: {arg} must be a non-empty list of Variables")
    return sequences


def _lengths(lengths, fname):
    values = to_numpy(lengths.d if isinstance(lengths, Variable) else np.asarray(lengths))
    values = np.asarray(values).reshape(-1)
    if values.size == 0 or not np.all(np.equal(np.mod(values, 1), 0)) or values.min() < 1:
        raise ValueError(f"{fname}: lengths must be integers >= 1, one per sequence; got "
                         f"{values.tolist()}")
    return values.astype(np.int64)
