"""The Telegram edge, one module per feature: parse → call storage/domain → render → send."""
