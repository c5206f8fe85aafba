#!/usr/bin/env bash
# Start (or stop) a private MariaDB with ROW binlog on, for demos and
# benchmarks. It never touches a MariaDB already running on the machine.
#
#   tools/local-mariadb.sh start DIR [PORT]   # prints the mysql:// URL
#   tools/local-mariadb.sh stop DIR
#
# The account sluice / sluice-demo-pw has all privileges; root has no
# password over DIR/mysqld.sock.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }

find_bin() { for n in "$@"; do for d in "" /usr/sbin/ /usr/local/sbin/ /usr/bin/; do
    if [ -z "$d" ]; then command -v "$n" 2>/dev/null && return 0; elif [ -x "$d$n" ]; then echo "$d$n"; return 0; fi
done; done; return 1; }

case $cmd in
start)
    mariadbd=$(find_bin mariadbd mysqld) || { echo "mariadbd not found: apt-get install -y mariadb-server" >&2; exit 1; }
    install_db=$(find_bin mariadb-install-db mysql_install_db)
    client=$(find_bin mariadb mysql)
    port=${3:-$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null || echo 33306)}
    dir=$(mkdir -p "$dir" && cd "$dir" && pwd)
    user_arg=(); [ "$(id -u)" = 0 ] && user_arg=(--user=root)
    if [ ! -d "$dir/data/mysql" ]; then
        "$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
            --skip-test-db --skip-name-resolve "${user_arg[@]}" >"$dir/install.log" 2>&1
    fi
    "$mariadbd" --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" --port="$port" \
        --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" --log-error="$dir/error.log" \
        --skip-name-resolve --log-bin=mysql-bin --binlog-format=ROW --server-id=1 \
        --character-set-server=utf8mb4 "${user_arg[@]}" >/dev/null 2>&1 &
    for _ in $(seq 1 300); do
        "$client" --no-defaults --socket="$dir/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$client" --no-defaults --socket="$dir/mysqld.sock" -uroot -e "
        DELETE FROM mysql.global_priv WHERE User = ''; FLUSH PRIVILEGES;
        CREATE USER IF NOT EXISTS 'sluice'@'%' IDENTIFIED BY 'sluice-demo-pw';
        GRANT ALL PRIVILEGES ON *.* TO 'sluice'@'%';"
    echo "$port" >"$dir/port"
    echo "mysql://sluice:sluice-demo-pw@127.0.0.1:$port"
    ;;
stop)
    if [ -f "$dir/mariadbd.pid" ]; then
        pid=$(cat "$dir/mariadbd.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    ;;
*) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
