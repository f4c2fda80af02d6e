"""Dataset and model text made safe for each place people read it.

Model names, paths, task names, breakdown groups and summaries come from users, checkpoints and
datasets; each output format gives some characters a meaning, and one stray character can break a
table, run a spreadsheet formula or crash the console. One function per format, used by every
writer of that format.
"""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`|<>\[\]])")
_NEWLINES = re.compile(r"[\r\n]+")


def one_line(text: Any) -> str:
    """`text` as a string with line breaks folded to spaces (a table cell or heading is one line)."""
    return _NEWLINES.sub(" ", str(text))


def markdown(text: Any) -> str:
    """Inline Markdown text: pipes (which end a table cell), backticks, brackets (links, images) and
    angle brackets (inline HTML) escaped, line breaks folded. `_` and `*` are left alone so that
    names stay readable; at worst they render in italics."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))


def markdown_code(text: Any) -> str:
    """A Markdown code span holding `text` verbatim, whatever backticks it contains (CommonMark:
    a fence longer than any backtick run inside; spaces pad content that starts or ends with one)."""
    content = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if content.startswith("`") or content.endswith("`") else ""
    # Inside a table cell a pipe still ends the cell, even in a code span (GFM).
    return f"{fence}{pad}{content.replace('|', chr(92) + '|')}{pad}{fence}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: Any) -> str:
    """A text cell that spreadsheets will not run as a formula (OWASP: prefix with a quote)."""
    value = str(text)
    return "'" + value if value.startswith(_FORMULA_START) else value


_LATEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
          "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}


def latex(text: Any) -> str:
    """LaTeX text: its special characters escaped and line breaks folded (an empty line inside a
    tabular ends the paragraph and the document with it)."""
    return re.sub(r"[&%$#_{}~^\\<>|]", lambda m: _LATEX[m.group()], one_line(text))


def rich(text: Any) -> str:
    """Text for Rich's console markup: `[` would start a tag (and `[/x]` crash the print)."""
    from rich.markup import escape

    return escape(str(text))
