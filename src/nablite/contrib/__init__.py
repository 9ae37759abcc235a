"""``nnabla.contrib``: NNabla's deprecated context helper, kept for old scripts."""
