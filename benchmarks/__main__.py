"""``python3 -m benchmarks``: the speed and scale benchmark (see ``benchmarks.run``)."""

import sys

from .run import main

sys.exit(main())
