# Shared by scripts/demo and scripts/test: make sure ./.venv exists with Seamline installed.
# Usage: . scripts/_venv.sh ; ensure_venv "<pip install target>" "<stamp name>"
# Re-installs only when pyproject.toml changed since the last install (the stamp file).
# SEAMLINE_VENV picks another environment directory (CI uses a fresh one).

VENV="${SEAMLINE_VENV:-.venv}"

die() { echo "error: $*" >&2; exit 1; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
    then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_venv() {
  local target="$1" stamp="$VENV/.installed-$2"
  if [ ! -x "$VENV/bin/python" ]; then
    local py
    py="$(find_python)" || die "Seamline needs Python 3.11 or newer (python3 --version); set PYTHON=/path/to/python3.11"
    echo "creating $VENV with $("$py" --version 2>&1)" >&2
    "$py" -m venv "$VENV" || die "could not create $VENV (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing $target into $VENV (first run takes a minute)" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$target" >&2
    touch "$stamp"
  fi
}
