"""The Dask integration's implementation; its public face is `poncho_run.dask`."""
