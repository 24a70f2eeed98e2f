"""gunicorn settings; gunicorn reads ./gunicorn.conf.py from its working directory by default."""

import gc

# A worker silent for longer than this is killed and restarted. The longest request the app
# still serves in a worker is a direct export just under EXPORT_BACKGROUND_ROWS (50,000 rows:
# about 6 s as .xlsx on a 2-core machine, from the 112 s measured for 1,000,000 rows); larger
# exports are written by the scheduler process (tracker/exports/jobs.py) and the page only
# polls their progress. 60 s leaves ten times that margin for a slow disk or a busy database,
# and still frees a hung worker within a minute. (gunicorn's default is 30 s; never raise this
# to make a long request fit: give it a background job instead.)
timeout = 60
graceful_timeout = 30


def post_worker_init(worker):
    """The app is loaded: move its long-lived objects (mappers, catalogues, compiled templates)
    out of the cyclic collector's reach, so that a full collection does not walk them on a
    request's time (it showed as 50-100 ms spikes at the tail of the progress benchmark)."""
    gc.freeze()
