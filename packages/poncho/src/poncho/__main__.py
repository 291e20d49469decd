from poncho.cli import entrypoint

entrypoint()
