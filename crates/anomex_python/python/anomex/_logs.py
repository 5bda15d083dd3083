"""Log parsing: ``anomex.Drain``, the streaming Drain parser (He et al., ICWS 2017)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import numpy as np

from . import _native


class Drain:
    """A Drain log parser: each message becomes a template id, online.

    ``masks`` are built-in names (``ip``, ``hex``, ``hexid``, ``number``, ``digits``, ``path``,
    ``domain``, ``unit``, ``collapse``) or regular expressions, applied in order. The defaults
    are one setting for every system; a Loghub system's tuned settings are those of
    ``anomex logs --preset NAME --tuned``. ``count_wildcards=True`` is Drain's original
    similarity (share of all positions); the default takes the share of a template's constant
    positions.

    >>> d = anomex.Drain()
    >>> d.parse(["Receive from node 4", "Receive from node 5"])
    array([0, 0])
    >>> d.templates_
    {0: 'Receive from node <*>'}
    """

    def __init__(
        self,
        depth: int = 5,
        similarity: float = 0.7,
        max_children: int = 100,
        masks: Sequence[str] | None = None,
        count_wildcards: bool = False,
    ) -> None:
        config = {
            "depth": int(depth),
            "similarity": float(similarity),
            "max_children": int(max_children),
            "count_wildcards": bool(count_wildcards),
        }
        if masks is not None:
            # otherwise the parser's own default list (docs/logs.md has its accuracy)
            config["masks"] = [str(m) for m in masks]
        self._native = _native.Drain(json.dumps(config))

    def parse(self, messages: Iterable[str]) -> np.ndarray:
        """Parses messages in order, learning from each: one template id per message."""
        return self._native.add(_strings(messages))

    def match(self, messages: Iterable[str]) -> np.ndarray:
        """The template each message would join, without learning (-1 where none would)."""
        return self._native.find(_strings(messages))

    @property
    def templates_(self) -> dict[int, str]:
        """Template text by id."""
        return {i: t for i, t, _ in self._native.templates()}

    @property
    def counts_(self) -> dict[int, int]:
        """How many messages each template has taken, by id."""
        return {i: n for i, _, n in self._native.templates()}

    def parameters(self, template: int, message: str) -> list[str]:
        """A message's parameters: its tokens where the template has ``<*>``."""
        return self._native.parameters(int(template), str(message))

    def to_bytes(self) -> bytes:
        """The whole parser (settings, tree, templates)."""
        return self._native.to_bytes()

    @classmethod
    def from_bytes(cls, state: bytes) -> Drain:
        """A parser from ``to_bytes``; the state is checked before use."""
        parser = cls.__new__(cls)
        parser._native = _native.Drain.from_bytes(bytes(state))
        return parser

    def __getstate__(self) -> bytes:
        return self.to_bytes()

    def __setstate__(self, state: bytes) -> None:
        self._native = _native.Drain.from_bytes(bytes(state))

    def __len__(self) -> int:
        return len(self._native.templates())

    def __repr__(self) -> str:
        return f"Drain({len(self)} templates)"


def _strings(messages: Iterable[str]) -> list[str]:
    if isinstance(messages, str):
        raise TypeError("parse a list of messages, not one string")
    return [str(m) for m in messages]
