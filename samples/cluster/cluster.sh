#!/bin/sh
# cluster.sh - a three-node Parley cluster on this machine's loopback.
#
#   samples/cluster/cluster.sh start [embedded|standalone|replicated|standby]
#   samples/cluster/cluster.sh status
#   samples/cluster/cluster.sh stop
#
# embedded (the default): the manager runs inside node n1 (127.0.0.1:8081);
# n2 (:8082) and n3 (:8083) use it. standalone: a node that is only the
# manager listens on 127.0.0.1:8080 and n1, n2, n3 all use it. replicated:
# as embedded, with store = replicated: each node's group has a copy on the
# next node (replication ports 9090-9093, 9100-9103, 9110-9113); kill -9 a
# node and the manager makes its copy the primary. standby: three manager
# sites m1, m2, m3 (127.0.0.1:8080, :8084, :8085; their tables replicated on
# 9120, 9121, 9122) elect the active manager among them, and n1, n2, n3 (as
# replicated) list all three; kill -9 the active site and another takes over.
# Each process has its own data directory under $PARLEY_CLUSTER_DIR
# (default ./cluster) and its log beside it. PARLEYD names the parleyd to run
# (default: the one built in ./build, else the one on the PATH).
# PARLEY_CLUSTER_PORT moves the ports (default 8080: 8080-8085).
set -eu

dir=${PARLEY_CLUSTER_DIR:-./cluster}
base=${PARLEY_CLUSTER_PORT:-8080}
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${PARLEYD:-}" ]; then
	if [ -x "$top/build/container/parleyd" ]; then
		PARLEYD=$top/build/container/parleyd
	else
		PARLEYD=$(command -v parleyd || true)
	fi
fi

# Start one process: NAME PORT -D... ; waits until it answers.
start_one() {
	name=$1 port=$2
	shift 2
	mkdir -p "$dir/$name"
	"$PARLEYD" -d -D node_id="$name" -D listen=127.0.0.1:"$port" -D data_dir="$dir/$name" \
	    -D pid_file="$dir/$name.pid" "$@" >>"$dir/$name.log" 2>&1 &
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$port/parley/status"; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "cluster.sh: $name did not start; its log:" >&2
			tail -n 20 "$dir/$name.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "$name  http://127.0.0.1:$port  (log: $dir/$name.log)"
}

start() {
	[ -n "$PARLEYD" ] || { echo "cluster.sh: no parleyd: build one (./setup.sh demo) or set PARLEYD" >&2; exit 1; }
	mode=${1:-embedded}
	mkdir -p "$dir"
	r1= r2= r3=
	case $mode in
	embedded)
		start_one n1 $((base + 1)) -D manager=embedded
		manager=http://127.0.0.1:$((base + 1))/parley/manager
		;;
	replicated)
		r1="-D store=replicated -D repl_ports=4 -D repl_listen=127.0.0.1:$((base + 1010))"
		r2="-D store=replicated -D repl_ports=4 -D repl_listen=127.0.0.1:$((base + 1020))"
		r3="-D store=replicated -D repl_ports=4 -D repl_listen=127.0.0.1:$((base + 1030))"
		# shellcheck disable=SC2086
		start_one n1 $((base + 1)) -D manager=embedded $r1
		manager=http://127.0.0.1:$((base + 1))/parley/manager
		;;
	standby)
		sites="127.0.0.1:$((base + 1040)) 127.0.0.1:$((base + 1041)) 127.0.0.1:$((base + 1042))"
		manager=
		k=0
		for port in "$base" $((base + 4)) $((base + 5)); do
			k=$((k + 1))
			own=$(echo "$sites" | cut -d' ' -f$k)
			others=$(echo "$sites" | tr ' ' '\n' | grep -vx "$own" | paste -sd, -)
			start_one m$k "$port" --manager-only -D manager_repl="$own" \
			    -D manager_sites="$others"
			manager=${manager:+$manager,}http://127.0.0.1:$port/parley/manager
		done
		r1="-D store=replicated -D repl_ports=4 -D repl_listen=127.0.0.1:$((base + 1010))"
		r2="-D store=replicated -D repl_ports=4 -D repl_listen=127.0.0.1:$((base + 1020))"
		r3="-D store=replicated -D repl_ports=4 -D repl_listen=127.0.0.1:$((base + 1030))"
		# shellcheck disable=SC2086
		start_one n1 $((base + 1)) -D manager="$manager" $r1
		;;
	standalone)
		start_one manager "$base" --manager-only
		manager=http://127.0.0.1:$base/parley/manager
		start_one n1 $((base + 1)) -D manager="$manager"
		;;
	*)
		echo "usage: cluster.sh start [embedded|standalone|replicated|standby]" >&2
		exit 2
		;;
	esac
	# shellcheck disable=SC2086
	start_one n2 $((base + 2)) -D manager="$manager" $r2
	# shellcheck disable=SC2086
	start_one n3 $((base + 3)) -D manager="$manager" $r3
	echo "manager: $manager (WSDL: ${manager%%,*}?wsdl)"
	echo "try: parleyctl -u http://127.0.0.1:$((base + 2)) nodes; stop with: $0 stop"
}

stop() {
	for pidfile in "$dir"/*.pid; do
		[ -f "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		if kill -TERM "$pid" 2>/dev/null; then
			while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
			echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
		fi
		rm -f "$pidfile"
	done
}

status() {
	for port in "$base" $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)); do
		if curl -s -o /dev/null "http://127.0.0.1:$port/parley/status"; then
			echo "127.0.0.1:$port answers"
		fi
	done
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) stop ;;
status) status ;;
*) echo "usage: cluster.sh start [embedded|standalone|replicated|standby] | status | stop" >&2; exit 2 ;;
esac
