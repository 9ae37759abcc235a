"""Data sets: the bundled 8x8 digits, the toy spiral, and MNIST / CIFAR-10 /
CIFAR-100 as NNabla's examples read them (through the local data home, or
from a folder given as ``path``)."""
from . import tiny_digits
from .cifar10 import (Cifar10DataSource, Cifar100DataSource, data_iterator_cifar10,
                      data_iterator_cifar100, load_cifar10, load_cifar100,
                      safe_load_pickle)
from .digits import Bunch, load_digits
from .mnist import MnistDataSource, data_iterator_mnist, load_mnist, read_idx
from .spiral import make_spiral

__all__ = [
    "Bunch", "load_digits", "tiny_digits", "make_spiral", "read_idx",
    "load_mnist", "MnistDataSource", "data_iterator_mnist", "load_cifar10",
    "load_cifar100", "Cifar10DataSource", "Cifar100DataSource",
    "data_iterator_cifar10", "data_iterator_cifar100", "safe_load_pickle",
]
