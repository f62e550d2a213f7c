"""Composing a big YAML document one list item at a time, with libyaml when present.

``yaml.compose`` builds the node tree of the whole document before anything reads
it: for an org file of 100,000 people that is millions of nodes, each with two
position marks, over a gigabyte. A document whose top-level mapping ends with one
long list can instead be read item by item: the items are composed one at a time
and handed to the caller, who keeps what it needs (a line number, a value) and
lets the nodes go.

Events come from libyaml's parser (``yaml._yaml.CParser``) when PyYAML was built
with it, several times faster than the pure-Python scanner; the nodes are the same
PyYAML nodes with the same line numbers. Anything out of the ordinary (the list not
the last field, several documents, a YAML error) raises :class:`NotStreamable`, and
the caller reads the document the ordinary way, with the pure-Python loader, whose
error messages are the ones users and tests know.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
STR_TAG = "tag:yaml.org,2002:str"

try:
    from yaml._yaml import CParser as _Parser  # libyaml

    WITH_LIBYAML = True
except ImportError:  # PyYAML built without libyaml: same events, slower
    WITH_LIBYAML = False

    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner,  # type: ignore[no-redef]
                  yaml.parser.Parser):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


class NotStreamable(Exception):
    """The document is not one this module reads: read it whole instead."""


# Plain scalars whose first character no implicit resolver starts with are text.
_IMPLICIT = Resolver.yaml_implicit_resolvers


class _EventComposer(_Parser, Composer, Resolver):  # type: ignore[misc, valid-type]
    """PyYAML's composer fed by libyaml's events (when present).

    :meth:`compose_node` is PyYAML's own, call for call; at 100,000 people its
    method calls per event are most of the reading time, so it is written out flat
    here. The nodes are the same: the safe resolver has no path resolvers, the only
    thing PyYAML's extra calls look at.
    """

    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        Resolver.__init__(self)
        self._wildcard = bool(_IMPLICIT.get(None))

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event: Any = self.get_event()
        kind = type(event)
        if kind is AliasEvent:
            if event.anchor not in self.anchors:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                    event.start_mark)
            node: Node = self.anchors[event.anchor]
            return node
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                self.anchors[anchor].start_mark, "second occurrence",
                                event.start_mark)
        tag = event.tag
        if kind is ScalarEvent:
            value = event.value
            if tag is None or tag == "!":
                if not event.implicit[0] or (value[:1] not in _IMPLICIT and not self._wildcard):
                    tag = STR_TAG
                else:
                    tag = self.resolve(ScalarNode, value,  # type: ignore[no-untyped-call]
                                       event.implicit)
            node = ScalarNode(tag, value, event.start_mark, event.end_mark, style=event.style)
            if anchor is not None:
                self.anchors[anchor] = node
            return node
        if kind is SequenceStartEvent:
            node = SequenceNode(SEQ_TAG if tag is None or tag == "!" else tag, [],
                                event.start_mark, None, flow_style=event.flow_style)
            if anchor is not None:
                self.anchors[anchor] = node
            items = node.value
            position = 0
            while not self.check_event(SequenceEndEvent):
                items.append(self.compose_node(node, position))
                position += 1
        else:
            node = MappingNode(MAP_TAG if tag is None or tag == "!" else tag, [],
                               event.start_mark, None, flow_style=event.flow_style)
            if anchor is not None:
                self.anchors[anchor] = node
            pairs = node.value
            while not self.check_event(MappingEndEvent):
                key = self.compose_node(node, None)
                pairs.append((key, self.compose_node(node, key)))
        end: Any = self.get_event()
        node.end_mark = end.end_mark
        return node


def _is_field(node: Node, name: str) -> bool:
    return isinstance(node, ScalarNode) and node.tag == STR_TAG and node.value == name


def stream_mapping(text: str, field: str, *, ready: Callable[[MappingNode], bool],
                   begin: Callable[[MappingNode], None],
                   item: Callable[[Node], None]) -> tuple[MappingNode, bool]:
    """Compose a document whose root mapping may end with a long list under ``field``.

    When the root reaches ``field`` with a list as its value and ``ready(root)``
    says the fields before it are enough, the list's value in the root is an empty
    placeholder (its marks kept), ``begin(root)`` is called once, then ``item(node)``
    for each item in order. Otherwise the list is composed as usual.

    Returns:
        The root node and whether the list was streamed.

    Raises:
        NotStreamable: not a single document with a mapping at the root, the list
            not the root's last field, or any YAML error: read the text whole.
    """
    composer = _EventComposer(text)
    try:
        return _compose(composer, field, ready, begin, item)
    except yaml.YAMLError as exc:
        raise NotStreamable(str(exc)) from exc
    finally:
        if WITH_LIBYAML:
            composer.dispose()


def _compose(composer: Any, field: str, ready: Callable[[MappingNode], bool],
             begin: Callable[[MappingNode], None],
             item: Callable[[Node], None]) -> tuple[MappingNode, bool]:
    composer.get_event()  # the stream starts
    if not composer.check_event(DocumentStartEvent):
        raise NotStreamable("no document")
    composer.get_event()
    if not composer.check_event(MappingStartEvent):
        raise NotStreamable("the root is not a mapping")
    start = composer.get_event()
    if start.anchor is not None or start.tag not in (None, "!", MAP_TAG):
        raise NotStreamable("the root has an anchor or a tag")
    root = MappingNode(MAP_TAG, [], start.start_mark, None, flow_style=start.flow_style)
    streamed = False
    while not composer.check_event(MappingEndEvent):
        if streamed:
            raise NotStreamable(f"a field follows {field}")
        key = composer.compose_node(root, None)
        if _is_field(key, field) and composer.check_event(SequenceStartEvent) \
                and composer.peek_event().anchor is None and ready(root):
            _stream_sequence(composer, root, key, begin, item)
            streamed = True
            continue
        root.value.append((key, composer.compose_node(root, key)))
    root.end_mark = composer.get_event().end_mark
    if not composer.check_event(DocumentEndEvent):
        raise NotStreamable("no end of the document")
    composer.get_event()
    if not composer.check_event(StreamEndEvent):
        raise NotStreamable("more than one document")
    return root, streamed


def _stream_sequence(composer: Any, root: MappingNode, key: Node,
                     begin: Callable[[MappingNode], None], item: Callable[[Node], None]) -> None:
    start = composer.get_event()
    tag = start.tag if start.tag not in (None, "!") else SEQ_TAG
    # The root as the caller sees it: the field is there, its items come one by one.
    placeholder = SequenceNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
    root.value.append((key, placeholder))
    begin(root)
    # The fields before the list were read: let their nodes go (the units of a big
    # organisation are a hundred megabytes of nodes) while the items are composed.
    # Nothing after the list is accepted, so the root is not read again.
    del root.value[:-1]
    index = 0
    while not composer.check_event(SequenceEndEvent):
        item(composer.compose_node(placeholder, index))
        index += 1
    placeholder.end_mark = composer.get_event().end_mark


__all__ = ["WITH_LIBYAML", "NotStreamable", "stream_mapping"]
