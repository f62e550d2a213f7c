"""The rules of team-level safety management, in plain Python.

Nothing here imports ``telegram`` or touches the database: functions take ids,
strings and datetimes, so they can be tested alone and reused by the CLI, the
scheduler and the handlers alike.
"""
