"""Reading the org file a person at a time gives what reading it whole gives."""

from __future__ import annotations

import pytest
from yaml.nodes import MappingNode, Node

from domain.orgfile import OrgFileError, OrgSpec
from services import orgfile
from services.orgfile import parse_org
from services.yaml_stream import NotStreamable, stream_mapping
from tests.unit.test_orgfile import BASE, EXAMPLE, MISTAKES


def whole(text: str, filename: str = "bad.yaml") -> OrgSpec | str:
    """The file read the way it always was: one tree of nodes, PyYAML's own loader."""
    try:
        return orgfile._Reader(filename).org(orgfile._compose(text, filename))
    except OrgFileError as exc:
        return str(exc)


def streamed(text: str, filename: str = "bad.yaml") -> OrgSpec | str:
    try:
        return parse_org(text, filename)
    except OrgFileError as exc:
        return str(exc)


@pytest.mark.parametrize(("change", "at", "problem"), MISTAKES,
                         ids=[m[2][:40] for m in MISTAKES])
def test_every_mistake_reads_the_same(change: tuple[str, str], at: int | str,
                                      problem: str) -> None:
    text = BASE.replace(*change, 1)
    assert streamed(text) == whole(text)


LAYOUTS = {
    "documented": EXAMPLE,
    "people first": "people:\n" + BASE.split("people:\n")[1] + BASE.split("people:\n")[0],
    "a field after people": BASE + "timezone: Asia/Shanghai\n",
    "a bad field after people": BASE.replace("role: team_leader", "role: boss")
                                + "colour: red\n",
    "people twice": BASE + "people: []\n",
    "a merge key at the top": "defaults: &d {version: 1}\n" + BASE,
    "aliases into people": BASE.replace(
        "      - {unit: team-a, role: team_leader}\n",
        "      - &lead {unit: team-a, role: team_leader}\n"
        "  - telegram_id: 6\n    name: Li\n    roles: [*lead]\n"),
    "a person merging another": BASE + "  - &p {telegram_id: 7, name: Zhou}\n"
                                       "  - {<<: *p, telegram_id: 8}\n",
    "a person's mistake, then broken YAML": BASE.replace("role: team_leader", "role: boss")
                                            + "  - {telegram_id: 9, name: [\n",
    "a person's mistake, then an undefined alias": BASE.replace("telegram_id: 5",
                                                                "telegram_id: -5")
                                                   + "  - *nowhere\n",
    "a unit's mistake": BASE.replace("kind: team", "kind: crew"),
    "two documents": BASE + "---\nversion: 1\n",
    "empty people": BASE.split("people:\n")[0] + "people:\n",
    "flow style": "{version: 1, units: [{key: a, kind: enterprise, name: A}], "
                  "people: [{telegram_id: 1, name: X, roles: [{unit: a, role: manager}]}]}",
    "a tagged root": "!!map\n" + BASE,
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_layout_reads_the_same(name: str) -> None:
    text = LAYOUTS[name]
    assert streamed(text) == whole(text)


def test_the_documented_layout_hands_people_over_one_at_a_time() -> None:
    seen: list[Node] = []
    fields_seen: list[list[str]] = []

    def begin(root: MappingNode) -> None:
        fields_seen.append([key.value for key, _ in root.value])

    root, streamed_ = stream_mapping(EXAMPLE, "people", ready=lambda root: True,
                                     begin=begin, item=seen.append)
    assert streamed_ and len(seen) == 4
    assert fields_seen == [["version", "timezone", "language", "admins", "units", "people"]]
    # Once read, the fields before the list are let go; the items were never kept.
    [(key, people)] = root.value
    assert key.value == "people" and people.value == []
    assert [n.start_mark.line + 1 for n in seen] == [
        i for i, row in enumerate(EXAMPLE.splitlines(), 1) if row.startswith("  - telegram_id")]


def test_not_streamable_documents_say_so() -> None:
    for text in ("", "- 1\n", "version: 1\npeople: [\n", BASE + "extra: 1\n"):
        with pytest.raises(NotStreamable):
            stream_mapping(text, "people", ready=lambda root: True,
                           begin=lambda root: None, item=lambda node: None)


def test_reading_a_value_does_not_keep_its_node() -> None:
    reader = orgfile._Reader("org.yaml")
    reader.org(orgfile._compose(EXAMPLE, "org.yaml"))
    assert reader._constructor.constructed_objects == {}
