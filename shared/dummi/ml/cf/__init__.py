"""Collaborative filtering, pluggable: one module per algorithm behind one interface (``CFModel``, what
serving scores with; ``CFAlgorithm``, what training fits), named in ``ALGORITHMS``.

* ``nmf`` (the original model), ``als`` (implicit ALS): factor models, folded in per request;
* ``ease``, ``itemknn`` and their blend ``ease+itemknn``: item-item models, up to ``EASE_MAX_ITEMS``;
* the newcomers' co-likes (``cooccurrence``).

Serving needs numpy only (no scikit-learn, no SciPy): models are plain arrays (``models``). Training picks
one by measured quality (``dummi.ml.choice``) and records it in the manifest.
"""

from dummi.ml.cf.als import ALSAlgorithm
from dummi.ml.cf.blend import EASEKNNAlgorithm
from dummi.ml.cf.cooccurrence import CooccurrenceModel, fit_cooccurrence
from dummi.ml.cf.ease import EASE_MAX_ITEMS, EASE_NEIGHBOURS, EASEAlgorithm, gram_matrix
from dummi.ml.cf.itemknn import ItemKNNAlgorithm
from dummi.ml.cf.models import (
    BlendModel,
    CFModel,
    FactorModel,
    ItemItemModel,
    model_from_arrays,
    standardize,
    standardize_rows,
)
from dummi.ml.cf.neighbours import top_per_row, top_per_sparse_row
from dummi.ml.cf.nmf import NMFAlgorithm, ridge_projection
from dummi.ml.cf.registry import ALGORITHMS, CFAlgorithm, Fitter, make_algorithm

__all__ = [
    "ALGORITHMS",
    "EASE_MAX_ITEMS",
    "EASE_NEIGHBOURS",
    "ALSAlgorithm",
    "BlendModel",
    "CFAlgorithm",
    "CFModel",
    "CooccurrenceModel",
    "EASEAlgorithm",
    "EASEKNNAlgorithm",
    "FactorModel",
    "Fitter",
    "ItemItemModel",
    "ItemKNNAlgorithm",
    "NMFAlgorithm",
    "fit_cooccurrence",
    "gram_matrix",
    "make_algorithm",
    "model_from_arrays",
    "ridge_projection",
    "standardize",
    "standardize_rows",
    "top_per_row",
    "top_per_sparse_row",
]
