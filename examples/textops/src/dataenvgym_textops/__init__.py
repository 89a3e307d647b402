"""Example dataenvgym plugin: the ``textops`` domain and the ``textops-tiny`` student."""

from dataenvgym_textops.domain import TextOpsDomain, make_domain
from dataenvgym_textops.student import make_student

__all__ = ["TextOpsDomain", "make_domain", "make_student"]
