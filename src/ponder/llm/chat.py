"""Chat templates: render messages with the model's own Jinja template (sandboxed).

GGUF files and Hugging Face tokenizers carry the template the model was trained with
(``tokenizer.chat_template``); rendering it gives exactly the text the model expects.

>>> t = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\\n{% endfor %}"
...      "{% if add_generation_prompt %}<|assistant|>{% endif %}")
>>> render_chat_template(t, [{"role": "user", "content": "Hi"}])
'<|user|>Hi\\n<|assistant|>'
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from ponder.errors import ConfigError


def _raise(message: str) -> None:
    raise ConfigError(f"the model's chat template refused the messages: {message}")


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    return env.from_string(template)


def render_chat_template(
    template: str,
    messages: Sequence[dict[str, str]],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
) -> str:
    """Render ``messages`` (``{"role", "content"}`` dicts) with a Jinja chat template."""
    try:
        return str(
            _compile(template).render(
                messages=list(messages),
                bos_token=bos_token,
                eos_token=eos_token,
                add_generation_prompt=add_generation_prompt,
            )
        )
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"cannot render the model's chat template: {e}") from e
