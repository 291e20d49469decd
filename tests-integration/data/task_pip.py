"""Imports a pip package inside a function, and a conda one under try/except."""

import json

try:
    import poncho_demo_core
except ImportError:  # pragma: no cover - the environment has it
    poncho_demo_core = None


def main() -> None:
    import poncho_demo_piptop

    print(json.dumps({"pip-task": poncho_demo_piptop.__name__, "core": poncho_demo_core is not None}))


if __name__ == "__main__":
    main()
