# Sourced by scripts/test and scripts/bench: installs the test peers into ./.tools (git-ignored)
# and starts moto server, localstripe and the sign-in providers' stand-in on free loopback ports,
# stopped again when the caller exits.

TOOLS="$PWD/.tools"
VENV="$TOOLS/venv"
REQS="scripts/requirements-test.txt"

install_peers() {
    mkdir -p "$TOOLS"
    # (Re)install when the venv is missing or the pinned requirements changed.
    if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/localstripe" ] || [ ! -x "$VENV/bin/st" ] || ! cmp -s "$REQS" "$VENV/.requirements"; then
        echo "==> installing test peers into $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS"
        cp "$REQS" "$VENV/.requirements"
    fi
}

start_peers() {
    install_peers
    PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "==> starting moto server on 127.0.0.1:$PORT"
    # scripts/moto_server.py is moto's server with DynamoDB calls serialised (see its docstring).
    "$VENV/bin/python" scripts/moto_server.py 127.0.0.1 "$PORT" >"$TOOLS/moto.log" 2>&1 &
    MOTO_PID=$!
    trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true' EXIT INT TERM
    for _ in $(seq 1 150); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/', timeout=1)" 2>/dev/null; then
            break
        fi
        if ! kill -0 "$MOTO_PID" 2>/dev/null; then
            echo "moto server exited; log:" >&2
            cat "$TOOLS/moto.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    export RAMPART_TEST_AWS_ENDPOINT="http://127.0.0.1:$PORT"
    start_localstripe
    start_oidc_standin
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
}

# localstripe (a fake Stripe API) on its own loopback port; scripts/localstripe_server.py also
# records the calls it receives, so tests can count what reached "Stripe".
start_localstripe() {
    STRIPE_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "==> starting localstripe on 127.0.0.1:$STRIPE_PORT"
    "$VENV/bin/python" scripts/localstripe_server.py 127.0.0.1 "$STRIPE_PORT" >"$TOOLS/localstripe.log" 2>&1 &
    STRIPE_PID=$!
    trap 'kill "$MOTO_PID" "$STRIPE_PID" 2>/dev/null || true; wait "$MOTO_PID" "$STRIPE_PID" 2>/dev/null || true' EXIT INT TERM
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$STRIPE_PORT/_config/calls', timeout=1)" 2>/dev/null; then
            break
        fi
        if ! kill -0 "$STRIPE_PID" 2>/dev/null; then
            echo "localstripe exited; log:" >&2
            cat "$TOOLS/localstripe.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    export RAMPART_TEST_STRIPE_BASE="http://127.0.0.1:$STRIPE_PORT"
}

# The stand-in for Google's OpenID provider and GitHub's OAuth flow (scripts/oidc_standin.py,
# standard library only) on its own loopback port, for the sign-in tests (tests/tests/it/oidc).
start_oidc_standin() {
    OIDC_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "==> starting the OIDC/OAuth stand-in on 127.0.0.1:$OIDC_PORT"
    python3 scripts/oidc_standin.py "127.0.0.1:$OIDC_PORT" >"$TOOLS/oidc_standin.log" 2>&1 &
    OIDC_PID=$!
    trap 'kill "$MOTO_PID" "$STRIPE_PID" "$OIDC_PID" 2>/dev/null || true; wait "$MOTO_PID" "$STRIPE_PID" "$OIDC_PID" 2>/dev/null || true' EXIT INT TERM
    for _ in $(seq 1 150); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$OIDC_PORT/_standin/health', timeout=1)" 2>/dev/null; then
            break
        fi
        if ! kill -0 "$OIDC_PID" 2>/dev/null; then
            echo "the OIDC stand-in exited; log:" >&2
            cat "$TOOLS/oidc_standin.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    export RAMPART_TEST_OIDC_BASE="http://127.0.0.1:$OIDC_PORT"
}
