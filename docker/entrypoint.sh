#!/bin/sh
# entrypoint.sh - the image's entry point. With NEWSSTAND_DEMO=1 and no
# database file yet, it first loads the demo gazetteer and articles into
# NEWSSTAND_DB, as `make run` does (a failed load leaves no database behind);
# then it runs the command given, by default `newsstand serve`, in its place
# (exec), so the server gets SIGTERM from `docker stop` directly.
set -eu
db=${NEWSSTAND_DB:-/var/lib/newsstand/newsstand.db}
demo=${NEWSSTAND_DEMO_DIR:-/usr/share/newsstand/demo}
if [ "${NEWSSTAND_DEMO:-0}" = 1 ] && [ ! -e "$db" ]; then
    echo "newsstand-entrypoint: loading the demo corpus into $db" >&2
    if ! { newsstand entities import "$demo/gazetteer.ndjson" --db "$db" >/dev/null &&
           newsstand import "$demo/articles.ndjson" --db "$db"; }; then
        rm -f "$db" "$db-wal" "$db-shm"
        exit 1
    fi
fi
exec "$@"
