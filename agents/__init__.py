"""gridlab agents: exact dynamic programming (``agents.dp``) and learning agents compared with it."""
