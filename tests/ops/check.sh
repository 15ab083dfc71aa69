#!/bin/sh
# check.sh [--bin ./newsstand] - checks of the operations files, none of
# which needs a Docker engine or a running systemd:
#   docker/Dockerfile    dockerfile-utils lint (npm, pinned in package.json)
#                        and the project's rules (non-root, health check,
#                        built by docker/build.sh);
#   docker/compose.yaml  docker-compose config (Debian's Compose parses and
#                        validates it) and the hardening it must keep;
#   docker/*.sh          shellcheck, and the entry point's demo loading run
#                        for real against the binary;
#   server/systemd/      systemd-analyze verify and its offline security score;
#   server/newsstand.1   mandoc -Tlint, and the same flags, commands and
#                        variables as `newsstand --help`.
# Installs what is missing (apt-get, npm ci) on a fresh Debian 12, prints a
# line per check and closes with "N passed, N failed"; exit 1 on a failure.
set -u
cd "$(dirname "$0")/../.." || exit 1
bin=./newsstand
[ "${1:-}" = "--bin" ] && bin=$2
here=tests/ops
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# --- tools
need=""
for pair in mandoc:mandoc docker-compose:docker-compose shellcheck:shellcheck \
    systemd-analyze:systemd node:nodejs npm:npm; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need="$need ${pair#*:}"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    # shellcheck disable=SC2086 # one word per package
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
# npm ci again only when the lock file changed since the last install
if ! cmp -s "$here/package-lock.json" "$here/node_modules/.installed-lock" 2>/dev/null; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) &&
        cp "$here/package-lock.json" "$here/node_modules/.installed-lock"
fi

# run NAME COMMAND...: one check; its output is shown only when it fails
run() {
    name=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        sed 's/^/     /' "$tmp/out" | head -n 40
        failed=$((failed + 1))
    fi
}

# has FILE EXTENDED-REGEX...: every pattern matches a line of FILE
has() {
    f=$1
    shift
    for re in "$@"; do
        grep -Eq -- "$re" "$f" || { echo "$f: no line matches /$re/"; return 1; }
    done
}

# --- Dockerfile
dockerfile_rules() {
    d=docker/Dockerfile
    has $d '^FROM debian:12 AS build$' '^FROM debian:12-slim$' \
        '^RUN sh docker/build.sh$' '^HEALTHCHECK ' 'CMD \["newsstand", "healthcheck"\]$' \
        '^VOLUME \["/var/lib/newsstand"\]$' '^ENTRYPOINT ' || return 1
    # the last USER names an unprivileged user, and comes after the last FROM
    last_from=$(grep -n '^FROM ' $d | tail -n 1 | cut -d: -f1)
    user=$(awk -v from="$last_from" 'NR > from && /^USER / { u = $2 } END { print u }' $d)
    case "$user" in
    "" | root | 0 | 0:*) echo "the run stage must end as a non-root USER (got '$user')"; return 1 ;;
    esac
    # every apt-get install leaves no recommends and no package lists in a layer
    if grep -q 'apt-get install' $d; then
        has $d 'apt-get install -y --no-install-recommends' 'rm -rf /var/lib/apt/lists/\*'
    fi
}
run "Dockerfile: dockerfile-utils lint" "$here/node_modules/.bin/dockerfile-utils" lint docker/Dockerfile
run "Dockerfile: non-root, health check, built by docker/build.sh" dockerfile_rules

# --- compose file
compose_rules() {
    docker-compose -f docker/compose.yaml config >"$tmp/compose.yaml" || return 1
    has "$tmp/compose.yaml" '^ +read_only: true$' '^ +- ALL$' '^ +- no-new-privileges:true$' \
        '^ +healthcheck:$' '^ +- healthcheck$' '^ +stop_grace_period: ' \
        '^ +- newsstand-data:/var/lib/newsstand:rw$|^ +source: newsstand-data$' '^ +- /tmp'
}
run "compose.yaml: docker-compose config validates it" docker-compose -f docker/compose.yaml config -q
run "compose.yaml: read-only, cap_drop ALL, no-new-privileges, health check" compose_rules

# --- shell scripts
run "shellcheck docker/*.sh tests/ops/check.sh" shellcheck docker/build.sh docker/entrypoint.sh "$here/check.sh"

entrypoint_loads_demo_once() {
    mkdir -p "$tmp/pathbin" "$tmp/empty"
    ln -sf "$(realpath "$bin")" "$tmp/pathbin/newsstand"
    db=$tmp/demo.db
    PATH="$tmp/pathbin:$PATH" NEWSSTAND_DEMO=1 NEWSSTAND_DEMO_DIR=server/demo NEWSSTAND_DB=$db \
        sh docker/entrypoint.sh newsstand check --db "$db" || return 1
    n=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
        "SELECT (SELECT count(*) FROM articles) * (SELECT count(*) > 0 FROM entities)").fetchone()[0])' "$db")
    [ "$n" -gt 100 ] || { echo "demo database has $n articles with entities"; return 1; }
    PATH="$tmp/pathbin:$PATH" NEWSSTAND_DEMO=1 NEWSSTAND_DEMO_DIR=server/demo NEWSSTAND_DB=$db \
        sh docker/entrypoint.sh true 2>"$tmp/second" || return 1
    if grep -q loading "$tmp/second"; then echo "loaded again into an existing database"; return 1; fi
    # a load that fails leaves no database behind, and runs nothing
    if PATH="$tmp/pathbin:$PATH" NEWSSTAND_DEMO=1 NEWSSTAND_DEMO_DIR="$tmp/empty" \
        NEWSSTAND_DB="$tmp/failed.db" sh docker/entrypoint.sh touch "$tmp/ran"; then
        echo "a failed demo load exited 0"
        return 1
    fi
    if [ -e "$tmp/failed.db" ] || [ -e "$tmp/ran" ]; then
        echo "a failed demo load left a database or ran the command"
        return 1
    fi
}
run "docker/entrypoint.sh: loads the demo once, cleans up a failed load" entrypoint_loads_demo_once

# --- systemd unit (with the binary path pointed at the binary under test)
unit_copy() {
    sed "s|/usr/local/bin/newsstand|$(realpath "$bin")|g" server/systemd/newsstand.service \
        >"$tmp/newsstand.service"
}
unit_verify() {
    unit_copy
    # verify exits 0 on unknown keys and bad values: any output is a failure
    systemd-analyze verify --man=no "$tmp/newsstand.service" >"$tmp/verify" 2>&1
    rc=$?
    cat "$tmp/verify"
    [ $rc -eq 0 ] && [ ! -s "$tmp/verify" ]
}
unit_rules() {
    u=server/systemd/newsstand.service
    has $u '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' '^ProtectHome=yes$' \
        '^PrivateTmp=yes$' '^PrivateDevices=yes$' '^ProtectKernelTunables=yes$' \
        '^ProtectKernelModules=yes$' '^ProtectKernelLogs=yes$' '^ProtectControlGroups=yes$' \
        '^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$' '^RestrictNamespaces=yes$' \
        '^LockPersonality=yes$' '^MemoryDenyWriteExecute=yes$' \
        '^SystemCallFilter=@system-service$' '^SystemCallArchitectures=native$' \
        '^CapabilityBoundingSet=$' '^UMask=0077$' '^StateDirectory=newsstand$' \
        '^KillSignal=SIGTERM$' '^Restart=on-failure$' \
        '^ExecStartPre=/usr/local/bin/newsstand migrate$' || return 1
    # above the server's 10 s drain, with the example grace of the env file
    t=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' $u)
    [ "${t:-0}" -gt 10 ] || { echo "TimeoutStopSec=$t is not above the 10 s drain"; return 1; }
    unit_copy
    systemd-analyze security --offline=yes --threshold=20 --no-pager "$tmp/newsstand.service" \
        >"$tmp/security" 2>&1
    rc=$?
    tail -n 1 "$tmp/security"
    return $rc
}
run "newsstand.service: systemd-analyze verify" unit_verify
run "newsstand.service: hardening kept, exposure at most 2.0" unit_rules

# --- manual page
run "newsstand.1: mandoc -Tlint" mandoc -Tlint -W warning server/newsstand.1

man_matches_help() {
    "$bin" --help >"$tmp/help" || return 1
    mandoc -Tascii server/newsstand.1 | sed "s/.\x08//g" >"$tmp/man"
    words() { grep -oE -- "$1" "$2" | grep -vx -- --help | sort -u; }
    bad=0
    for re in '--[a-z][a-z-]+' 'NEWSSTAND_[A-Z_]+[A-Z]'; do
        words "$re" "$tmp/help" >"$tmp/h"
        words "$re" "$tmp/man" >"$tmp/m"
        comm -23 "$tmp/h" "$tmp/m" | sed 's/^/in --help, not in the man page: /'
        comm -13 "$tmp/h" "$tmp/m" | sed 's/^/in the man page, not in --help: /'
        [ -z "$(comm -3 "$tmp/h" "$tmp/m")" ] || bad=1
    done
    # every command --help lists ("keys create", "check", ...) has an entry in COMMANDS
    grep -oE '^  [a-z]+( [a-z]+)?( |$)' "$tmp/help" | sed 's/^  //; s/ $//' >"$tmp/cmds"
    [ -s "$tmp/cmds" ] || { echo "no commands found in --help"; bad=1; }
    while read -r c; do
        grep -q "^       $c\( \|$\)" "$tmp/man" || { echo "command '$c' has no entry"; bad=1; }
    done <"$tmp/cmds"
    [ $bad -eq 0 ]
}
run "newsstand.1: the same flags, variables and commands as --help" man_matches_help

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
