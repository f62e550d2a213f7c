"""The Telegram edge, one module per feature: parse the update → call a service → answer."""
