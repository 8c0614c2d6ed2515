"""Outbound outreach: the daily pipeline that plans, gates, schedules and dispatches patient contacts."""
