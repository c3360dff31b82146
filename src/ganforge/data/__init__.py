"""Datasets: each is a Source that reports its shape and classes and hands out an exact-resumable sampler."""
from . import folder, images, toy  # noqa: F401  (register the image datasets, gauss1d, ring8, grid25)
from .source import LoaderSource, Source, TensorSource, load_source  # noqa: F401
