"""The numba forward pass of fastText classifiers (kernels.py), in a package of its own so that the
stage catalog, which imports every module of `stages`, never loads numba: only scoring does."""
