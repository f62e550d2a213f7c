"""Texts, templates and reference content; :mod:`content.render` is the one way to render."""
