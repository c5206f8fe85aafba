# What the test suite needs beyond Rust, installed on Debian when missing.
# Sourced by tools/test.sh (and through it by .ci/run) and by
# tools/quickstart.sh, so the list lives in one place.
#
#   sluice_deps_install [test|quickstart]
#
# test:       the servers the tests start privately (mariadbd and its
#             client, nats-server), Chromium for the status page test,
#             python3-venv for Canal's Python client, and the C toolchain
#             that builds librdkafka (`--features kafka`: its ./configure
#             and make, C and C++ sources; zlib through pkg-config, else
#             libz-sys builds its bundled copy).
# quickstart: MariaDB and the C compiler only.
# Packages come from apt-get (sudo when not root), --no-install-recommends.

sluice_have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

sluice_deps_missing() {
    local what=$1 need=()
    sluice_have mariadbd || need+=(mariadb-server)
    sluice_have mariadb || need+=(mariadb-client)
    sluice_have cc || need+=(gcc)
    [ -e /usr/include/stdio.h ] || need+=(libc6-dev)
    if [ "$what" = test ]; then
        sluice_have nats-server || need+=(nats-server)
        sluice_have chromium || need+=(chromium)
        sluice_have c++ || need+=(g++)
        sluice_have make || need+=(make)
        sluice_have pkg-config || need+=(pkg-config)
        pkg-config --exists zlib 2>/dev/null || need+=(zlib1g-dev)
        { sluice_have python3 && python3 -c 'import ensurepip, venv'; } >/dev/null 2>&1 ||
            need+=(python3 python3-venv)
    fi
    echo "${need[@]}"
}

sluice_deps_install() {
    local need
    need=$(sluice_deps_missing "${1:-test}")
    [ -n "$need" ] || return 0
    echo "installing (apt-get): $need"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q
    # shellcheck disable=SC2086 # a list of package names
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $need
}

# Canal's Python client from PyPI, driven unchanged by tests/canal_python.rs,
# in a venv of its own; exports SLUICE_CANAL_PYTHON for that test.
sluice_canal_venv() {
    local venv="${TMPDIR:-/tmp}/sluice-canal-venv"
    if ! "$venv/bin/python" -c "import canal.client" >/dev/null 2>&1; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q canal-python 'protobuf==3.20.3'
    fi
    export SLUICE_CANAL_PYTHON="$venv/bin/python"
}
