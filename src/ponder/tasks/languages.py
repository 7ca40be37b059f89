"""Language names and codes, and cheap checks of which language a text is in.

``resolve_language`` accepts an ISO 639-1 code (``"de"``) or an English name (``"German"``,
any case). ``guess_language`` looks at the script (Cyrillic, Greek, Arabic, CJK...) and, for
Latin-script text, at function words of a few languages: it is a heuristic to catch a
translation that came back in the wrong language, not a language identifier.

>>> resolve_language("de"), resolve_language("german"), resolve_language("Portuguese")
('de', 'de', 'pt')
>>> guess_language("Ich habe das Buch nicht gelesen, aber es ist gut.")
'de'
>>> guess_language("Это хорошая книга.")
'ru'
"""

from __future__ import annotations

import re
import unicodedata

from ponder.errors import ConfigError

LANGUAGES: dict[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan",
    "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "is": "Icelandic",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian",
    "ms": "Malay", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian",
    "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
}
_ALIASES = {"farsi": "fa", "mandarin": "zh", "bokmal": "no", "norwegian bokmal": "no",
            "castilian": "es", "flemish": "nl"}

# The script each non-Latin language is written in (by Unicode character name prefix).
SCRIPTS: dict[str, str] = {
    "ru": "CYRILLIC", "uk": "CYRILLIC", "bg": "CYRILLIC", "sr": "CYRILLIC", "el": "GREEK",
    "ar": "ARABIC", "fa": "ARABIC", "ur": "ARABIC", "he": "HEBREW", "hi": "DEVANAGARI",
    "bn": "BENGALI", "ta": "TAMIL", "th": "THAI", "zh": "CJK", "ja": "CJK", "ko": "HANGUL",
}

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Frequent function words that tell these Latin-script languages apart.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and of to is in that it was for with as are this be have not you on "
                    "at by from they we his her which would there their will"),
    "de": _words("der die das und ist nicht ich sie es ein eine zu den mit sich auf für "
                    "von dem des wir ihr auch wird sind aber oder wenn dass"),
    "fr": _words("le la les et est un une des du que qui dans pour pas sur au avec ce "
                    "il elle nous vous sont mais ou aux cette"),
    "es": _words("el la los las y es un una que de en por con para no se del al lo su "
                    "pero como está son más"),
    "it": _words("il lo la gli le e è un una che di in per con non si del della sono ma "
                    "come più anche nel"),
    "pt": _words("o a os as e é um uma que de em por com para não se do da no na mas "
                    "como mais são"),
    "nl": _words("de het een en is van dat niet ik je die op te zijn met voor er maar "
                    "ook als wat"),
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def resolve_language(value: str) -> str:
    """The ISO 639-1 code for a code or English name; ``ConfigError`` for an unknown one."""
    key = " ".join(str(value).split()).lower()
    if key in LANGUAGES:
        return key
    if key.split("-")[0].split("_")[0] in LANGUAGES and len(key) <= 7:  # "de-DE", "pt_BR"
        return key.split("-")[0].split("_")[0]
    for code, name in LANGUAGES.items():
        if name.lower() == key:
            return code
    if key in _ALIASES:
        return _ALIASES[key]
    raise ConfigError(
        f"unknown language {value!r}: use an ISO 639-1 code or English name, e.g. de, German, "
        f"fr, French (known: {', '.join(sorted(LANGUAGES))})"
    )


def language_name(code: str) -> str:
    return LANGUAGES.get(code, code)


def script_share(text: str, script: str) -> float:
    """The share of ``text``'s letters written in ``script`` (``"CJK"`` includes kana)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    hits = 0
    for c in letters:
        name = unicodedata.name(c, "")
        if name.startswith(script) or (
            script == "CJK" and name.startswith(("HIRAGANA", "KATAKANA"))
        ):
            hits += 1
    return hits / len(letters)


def stopword_hits(text: str) -> dict[str, int]:
    """Function words of each ``STOPWORDS`` language found in ``text``."""
    words = [w.lower() for w in _WORD.findall(text)]
    return {lang: sum(w in vocab for w in words) for lang, vocab in STOPWORDS.items()}


def guess_language(text: str) -> str | None:
    """The language ``text`` is most likely in, where the script or function words tell;
    ``None`` when they do not (short text, or a language without a word list here)."""
    for script in ("CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "BENGALI", "TAMIL",
                   "THAI", "HANGUL", "CJK"):
        if script_share(text, script) >= 0.5:
            if script == "CJK":
                kana = script_share(text, "HIRAGANA") + script_share(text, "KATAKANA")
                return "ja" if kana > 0.05 else "zh"
            return next(code for code, s in SCRIPTS.items() if s == script)
    hits = stopword_hits(text)
    ranked = sorted(hits.items(), key=lambda kv: -kv[1])
    (best, n1), (_, n2) = ranked[0], ranked[1]
    if n1 >= 2 and n1 > n2:
        return best
    return None


__all__ = [
    "LANGUAGES",
    "SCRIPTS",
    "STOPWORDS",
    "guess_language",
    "language_name",
    "resolve_language",
    "script_share",
    "stopword_hits",
]
