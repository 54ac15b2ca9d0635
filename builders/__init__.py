"""One module per source corpus; each defines a ``ChinchillaBuilder`` subclass with its ``Corpus``."""
