"""Imports a conda package (with a dependency) at module level."""

import sys

import poncho_demo_app

print("conda-task", poncho_demo_app.__name__, sys.prefix)
