"""The old name of `vlmeval.column_checks`: task files written against it keep importing."""

from vlmeval.column_checks import (
    ColumnCheck,
    IndexInto,
    LetterAmong,
    OneOf,
    OptionLetter,
    Strings,
    Text,
    Violation,
    check_table,
    missing_column_message,
)

__all__ = ["ColumnCheck", "IndexInto", "LetterAmong", "OneOf", "OptionLetter", "Strings", "Text", "Violation",
           "check_table", "missing_column_message"]
