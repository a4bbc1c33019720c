"""Generators for the reference docs (CLI reference, data model). Run: python -m levier.devtools.docs."""
