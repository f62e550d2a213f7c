"""Typed button data: one small class per kind of button, packed into ≤ 64 bytes.

A button carries ``prefix:field:field…`` (Telegram allows 64 bytes of
``callback_data``). Each kind of button is a frozen dataclass that names its
fields and their types, in the manner of aiogram's ``CallbackData``::

    @dataclass(frozen=True)
    class HazardStep(Button, prefix="hz"):
        action: Literal["ack", "show"]
        hazard_id: int

    HazardStep("ack", 42).pack()           # "hz:ack:42"
    HazardStep.unpack("hz:ack:42")         # HazardStep(action="ack", hazard_id=42)
    HazardStep.unpack("hz:ack:99999999999999999999")  # None: not a row id of ours

A test packs the longest value of every registered kind (:meth:`Button.check`),
so a kind that could exceed Telegram's limit fails in the suite, not in a group chat.
Anyone can send any callback data: :meth:`Button.unpack` returns None for
anything malformed, and the handler still checks the clicker's rights.

Field types: ``int`` (a row id or count, ASCII digits 0..``MAX_ARG``),
``Literal["a", "b"]`` (one of the words), ``Annotated[str, Chars(n)]`` (free text
of at most n characters without ``:``) and ``bool`` (``1``/``0``). A field with a
default may be left off the end of the data.

The module also keeps the untyped helpers (:func:`pack`, :func:`unpack`,
:func:`int_arg`) that older buttons still use.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, get_args, get_origin, get_type_hints

MAX_BYTES = 64
# Row ids are 32-bit integers on PostgreSQL (and SQLite refuses anything past 2**63):
# a forged button with a bigger number is simply not ours, never a database error.
MAX_ARG = 2**31 - 1
SEPARATOR = ":"
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class Chars:
    """The most characters a free-text field may hold (``Annotated[str, Chars(8)]``)."""

    limit: int


class _Field:
    """How one field is written and read back."""

    def __init__(self, name: str, hint: Any, default: Any) -> None:
        self.name = name
        self.default = default
        self.optional = default is not dataclasses.MISSING
        self.choices: tuple[str, ...] | None = None
        self.chars: int | None = None
        origin = get_origin(hint)
        if hint is int:
            self.kind = "int"
        elif hint is bool:
            self.kind = "bool"
        elif origin is Literal:
            self.kind = "choice"
            self.choices = tuple(str(choice) for choice in get_args(hint))
        elif origin is typing.Annotated:
            base, *extra = get_args(hint)
            limits = [item for item in extra if isinstance(item, Chars)]
            if base is not str or not limits:
                raise TypeError(f"field {name}: use Annotated[str, Chars(n)]")
            self.kind, self.chars = "text", limits[0].limit
        else:
            raise TypeError(f"field {name}: {hint!r} is not a button field type")

    def write(self, value: Any) -> str:
        """The field as text; refuses values that would not read back the same."""
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 0 <= value <= MAX_ARG:
                raise ValueError(f"{self.name}={value!r}: not a number in 0..{MAX_ARG}")
            return str(value)
        if self.kind == "bool":
            return "1" if value else "0"
        text = str(value)
        if self.choices is not None and text not in self.choices:
            raise ValueError(f"{self.name}={value!r}: not one of {self.choices}")
        if self.chars is not None and (len(text) > self.chars or SEPARATOR in text):
            raise ValueError(f"{self.name}={value!r}: over {self.chars} characters or has ':'")
        return text

    def read(self, text: str) -> Any:
        """The field's value, or raise ValueError when the text is not one."""
        if self.kind == "int":
            value = int_arg([text], 0)
            if value is None:
                raise ValueError(text)
            return value
        if self.kind == "bool":
            if text not in ("0", "1"):
                raise ValueError(text)
            return text == "1"
        if self.choices is not None and text not in self.choices:
            raise ValueError(text)
        if self.chars is not None and len(text) > self.chars:
            raise ValueError(text)
        return text

    def longest(self) -> Any:
        """The value that packs longest (to check Telegram's limit once, at import)."""
        if self.kind == "int":
            return MAX_ARG
        if self.kind == "bool":
            return True
        if self.choices is not None:
            return max(self.choices, key=lambda c: len(c.encode("utf-8")))
        # The widest character Telegram counts: four UTF-8 bytes each.
        return "\U0001f6a7" * (self.chars or 0)


class Button:
    """Base of every typed button; subclass as a frozen dataclass with ``prefix=``."""

    prefix: ClassVar[str]
    _fields: ClassVar[tuple[_Field, ...]]
    registry: ClassVar[dict[str, list[type[Button]]]] = {}

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix or SEPARATOR in prefix:
            raise TypeError(f"{cls.__name__}: a prefix is a short word without ':'")
        cls.prefix = prefix
        Button.registry.setdefault(prefix, []).append(cls)

    @classmethod
    def _spec(cls) -> tuple[_Field, ...]:
        # Built lazily: the dataclass decorator runs after __init_subclass__.
        spec: tuple[_Field, ...] | None = cls.__dict__.get("_fields")
        if spec is None:
            hints = get_type_hints(cls, include_extras=True)
            spec = tuple(
                _Field(f.name, hints[f.name], f.default)
                for f in dataclasses.fields(cls))  # type: ignore[arg-type]
            cls._fields = spec
        return spec

    @classmethod
    def longest_data(cls) -> str:
        """The longest callback data this kind can produce."""
        values = {f.name: f.longest() for f in cls._spec()}
        return cls(**values).pack()

    def pack(self) -> str:
        """This button as callback data (refuses anything Telegram would reject)."""
        spec = list(self._spec())
        # Trailing fields left at their default are not written: shorter data.
        while spec and spec[-1].optional and getattr(self, spec[-1].name) == spec[-1].default:
            spec.pop()
        return pack(self.prefix, *(f.write(getattr(self, f.name)) for f in spec))

    @classmethod
    def unpack(cls, data: str | None) -> Self | None:
        """The button behind callback data, or None when it is not one of this kind."""
        if not data:
            return None
        prefix, *texts = data.split(SEPARATOR)
        spec = cls._spec()
        required = sum(1 for f in spec if not f.optional)
        if prefix != cls.prefix or not required <= len(texts) <= len(spec):
            return None
        try:
            values = {f.name: f.read(text) for f, text in zip(spec, texts, strict=False)}
        except ValueError:
            return None
        return cls(**values)

    @classmethod
    def check(cls) -> None:
        """Raise when the longest value of this kind exceeds Telegram's 64 bytes."""
        cls.longest_data()


def parse_button(data: str | None) -> Button | None:
    """The typed button behind any callback data, or None when no kind reads it."""
    if not data:
        return None
    for kind in Button.registry.get(data.split(SEPARATOR, 1)[0], []):
        button = kind.unpack(data)
        if button is not None:
            return button
    return None


def keyboard(rows: list[list[tuple[str, Button | str]]]) -> dict[str, Any]:
    """An inline keyboard as the Bot API takes it: (label, button or URL) per key.

    Plain values, so services can queue it in the outbox and handlers can send it.
    """
    return {"inline_keyboard": [
        [{"text": label, "url": target} if isinstance(target, str)
         else {"text": label, "callback_data": target.pack()} for label, target in row]
        for row in rows]}


def no_keyboard() -> Mapping[str, Any]:
    """An empty inline keyboard: what an edit sends to take the buttons away."""
    return {"inline_keyboard": []}


# ------------------------------------------------------------------ untyped helpers


def pack(*parts: str | int) -> str:
    """Join parts into callback data, refusing anything Telegram would reject."""
    data = SEPARATOR.join(str(part) for part in parts)
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data must be 1..{MAX_BYTES} bytes: {data!r}")
    return data


def unpack(data: str | None, feature: str) -> list[str] | None:
    """Split callback data of ``feature``; None if it is not ours or malformed."""
    if not data:
        return None
    parts = data.split(SEPARATOR)
    if parts[0] != feature or len(parts) < 2:
        return None
    return parts[1:]


def int_arg(parts: list[str], index: int) -> int | None:
    """The ``index``-th argument as an int in 0..``MAX_ARG``, or None when missing or not one.

    Only ASCII digits count: ``int()`` would also read "-1", " 7", "1_0" and "١".
    """
    if index >= len(parts) or index < -len(parts):
        return None
    text = parts[index]
    if not text or len(text) > 10 or not set(text) <= _DIGITS:
        return None
    value = int(text)
    return value if value <= MAX_ARG else None
