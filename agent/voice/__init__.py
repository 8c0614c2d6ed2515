"""The voice channel: media-stream grants, the voice session, call webhooks."""
