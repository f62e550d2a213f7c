"""What the sandbox page is given to draw: escaped text, entities at UTF-16 offsets."""

from __future__ import annotations

from tgserver.rules import parse_html
from tgserver.sandbox.view import entities_to_html, reply_suggestion
from tgserver.world import Chat, Message, User


def test_what_people_type_is_escaped_never_obeyed() -> None:
    assert entities_to_html("<script>alert(1)</script> & co", []) == \
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"


def test_the_bots_html_comes_back_the_same_after_emoji() -> None:
    source = "⚠️ 🔺 <b>YH-1</b> <i>a&lt;b</i> <a href=\"https://example.org/?a=1\">x</a>"
    plain, entities = parse_html(source)
    shown = entities_to_html(plain, entities)
    assert "<b>YH-1</b>" in shown and "<i>a&lt;b</i>" in shown
    assert 'href="https://example.org/?a=1"' in shown and shown.startswith("⚠️ 🔺 ")


def test_a_link_to_javascript_is_not_a_link() -> None:
    shown = entities_to_html("tap", [{"type": "text_link", "offset": 0, "length": 3,
                                      "url": "javascript:alert(1)"}])
    assert "javascript" not in shown and shown.startswith('<a href="#"')


def test_a_selective_prompt_opens_a_reply_only_for_whom_it_asks() -> None:
    chat = Chat(-1, "group", title="t")
    worker, other = User(1, "W"), User(2, "O")
    asked = Message(chat, 1, 0, worker.to_dict(), text="/report")
    prompt = Message(chat, 2, 0, {"id": 9, "is_bot": True, "first_name": "bot"}, by_bot_id=9,
                     text="W send a photo", reply_to=asked,
                     reply_markup={"force_reply": True, "selective": True})
    assert reply_suggestion([asked, prompt], worker) == 2
    assert reply_suggestion([asked, prompt], other) is None
    answered = Message(chat, 3, 0, worker.to_dict(), text="here", reply_to=prompt)
    assert reply_suggestion([asked, prompt, answered], worker) is None
