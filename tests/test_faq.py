"""The FAQ never says more than the shop's policy: every quote, number and rule is checked against policy.md."""
import json
import re

import pytest

from knowledge.errors import DataFileError
from knowledge.faq import load_faq, load_policy

WORD_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                "fifty": "50", "once": "1", "single": "1"}


def _numbers(text: str) -> set[str]:
    found = set(re.findall(r"\d+(?:\.\d+)?", text))
    found |= {WORD_NUMBERS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in WORD_NUMBERS}
    return found


def faq_problems(entries, policy: str) -> list[str]:
    problems = []
    policy_numbers = _numbers(policy)
    for e in entries:
        if not e.policy:
            problems.append(f"{e.id}: cites no policy")
        for quote in e.policy:
            if quote not in policy:
                problems.append(f"{e.id}: quote not in policy: {quote!r}")
        quoted_numbers = _numbers(" ".join(e.policy))
        for n in _numbers(e.answer) - {"1"}:
            if n not in quoted_numbers or n not in policy_numbers:
                problems.append(f"{e.id}: number {n} not backed by its policy quotes")
        for term in re.findall(r"(?<![A-Za-z])'([^']+)'", e.answer):  # quoted terms, e.g. accepted cancellation reasons
            if f"'{term}'" not in policy:
                problems.append(f"{e.id}: quoted term {term!r} not in policy")
    return problems


def test_faq_has_enough_entries_and_is_backed_by_policy():
    entries, policy = load_faq(), load_policy()
    assert len(entries) >= 30
    assert faq_problems(entries, policy) == []


def test_cancellation_reasons_match_policy_exactly():
    policy = load_policy()
    reasons = set(re.search(r"either '([^']+)' or '([^']+)'", policy).groups())
    entry = next(e for e in load_faq() if e.id == "cancel-reasons")
    assert set(re.findall(r"'([^']+)'", entry.answer)) == reasons


def test_refund_times_match_policy():
    policy = load_policy()
    days = re.search(r"(\d+) to (\d+) business days", policy).groups()
    for e in load_faq():
        for found in re.findall(r"(\d+) to (\d+) business days", e.answer):
            assert found == days, e.id


def test_rule_statements_match_policy():
    """Which statuses allow which action: the FAQ's statements must be the policy's."""
    policy, faq = load_policy(), {e.id: e.answer for e in load_faq()}
    for action, status in (("cancelled", "pending"), ("modified", "pending"), ("returned", "delivered"),
                           ("exchanged", "delivered")):
        assert f"can only be {action} if its status is '{status}'" in policy
    assert "pending" in faq["cancel-who"] and "pending" in faq["modify-address"]
    assert "delivered" in faq["return-who"] and "delivered" in faq["exchange-who"]
    assert "gift card, PayPal account and credit card" in faq["payment-methods"]


@pytest.mark.parametrize("bad_answer", [
    "A gift card is refunded immediately; any other payment method in 3 to 5 business days.",
    "We accept the reasons 'no longer needed', 'ordered by mistake' or 'found it cheaper'.",
    "We sell 60 types of products.",
])
def test_checker_catches_a_doctored_faq(bad_answer):
    entries = load_faq()
    doctored = [e.__class__(e.id, e.question, bad_answer, e.policy) if e.id == "cancel-refund" else e for e in entries]
    assert faq_problems(doctored, load_policy())


def test_malformed_faq_file_is_rejected_with_the_entry(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text(json.dumps([{"id": "a", "question": "Q?", "answer": ""}]))
    with pytest.raises(DataFileError, match="entry 'a': 'answer' must be a non-empty string"):
        load_faq(path)
    path.write_text("[")
    with pytest.raises(DataFileError, match="cannot read the FAQ"):
        load_faq(path)
