#!/usr/bin/env python3
"""Publish a built Chinchilla folder to the HuggingFace Hub: ``chinchilla push`` from a checkout.

    python scripts/push_to_hub.py build/chinchilla --repo-id ORG/chinchilla [--private] [--revision REV]
        [--tag TAG] [--dry-run] [--include-restricted] [--token TOKEN]

See ``chinchilla_datasets/publish.py`` for what is uploaded and what is left out.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from chinchilla_datasets.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["push", *sys.argv[1:]]))
