"""The bundled demo task: uses a conda package and a pip package that only its environment has.

poncho-demo-app (with its dependency poncho-demo-core) comes from the local conda channel that
`make demo` builds; poncho-demo-piptop (with poncho-demo-pipbase) from the local wheelhouse.
"""

import sys

import poncho_demo_app
import poncho_demo_piptop


def main() -> None:
    print(f"python {sys.version.split()[0]} at {sys.prefix}")
    print(f"conda package: poncho_demo_app from {poncho_demo_app.__file__}")
    print(f"pip package:   poncho_demo_piptop from {poncho_demo_piptop.__file__}")


if __name__ == "__main__":
    main()
