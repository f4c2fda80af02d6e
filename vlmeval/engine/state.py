"""Reading the JSON state vlmeval keeps between commands (run.json), strictly.

run.json is read by `vlmeval.engine.run_folder.read_run_file`; report.json has its own typed reader
(`vlmeval.reporting.record.load_report`).

These files are edited by hand, copied between machines and cut short by full disks; a damaged one
must end in one line naming it and the field at fault, never in a traceback (or worse, a report
built on a number of the wrong type).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vlmeval.errors import VlmevalError

Json = dict[str, Any]

class StateFileError(VlmevalError):
    """A file vlmeval wrote earlier cannot be used as it is."""


def read_json_object(path: Path, what: str, remedy: str) -> Json:
    """The JSON object in `path`; a StateFileError naming the file and `remedy` when it is not one."""
    try:
        text = path.read_bytes().decode("utf-8")
        obj = json.loads(text)
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read this {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise StateFileError(f"{path}: this {what} is not UTF-8 text (byte {exc.start}); {remedy}") from None
    except json.JSONDecodeError as exc:
        raise StateFileError(f"{path}: this {what} is not valid JSON (line {exc.lineno}: {exc.msg}); "
                             f"{remedy}") from None
    except (ValueError, RecursionError) as exc:
        raise StateFileError(f"{path}: this {what} is not usable JSON ({type(exc).__name__}); {remedy}") from None
    if not isinstance(obj, dict):
        raise StateFileError(f"{path}: this {what} holds a JSON {type(obj).__name__}, not an object; {remedy}")
    return obj


def check_fields(obj: Json, fields: Mapping[str, tuple[type, ...]], required: tuple[str, ...],
                 where: str, remedy: str) -> Json:
    for name in required:
        if name not in obj:
            raise StateFileError(f"{where}: field {name!r} is missing; {remedy}")
    for name, types in fields.items():
        value = obj.get(name)
        if name in obj and value is not None and not _is_instance(value, types):
            wanted = " or ".join(_json_name(t) for t in types)
            raise StateFileError(f"{where}: field {name!r} is a {_json_name(type(value))}, "
                                 f"expected {wanted}; {remedy}")
    return obj


def _is_instance(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _json_name(kind: type) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(kind, kind.__name__)
