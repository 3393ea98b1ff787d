#!/bin/bash
# Start a seeded Tryton 6.0 (Debian packages) on 127.0.0.1 for Invoice Courier's tests.
#
#   test/services/tryton-start.sh DIR PORT [DBNAME]
#
# Creates DIR/{db,attach}, writes DIR/trytond.conf, creates the SQLite database DBNAME (default
# "courier") with account_invoice activated, seeds it (tryton-seed.py; its JSON summary goes to
# DIR/seed.json), starts `trytond` on 127.0.0.1:PORT in the background, waits until it answers, and
# writes DIR/server.pid. Timings go to DIR/timings.txt and stdout. Admin login: admin / DIR/adminpass.
#
# Databases are cached: with TRYTON_CACHE_DIR set, a database seeded today by the same seed script is
# copied instead of created again, and the activated (unseeded) database is kept across days, keyed by
# the installed Tryton version. Measured: activate 12-34 s, seed 5-20 s (idle vs loaded 2-CPU machine),
# server ready 1-4 s; from the cache 2-5 s in all.
#
# Needs: tryton-server tryton-modules-account-invoice tryton-modules-account-invoice-history
#        tryton-modules-party tryton-modules-company tryton-modules-currency tryton-proteus
set -euo pipefail
D=${1:?usage: tryton-start.sh DIR PORT [DBNAME]}
PORT=${2:?usage: tryton-start.sh DIR PORT [DBNAME]}
DB=${3:-courier}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v trytond >/dev/null || { echo "trytond not installed" >&2; exit 3; }

rm -rf "$D"; mkdir -p "$D/db" "$D/attach"
D=$(cd "$D" && pwd)
cat > "$D/trytond.conf" <<CONF
[database]
uri = sqlite://
path = $D/db
list = False
[web]
listen = 127.0.0.1:$PORT
root = /nonexistent
[session]
authentications = password
[attachment]
path = $D/attach
CONF
printf 'admin-secret\n' > "$D/adminpass"
export TRYTONPASSFILE="$D/adminpass"

now() { date +%s.%N; }
T0=$(now)
KEY=""
if [ -n "${TRYTON_CACHE_DIR:-}" ]; then
  KEY=$( (cat "$HERE/tryton-seed.py" "$0"; date +%F; dpkg-query -W -f='${Version}' tryton-server 2>/dev/null || true) | sha256sum | cut -c1-16)
fi
if [ -n "$KEY" ] && command -v flock >/dev/null; then
  # Test files start their servers in parallel: one seeds, the others wait and copy its result.
  mkdir -p "$TRYTON_CACHE_DIR"
  exec 9>"$TRYTON_CACHE_DIR/$KEY.lock"
  flock 9
fi
if [ -n "$KEY" ] && [ -f "$TRYTON_CACHE_DIR/$KEY/db.sqlite" ]; then
  cp "$TRYTON_CACHE_DIR/$KEY/db.sqlite" "$D/db/$DB.sqlite"
  cp "$TRYTON_CACHE_DIR/$KEY/seed.json" "$D/seed.json"
  T1=$(now); T2=$T1; CACHED=yes
else
  # The activated, unseeded database depends only on the installed Tryton: cached across days.
  BASE=""
  [ -n "$KEY" ] && BASE="$TRYTON_CACHE_DIR/base-$( (cat "$0"; dpkg-query -W -f='${Version}' tryton-server tryton-modules-account-invoice 2>/dev/null || true) | sha256sum | cut -c1-16).sqlite"
  if [ -n "$BASE" ] && [ -f "$BASE" ]; then
    cp "$BASE" "$D/db/$DB.sqlite"
  else
    touch "$D/db/$DB.sqlite"            # the SQLite backend needs the file to exist
    trytond-admin -c "$D/trytond.conf" -d "$DB" -u account_invoice --activate-dependencies \
      --email admin@spike.example > "$D/admin.log" 2>&1 || { tail -20 "$D/admin.log" >&2; exit 1; }
    if [ -n "$BASE" ]; then cp "$D/db/$DB.sqlite" "$BASE.tmp$$" && mv "$BASE.tmp$$" "$BASE"; fi
  fi
  T1=$(now)
  /usr/bin/python3 -W ignore "$HERE/tryton-seed.py" "$D/trytond.conf" "$DB" > "$D/seed.log" 2>&1 \
    || { tail -30 "$D/seed.log" >&2; exit 1; }
  tail -n 1 "$D/seed.log" > "$D/seed.json"
  T2=$(now); CACHED=no
  if [ -n "$KEY" ]; then
    mkdir -p "$TRYTON_CACHE_DIR/$KEY.tmp$$"
    cp "$D/db/$DB.sqlite" "$TRYTON_CACHE_DIR/$KEY.tmp$$/db.sqlite"
    cp "$D/seed.json" "$TRYTON_CACHE_DIR/$KEY.tmp$$/seed.json"
    mv -T "$TRYTON_CACHE_DIR/$KEY.tmp$$" "$TRYTON_CACHE_DIR/$KEY" 2>/dev/null || rm -rf "$TRYTON_CACHE_DIR/$KEY.tmp$$"
  fi
fi

[ -n "$KEY" ] && command -v flock >/dev/null && exec 9>&-   # release the seeding lock

# setsid: the server outlives this script and gets its own process group (stop = kill -- -PGID).
setsid trytond -c "$D/trytond.conf" -d "$DB" > "$D/server.log" 2>&1 < /dev/null &
echo $! > "$D/server.pid"
for _ in $(seq 1 300); do
  if curl -sf -o /dev/null -m 2 -H 'Content-Type: application/json' \
      -d '{"id":0,"method":"common.server.version","params":[]}' "http://127.0.0.1:$PORT/"; then
    T3=$(now)
    printf 'cached %s, admin+activate %.1fs, seed %.1fs, server-ready %.1fs, total %.1fs\n' "$CACHED" \
      "$(echo "$T1-$T0" | bc)" "$(echo "$T2-$T1" | bc)" "$(echo "$T3-$T2" | bc)" "$(echo "$T3-$T0" | bc)" \
      | tee "$D/timings.txt"
    exit 0
  fi
  kill -0 "$(cat "$D/server.pid")" 2>/dev/null || { tail -20 "$D/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "trytond did not answer on port $PORT" >&2
kill "$(cat "$D/server.pid")" 2>/dev/null || true
exit 1
