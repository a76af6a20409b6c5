"""Prints shell `export` lines for the test run: PostgreSQL and Redis when reachable.

Explicit DATABASE_URL / REDIS_URL win. Otherwise the local defaults (127.0.0.1:5432, :6379) are
probed; what is not reachable is left unset, and the tests that need it skip (or fail under CI).
"""

import os
import shlex
import socket

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/omni"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    db = os.environ.get("DATABASE_URL") or (DEFAULT_DB if reachable("127.0.0.1", 5432) else "")
    redis = os.environ.get("REDIS_URL") or (DEFAULT_REDIS if reachable("127.0.0.1", 6379) else "")
    for name, value in (("DATABASE_URL", db), ("REDIS_URL", redis)):
        if value:
            print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
