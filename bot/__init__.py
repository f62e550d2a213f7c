"""Wiring: settings, the `safetybot` CLI, the Application factory, the error handler."""
