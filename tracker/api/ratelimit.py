"""Per-token rate limit: a fixed window (API_RATE_LIMIT requests per API_RATE_WINDOW seconds).

Counted in Redis when REDIS_URL is set (every machine shares it), else in the database
(`api_rate_counts`, one upserted row per token and window), so the limit holds across web
workers and machines either way. Over the limit: 429 with Retry-After (seconds to the next window).
"""

from __future__ import annotations

import time
from typing import Optional

from flask import current_app
from sqlalchemy import delete

from tracker.extensions import db
from tracker.models import ApiRateCount


def _limits() -> tuple[int, int]:
    return int(current_app.config.get("API_RATE_LIMIT", 600)), int(current_app.config.get("API_RATE_WINDOW", 60))


def _count_in_database(token_id: int, window: int) -> int:
    table = ApiRateCount.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(token_id=token_id, bucket=window, count=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.token_id, table.c.bucket], set_={"count": table.c.count + 1}
    ).returning(table.c.count)
    count = db.session.execute(statement).scalar_one()
    if count == 1:  # a new window: forget this token's old ones
        db.session.execute(delete(ApiRateCount).where(ApiRateCount.token_id == token_id, ApiRateCount.bucket < window))
    return count


def _count_in_redis(client, token_id: int, window: int, seconds: int) -> Optional[int]:
    import redis

    key = f"tracker:api-rate:{token_id}:{window}"
    try:
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, seconds * 2)
        return int(pipe.execute()[0])
    except redis.RedisError:
        return None  # Redis away: fall back to the database rather than refuse everyone


def hit(token_id: int, now: Optional[float] = None) -> Optional[int]:
    """Count one request; the seconds to wait when over the limit, else None. The caller commits."""
    from tracker.progress.pages import redis_client

    limit, seconds = _limits()
    now = time.time() if now is None else now
    window = int(now // seconds)
    client = redis_client()
    count = _count_in_redis(client, token_id, window, seconds) if client is not None else None
    if count is None:
        count = _count_in_database(token_id, window)
    if count > limit:
        return max(1, int((window + 1) * seconds - now + 0.999))
    return None
