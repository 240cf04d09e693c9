# Sourced by scripts/test: installs what the browser test (tests/tests/it/browser.rs) needs and
# tells it where: Debian's `chromium` and `chromium-driver` (apt-get, as root), and Selenium and
# cryptography in their own venv, .tools/browser-venv (git-ignored).
#
# On success it exports RAMPART_BROWSER_PYTHON and RAMPART_REQUIRE_BROWSER=1, so a browser test
# that cannot start fails the run. Only where the packages cannot be installed (no apt-get, not
# root, no package mirror) it exports RAMPART_BROWSER_SKIP with the reason instead: the test then
# prints that reason and skips.

BROWSER_VENV="$PWD/.tools/browser-venv"
BROWSER_REQS="scripts/requirements-browser.txt"

browser_packages() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
        return 0
    fi
    if ! command -v apt-get >/dev/null; then
        echo "apt-get is not available to install chromium and chromium-driver"
        return 1
    fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            echo "installing chromium and chromium-driver needs root (or password-less sudo)"
            return 1
        fi
    fi
    echo "==> installing chromium and chromium-driver (apt-get)" >&2
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver; } >"$PWD/.tools/apt-browser.log" 2>&1; then
        echo "apt-get install chromium chromium-driver failed (log: .tools/apt-browser.log): $(tail -n 1 "$PWD/.tools/apt-browser.log")"
        return 1
    fi
}

browser_venv() {
    if [ -x "$BROWSER_VENV/bin/python" ] && cmp -s "$BROWSER_REQS" "$BROWSER_VENV/.requirements"; then
        return 0
    fi
    echo "==> installing the browser test's driver into $BROWSER_VENV" >&2
    if ! { python3 -m venv "$BROWSER_VENV" \
        && "$BROWSER_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$BROWSER_REQS"; } >"$PWD/.tools/pip-browser.log" 2>&1; then
        echo "pip install -r $BROWSER_REQS failed (log: .tools/pip-browser.log): $(tail -n 1 "$PWD/.tools/pip-browser.log")"
        return 1
    fi
    cp "$BROWSER_REQS" "$BROWSER_VENV/.requirements"
}

setup_browser() {
    mkdir -p "$PWD/.tools"
    local why
    if why="$(browser_packages)" && why="$(browser_venv)"; then
        export RAMPART_BROWSER_PYTHON="$BROWSER_VENV/bin/python"
        export RAMPART_REQUIRE_BROWSER=1
        unset RAMPART_BROWSER_SKIP
        echo "==> browser test: $(chromium --version 2>/dev/null | head -n 1), $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
    else
        export RAMPART_BROWSER_SKIP="$why"
        echo "==> browser test will be skipped: $why" >&2
    fi
}
