"""Maintenance commands of the repository (not part of fcnlib): ``python -m tools.notebook_setup``."""
