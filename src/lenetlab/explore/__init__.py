"""Look inside the trained networks: parameters, filters, feature maps, embeddings, attribution maps,
adversarial robustness, sweeps, the 1998 table.

Each function writes PNGs and a JSON of the numbers behind them (into ``RUN/explore`` or ``out``)
and returns those numbers; ``lenetlab explore ...`` and ``lenetlab paper`` are thin layers over them.

Examples
--------
>>> from lenetlab.explore import layer_table
>>> from lenetlab import LeNet5
>>> layer_table(LeNet5())["total_macs"]
416520
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> (module, name there). Imported on first use, as in lenetlab/__init__.py, so that the
# command line can read the defaults of compare, paper and sweep without importing PyTorch.
_API = {
    "PAPER_MODELS": ("paper", "PAPER_MODELS"), "paper_table": ("paper", "paper_table"),
    "explore_attack": ("attack", "explore_attack"), "robust_accuracy": ("attack", "robust_accuracy"),
    "explore_attribution": ("attribution", "explore_attribution"),
    "explore_compare": ("compare", "explore_compare"),
    "explore_embeddings": ("embeddings", "explore_embeddings"), "separation_scores": ("embeddings", "separation_scores"),
    "explore_feature_maps": ("feature_maps", "explore_feature_maps"),
    "best_matches": ("filters", "best_matches"), "classic_filters": ("filters", "classic_filters"),
    "cosine_similarity": ("filters", "cosine_similarity"), "explore_filters": ("filters", "explore_filters"),
    "layer_table": ("params", "layer_table"), "params_report": ("params", "params_report"),
    "merge_sweeps": ("sweep", "merge_sweeps"),
    "run_sweep": ("sweep", "sweep"),  # run_sweep, so that ``lenetlab.explore.sweep`` stays the module
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'lenetlab.explore' has no attribute {name!r}")
    module, attribute = _API[name]
    return getattr(importlib.import_module(f".{module}", __name__), attribute)
