#!/bin/bash
# Rootless, loopback-only Dovecot 2.3 for tests (adapted from the shared research script).
# Usage: dovecot-start.sh DIR [IMAP_PORT] [IMAPS_PORT] [USER] [PASSWORD]   -> writes DIR/dovecot.pid
# Env: DOVECOT_NO_AUTO_FOLDERS=1  do not create Drafts/Sent/Trash up front (special-use still applies
#      once a client creates them).
# Stop: kill "$(cat DIR/dovecot.pid)".
set -euo pipefail
D=$1; PORT=${2:-10143}; SPORT=${3:-10993}; IMAP_USER=${4:-tester}; IMAP_PASS=${5:-s3cret}
AUTO=subscribe; if [ "${DOVECOT_NO_AUTO_FOLDERS:-0}" = 1 ]; then AUTO=no; fi
mkdir -p "$D"/{run,state,mail}
if [ "$(id -u)" = 0 ]; then RUN_USER=nobody; RUN_GROUP=nogroup; AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
else RUN_USER=$(id -un); RUN_GROUP=$(id -gn); AS=(); fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
cat > "$D/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
log_path = /dev/stderr
default_internal_user = $RUN_USER
default_internal_group = $RUN_GROUP
default_login_user = $RUN_USER
auth_mechanisms = plain login
auth_failure_delay = 0
disable_plaintext_auth = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $D/users
  default_fields = home=$D/mail/%u
}
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = <$D/cert.pem
ssl_key = <$D/key.pem
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = $AUTO
  }
  mailbox Sent {
    special_use = \Sent
    auto = $AUTO
  }
  mailbox Trash {
    special_use = \Trash
    auto = $AUTO
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $SPORT
    ssl = yes
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0600
  }
}
CONF
U=$(id -u "$RUN_USER"); G=$(getent group "$RUN_GROUP" | cut -d: -f3)
echo "$IMAP_USER:{PLAIN}$IMAP_PASS:$U:$G::$D/mail/$IMAP_USER::" > "$D/users"
chown -R "$RUN_USER:$RUN_GROUP" "$D"; chmod 600 "$D/users" "$D/key.pem"
"${AS[@]}" /usr/sbin/dovecot -F -c "$D/dovecot.conf" > "$D/dovecot.log" 2>&1 &
echo $! > "$D/dovecot.pid"
for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && exit 0; sleep 0.05; done
echo "dovecot did not start" >&2; cat "$D/dovecot.log" >&2; exit 1
