"""Load the exporters named in the configuration at run time."""
import importlib
import sys

EXPORTERS = {"yaml": "yaml", "graph": "networkx"}


def exporter(kind):
    return importlib.import_module(EXPORTERS[kind])


def load_yaml():
    yaml = importlib.import_module("yaml")
    return yaml


def load_graph():
    return __import__("networkx")


if __name__ == "__main__":
    print(exporter(sys.argv[1]))
