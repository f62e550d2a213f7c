"""Every action's single home: plain values in, an outcome out.

A service function takes ids, texts, datetimes and an actor; it works in one
transaction, applies the rules from ``domain/``, writes through ``storage/``,
queues notices in the outbox, and returns what happened (or the refusal) and
what it queued. Chat handlers, the timetable's sweeps, the CLI and the sandbox
call the same functions. Nothing here imports ``telegram``, ``handlers``,
``scheduler`` or ``bot``.
"""
