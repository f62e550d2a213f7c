"""Which language to speak: Simplified Chinese by default, English on request."""

from __future__ import annotations

from babel import Locale, negotiate_locale

SUPPORTED_LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# Telegram's language_code is an IETF tag ("en", "en-GB", "zh-hans", "zh-CN").
_ALIASES = {"zh": "zh", "en": "en"}


def negotiate(language_code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """Pick the supported language closest to a Telegram ``language_code``.

    Args:
        language_code: The user's client language, possibly missing.
        default: What to use when nothing matches.

    Returns:
        One of :data:`SUPPORTED_LANGUAGES`.
    """
    if not language_code:
        return default
    tag = language_code.replace("_", "-")
    primary = tag.split("-")[0].lower()
    found = negotiate_locale([tag, primary], list(SUPPORTED_LANGUAGES), sep="-", aliases=_ALIASES)
    return found if found in SUPPORTED_LANGUAGES else default


def is_supported(language: str | None) -> bool:
    """Tell whether ``language`` is one the bot speaks."""
    return language in SUPPORTED_LANGUAGES


def babel_locale(language: str) -> Locale:
    """Return the Babel locale used to format dates and numbers in ``language``."""
    return Locale.parse("zh_Hans_CN" if language == "zh" else "en_GB")


def parse_language_choice(text: str) -> str | None:
    """Understand a typed language choice such as ``en``, ``English``, ``中文``."""
    value = text.strip().lower()
    if value in {"zh", "cn", "zh-cn", "zh-hans", "中文", "汉语", "chinese", "简体中文"}:
        return "zh"
    if value in {"en", "english", "英文", "英语"}:
        return "en"
    return None
