"""The candidate's process of a Python-domain job (runs INSIDE the sandbox, started with
``python -I -B -c <this source> MODE``; it runs candidate code, so nothing in it is trusted once it has, and it
holds no key, no signer, no expected value and no test code).

Two modes:

* ``calls`` (function tasks; started by ``python_harness.py``): its stdin carries the config (report fd, call
  ids, the module, the function and the encoded arguments of each call). It imports the candidate's module and
  calls the function on each argument list, writing ``S`` (call started), ``R`` (the result, encoded by
  :func:`encode_value`) and ``E`` (call done) lines to the report fd. The judge compares the results with the
  expected values outside the sandbox.
* ``serve`` (test files and snippets; started by the trusted test runner, ``runner.py``): it answers the
  runner's requests — import a module, get or set an attribute, call, len, iterate, index, str, repr, bool,
  isinstance, issubclass, a dataclass's fields — on the objects of the candidate's repository, one JSON line per request on fd
  ``requests`` and one reply per line on fd ``replies``. Plain data crosses by value (:func:`encode_value`);
  any other object stays here and crosses as a reference number (``{"ref": n}``) the runner can name in later
  requests; an exception crosses as its class (a reference, or a builtin's name), ``str``, ``args`` and
  attributes. Equality is never evaluated here for the runner: it compares copies on its side.

:func:`encode_value` and :func:`decode_value` are also the judge's (the domain imports them), so both sides of
the boundary read one format.
"""

import datetime as _dt

_TAGGED = ("int", "float", "tuple", "dict", "set", "frozenset", "bytes", "date", "datetime", "time", "timedelta")
_DATE, _DATETIME, _TIME, _TIMEDELTA = _dt.date, _dt.datetime, _dt.time, _dt.timedelta


def encode_value(value, refer=None):
    """``value`` as JSON-able data when it is plain data of exact builtin types (None, bool, int, float, str,
    bytes, list, tuple, dict, set, frozenset, and ``datetime``'s date, datetime, time and timedelta, nested);
    anything else, subclasses included, is ``refer(value)`` (a tagged reference) or, without ``refer``, a
    TypeError, so no object with its own ``__eq__`` crosses by value. Floats, tuples, dicts, sets, bytes and
    the datetime types become one-key tagged objects, and so do ints beyond 64 bits (in hex)."""
    kind = type(value)
    if kind is int and value.bit_length() > 63:  # in hex: JSON's decimal digits are capped at 4300, quadratic
        return {"int": format(value, "x")}
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return {"float": float.__repr__(value)}
    if kind is list:
        return [encode_value(v, refer) for v in list.__iter__(value)]
    if kind is tuple:
        return {"tuple": [encode_value(v, refer) for v in tuple.__iter__(value)]}
    if kind is dict:
        return {"dict": [[encode_value(k, refer), encode_value(v, refer)] for k, v in dict.items(value)]}
    if kind is set or kind is frozenset:
        return {kind.__name__: [encode_value(v, refer) for v in kind.__iter__(value)]}
    if kind is bytes:
        return {"bytes": bytes.hex(value)}
    if kind is _DATE or kind is _DATETIME or kind is _TIME:
        if kind is not _DATE and value.tzinfo is not None:
            return _refer(value, refer)
        return {kind.__name__: kind.isoformat(value)}
    if kind is _TIMEDELTA:
        return {"timedelta": [value.days, value.seconds, value.microseconds]}
    return _refer(value, refer)


def _refer(value, refer):
    if refer is None:
        raise TypeError(f"not plain data: {type(value).__name__}")
    return refer(value)


def decode_value(data, resolve=None):
    """The value :func:`encode_value` encoded, from JSON-decoded ``data``, built of exact builtin types;
    a reference (a one-key object with a tag not listed in ``_TAGGED``) is ``resolve(data)``. ValueError (or
    TypeError for unhashable keys) for anything malformed, and for a reference without ``resolve``."""
    kind = type(data)
    if data is None or kind is bool or kind is int or kind is str:
        return data
    if kind is list:
        return [decode_value(v, resolve) for v in data]
    if kind is not dict or not data:
        raise ValueError(f"not an encoded value: {str(data)[:80]}")
    tag = next(iter(data))
    if tag not in _TAGGED or len(data) != 1:
        if resolve is None:
            raise ValueError(f"not an encoded value: {str(data)[:80]}")
        return resolve(data)
    body = data[tag]
    if tag == "int" and type(body) is str:
        return int(body, 16)
    if tag == "float" and type(body) is str:
        return float(body)
    if tag == "bytes" and type(body) is str:
        return bytes.fromhex(body)
    if tag in ("date", "datetime", "time") and type(body) is str:
        return {"date": _DATE, "datetime": _DATETIME, "time": _TIME}[tag].fromisoformat(body)
    if tag == "timedelta" and type(body) is list and len(body) == 3 and all(type(b) is int for b in body):
        return _TIMEDELTA(*body)
    if type(body) is not list:
        raise ValueError(f"malformed {tag}")
    items = [decode_value(v, resolve) for v in body]
    if tag == "dict":
        if not all(type(i) is list and len(i) == 2 for i in items):
            raise ValueError("malformed dict entry")
        return {k: v for k, v in items}
    return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)


def report(fd, *fields):
    """Write one report line to ``fd``: the fields joined by tabs (tabs and newlines in them become spaces)."""
    import os

    line = "\t".join(str(f).replace("\t", " ").replace("\n", " ") for f in fields) + "\n"
    try:
        os.write(fd, line.encode("utf-8", "replace"))
    except OSError:
        pass


def leave(status=0):
    """Flush stdout and stderr and exit at once (no interpreter shutdown that other code could hook)."""
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _worker():
    import dataclasses
    import importlib
    import json
    import os
    import sys
    import time
    import traceback

    mode = sys.argv[1]
    cfg = json.loads(sys.stdin.read())
    root = os.getcwd()
    sys.dont_write_bytecode = True
    sys.path.insert(0, root)

    def error_line(exc):
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        return f"{type(exc).__name__}: {exc}"[:300] + where

    def run_calls():
        def send(*fields):
            report(cfg["report_fd"], *fields)

        try:
            function = getattr(importlib.import_module(cfg["module"][:-3].replace("/", ".")), cfg["function"])
        except BaseException as exc:  # the candidate's own failure, reported as data
            send("L", error_line(exc))
            return
        for test_id in cfg["ids"]:
            send("S", test_id)
            start = time.perf_counter()
            outcome = "failed"
            try:
                result = function(*decode_value(cfg["inputs"][int(test_id)]))
                send("R", test_id, json.dumps(encode_value(result)))
                outcome = "passed"
            except BaseException as exc:
                send("L", f"call {test_id}: {error_line(exc)}")
            send("E", test_id, outcome, f"{time.perf_counter() - start:.4f}")

    def serve():
        objects, numbers = [], {}
        builtin_module = type(len).__module__

        def refer(obj):
            number = numbers.get(id(obj))
            if number is None:
                number = numbers[id(obj)] = len(objects)
                objects.append(obj)  # kept alive: the number stays this object's
            ref = {"ref": number}
            if isinstance(obj, type) and issubclass(obj, BaseException):
                ref["exception"] = {"name": obj.__qualname__, "module": obj.__module__,
                                    "bases": [base_of(b) for b in obj.__bases__]}
            return ref

        def base_of(cls):
            """A builtin exception class by name, another library's by import path, the repository's by reference."""
            if cls.__module__ == builtin_module:
                return {"builtin": cls.__name__}
            origin = getattr(sys.modules.get(cls.__module__), "__file__", None) or ""
            if origin and not os.path.abspath(origin).startswith(root + os.sep):
                return {"import": [cls.__module__, cls.__qualname__]}
            return refer(cls)

        def resolve(data):
            if "ref" in data and type(data["ref"]) is int and 0 <= data["ref"] < len(objects):
                return objects[data["ref"]]
            if "import" in data and type(data["import"]) is list and len(data["import"]) == 2:
                value = importlib.import_module(data["import"][0])
                for part in str(data["import"][1]).split("."):
                    value = getattr(value, part)
                return value
            raise ValueError(f"unknown reference {str(data)[:80]}")

        def fields(obj):
            if isinstance(obj, type) or not dataclasses.is_dataclass(obj) or not type(obj).__dataclass_params__.eq:
                return None
            return {"cls": type(obj), "fields": [[f.name, getattr(obj, f.name)] for f in dataclasses.fields(obj)]}

        ops = {
            "import": lambda r: importlib.import_module(r["name"]),
            "getattr": lambda r: getattr(r["obj"], r["name"]),
            "setattr": lambda r: setattr(r["obj"], r["name"], r["value"]),
            "call": lambda r: r["obj"](*r["args"], **r["kwargs"]),
            "len": lambda r: len(r["obj"]),
            "list": lambda r: list(r["obj"]),
            "getitem": lambda r: r["obj"][r["key"]],
            "bool": lambda r: bool(r["obj"]),
            "isinstance": lambda r: isinstance(r["obj"], r["cls"]),
            "issubclass": lambda r: issubclass(r["obj"], r["cls"]),
            "str": lambda r: str(r["obj"]),
            "repr": lambda r: repr(r["obj"]),
            "fields": lambda r: fields(r["obj"]),
        }
        requests = os.fdopen(cfg["requests"], "rb")
        replies = os.fdopen(cfg["replies"], "wb")
        for line in requests:
            try:
                request = decode_value(json.loads(line), resolve)
                reply = {"ok": encode_value(ops[request["op"]](request), refer)}
            except BaseException as exc:  # the candidate's exception, or a malformed request: data either way
                try:
                    reply = {"raise": {"cls": base_of(type(exc)), "str": str(exc),
                                       "args": encode_value(list(exc.args), refer),
                                       "attrs": encode_value(dict(getattr(exc, "__dict__", {})), refer)}}
                except BaseException as inner:
                    reply = {"raise": {"cls": {"builtin": "RuntimeError"}, "args": [],
                                       "str": f"unreportable {type(exc).__name__}: {type(inner).__name__}",
                                       "attrs": {"dict": []}}}
            replies.write(json.dumps(reply).encode() + b"\n")
            replies.flush()

    try:
        {"calls": run_calls, "serve": serve}[mode]()
    finally:
        leave()


if __name__ == "__main__":
    _worker()
