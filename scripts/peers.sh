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

# Every peer started here, stopped when the caller exits.
PEER_PIDS=""

# start_peer NAME LOG READY_PATH COMMAND...: runs COMMAND (its `{port}` argument replaced by a
# free loopback port) in the background, logging to .tools/LOG, and waits until
# http://127.0.0.1:<port>READY_PATH answers (30 s at most); sets PEER_PORT. A peer that exits
# first stops the caller with its log.
start_peer() {
    local name="$1" log="$TOOLS/$2" ready="$3" pid
    shift 3
    PEER_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "==> starting $name on 127.0.0.1:$PEER_PORT"
    "${@//\{port\}/$PEER_PORT}" >"$log" 2>&1 &
    pid=$!
    PEER_PIDS="$PEER_PIDS $pid"
    # shellcheck disable=SC2064 # the pids are fixed now
    trap "kill $PEER_PIDS 2>/dev/null || true; wait $PEER_PIDS 2>/dev/null || true" EXIT INT TERM
    for _ in $(seq 1 150); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PEER_PORT$ready', timeout=1)" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited; log:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

start_peers() {
    install_peers
    # scripts/moto_server.py is moto's server with DynamoDB calls serialised (see its docstring).
    start_peer "moto server" moto.log /moto-api/ "$VENV/bin/python" scripts/moto_server.py 127.0.0.1 "{port}"
    export RAMPART_TEST_AWS_ENDPOINT="http://127.0.0.1:$PEER_PORT"
    # localstripe (a fake Stripe API); scripts/localstripe_server.py also records the calls it
    # receives, so tests can count what reached "Stripe".
    start_peer localstripe localstripe.log /_config/calls "$VENV/bin/python" scripts/localstripe_server.py 127.0.0.1 "{port}"
    export RAMPART_TEST_STRIPE_BASE="http://127.0.0.1:$PEER_PORT"
    # The stand-in for Google's OpenID provider and GitHub's OAuth flow (scripts/oidc_standin.py,
    # standard library only), for the sign-in tests (tests/tests/it/oidc).
    start_peer "the OIDC/OAuth stand-in" oidc_standin.log /_standin/health python3 scripts/oidc_standin.py "127.0.0.1:{port}"
    export RAMPART_TEST_OIDC_BASE="http://127.0.0.1:$PEER_PORT"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
}
