"""``python -m agents.rules``: the registered learning rules as a Markdown table (the README's copy)."""

from agents.rules import RULES, rules_table

print(rules_table(RULES))
