"""Declarative checks of a task's columns, run on every file and every row before any sample is built.

A task lists what its columns must hold in `DataSpec.checks` (`Text("question")`,
`IndexInto("answer", "choices")`, ...); the engine runs them on each file's Arrow table with
vectorised compute (VQAv2 val, 214k rows of ten answers, is checked in well under a second) and
stops at the first bad cell with one line naming the file, row and column. Rows are numbered from
0 within their file, as elsewhere in vlmeval's errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from vlmeval.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

_MISSING_WORDS = ("nan", "none")  # how TSV exports (and LLaVA's `is_none`) write an empty option


@dataclass(frozen=True)
class Violation:
    row: int
    column: str
    problem: str


class ColumnCheck(Protocol):
    """One rule over a table's columns; skipped when the column it checks is absent (optional)."""

    @property
    def column(self) -> str: ...

    def first_violation(self, table: pa.Table) -> Violation | None: ...


def check_table(table: pa.Table, checks: Sequence[ColumnCheck], required: Sequence[str], where: str) -> None:
    """Raise a DataError naming `where`, the row and the column at the first cell no check accepts."""
    names = set(table.column_names)
    missing = [c for c in required if c not in names]
    if missing:
        raise DataError(missing_column_message(where, missing[0], names))
    for check in checks:
        if check.column not in names:
            continue
        violation = check.first_violation(table)
        if violation is not None:
            raise DataError(f"{where} row {violation.row} column {violation.column!r}: {violation.problem}")


def missing_column_message(where: str, column: str, present: set[str]) -> str:
    import difflib

    columns = sorted(c for c in present if not c.startswith("_"))
    close = difflib.get_close_matches(column, columns, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where}: missing column {column!r}{hint} (columns: {', '.join(columns)})"


def _first(mask: Any) -> int | None:
    """The first index where a boolean array is true (nulls count as false).

    No Python value is handed to pyarrow here or in the text and list checks: its first
    conversion of one imports pandas, ~0.15-0.4 s of every `vlmeval score`.
    """
    import pyarrow.compute as pc

    hits = pc.indices_nonzero(mask)
    return int(hits[0].as_py()) if len(hits) else None


def _null_violation(column: pa.ChunkedArray, name: str, nullable: bool) -> Violation | None:
    import pyarrow.compute as pc

    if nullable:
        return None
    row = _first(pc.is_null(column, nan_is_null=True))
    return None if row is None else Violation(row, name, "is empty")


def _kind(data_type: Any) -> str:
    import pyarrow.types as t

    for kind, test in (("string", t.is_string), ("string", t.is_large_string), ("integer", t.is_integer),
                       ("float", t.is_floating), ("list", t.is_list), ("list", t.is_large_list),
                       ("null", t.is_null), ("bool", t.is_boolean)):
        if test(data_type):
            return kind
    return str(data_type)


def _type_violation(column: pa.ChunkedArray, name: str, wanted: str) -> Violation | None:
    import pyarrow.compute as pc

    first_value = _first(pc.is_valid(column))
    return Violation(first_value or 0, name, f"holds {column.type} values, expected {wanted}")


@dataclass(frozen=True)
class Text:
    """A string column; empty (null) cells are an error unless `nullable`."""

    column: str
    nullable: bool = False

    def first_violation(self, table: pa.Table) -> Violation | None:
        column = table.column(self.column)
        if _kind(column.type) not in ("string", "null"):
            return _type_violation(column, self.column, "text")
        return _null_violation(column, self.column, self.nullable)


@dataclass(frozen=True)
class OneOf:
    """A string column whose values, stripped and case-folded, are among `values`."""

    column: str
    values: tuple[str, ...]
    nullable: bool = False

    def first_violation(self, table: pa.Table) -> Violation | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = table.column(self.column)
        if _kind(column.type) not in ("string", "null"):
            return _type_violation(column, self.column, " or ".join(self.values))
        folded = pc.utf8_lower(pc.utf8_trim_whitespace(column.cast(pa.string())))
        allowed = pa.array([v.lower() for v in self.values], pa.string())
        row = _first(pc.invert(pc.is_in(folded, value_set=allowed)))
        if row is not None:
            shown = " or ".join(self.values)
            return Violation(row, self.column, f"{column[row].as_py()!r} is not {shown}")
        return _null_violation(column, self.column, self.nullable)


@dataclass(frozen=True)
class Strings:
    """A list of strings per row, or of structs whose `field` is a string (VQAv2's answer dicts).

    A null or empty list, or one of null items only, is allowed when `nullable` (test splits hide
    their answers those ways); a list mixing null items and text is not.
    """

    column: str
    field: str | None = None
    nullable: bool = False

    def first_violation(self, table: pa.Table) -> Violation | None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.types as t

        column = table.column(self.column)
        wanted = f"a list of {{{self.field}: text}}" if self.field else "a list of text"
        if _kind(column.type) == "null":
            return _null_violation(column, self.column, self.nullable)
        if _kind(column.type) != "list":
            return _type_violation(column, self.column, wanted)
        items = pc.list_flatten(column)
        if self.field is not None:
            if not t.is_struct(items.type) or items.type.get_field_index(self.field) < 0:
                return _type_violation(column, self.column, wanted)
            items = pc.struct_field(items, self.field)
        if _kind(items.type) not in ("string", "null") and len(items):
            return _type_violation(column, self.column, wanted)
        parents = pc.list_parent_indices(column)
        bad_item = _first(pc.is_null(items))
        if bad_item is not None and self.nullable:  # a hidden answer list holds nulls only: mixed is bad
            bad_item = _first_mixed(parents, pc.is_valid(items))
        if bad_item is not None:
            return Violation(parents[bad_item].as_py(), self.column, "holds an empty (null) item")
        if not self.nullable:
            empty = pc.invert(pc.cast(pc.list_value_length(column), pa.bool_()))
            row = _first(pc.or_kleene(pc.is_null(column), empty))
            if row is not None:
                return Violation(row, self.column, "is empty")
        return None


def _first_mixed(parents: Any, valid: Any) -> int | None:
    """The first item (index into `valid`) of a list that holds both null and non-null items."""
    import pyarrow as pa
    import pyarrow.compute as pc

    groups = pa.table({"row": parents, "valid": valid}).group_by("row")
    bounds = groups.aggregate([("valid", "min"), ("valid", "max")])
    mixed = pc.filter(bounds.column("row"), pc.not_equal(bounds.column("valid_min"), bounds.column("valid_max")))
    if not len(mixed):
        return None
    first_row = pc.min(mixed).as_py()
    return _first(pc.equal(parents, first_row))


@dataclass(frozen=True)
class IndexInto:
    """An integer index into the list in `list_column` (ScienceQA's answer into its choices)."""

    column: str
    list_column: str

    def first_violation(self, table: pa.Table) -> Violation | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = table.column(self.column)
        kind = _kind(column.type)
        if kind == "float":  # TSV readers give a float column where any cell is empty
            fractional = pc.not_equal(column, pc.floor(column))
            row = _first(fractional)
            if row is not None:
                return Violation(row, self.column, f"{column[row].as_py()!r} is not an integer index")
        elif kind not in ("integer", "null"):
            return _type_violation(column, self.column, "an integer index")
        null = _null_violation(column, self.column, nullable=False)
        if null is not None or self.list_column not in table.column_names:
            return null
        lengths = pc.list_value_length(table.column(self.list_column))
        values = column.cast(pa.int64()) if kind == "float" else column
        outside = pc.or_kleene(pc.less(values, 0), pc.greater_equal(values, lengths))
        row = _first(outside)
        if row is None:
            return None
        count = lengths[row].as_py()
        return Violation(row, self.column, f"index {values[row].as_py()} is outside the {count} "
                         f"entries of {self.list_column!r}")


@dataclass(frozen=True)
class OptionLetter:
    """A letter naming one of the row's options, which run from `options[0]` to the first empty one."""

    column: str
    options: tuple[str, ...]
    nullable: bool = False

    def first_violation(self, table: pa.Table) -> Violation | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = table.column(self.column)
        if _kind(column.type) not in ("string", "null"):
            return _type_violation(column, self.column, "an option letter")
        answer = pc.utf8_trim_whitespace(column.cast(pa.string()))
        missing = pc.or_kleene(pc.is_null(answer), pc.is_in(pc.utf8_lower(answer),
                                                            value_set=pa.array(["", *_MISSING_WORDS])))
        missing = pc.fill_null(missing, True)
        if not self.nullable:
            row = _first(missing)
            if row is not None:
                return Violation(row, self.column, "is empty")
        named = pa.repeat(False, table.num_rows) if table.num_rows else pa.array([], pa.bool_())
        still_present = pa.repeat(True, table.num_rows) if table.num_rows else pa.array([], pa.bool_())
        for letter in self.options:
            if letter not in table.column_names:
                break
            still_present = pc.and_kleene(still_present, _option_present(table.column(letter)))
            named = pc.or_kleene(named, pc.and_kleene(still_present, pc.equal(answer, letter)))
        row = _first(pc.and_kleene(pc.invert(missing), pc.invert(pc.fill_null(named, False))))
        if row is None:
            return None
        offered = []
        for letter in self.options:
            if letter not in table.column_names or not _present_at(table, letter, row):
                break
            offered.append(letter)
        return Violation(row, self.column, f"{column[row].as_py()!r} is not one of the row's options "
                         f"({', '.join(offered) or 'none'})")



@dataclass(frozen=True)
class LetterAmong:
    """A letter (A, B, ...) naming one entry of the list in `options_column` (MMMU-style rows: the
    options in one list column, the answer a letter). Case and surrounding spaces must match: "B"."""

    column: str
    options_column: str
    nullable: bool = False

    def first_violation(self, table: pa.Table) -> Violation | None:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = table.column(self.column)
        if _kind(column.type) not in ("string", "null"):
            return _type_violation(column, self.column, "an option letter")
        null = _null_violation(column, self.column, self.nullable)
        if null is not None or self.options_column not in table.column_names:
            return null
        options = table.column(self.options_column)
        if _kind(options.type) != "list":
            return _type_violation(options, self.options_column, "a list of options")
        letters = pa.array([chr(ord("A") + i) for i in range(26)], pa.string())
        index = pc.index_in(column.cast(pa.string()), value_set=letters)
        lengths = pc.fill_null(pc.list_value_length(options), 0)
        outside = pc.or_kleene(pc.is_null(index), pc.greater_equal(index, lengths))
        row = _first(pc.and_kleene(pc.is_valid(column), outside))
        if row is None:
            return None
        count = lengths[row].as_py()
        offered = ", ".join(chr(ord("A") + i) for i in range(count)) or "none"
        return Violation(row, self.column, f"{column[row].as_py()!r} is not a letter among the row's "
                         f"{count} options in {self.options_column!r} ({offered})")


def _option_present(option: pa.ChunkedArray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if _kind(option.type) == "null":
        return pa.repeat(False, len(option))
    present = pc.is_valid(option) if _kind(option.type) != "float" else pc.invert(
        pc.is_null(option, nan_is_null=True))
    if _kind(option.type) == "string":
        words = pc.utf8_lower(pc.utf8_trim_whitespace(option))
        present = pc.and_kleene(present, pc.invert(pc.is_in(words, value_set=pa.array(list(_MISSING_WORDS)))))
    return pc.fill_null(present, False)


def _present_at(table: pa.Table, letter: str, row: int) -> bool:
    return bool(_option_present(table.column(letter).slice(row, 1))[0].as_py())
