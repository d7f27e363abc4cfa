#!/bin/sh
# Installs Herald on a systemd host: the binary, the unit, a "herald" system user, and example
# settings in /etc/herald. Safe to run again: it updates the binary and the unit and never
# overwrites settings you have edited.
#
#   sudo scripts/install.sh [path/to/herald]      (default: dist/herald from deno task compile)
#   sudo scripts/install.sh path/to/herald.js     (deno task bundle's file; runs on the host's deno)
#
# DESTDIR=/some/root installs under that root instead and skips users and systemctl (for tests
# and packaging).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-"$here/../dist/herald"}
root=${DESTDIR:-}

case "$binary" in
  *.js)
    if [ ! -f "$binary" ]; then
      echo "Cannot install: $binary does not exist; run 'deno task bundle' first" >&2
      exit 1
    fi
    if ! command -v deno >/dev/null; then
      echo "Cannot install: $binary needs deno on PATH (/usr/local/bin/deno for systemd)" >&2
      exit 1
    fi
    version=$(deno run --no-config --no-lock --no-prompt "--allow-env=HERALD_*" "$binary" \
      --version 2>/dev/null | head -n 1 || true)
    ;;
  *)
    if [ ! -x "$binary" ]; then
      echo "Cannot install: $binary is not an executable; run 'deno task compile' first" >&2
      exit 1
    fi
    # Built with DENORT_BIN pointing at deno itself, a binary is the deno command line instead.
    version=$("$binary" --version 2>/dev/null | head -n 1 || true)
    ;;
esac
case "$version" in
  "herald "*) ;;
  *)
    echo "Cannot install: $binary is not Herald: its --version printed \"$version\";" \
      "build it with 'deno task compile' (or 'deno task bundle')" >&2
    exit 1
    ;;
esac

group=root
if [ -z "$root" ]; then
  if ! getent passwd herald >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --user-group herald
    echo "Created system user herald"
  fi
  group=herald
fi

install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/local/share/doc/herald"
install -m 0644 "$here/herald.service" "$root/etc/systemd/system/herald.service"
dropin="$root/etc/systemd/system/herald.service.d/bundle.conf"
case "$binary" in
  *.js)
    install -d -m 0755 "$root/usr/local/lib/herald" "$(dirname "$dropin")"
    install -m 0644 "$binary" "$root/usr/local/lib/herald/herald.js.new"
    mv -f "$root/usr/local/lib/herald/herald.js.new" "$root/usr/local/lib/herald/herald.js"
    install -m 0644 "$here/herald-bundle.conf" "$dropin"
    ;;
  *)
    install -m 0755 "$binary" "$root/usr/local/bin/herald.new"
    mv -f "$root/usr/local/bin/herald.new" "$root/usr/local/bin/herald"
    rm -f "$dropin" # Back from the bundle to the binary.
    ;;
esac
install -m 0644 "$here/../docs/deployment.md" "$root/usr/local/share/doc/herald/deployment.md"

# /etc/herald: root owns it, the herald group may read it (herald.json, TLS files).
install -d -m 0750 -g "$group" "$root/etc/herald"
if [ ! -e "$root/etc/herald/herald.env" ]; then
  install -m 0600 "$here/herald.env.example" "$root/etc/herald/herald.env"
  echo "Wrote $root/etc/herald/herald.env: review it"
fi
if [ ! -e "$root/etc/herald/herald.json" ]; then
  install -m 0640 -g "$group" "$here/herald.json.example" "$root/etc/herald/herald.json"
  echo "Wrote $root/etc/herald/herald.json: set its secrets before starting"
fi

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if systemctl is-active --quiet herald; then
    echo "Herald is running the old binary: 'systemctl restart herald' switches (clients reconnect)"
  else
    echo "Start it with: systemctl enable --now herald"
  fi
fi
echo "Installed $version"
