"""Scheduled jobs (escalation) and the scheduler's entry point. Nothing here runs at import."""
