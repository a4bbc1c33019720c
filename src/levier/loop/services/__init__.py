"""Loop services: one module per concept, each function takes a SQLAlchemy ``Session`` first.

Services validate input, enforce the rules of the Retro ROI loop and raise
:class:`levier.errors.LevierError` subclasses; they flush but never commit (the caller owns the
transaction: ``with ws.session() as s, s.begin(): …``).
"""

__all__: list[str] = []
