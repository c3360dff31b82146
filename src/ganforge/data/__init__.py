"""Datasets: each is a Source that reports its shape and classes and hands out an exact-resumable sampler."""
from . import folder, images, paired, toy, unpaired  # noqa: F401  (register the image datasets, the paired tasks,
#                                                  gauss1d, ring8, grid25, the unpaired domains)
from .source import LoaderSource, Source, TensorSource, load_source  # noqa: F401
