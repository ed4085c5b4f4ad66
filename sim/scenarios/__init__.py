"""Shipped scenario files (a package so that setuptools ships the YAML files)."""
