"""Set-based statements: a batch of rows travels as one array per column and becomes a table with
``unnest``. One SQL text serves any batch size, so it is compiled once and asyncpg reuses its
prepared statement; build such statements once, at import, with bind parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, column, func
from sqlalchemy.dialects.postgresql import ARRAY


def unnest_rows(name: str, *columns: tuple[str, Any]) -> Any:
    """``unnest(:name_a, :name_b, …) AS name(a, b, …)``: one row per array index. Bind the arrays
    with ``bind_arrays(name, a=[…], b=[…])`` (bind names are prefixed, so they never clash with the
    target table's columns)."""
    return func.unnest(*(bindparam(f"{name}_{c}", type_=ARRAY(t)) for c, t in columns)).table_valued(
        *(column(c, t) for c, t in columns)).render_derived(name=name)


def bind_arrays(name: str, **arrays: list[Any]) -> dict[str, list[Any]]:
    return {f"{name}_{c}": values for c, values in arrays.items()}
