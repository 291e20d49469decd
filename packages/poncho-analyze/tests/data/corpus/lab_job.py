"""A lab's analysis job: its own library is installed with ``pip install -e ../mylab``."""
import sys

import mylab
import numpy as np


def main(path):
    data = np.loadtxt(path)
    print(mylab.summarize(data))


if __name__ == "__main__":
    main(sys.argv[1])
