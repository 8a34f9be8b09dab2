"""Framework-free provenance: platform keys, C2PA signing, invisible watermark, video fingerprint.

Nothing here imports Django, Celery or Channels; the Django app wraps these functions in services.
"""
