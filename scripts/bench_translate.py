#!/usr/bin/env python3
"""Entry point of the translate client benchmark (``benchmarks/translate.py``; results: README,
"Translating English corpora").

    python3 scripts/bench_translate.py --records 20000 --concurrency 64 [--json]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.translate import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
