"""Impersonation scanner services: scans (upload, job, verdict, alerts) and cases (review, takedown)."""
