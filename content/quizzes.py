"""Loading the quiz question banks (``content/quizzes/*.yaml`` or the plant's own folder)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from content.render import CONTENT_DIR
from domain.quiz import QuestionBank, QuestionBankError, build_bank

SHIPPED_QUIZZES = CONTENT_DIR / "quizzes"


def load_question_banks(directory: Path) -> QuestionBank:
    """Every ``*.yaml`` bank of a folder, in file-name order; no folder means no questions.

    Raises:
        QuestionBankError: a file is not valid YAML or not a valid bank (the message
            names the file and the question).
    """
    files = []
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise QuestionBankError(f"{path.name}: not valid YAML ({exc})") from exc
        files.append((path.name, data))
    return build_bank(files)


@cache
def shipped_bank() -> QuestionBank:
    """The starter bank that comes with the bot (read once)."""
    return load_question_banks(SHIPPED_QUIZZES)
