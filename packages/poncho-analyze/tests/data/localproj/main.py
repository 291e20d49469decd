import helpers
import helpers_pkg.sub
from . import sibling_rel
from .pkg import thing
import yaml
