#!/usr/bin/env bash
# Two `freq-tui tune` processes sharing one study in PostgreSQL, as two boxes
# would: a throw-away cluster (Debian's postgresql package, initdb in a temp
# folder) listening on 127.0.0.1 only, two processes with their own --out
# and the same --storage URL and --study, then a check that the study holds
# every trial once, from both processes, none left running; the cluster is
# stopped and removed at the end.
#
#   bench/tune_postgres.sh            # PYTHON=... TRIALS=... PGPORT=... to change
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
TRIALS=${TRIALS:-8}
PORT=${PGPORT:-54329}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "tune_postgres: PostgreSQL not found (apt-get install postgresql)" >&2; exit 2; }
"$PY" -c "import psycopg" 2>/dev/null || { echo "tune_postgres: psycopg missing (pip install 'freq-lstm[tune-db]')" >&2; exit 2; }

WORK=$(mktemp -d)
AS=()
if [ "$(id -u)" = 0 ]; then  # initdb and postgres refuse to run as root
    chown postgres "$WORK"
    AS=(runuser -u postgres --)
fi
stop() {
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap stop EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U tune >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $WORK" start >/dev/null
"${AS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U tune studies
URL="postgresql://tune@127.0.0.1:$PORT/studies"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, study at $URL"

SPACE="$WORK/space.toml"
printf '[space]\nlr = [0.001, 0.02, "log"]\nhidden_size = [8, 32, "log"]\n' > "$SPACE"
OUT=$(mktemp -d)
ARGS=(tune --duration 1 --fs 100 --frequencies 2,5 --epochs 5 --device cpu --noise informative
      --space "$SPACE" --trials "$TRIALS" --seed-sets 1 --confirm-seeds 0 --storage "$URL" --study pg-bench)
SECONDS=0
"$PY" -m lstm_core "${ARGS[@]}" --out "$OUT/box-a" > "$OUT/box-a.log" 2>&1 & a=$!
"$PY" -m lstm_core "${ARGS[@]}" --out "$OUT/box-b" > "$OUT/box-b.log" 2>&1 & b=$!
ra=0; wait $a || ra=$?
rb=0; wait $b || rb=$?
echo "box a exit $ra, box b exit $rb, ${SECONDS} s"
[ $ra = 0 ] && [ $rb = 0 ] || { for f in "$OUT"/box-*.log; do tail -n 3 "$f"; done; exit 1; }
"$PY" - "$URL" "$TRIALS" <<'EOF'
import collections, sys
import optuna
url, trials = sys.argv[1], int(sys.argv[2])
study = optuna.load_study(study_name="pg-bench", storage=url)
numbers = [t.number for t in study.trials]
states = collections.Counter(t.state.name for t in study.trials)
pids = collections.Counter(t.system_attrs.get("pid") for t in study.trials)
print(f"trials {len(numbers)} (asked for {trials}), states {dict(states)}, trials per process {sorted(pids.values())}")
assert sorted(numbers) == list(range(len(numbers))), "a trial number is missing or repeated"
assert states.get("RUNNING", 0) == 0, "a trial was left running"
# Each box asks under its own study directory's lock: two asks at the same
# moment may give one trial more than asked for, never fewer.
assert trials <= len(numbers) <= trials + 1, "trial count"
assert len(pids) == 2, "both processes ran trials"
print("ok")
EOF
rm -rf "$OUT"
