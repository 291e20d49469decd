"""Run work inside Poncho environments on a Dask cluster (``pip install "poncho-run[dask]"``).

::

    from distributed import Client
    from poncho_run.dask import PonchoEnvironment, run_command, run_function

    client = Client("tcp://scheduler:8786")
    env = PonchoEnvironment("/shared/envs/analysis.tar.gz", name="analysis")
    client.register_plugin(env)         # every worker, present and future; once per node
    done = client.submit(run_command, ["python", "-V"], env=env, pure=False).result()
    greeting = client.submit(run_function, "mypkg.tools:greet", "you", env=env).result()

`PonchoEnvironment` is a worker plugin: each worker prepares the environment with
`poncho_run.prepare` in a node-local folder, under the lock ``poncho_package_run -d``
takes, so the workers of a node share one unpacked copy. `run_command` and `run_function`
are tasks that run a command line, or a Python function with the environment's own
interpreter, inside it. `get_environment` gives a task the `PreparedEnvironment` itself.
"""

from __future__ import annotations

try:
    import distributed  # noqa: F401 - fail here, with advice, rather than deep inside
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(
        f'poncho_run.dask needs Dask distributed ({exc}): pip install "poncho-run[dask]"'
    ) from exc

from poncho_run._dask.command import CompletedCommand, run_command
from poncho_run._dask.errors import (
    CommandFailed,
    EnvironmentIncomplete,
    EnvironmentNotRegistered,
    RemoteError,
)
from poncho_run._dask.function import run_function
from poncho_run._dask.plugin import PonchoEnvironment, default_unpack_root, get_environment

__all__ = [
    "CommandFailed",
    "CompletedCommand",
    "EnvironmentIncomplete",
    "EnvironmentNotRegistered",
    "PonchoEnvironment",
    "RemoteError",
    "default_unpack_root",
    "get_environment",
    "run_command",
    "run_function",
]
