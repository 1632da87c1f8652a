#!/usr/bin/env bash
# A dropped SSH connection while the app trains, tried for real on the
# loopback interface (not part of the test suite):
#
#   sudo bench/ssh_drop.sh [PORT]        (default port 22013; Debian/Ubuntu, run as root)
#
# Installs openssh-server if missing, starts its own sshd bound to 127.0.0.1
# (its own config, host key and authorized key in a temporary folder; the
# system's sshd and ~/.ssh are not touched), and plays a user on a "laptop"
# (a tmux on a private socket) who
#   1. logs in with `ssh -tt`, starts the app and a run (ctrl+r),
#   2. loses the connection (the ssh client is killed),
#   3. logs in again: `freq-tui runs` lists the run, the app attaches to it
#      (Runs, a) and shows it finishing,
#   4. the same with on_hangup = "stop": the run is interrupted at the drop
#      and resumed from the app (Runs, R) after logging in again.
# Every wait is bounded; sshd, tmux and the folder are removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${1:-22013}
BIN="$ROOT/.venv/bin"
WORK=$(mktemp -d /tmp/ssh-drop.XXXXXX)
PROJ="$WORK/project"
T=(tmux -L "ssh-drop-$$" -f /dev/null)

cleanup() {
    "${T[@]}" kill-server 2>/dev/null || true
    if [[ -f "$WORK/sshd.pid" ]]; then kill "$(cat "$WORK/sshd.pid")" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n### %s\n' "$*"; }

if [[ ! -x /usr/sbin/sshd ]]; then
    say "installing openssh-server"
    apt-get install -y openssh-server >/dev/null || { apt-get update >/dev/null && apt-get install -y openssh-server >/dev/null; }
fi

# ---- sshd on 127.0.0.1:PORT, key login as root -----------------------------
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"
cat > "$WORK/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $WORK/host_key
PidFile $WORK/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -f "$WORK/sshd_config" -E "$WORK/sshd.log"
SSH=(ssh -i "$WORK/client_key" -p "$PORT" -o BatchMode=yes -o StrictHostKeyChecking=no
     -o UserKnownHostsFile="$WORK/known_hosts" -o LogLevel=ERROR root@127.0.0.1)
for _ in $(seq 50); do "${SSH[@]}" true 2>/dev/null && break; sleep 0.2; done
say "sshd listening on 127.0.0.1:$PORT: $("${SSH[@]}" 'echo logged in as $(whoami) on $(hostname)')"

# ---- a tiny but real run: about a minute on a busy 2-core CPU -----------
mkdir -p "$PROJ"
"$BIN/python" - "$PROJ" <<'EOF'
import sys
from lstm_core.config import build_config, save_toml
settings = dict(duration=10.0, fs=100.0, frequencies=[1.0, 3.0, 5.0, 7.0], hidden_size=16, batch_size=16,
                epochs=150, patience=150, noise="informative", device="cpu")
save_toml(build_config(settings), f"{sys.argv[1]}/run.toml")
save_toml(build_config({**settings, "on_hangup": "stop"}), f"{sys.argv[1]}/stop.toml")
EOF

screen() { "${T[@]}" capture-pane -p -t "$1" | sed -e 's/[[:space:]]*$//' | grep -v '^$' || true; }
wait_for() {  # SESSION TEXT SECONDS
    for _ in $(seq "$3"); do
        if "${T[@]}" capture-pane -p -t "$1" 2>/dev/null | grep -qF -- "$2"; then return 0; fi
        sleep 1
    done
    echo "!! '$2' did not appear within $3 s on $1:"; screen "$1"; exit 1
}
epochs_done() { cat "$PROJ"/runs/*/metrics.jsonl 2>/dev/null | wc -l; }
login() {  # SESSION: an interactive login over ssh -tt in a laptop terminal
    "${T[@]}" new-session -d -s "$1" -x 100 -y 30 "${SSH[*]} -tt"
    "${T[@]}" set-option -t "$1" remain-on-exit on >/dev/null
    wait_for "$1" "root@" 20
    "${T[@]}" send-keys -t "$1" "export PATH=$BIN:\$PATH LANG=C.UTF-8; cd $PROJ; clear" Enter
    sleep 1
}
drop() {  # SESSION: the connection dies (laptop lid, VPN)
    local pid; pid=$("${T[@]}" display-message -p -t "$1" '#{pane_pid}')
    kill -9 "$pid"
    sleep 2
    echo "ssh client (pid $pid) killed; on the server:"
    pgrep -a -f "freq-tui app --config" | sed "s|$WORK|\$WORK|g" || echo "  no freq-tui process left"
}
remote() { echo "\$ $*"; "${SSH[@]}" "cd $PROJ && PATH=$BIN:\$PATH $*" | sed "s|$WORK|\$WORK|g"; }
open_app() {  # SESSION [ARGS]: log in and open the app
    login "$1"
    "${T[@]}" send-keys -t "$1" "freq-tui app${2:+ $2}" Enter
    wait_for "$1" "Ready:" 60
}
start_training() {  # SESSION: ctrl+r, then wait for the third epoch
    "${T[@]}" send-keys -t "$1" C-r
    for _ in $(seq 120); do [[ $(epochs_done) -ge 3 ]] && break; sleep 1; done
}
open_runs() {  # SESSION TEXT: log in, open the app on Runs (F5), wait for TEXT
    open_app "$1"
    "${T[@]}" send-keys -t "$1" F5
    wait_for "$1" "$2" 20
}

# ---- 1-3: on_hangup = continue (the default) ---------------------------------
say "1. log in, start the app and a run (ctrl+r)"
open_app laptop "--config run.toml"
start_training laptop
sleep 1
screen laptop

say "2. the connection drops after epoch $(epochs_done) of 150"
drop laptop
trainer=$(pgrep -f "freq-tui app --config run.toml")

say "3. log in again: the run goes on"
remote freq-tui runs
open_runs laptop2 "Attach"
"${T[@]}" send-keys -t laptop2 a
wait_for laptop2 "followed" 20
sleep 2
screen laptop2
wait_for laptop2 "run ended:" 240
sleep 2
echo "... and when it ends:"
screen laptop2
"${T[@]}" send-keys -t laptop2 C-q
for _ in $(seq 60); do kill -0 "$trainer" 2>/dev/null || break; sleep 1; done
kill -0 "$trainer" 2>/dev/null && echo "!! the app that lost its terminal (pid $trainer) is still there" \
    || echo "the app that lost its terminal (pid $trainer) has exited"
remote freq-tui runs

# ---- 4: on_hangup = "stop", then resume from the app --------------------------
rm -rf "$PROJ/runs"
say "4. on_hangup = \"stop\": start, drop, log in again, resume from the app (Runs, R)"
open_app laptop3 "--config stop.toml"
start_training laptop3
drop laptop3
for _ in $(seq 60); do pgrep -f "freq-tui app --config stop.toml" >/dev/null || break; sleep 1; done
remote freq-tui runs
open_runs laptop4 "interrupted"
"${T[@]}" send-keys -t laptop4 R
wait_for laptop4 "resumed from epoch" 60
sleep 2
screen laptop4
wait_for laptop4 "done (" 240
"${T[@]}" send-keys -t laptop4 C-q
remote freq-tui runs
say "done; sshd stopped, $WORK removed"
