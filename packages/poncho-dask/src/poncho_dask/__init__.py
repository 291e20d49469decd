"""Run work inside Poncho environments on a Dask cluster (``pip install poncho-dask``).

::

    from distributed import Client
    from poncho_dask import PonchoEnvironment, run_command, run_function

    client = Client("tcp://scheduler:8786")
    env = PonchoEnvironment("/shared/envs/analysis.tar.gz", name="analysis")
    client.register_plugin(env)         # every worker, present and future; once per node
    done = client.submit(run_command, ["python", "-V"], env=env, pure=False).result()
    greeting = client.submit(run_function, "mypkg.tools:greet", "you", env=env).result()

`PonchoEnvironment` is a worker plugin: each worker prepares the environment with
`poncho_run.prepare` in a node-local folder, under the lock ``poncho_package_run -d``
takes, so the workers of a node share one unpacked copy. `run_command` and `run_function`
are tasks that run a command line, or a Python function with the environment's own
interpreter, inside it. `get_environment` gives a task the `poncho_run.PreparedEnvironment`
itself.
"""

from __future__ import annotations

from poncho_dask.command import CompletedCommand, run_command
from poncho_dask.errors import (
    CommandFailed,
    EnvironmentIncomplete,
    EnvironmentNotRegistered,
    RemoteError,
)
from poncho_dask.function import run_function
from poncho_dask.plugin import PonchoEnvironment, default_unpack_root, get_environment

__version__ = "0.1.0"

__all__ = [
    "CommandFailed",
    "CompletedCommand",
    "EnvironmentIncomplete",
    "EnvironmentNotRegistered",
    "PonchoEnvironment",
    "RemoteError",
    "__version__",
    "default_unpack_root",
    "get_environment",
    "run_command",
    "run_function",
]
