"""Rendering: LaTeX, Markdown and text tables; matplotlib figures; the HTML run report."""
from __future__ import annotations

import unicodedata

_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def is_control(ch: str) -> bool:
    """A character that steers a terminal or reorders text instead of showing itself: C0 and C1
    controls (ESC, CR, newline, ...), DEL, line and paragraph separators, bidirectional marks."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI


def visible(ch: str) -> str:
    """A control character as the text of its escape: '\\x1b', '\\u202e'."""
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: object) -> str:
    """`text` (from a store, a file, an argument) made safe to print: every control character
    becomes its visible escape (ESC -> \\x1b, newline -> \\x0a); everything else is kept."""
    text = str(text)
    if all(ch.isprintable() for ch in text):
        return text
    return "".join(visible(ch) if is_control(ch) else ch for ch in text)
