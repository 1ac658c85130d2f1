"""Look inside the trained networks: parameters, filters, feature maps, embeddings, sweeps, the 1998 table.

Each function writes PNGs and a JSON of the numbers behind them (into ``RUN/explore`` or ``out``)
and returns those numbers; ``lenetlab explore ...`` and ``lenetlab paper`` are thin layers over them.

Examples
--------
>>> from lenetlab.explore import layer_table
>>> from lenetlab import LeNet5
>>> layer_table(LeNet5())["total_macs"]
416520
"""

from .compare import explore_compare
from .embeddings import explore_embeddings, separation_scores
from .feature_maps import explore_feature_maps
from .filters import best_matches, classic_filters, cosine_similarity, explore_filters
from .paper import PAPER_MODELS, paper_table
from .params import layer_table, params_report

# exported as run_sweep so that ``lenetlab.explore.sweep`` stays the module
from .sweep import merge_sweeps
from .sweep import sweep as run_sweep

__all__ = [
    "PAPER_MODELS", "best_matches", "classic_filters", "cosine_similarity", "explore_compare", "explore_embeddings",
    "explore_feature_maps", "explore_filters", "layer_table", "merge_sweeps", "paper_table", "params_report",
    "run_sweep", "separation_scores",
]
