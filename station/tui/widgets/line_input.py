"""A one-line text box that takes a pasted text whole.

Textual's ``Input`` keeps only the first line of a paste, and refuses a paste (or a key)
that would pass ``max_length`` without a word: a contact note copied from a chat in three
lines lost two of them, and a long one vanished. Here the lines are joined with a space, and
no length limit is set on the box: the store's validation says how long a field may be,
under the field, in both languages, and saves nothing.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


def one_line(text: str) -> str:
    """The non-blank lines of ``text``, trimmed and joined with one space."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class LineInput(Input):
    """``Input`` whose paste keeps every line of the pasted text."""

    def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # Input's own handler would keep the first line only
        event.stop()
        line = one_line(event.text)
        if not line:
            return
        if self.selection.is_empty:
            self.insert_text_at_cursor(line)
        else:
            self.replace(line, *self.selection)
