"""Whether a new version can take the requests the serving one takes, judged on signatures.

A swap is safe when every column callers send now is still an input of the new version,
of a compatible type, and the new version requires nothing callers do not send: the same
columns, or a superset whose added columns are optional. Anything else would turn the
callers' requests into 422s the moment the swap happens, so the manager refuses it
unless the update says ``force``.
"""

from __future__ import annotations

from lanza.runtime.schema import Column, InputSchema


def incompatibility(old: InputSchema | None, new: InputSchema | None) -> str | None:
    """One sentence on why ``new`` cannot take ``old``'s requests, or ``None`` when it can.

    Versions without a column signature cannot be judged and are let through.
    """
    if old is None or new is None or not old.columns or not new.columns:
        return None
    taken = {c.name: c for c in new.columns}
    dropped = [c.name for c in old.columns if c.name not in taken]
    if dropped:
        return f"{_names(dropped)} that callers send {_is(dropped)} not an input of the new version"
    retyped = [c.name for c in old.columns if not _compatible(c, taken[c.name])]
    if retyped:
        first = retyped[0]
        return f"column '{first}' changes type from {_type(old, first)} to {taken[first].type}" + (
            f" (and {len(retyped) - 1} more)" if len(retyped) > 1 else ""
        )
    sent = {c.name for c in old.columns}
    added = [c.name for c in new.columns if c.required and c.name not in sent]
    if added:
        return f"the new version requires {_names(added)} that callers do not send"
    return None


def _compatible(old: Column, new: Column) -> bool:
    return old.type == new.type or (old.numeric and new.numeric)


def _type(schema: InputSchema, name: str) -> str:
    return next(c.type for c in schema.columns if c.name == name)


def _names(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"column{'s' if len(names) > 1 else ''} {shown}{more}"


def _is(names: list[str]) -> str:
    return "are" if len(names) > 1 else "is"
