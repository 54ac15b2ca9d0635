"""Chinchilla: Chinese information-extraction corpora as one multi-config HuggingFace dataset.

Every corpus has three views: ``<corpus>_raw`` (the source records), ``<corpus>_unified``
(one shared NER/RE/EE schema with character offsets) and ``<corpus>_instruct``
(Alpaca-style instruction rows rendered from the unified view).
"""

__version__ = "0.1.0"

from .schema import INSTRUCT_FEATURES, UNIFIED_FEATURES  # noqa: E402
from .instruct import parse_output  # noqa: E402

__all__ = ["INSTRUCT_FEATURES", "UNIFIED_FEATURES", "parse_output", "__version__"]
