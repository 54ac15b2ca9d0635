#!/usr/bin/env python3
"""Entry point of the speed and scale benchmark (``benchmarks/``; what it measures: ``benchmarks/run.py``,
results: docs/performance.md).

    python3 scripts/bench.py --json                      # scale 1, every corpus
    python3 scripts/bench.py --scale 0.1 --corpus duie   # one corpus, a tenth of its size
    python3 scripts/bench.py --compare-scales 1,2 --json # each scale in its own process
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
