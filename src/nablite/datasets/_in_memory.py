"""A data source over images and labels held in memory, served as NNabla's
examples' loaders serve them (a new permutation at each reset when shuffling)."""
import numpy as np

from ..utils.data_source import DataSource


class InMemoryDataSource(DataSource):
    def __init__(self, images, labels, shuffle=False, rng=None):
        super().__init__(shuffle=shuffle)
        self._images, self._labels = images, labels
        self._size = self._labels.size
        self._variables = ("x", "y")
        self.rng = np.random.RandomState(313) if rng is None else rng
        self.reset()

    def reset(self):
        self._indexes = self.rng.permutation(self._size) if self._shuffle \
            else np.arange(self._size)
        super().reset()

    def _get_data(self, position):
        i = self._indexes[position]
        return self._images[i], self._labels[i]

    @property
    def images(self):
        """A copy of all images, (N, C, H, W)."""
        return self._images.copy()

    @property
    def labels(self):
        """A copy of all labels, (N, 1)."""
        return self._labels.copy()
