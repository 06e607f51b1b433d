"""The grammar of the Matrix spec: identifiers, events (canonical JSON, hashes, IDs, redaction),
the strict JSON codec, and the error type. Pure functions and values: no I/O, no HTTP, and
nothing from the layers above.
"""
