"""One renderer: both languages complete, user input always escaped."""

from __future__ import annotations

from jinja2 import meta

from content.render import Renderer, mention


def _variables(renderer: Renderer, lang: str, key: str) -> set[str]:
    env = renderer._html
    source = env.loader.get_source(env, f"{lang}/{key}")[0]  # type: ignore[union-attr]
    return meta.find_undeclared_variables(env.parse(source)) - {"lang", "t", "mention"}


def test_both_languages_have_the_same_texts_with_the_same_variables() -> None:
    renderer = Renderer()
    assert renderer.keys("zh") == renderer.keys("en")
    for key in renderer.keys("zh"):
        assert _variables(renderer, "zh", key) == _variables(renderer, "en", key), key


def test_user_input_is_escaped_in_html_and_kept_in_plain() -> None:
    renderer = Renderer()
    html = renderer.html("start.private", "en", name="<b>Bob & Co</b>")
    assert "&lt;b&gt;Bob &amp; Co&lt;/b&gt;" in html
    assert "<b>Bob" not in html
    assert renderer.plain("button.cancel", "zh") == "取消"


def test_mention_escapes_the_name() -> None:
    assert str(mention(42, 'A<"&>')) == '<a href="tg://user?id=42">A&lt;&#34;&amp;&gt;</a>'


def test_translate_inside_templates_and_fallback_language() -> None:
    renderer = Renderer()
    zh = renderer.html("role.already", "zh", person="张三", unit="甲班", role="team_leader")
    assert "班组长" in zh
    en = renderer.html("role.already", "fr", person="Z", unit="A", role="team_leader")
    assert "班组长" in en  # unknown language falls back to the default (zh)
