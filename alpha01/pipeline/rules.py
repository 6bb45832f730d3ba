"""Rules: the merchant's own auto-replies, handoff triggers, opt-out and blocklist.

A rule matches the message text (or the sender's name) by keyword (any of `a|b|c` contained),
regex, or exact text; the first enabled rule by priority whose hours condition holds wins.
"""

from __future__ import annotations

import re

from ..config import ShopSettings
from ..domain import Decision, Rule, Tier
from ..errors import InputError

MATCHES = ("keyword", "regex", "exact")
ACTIONS = ("reply", "handoff", "ignore", "optout")
FIELDS = ("text", "sender")
HOURS = ("always", "open", "closed")
# Ignored around an exact match: "谢谢！" and "好的~" are "谢谢" and "好的".
_EDGE = " \t\n!！。.~～?？,，、…"


def validate(rule: Rule) -> None:
    """Raise InputError with a clear message for a rule that cannot work."""
    if rule.match not in MATCHES:
        raise InputError(f"rule match must be one of {', '.join(MATCHES)}, got {rule.match!r}")
    if rule.action not in ACTIONS:
        raise InputError(f"rule action must be one of {', '.join(ACTIONS)}, got {rule.action!r}")
    if rule.field not in FIELDS:
        raise InputError(f"rule field must be one of {', '.join(FIELDS)}, got {rule.field!r}")
    if rule.hours not in HOURS:
        raise InputError(f"rule hours must be one of {', '.join(HOURS)}, got {rule.hours!r}")
    if not rule.pattern.strip():
        raise InputError("rule pattern is empty")
    if rule.match == "regex":
        try:
            re.compile(rule.pattern)
        except re.error as exc:
            raise InputError(f"rule pattern is not a valid regex: {exc}") from exc
    if rule.action == "reply" and not (rule.reply or "").strip():
        raise InputError("a reply rule needs --reply text")


class RuleSet:
    """Enabled rules in priority order, patterns compiled once."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = sorted((r for r in rules if r.enabled), key=lambda r: (r.priority, r.id))
        self._compiled = [r.compiled() for r in self.rules]

    def match(self, text: str, sender: str, *, is_open: bool) -> Rule | None:
        low_text, low_sender = text.lower(), sender.lower()
        for rule, pat in zip(self.rules, self._compiled, strict=True):
            if rule.hours == "open" and not is_open or rule.hours == "closed" and is_open:
                continue
            subject = low_sender if rule.field == "sender" else low_text
            if isinstance(pat, re.Pattern):
                hit = pat.search(text if rule.field == "text" else sender) is not None
            elif isinstance(pat, frozenset):
                hit = subject.strip(_EDGE) in pat
            else:
                hit = any(p in subject for p in pat)
            if hit:
                return rule
        return None


def evaluate(rules: RuleSet, text: str, sender: str, *, is_open: bool,
             shop: ShopSettings) -> Decision:
    """The rules stage: a merchant rule decides, or the message goes on."""
    rule = rules.match(text, sender, is_open=is_open)
    if rule is None:
        return Decision.proceed("no rule matched", is_open=is_open)
    trace = {"rule": {"id": rule.id, "name": rule.name, "action": rule.action}}
    if rule.action == "reply":
        d = Decision.respond(rule.reply or "", Tier.RULE, f"rule:{rule.name}", **trace)
    elif rule.action == "optout":
        d = Decision.respond(rule.reply or "已为您退订。", Tier.RULE, f"optout:{rule.name}",
                             optout=True, **trace)
        d.opt_out = True
    elif rule.action == "handoff":
        reply = shop.handoff_reply if is_open else shop.after_hours_reply
        d = Decision.handoff(reply, f"rule:{rule.name}", **trace)
    else:
        d = Decision.ignore(f"rule:{rule.name}", **trace)
    d.rule_id = rule.id
    return d
