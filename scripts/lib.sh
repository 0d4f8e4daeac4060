# Shell helpers shared by the project's scripts (demo, benchmarks): sourced, never run.
# Each one does one small thing the scripts would otherwise repeat with the same subtle details.

# free_port: prints a TCP port that is free on 127.0.0.1 right now (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_listening PORT: true once something listens on 127.0.0.1:PORT. Read from /proc/net/tcp,
# so no connection is opened just to look (it would count as a session in the server's stats).
port_listening() {
  grep -qE "^ *[0-9]+: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A " /proc/net/tcp
}

# wait_gone PID TENTHS: true when process PID has exited within TENTHS tenths of a second.
wait_gone() {
  local i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$1" 2>/dev/null
}

# kill_now PID: if PID (a child of this shell) still runs, kill it at once and reap it. For the
# EXIT traps of scripts that start a server in the background.
kill_now() {
  if [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; then
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
