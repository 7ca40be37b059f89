"""Fine-tuning on CPU: the LLM (LoRA or full, from the shipped GGUF), the embedder
(contrastive), perplexity, and GGUF export.

==========================  ===================================================================
module                      what
==========================  ===================================================================
``finetune.data``           JSONL examples, chat template, completion-only labels, buckets
``finetune.loading``        base model resolution (shipped GGUF, .gguf, HF folder) and loading
``finetune.llm``            ``Trainer``: LoRA/full loop, eval, early stopping, export
``finetune.checkpoint``     atomic checkpoints and ``--resume``
``finetune.gguf_export``    merged model -> GGUF (q8_0, f16, f32) for llama.cpp
``finetune.embedder``       MiniLM contrastive training; ``FolderEmbedder`` (``--embedder DIR``)
``finetune.perplexity``     token-level perplexity with a sliding window
``finetune.tracking``       ``--mlflow`` runs through ``ponder.ops.tracking``
==========================  ===================================================================

Modules import torch and transformers only when they train or load a model.
"""
