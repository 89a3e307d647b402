"""The code domain: write a Python function (or program) from a description.

Submitted code is scored by :mod:`dataenvgym.domains.code.sandbox`, which runs it in an
isolated, resource-limited process.
"""
