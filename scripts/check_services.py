"""Fail loudly unless the PostgreSQL and Redis that CI promises are usable.

CI must run the PostgreSQL and Redis parts of the suite, never skip them, so an
unreachable server is an error here rather than a skip later.
"""

import os
import sys

import psycopg
import redis


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres"):
        print(f"check_services: DATABASE_URL must point at PostgreSQL, got {database_url!r}", file=sys.stderr)
        return 1
    if not redis_url:
        print("check_services: REDIS_URL is not set", file=sys.stderr)
        return 1
    try:
        with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1), connect_timeout=5) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        print(f"check_services: PostgreSQL {version[0] if version else '?'} at {database_url}")
    except psycopg.Error as exc:
        print(f"check_services: PostgreSQL at {database_url} is unusable: {exc}", file=sys.stderr)
        return 1
    try:
        info = redis.Redis.from_url(redis_url, socket_timeout=5).info("server")
        print(f"check_services: Redis {info['redis_version']} at {redis_url}")
    except redis.RedisError as exc:
        print(f"check_services: Redis at {redis_url} is unusable: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
