"""A small terminal for tests of the live display: what stays on the screen once a run has drawn on it.

The live display redraws several lines (one per running step) with cursor movement (CSI n A / B) and erases
them (CSI 2 K); this follows those and carriage returns, and ignores colours and other controls.
"""

from __future__ import annotations

import re


def screen_lines(text: str) -> list[str]:
    """The non-blank lines left on the screen after `text` was written to it."""
    rows: list[str] = [""]
    row = col = 0
    i = 0
    while i < len(text):
        csi = re.match(r"\x1b\[([0-9;?]*)([A-Za-z])", text[i:])
        if csi:
            arg, code = csi.groups()
            if code == "A":
                row = max(0, row - int(arg or 1))
            elif code == "B":
                row += int(arg or 1)
            elif code == "K":
                rows[row], col = "", 0
            i += csi.end()
            continue
        char = text[i]
        if char == "\n":
            row, col = row + 1, 0
        elif char == "\r":
            col = 0
        else:
            rows[row] = rows[row][:col].ljust(col) + char + rows[row][col + 1:]
            col += 1
        while len(rows) <= row:
            rows.append("")
        i += 1
    return [line for line in rows if line.strip()]
