#!/usr/bin/env bash
# install-chdb.sh — installs libchdb.so, the embedded ClickHouse engine that
# chdb-go (package warehouse/embedded) loads at start.
#
# The library ships in the npm package @chdb/lib-linux-x64-gnu (the version
# is pinned below; ~180 MB packed, ~540 MB unpacked). The script is
# idempotent: it does nothing when $CHDB_LIB_PATH or the target file already
# exists.
#
#   as root:      installs /usr/local/lib/libchdb.so (where chdb-go looks)
#   as a user:    installs $PREFIX/lib/libchdb.so (PREFIX defaults to
#                 ~/.local); point chdb-go at it with CHDB_LIB_PATH
#   PREFIX=/x     installs /x/lib/libchdb.so whoever runs it
#
# Needs npm (Debian: apt-get install -y npm) and tar.
set -euo pipefail

CHDB_NPM_PACKAGE=@chdb/lib-linux-x64-gnu
CHDB_NPM_VERSION=${CHDB_NPM_VERSION:-26.7.3-stable.1}

log() { echo "install-chdb.sh: $*" >&2; }

if [ -n "${CHDB_LIB_PATH:-}" ] && [ -f "$CHDB_LIB_PATH" ]; then
	log "CHDB_LIB_PATH=$CHDB_LIB_PATH exists; nothing to do"
	echo "$CHDB_LIB_PATH"
	exit 0
fi

if [ -n "${PREFIX:-}" ]; then
	libdir="$PREFIX/lib"
elif [ "$(id -u)" = 0 ]; then
	libdir=/usr/local/lib
else
	libdir="$HOME/.local/lib"
fi
target="$libdir/libchdb.so"

if [ -f /usr/local/lib/libchdb.so ] && [ -z "${PREFIX:-}" ]; then
	log "/usr/local/lib/libchdb.so exists; nothing to do"
	echo /usr/local/lib/libchdb.so
	exit 0
fi
if [ -f "$target" ]; then
	log "$target exists; nothing to do"
	echo "$target"
	exit 0
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*)
	log "no prebuilt libchdb.so for $(uname -s)/$(uname -m) in $CHDB_NPM_PACKAGE"
	exit 1
	;;
esac

if ! command -v npm >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		log "installing npm with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get install -y npm >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y npm >&2; }
	else
		log "npm is missing; install it (Debian: sudo apt-get install -y npm) and run this again"
		exit 1
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/install-chdb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log "fetching $CHDB_NPM_PACKAGE@$CHDB_NPM_VERSION with npm pack"
(cd "$tmp" && npm pack --silent "$CHDB_NPM_PACKAGE@$CHDB_NPM_VERSION" >pack.out)
tarball="$tmp/$(tail -n 1 "$tmp/pack.out")"
if [ ! -f "$tarball" ]; then
	tarball=$(ls "$tmp"/*.tgz 2>/dev/null | head -n 1 || true)
fi
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
	log "npm pack produced no tarball"
	exit 1
fi

tar -xzf "$tarball" -C "$tmp" package/libchdb.so
mkdir -p "$libdir"
# Install under a temporary name first so that an interrupted copy never
# leaves a truncated library where chdb-go would load it.
install -m 0755 "$tmp/package/libchdb.so" "$target.tmp.$$"
mv -f "$target.tmp.$$" "$target"
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
	ldconfig || true
fi
log "installed $target ($CHDB_NPM_PACKAGE@$CHDB_NPM_VERSION)"
if [ "$target" != /usr/local/lib/libchdb.so ]; then
	log "chdb-go looks in /usr/local/lib; run with CHDB_LIB_PATH=$target"
fi
echo "$target"
