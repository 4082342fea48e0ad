"""The gateway: the only door for outside callers (REST, tokens, quotas, TF-Serving, OIP)."""
