"""gunicorn settings; gunicorn reads ./gunicorn.conf.py from its working directory by default."""

import gc


def post_worker_init(worker):
    """The app is loaded: move its long-lived objects (mappers, catalogues, compiled templates)
    out of the cyclic collector's reach, so that a full collection does not walk them on a
    request's time (it showed as 50-100 ms spikes at the tail of the progress benchmark)."""
    gc.freeze()
