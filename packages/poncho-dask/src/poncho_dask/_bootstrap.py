"""The programs `run_function` runs with the environment's interpreter (``python -c``).

They run in the environment, whatever its Python version, with nothing of ours or of Dask
importable there: plain, old-fashioned Python, kept as text.

`PROBE` prints what the interpreter offers. `BOOTSTRAP` takes three arguments (the call
file, the answer file, the pickle protocol). The call file holds two pickles: the source
texts of the functions sent by value (``{file name: text}``), then ``(kind, target, args,
kwargs)``. The sources are put into `linecache` so that the traceback of a failure shows
their lines, although the files need not exist where the environment runs; cloudpickle 3.1.3
and later name the code of such functions ``<dynamic-code>`` (`_sources.DYNAMIC_CODE`), so
each such function found from the call gets its module's file name back (the ``__file__``
cloudpickle keeps in its globals) when that file's source came along.
"""

from __future__ import annotations

__all__ = ["BOOTSTRAP", "PROBE"]

PROBE = """\
import pickle, sys
try:
    import cloudpickle
    has_cloudpickle = True
except Exception:
    has_cloudpickle = False
sys.stdout.write(repr((tuple(sys.version_info[:3]), pickle.HIGHEST_PROTOCOL, has_cloudpickle)))
"""

BOOTSTRAP = """\
import sys


def _answer(out_path, obj, protocol):
    import os
    import pickle

    tmp = out_path + ".part"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol)
    os.replace(tmp, out_path)


def _failure(out_path, stage, exc, protocol):
    import traceback

    kind = type(exc)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = kind.__module__ + "." + name
    try:
        message = str(exc)
    except Exception:
        message = "<the exception cannot be shown>"
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
        tb = tb.tb_next
    text = "".join(traceback.format_exception(kind, exc, tb))
    _answer(out_path, ("error", stage, name, message, text), protocol)


def _remember_sources(sources):
    import linecache

    for filename, text in sources.items():
        # No modification time: linecache.checkcache keeps the entry (no file to compare).
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)


def _renamed(code, filename):
    consts = tuple(
        _renamed(const, filename) if isinstance(const, type(code)) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


def _restore_filenames(roots, sources):
    import functools
    import types

    seen = set()
    todo = list(roots)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, functools.partial):
            todo.append(obj.func)
            todo.extend(obj.args)
            todo.extend(obj.keywords.values())
        elif isinstance(obj, types.MethodType):
            todo.append(obj.__func__)
        elif isinstance(obj, types.FunctionType):
            code = obj.__code__
            filename = obj.__globals__.get("__file__")
            if code.co_filename == "<dynamic-code>" and filename in sources:
                obj.__code__ = _renamed(code, filename)
            elif code.co_filename not in sources:
                continue  # by reference, or by value without its source
            for cell in obj.__closure__ or ():
                try:
                    todo.append(cell.cell_contents)
                except ValueError:
                    pass
            todo.extend(obj.__defaults__ or ())
            todo.extend((obj.__kwdefaults__ or {}).values())
            if id(obj.__globals__) not in seen:  # one dict per module: walk it once
                seen.add(id(obj.__globals__))
                todo.extend(obj.__globals__.values())


def _main(in_path, out_path, protocol):
    import pickle

    protocol = int(protocol)
    stage = "load"
    try:
        with open(in_path, "rb") as f:
            sources = pickle.load(f)
            _remember_sources(sources)
            kind, target, args, kwargs = pickle.load(f)
        if kind == "ref":
            import importlib

            module, _, qualname = target.partition(":")
            func = importlib.import_module(module)
            for part in qualname.split("."):
                func = getattr(func, part)
        else:
            func = target
        if sources:
            try:
                _restore_filenames([func] + list(args) + list(kwargs.values()), sources)
            except Exception:
                pass  # only the file names in a traceback are at stake, never the call
        stage = "call"
        result = func(*args, **kwargs)
        stage = "return"
        try:
            data = pickle.dumps(result, protocol)
        except Exception:
            try:
                import cloudpickle
            except ImportError:
                cloudpickle = None
            if cloudpickle is None:
                raise
            data = cloudpickle.dumps(result, protocol)
    except BaseException as exc:
        _failure(out_path, stage, exc, protocol)
        return
    _answer(out_path, ("ok", data), protocol)


_main(sys.argv[1], sys.argv[2], sys.argv[3])
"""
