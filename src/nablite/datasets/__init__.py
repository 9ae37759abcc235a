"""Data sets: the bundled 8x8 digits, the toy spiral, and readers of local
MNIST and CIFAR-10 files (nablite never downloads anything)."""
from . import tiny_digits
from .cifar10 import data_iterator_cifar10, load_cifar10, safe_load_pickle
from .digits import Bunch, load_digits
from .mnist import data_iterator_mnist, load_mnist, read_idx
from .spiral import make_spiral

__all__ = [
    "Bunch", "load_digits", "tiny_digits", "make_spiral", "read_idx",
    "load_mnist", "data_iterator_mnist", "load_cifar10",
    "data_iterator_cifar10", "safe_load_pickle",
]
