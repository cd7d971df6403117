"""Discord's REST API through discord.py: the client, channel discovery, per-route bucket pacing."""
