"""Token-aware chunking that follows a document's structure.

1. Headings split the document into sections; a section's heading path is the stack of
   enclosing headings, and its heading text opens its first chunk. A heading with no text of
   its own (``# Guide`` directly followed by ``## Install``) opens the next section's chunk.
2. Within a section, paragraphs are packed into chunks of at most ``chunk_tokens`` tokens, as
   counted by ``tokenize`` (the embedding model's tokenizer, returning character spans). A chunk
   ends where a paragraph ends when that leaves it at least half full; otherwise at a sentence
   end, then at a line end, then between words, and only as a last resort inside a long word.
3. Consecutive chunks of a section overlap by up to ``overlap`` tokens, starting the next chunk
   at a sentence (or paragraph) start where one lies in that window.

Each chunk's ``text`` is exactly ``doc.text[start:end]``, with no surrounding whitespace. Every
block is tokenized once, so the cost is linear in the document's length.

>>> from ponder.embed.fake import HashEmbedder
>>> from ponder.ingest.markdown import parse_markdown
>>> doc = parse_markdown("# Tea\\n\\n## Green\\n\\nSteep for two minutes. Use cool water.", "t.md")
>>> [(c.id, c.heading_path, c.text) for c in chunk_document(doc, HashEmbedder().tokenize)]
[('t.md:0', ('Tea', 'Green'), 'Tea\\n\\nGreen\\n\\nSteep for two minutes. Use cool water.')]
>>> chunks = chunk_document(doc, HashEmbedder().tokenize, chunk_tokens=6, overlap=2)
>>> [c.text for c in chunks]
['Tea\\n\\nGreen\\n\\nSteep for two minutes.', 'two minutes. Use cool water.']
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from ponder.errors import ConfigError
from ponder.ingest.textutil import paragraph_spans, strip_span
from ponder.text import sentence_spans
from ponder.types import Block, Chunk, LoadedDocument

Tokenize = Callable[[str], list[tuple[int, int]]]

_LINE_END = re.compile(r"\n\s*(?=\S)")
_MAX_HEADING_CHARS = 200


def chunk_document(
    doc: LoadedDocument,
    tokenize: Tokenize,
    chunk_tokens: int = 200,
    overlap: int = 32,
) -> list[Chunk]:
    """Split ``doc`` into chunks of at most ``chunk_tokens`` tokens (see the module docstring)."""
    if not isinstance(chunk_tokens, int) or chunk_tokens < 1:
        raise ConfigError(
            f"chunk_tokens must be a positive integer (got {chunk_tokens!r}); try 200"
        )
    if not isinstance(overlap, int) or not 0 <= overlap < chunk_tokens:
        raise ConfigError(
            f"overlap must be an integer from 0 to chunk_tokens - 1 (got {overlap!r} with "
            f"chunk_tokens={chunk_tokens}); try about a sixth of chunk_tokens, e.g. 32 for 200"
        )
    text = doc.text
    doc_id = doc.doc_id or doc.source
    chunks: list[Chunk] = []
    for path, blocks in _sections(text, _clean_blocks(doc)):
        section = _Section(text, blocks, tokenize)
        for s, e in section.plan(chunk_tokens, overlap):
            start, end, first, last = section.span(s, e)
            metadata = dict(doc.metadata)
            pages = sorted({b.page for b in blocks[first : last + 1] if b.page is not None})
            if pages:
                metadata["pages"] = pages
            ordinal = len(chunks)
            chunks.append(
                Chunk(
                    id=f"{doc_id}:{ordinal}",
                    doc_id=doc_id,
                    text=text[start:end],
                    source=doc.source,
                    start=start,
                    end=end,
                    page=blocks[first].page,
                    heading_path=path,
                    metadata=metadata,
                    ordinal=ordinal,
                )
            )
    return chunks


def _clean_blocks(doc: LoadedDocument) -> list[Block]:
    """Blocks sorted, clipped to the text, stripped of whitespace and never overlapping.

    A document without blocks gets one text block per paragraph.
    """
    text = doc.text
    if not doc.blocks:
        return [Block("text", a, b) for a, b in paragraph_spans(text)]
    out: list[Block] = []
    pos = 0
    for b in sorted(doc.blocks, key=lambda blk: (blk.start, blk.end)):
        start, end = strip_span(text, max(b.start, pos, 0), min(b.end, len(text)))
        if start < end:
            out.append(Block(b.kind, start, end, b.level, b.page))
            pos = end
    return out


def _sections(text: str, blocks: list[Block]) -> list[tuple[tuple[str, ...], list[Block]]]:
    """Group blocks into ``(heading path, blocks)``; heading-only runs join the next section."""
    sections: list[tuple[tuple[str, ...], list[Block]]] = []
    stack: list[tuple[int, str]] = []
    current: list[Block] = []
    has_text = False
    for b in blocks:
        if b.kind == "heading":
            if has_text:
                sections.append((tuple(t for _, t in stack), current))
                current, has_text = [], False
            level = max(1, b.level)
            while stack and stack[-1][0] >= level:
                stack.pop()
            title = " ".join(text[b.start : b.end].split())
            if len(title) > _MAX_HEADING_CHARS:
                title = title[: _MAX_HEADING_CHARS - 1] + "…"
            stack.append((level, title))
        else:
            has_text = True
        current.append(b)
    if current:
        sections.append((tuple(t for _, t in stack), current))
    return sections


@dataclass
class _Bounds:
    """Token indices where a chunk may start or end, by preference."""

    blocks: list[int]
    sentences: list[int]
    lines: list[int]
    words: list[int]  # tokens that do not continue a word (something lies between them)


class _Section:
    """The tokens of one section's blocks, with the places where they may be cut."""

    def __init__(self, text: str, blocks: list[Block], tokenize: Tokenize) -> None:
        self.text = text
        self.blocks = blocks
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.first_token: list[int] = []  # index of each block's first token
        sentences: list[int] = []
        lines: list[int] = []
        for b in blocks:
            first = len(self.starts)
            self.first_token.append(first)
            spans = _tokens(text[b.start : b.end], tokenize) or [(0, b.end - b.start)]
            self.starts.extend(b.start + s for s, _ in spans)
            self.ends.extend(b.start + e for _, e in spans)
            if b.kind == "heading" or len(spans) < 2:
                continue
            stop = len(self.starts)
            for s, _ in sentence_spans(text[b.start : b.end])[1:]:
                _add_bound(sentences, self.starts, b.start + s, first, stop)
            for m in _LINE_END.finditer(text, b.start, b.end):
                _add_bound(lines, self.starts, m.end(), first, stop)
        self.n = len(self.starts)
        starts, ends = self.starts, self.ends
        words = [i for i in range(1, self.n) if starts[i] > ends[i - 1]]
        self.bounds = _Bounds(
            self.first_token[1:], sorted(set(sentences)), sorted(set(lines)), words
        )

    def plan(self, budget: int, overlap: int) -> list[tuple[int, int]]:
        """Token ranges ``[s, e)`` of the chunks, in order."""
        out: list[tuple[int, int]] = []
        s, prev_end = 0, 0
        while True:
            hi = s + budget
            if hi >= self.n:
                out.append((s, self.n))
                return out
            lo = max(s, prev_end) + 1
            e = self._pick_end(lo, max(lo, s + budget // 2), hi)
            out.append((s, e))
            nxt = self._pick_start(max(e - overlap, s + 1), e) if overlap else e
            s, prev_end = max(nxt, s + 1), e

    def _pick_end(self, lo: int, fill_lo: int, hi: int) -> int:
        b = self.bounds
        for low in (fill_lo, lo):
            for candidates in (b.blocks, b.sentences, b.lines):
                i = bisect_right(candidates, hi) - 1
                if i >= 0 and candidates[i] >= low:
                    return candidates[i]
        i = bisect_right(b.words, hi) - 1  # at least end between words, not inside one
        return b.words[i] if i >= 0 and b.words[i] >= fill_lo else hi

    def _pick_start(self, lo: int, hi: int) -> int:
        """The earliest sentence (or paragraph, then line) start in ``[lo, hi)``, else ``lo``."""
        b = self.bounds
        best = hi
        for candidates in (b.blocks, b.sentences):
            i = bisect_left(candidates, lo)
            if i < len(candidates) and candidates[i] < best:
                best = candidates[i]
        for candidates in (b.lines, b.words):
            if best == hi:
                i = bisect_left(candidates, lo)
                if i < len(candidates) and candidates[i] < hi:
                    best = candidates[i]
        return best if best < hi else lo

    def span(self, s: int, e: int) -> tuple[int, int, int, int]:
        """Character span of tokens ``[s, e)`` and the indices of its first and last blocks."""
        first = bisect_right(self.first_token, s) - 1
        last = bisect_right(self.first_token, e - 1) - 1
        text = self.text
        at_block = s == self.first_token[first]
        start = self.blocks[first].start if at_block else self._right_start(s)
        if e == self.n or (last + 1 < len(self.first_token) and e == self.first_token[last + 1]):
            end = self.blocks[last].end
        else:
            end = self._left_end(e)
        start, end = strip_span(text, start, max(start, end))
        return start, end, first, last

    def _left_end(self, i: int) -> int:
        """Where a chunk ending before token ``i`` ends: after any punctuation glued to it."""
        end, limit = self.ends[i - 1], max(self.starts[i], self.ends[i - 1])
        while end < limit and not self.text[end].isspace():
            end += 1
        return end

    def _right_start(self, i: int) -> int:
        """Where a chunk starting at token ``i`` starts: at the punctuation that opens it."""
        pos = self._left_end(i)
        while pos < self.starts[i] and self.text[pos].isspace():
            pos += 1
        return pos


def _tokens(text: str, tokenize: Tokenize) -> list[tuple[int, int]]:
    """Token spans of ``text``, sorted; text a truncating tokenizer left out is tokenized too."""
    spans = sorted((s, e) for s, e in tokenize(text) if 0 <= s < e <= len(text))
    end = spans[-1][1] if spans else 0
    while end < len(text) and text[end:].strip():
        more = sorted((s, e) for s, e in tokenize(text[end:]) if 0 <= s < e <= len(text) - end)
        if not more:
            break
        spans.extend((end + s, end + e) for s, e in more)
        end += more[-1][1]
    return spans


def _add_bound(out: list[int], starts: list[int], pos: int, first: int, stop: int) -> None:
    """Record the token that starts at or after ``pos`` as a boundary, if inside the block."""
    i = bisect_left(starts, pos, first, stop)
    if first < i < stop:
        out.append(i)
