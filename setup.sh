#!/bin/sh
# setup.sh - everything a fresh Debian machine needs, in two commands:
#
#   ./setup.sh demo   install what is missing, build, start a node with the sample
#                     services on 127.0.0.1:8080 and hold one cart conversation
#                     against it; the node runs until Ctrl-C
#   ./setup.sh test   install what is missing, build, run every test, then build
#                     again with AddressSanitizer and UndefinedBehaviorSanitizer
#                     and run every test again
#
# Run it as root (it calls apt-get), or as a user with sudo. It builds in
# ./build and ./build-san and leaves the source tree otherwise untouched.
set -eu

top=$(cd "$(dirname "$0")" && pwd)
cd "$top"

# Debian packages the build, the tests and the sample clients use.
PACKAGES="build-essential autoconf automake pkg-config ca-certificates curl
gsoap libgsoap-dev libxml2-dev libdb-dev db-util libcunit1-dev
python3 python3-zeep libsoap-lite-perl nodejs npm wrk iproute2 procps"

say() { printf '==> %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "setup.sh: '$*' needs root; run this script as root or install sudo" >&2
		exit 1
	fi
}

install_packages() {
	missing=""
	for p in $PACKAGES; do
		# node and npm may come from elsewhere than Debian; a working one is enough.
		case $p in
		nodejs) command -v node >/dev/null 2>&1 && continue ;;
		npm) command -v npm >/dev/null 2>&1 && continue ;;
		esac
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing="$missing $p"
		fi
	done
	if [ -n "$missing" ]; then
		say "installing:$missing"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
		# shellcheck disable=SC2086
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
	else
		say "every Debian package needed is installed"
	fi
	if [ ! -d samples/clients/node/node_modules/soap ]; then
		say "installing the node soap client (npm ci in samples/clients/node)"
		(cd samples/clients/node && npm ci --no-audit --no-fund --loglevel=error)
	fi
}

ncpu() { nproc 2>/dev/null || echo 2; }

build() {
	dir=$1
	shift
	[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || {
		say "autoreconf"
		autoreconf -fi
	}
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		say "configure in $dir $*"
		(cd "$dir" && "$top/configure" -q "$@")
	fi
	say "make in $dir"
	make -C "$dir" -s -j"$(ncpu)"
}

demo() {
	install_packages
	build build
	port=8080
	if curl -s -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
		echo "setup.sh: something already answers on 127.0.0.1:$port; stop it first (or run" \
		    "build/container/parleyd -d -D listen=127.0.0.1:OTHERPORT yourself)" >&2
		exit 1
	fi
	say "starting parleyd (store in ./var); stop it with Ctrl-C"
	build/container/parleyd -d &
	node_pid=$!
	trap 'kill -TERM $node_pid 2>/dev/null; wait $node_pid; exit 0' INT TERM
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$port/parley/status"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $node_pid 2>/dev/null; then
			echo "setup.sh: parleyd did not come up; see its log above" >&2
			exit 1
		fi
		sleep 0.1
	done
	say "a sample conversation with the cart service (Python zeep, from the served WSDL)"
	/usr/bin/python3 samples/clients/python/cart_client.py "http://127.0.0.1:$port/services/cart?wsdl"
	say "two services sharing one state: a trip booked through flight and hotel (zeep)"
	/usr/bin/python3 samples/clients/python/trip_zeep.py \
	    "http://127.0.0.1:$port/services/flight?wsdl" "http://127.0.0.1:$port/services/hotel?wsdl"
	say "the node is still running: http://127.0.0.1:$port/ (status: /parley/status)."
	say "Press Ctrl-C to stop it."
	wait $node_pid
}

test_all() {
	install_packages
	build build
	say "make check (unit and integration tests)"
	make -C build -j"$(ncpu)" check PARLEY_REQUIRE_CLIENTS=1 || { dump_logs build; exit 1; }
	build build-san --enable-sanitizers
	say "make check under AddressSanitizer and UndefinedBehaviorSanitizer"
	make -C build-san -j"$(ncpu)" check PARLEY_REQUIRE_CLIENTS=1 || { dump_logs build-san; exit 1; }
	say "every test passed, plain and under the sanitizers"
}

# Show the logs of failed tests, so a CI transcript says what broke.
dump_logs() {
	for log in $(grep -l -E '^(FAIL|ERROR)' $(find "$1/tests" -name '*.log' 2>/dev/null) 2>/dev/null); do
		echo "----- $log"
		tail -n 80 "$log"
	done
}

case "${1:-}" in
demo) demo ;;
test) test_all ;;
*)
	echo "usage: ./setup.sh demo | test" >&2
	exit 2
	;;
esac
