"""Sum a large random array on a local Dask cluster and report the dashboard."""
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster


def main():
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        print("dashboard:", client.dashboard_link)
        x = da.random.random((20_000, 20_000), chunks=(2_000, 2_000))
        total = (x + x.T).sum().compute()
        print(np.float64(total))


if __name__ == "__main__":
    main()
