"""The seam between the dialogue agent and the language side: facts in, a checked reply out.

`bot` gathers `Fact`s from the store and the search index, adds the plain template rendering it would send if
no model were available, and asks a `ReplyWriter` for the reply. The writer may word it with the model, but
what it returns has passed the claim check: `unsupported` is the count of claims still unsupported after
repair (0 unless the writer fell back), and `fell_back` says the template was sent instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol


@dataclass(frozen=True)
class Fact:
    id: str  # citation id: 'item:<item_id>', 'product:<product_id>', 'order:<order_id>', 'faq:<id>', 'policy:<section>'
    kind: str  # product | order | customer | faq | policy | action
    text: str  # a plain rendering a customer can read
    fields: dict = field(default_factory=dict)  # structured values: price, available, options, status, ...


@dataclass(frozen=True)
class ReplyRequest:
    message: str  # the customer's latest message
    facts: tuple[Fact, ...]
    template: str  # the plain, true-by-construction reply built from the facts
    history: tuple[tuple[str, str], ...] = ()  # (role, text), oldest first; role is 'user' or 'assistant'
    intent: str = ""
    use_model: bool = True  # False: send the template (confirmations of actions are always exact)


@dataclass(frozen=True)
class Claim:
    kind: str  # price | amount | count | id | date | duration | option | availability | policy
    text: str  # the span in the reply
    value: str  # the normalised value that was checked
    supported: bool
    sources: tuple[str, ...] = ()  # ids of the facts that support it
    repaired_to: str | None = None


@dataclass(frozen=True)
class CheckedReply:
    text: str
    claims: tuple[Claim, ...] = ()
    fell_back: bool = False  # the template was sent because the model's reply could not be repaired
    used_model: bool = False

    @property
    def repaired(self) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if c.repaired_to is not None)

    @property
    def unsupported(self) -> int:
        return sum(1 for c in self.claims if not c.supported and c.repaired_to is None)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for c in self.claims for s in c.sources))


class ReplyWriter(Protocol):
    def write(self, request: ReplyRequest) -> CheckedReply: ...

    def stream(self, request: ReplyRequest) -> Iterator[str]:
        """Text pieces as they are produced; the pieces joined equal `write(request).text`."""
        ...
