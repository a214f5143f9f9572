"""The text of a file settings read (hotgo.toml, an env file): UTF-8, a byte order mark skipped.

Editors on Windows write a UTF-8 BOM before the text; it is no part of it and is dropped. A file
in another encoding is named (UTF-16 by its BOM; a byte that reads as Latin-1 or Windows-1252
shown as that character) with the line it starts failing on, and the fix: save it as UTF-8.
"""

from __future__ import annotations

import codecs

from hotgo.errors import UsageError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode(data: bytes, source: str) -> str:
    """`data` as text; raises UsageError naming `source`, the line and the encoding it seems to be in."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith(_UTF16_BOMS):
        raise UsageError(f"{source}:1: UTF-16 text (it starts with a UTF-16 byte order mark); "
                         "save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        byte = data[err.start]
        guess = bytes([byte]).decode("cp1252", errors="ignore")
        seems = f", which is {guess!r} in Latin-1 or Windows-1252" if guess.isprintable() and guess else ""
        raise UsageError(f"{source}:{line}: not UTF-8 text: byte 0x{byte:02x} at column {column}{seems}; "
                         "save the file as UTF-8") from None
