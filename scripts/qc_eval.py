#!/usr/bin/env python3
"""Entry point of the QC evaluation (``benchmarks/qc_eval.py``: errors injected into real corpora,
recall, top-k precision, rows flagged, seconds; results: docs/qc.md).

    python3 scripts/qc_eval.py --raw RAW --corpus weibo_ner resume_ner --json
    python3 scripts/qc_eval.py --synthetic 0.4 --corpus msra_ner      # speed at ~20k sentences
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.qc_eval import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
