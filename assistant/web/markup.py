"""User text inside Markdown: shown as the characters it is, never as markup.

Gradio's Markdown components render Markdown and HTML. A description like
`![x](https://tracker.example/p.png)` would make the browser fetch that image, and
`<img src=...>` survives sanitizers that allow images. Every ASCII punctuation character
may be backslash-escaped in CommonMark, so escaping all of them leaves no syntax at all:
no links, images, emphasis, headings, tables or HTML tags.
"""

from __future__ import annotations

import string

_ESCAPES = {ord(ch): "\\" + ch for ch in string.punctuation}


def md_text(value: object) -> str:
    """`value` as literal text inside Markdown (line breaks kept)."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return "  \n".join(line.translate(_ESCAPES) for line in text.split("\n"))


def md_code(text: str, language: str = "") -> str:
    """`text` as a fenced code block that no backtick run inside it can close."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def counted(n: int, one: str, many: str) -> str:
    """ "1 photo", "2 photos", "0 photos": the count with the word that fits it."""
    return f"{n} {one if n == 1 else many}"
