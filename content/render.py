"""The one way to render user-facing text: Jinja2, autoescaped, Telegram HTML.

Short texts live in ``content/locales/<lang>.yaml`` (key → template); longer
ones in ``content/templates/<lang>/<key>.html.j2``. Everything a user typed
reaches Telegram escaped, so no name or description can break a message.

Line breaks follow the lines of the source: a line holding nothing but block tags
(``{% if %}``, ``{% endfor %}``…) leaves no trace, while a line of text that ends
with a block tag keeps its line break.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_datetime
from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from domain.language import SUPPORTED_LANGUAGES, babel_locale

CONTENT_DIR = Path(__file__).parent


class _ContentLoader(BaseLoader):
    """Finds ``<lang>/<key>`` in the YAML catalog first, then in the template files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalogs = {lang: _load_catalog(root / "locales" / f"{lang}.yaml")
                         for lang in SUPPORTED_LANGUAGES}

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        lang, _, key = template.partition("/")
        catalog = self.catalogs.get(lang, {})
        if key in catalog:
            return keep_line_breaks(catalog[key]), None, lambda: True
        path = self.root / "templates" / lang / f"{key}.html.j2"
        if path.is_file():
            source = path.read_text(encoding="utf-8")
            return keep_line_breaks(source), str(path), lambda: True
        raise TemplateNotFound(template)


_TAGS = re.compile(r"\{%.*?%\}|\{#.*?#\}")


def keep_line_breaks(source: str) -> str:
    """Mark block tags that end a line of text so ``trim_blocks`` keeps that line's break.

    ``trim_blocks`` drops the newline after every block tag: right for a line that
    is only ``{% endif %}``, wrong for ``接班：{% if a %}…{% endif %}`` followed by
    another line, which would run into it. ``+%}`` keeps the newline for such tags.
    """
    lines = source.split("\n")
    for index, line in enumerate(lines[:-1]):  # the last line has no break to keep
        if line.endswith("%}") and not line.endswith(("-%}", "+%}")) \
                and _TAGS.sub("", line).strip():
            lines[index] = line[:-2] + "+%}"
    return "\n".join(lines)


def _load_catalog(path: Path) -> dict[str, str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of key to text")
    return {str(k): str(v).rstrip("\n") for k, v in data.items()}


class Renderer:
    """Renders catalog keys and templates in a language.

    Args:
        root: The content directory (the package's own by default).
        default_language: Fallback when a key is asked for in an unknown language.
        timezone: Default zone for the ``dt`` filter.
    """

    def __init__(self, root: Path = CONTENT_DIR, *, default_language: str = "zh",
                 timezone: str = "Asia/Shanghai") -> None:
        self.default_language = default_language
        self.timezone = timezone
        self.loader = _ContentLoader(root)
        self._html = self._environment(autoescape=True)
        self._plain = self._environment(autoescape=False)

    def _environment(self, *, autoescape: bool) -> Environment:
        env = Environment(loader=self.loader, autoescape=autoescape, undefined=StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
        env.globals["t"] = _translate
        env.globals["mention"] = mention
        @pass_context
        def dt(context: Context, value: datetime, lang: str = "zh", tz: str | None = None,
               fmt: str = "medium") -> str:
            # A text about one team passes its zone as ``tz``: every date in it follows.
            return self._format_dt(value, lang, tz or context.get("tz"), fmt)

        env.filters["dt"] = dt
        return env

    def _language(self, lang: str | None) -> str:
        return lang if lang in SUPPORTED_LANGUAGES else self.default_language

    def html(self, key: str, lang: str | None, /, **context: Any) -> str:
        """Render ``key`` as Telegram HTML (user values escaped)."""
        lang = self._language(lang)
        template = self._html.get_template(f"{lang}/{key}")
        return template.render(lang=lang, **context).strip()

    def plain(self, key: str, lang: str | None, /, **context: Any) -> str:
        """Render ``key`` as plain text (button labels, command descriptions, alerts)."""
        lang = self._language(lang)
        return self._plain.get_template(f"{lang}/{key}").render(lang=lang, **context).strip()

    def keys(self, lang: str) -> set[str]:
        """Every catalog key and template name available in ``lang``."""
        files = {p.name.removesuffix(".html.j2")
                 for p in (self.loader.root / "templates" / lang).glob("*.html.j2")}
        return set(self.loader.catalogs.get(lang, {})) | files

    def _format_dt(self, value: datetime, lang: str = "zh", tz: str | None = None,
                   fmt: str = "medium") -> str:
        zone = ZoneInfo(tz or self.timezone)
        return format_datetime(value.astimezone(zone), format=fmt, locale=babel_locale(lang))


@pass_context
def _translate(context: Context, key: str, **values: Any) -> Markup:
    """``{{ t("role.worker") }}``: another catalog entry in the same language."""
    env = context.environment
    text = env.get_template(f"{context['lang']}/{key}").render(lang=context["lang"], **values)
    return Markup(text) if env.autoescape else text  # type: ignore[return-value]


def mention(telegram_id: int, name: str) -> Markup:
    """A link that mentions a person by id, with their name escaped."""
    return Markup('<a href="tg://user?id={}">{}</a>').format(int(telegram_id), name)


@cache
def default_renderer() -> Renderer:
    """A renderer over the packaged content with the default settings."""
    return Renderer()


def escape_html(value: str) -> str:
    """Escape a plain value for Telegram HTML."""
    return str(escape(value))

