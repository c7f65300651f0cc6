# Shared helpers for scripts/bench.sh: nginx on loopback, process RSS, ports.
# shellcheck shell=bash

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nginx DIR PORT [TLS_DIR]: 1 worker, keep-alive, a small static body; with
# TLS_DIR (cert.pem, key.pem there) over https, HTTP/1.1 only. Prints the master pid.
start_nginx() {
  local dir=$1 port=$2 tls=""
  [ -n "${3:-}" ] && tls=" ssl; ssl_certificate $3/cert.pem; ssl_certificate_key $3/key.pem; ssl_protocols TLSv1.2 TLSv1.3"
  mkdir -p "$dir"
  cat > "$dir/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port$tls;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
NGINX
  nginx -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>&1 &
  echo $!
}

# bench_start: raises the open-files limit, makes $work (removed on exit, when
# every pid in $pids is killed too) and starts nginx on loopback as $target
# (its pid is ${pids[0]}).
bench_start() {
  ulimit -n 200000 2>/dev/null || ulimit -n 65536 2>/dev/null || true
  work=$(mktemp -d)
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
  local port
  port=$(free_port)
  pids+=("$(start_nginx "$work/nginx" "$port")")
  wait_port "$port"
  target=http://127.0.0.1:$port
}

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# Starts BIN's demo target, answering at once, on a free port kept in $demo_port.
start_demo_target() { # BIN
  demo_port=$(free_port)
  "$1" demo-target --listen "127.0.0.1:$demo_port" --faults '{"*": {"delay_ms": 0, "jitter_ms": 0}}' 2>/dev/null &
  pids+=($!)
  wait_port "$demo_port"
}

rss_kib() {
  awk '/^VmRSS/ {print $2}' "/proc/$1/status"
}

# A sloprober config: one scenario, one GET, with the executor settings given.
bench_config() {
  local file=$1 base_url=$2 settings=$3 sleep=${4:-}
  {
    echo "target: {base_url: \"$base_url\", timeout: 30s}"
    echo "daemon: {on_end: hold, profile: bench}"
    echo "scenarios:"
    echo "  bench:"
    [ -n "$sleep" ] && echo "    sleep: $sleep"
    echo "    requests: [{name: get, path: /}]"
    echo "    profiles:"
    echo "      bench: {$settings}"
  } > "$file"
}
