"""Instruction templates, stored as data: one YAML file per task, loaded with ``yaml.safe_load``."""
