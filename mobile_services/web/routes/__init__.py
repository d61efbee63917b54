"""One router per resource (STYLE.md item 7)."""
