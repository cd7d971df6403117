"""Where messages come from: the platform-neutral protocol and its errors, the request rate limiter, and Discord."""
