"""The timetable: APScheduler (through PTB's JobQueue) turns time into domain calls."""
