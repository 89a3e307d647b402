"""The learned teacher: a parameterised allocation rule (:mod:`.policy`), trained from
episode returns by the cross-entropy method (:mod:`.cem`, :mod:`.episodes`), shipped as a
checkpoint (``teacher.json``) that the built-in agent ``learned`` loads."""
