# shellcheck shell=sh
# Runs charon with the ESP backend this kernel allows, then loads swanctl.

# Kernel ESP is proven only by adding an SA (/proc/net/xfrm_stat exists even
# without ESP), for each address family separately (WSL2's kernel, for one,
# has ESP for IPv4 and not for IPv6). The probe runs in this container's own
# namespace. $1 is 4 or 6.
kernel_esp_works() {
  if [ "$1" = 6 ]; then src=2001:db8::1 dst=2001:db8::2; else src=192.0.2.1 dst=192.0.2.2; fi
  ip xfrm state add src "$src" dst "$dst" proto esp spi 0x1000 mode tunnel \
    enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff \
    auth-trunc 'hmac(sha256)' 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 128 \
    >/dev/null 2>&1 || return 1
  ip xfrm state delete src "$src" dst "$dst" proto esp spi 0x1000 >/dev/null 2>&1 || true
  return 0
}

# Writes charon's settings. Routes go to the main table (254) by default:
# policy routing rules do not work under qemu-user emulation.
# IMGTOOL_ESP: auto (kernel ESP if it works for every family in
# IMGTOOL_ESP_FAMILIES, the families the tunnels use), kernel or libipsec.
charon_config() {
  esp=${IMGTOOL_ESP:-auto}
  missing=''
  if [ "$esp" = auto ]; then
    for family in ${IMGTOOL_ESP_FAMILIES:-4}; do
      kernel_esp_works "$family" || missing="$missing IPv$family"
    done
    if [ -z "$missing" ]; then esp=kernel; else esp=libipsec; fi
  fi
  case "$esp" in
    kernel) backend=kernel-netlink libipsec=no ;;
    libipsec)
      [ -c /dev/net/tun ] || die "userspace ESP needs /dev/net/tun: run with --device /dev/net/tun"
      backend=kernel-libipsec libipsec=yes ;;
    *) die "IMGTOOL_ESP must be auto, kernel or libipsec, not $esp" ;;
  esac
  echo "$backend" >"$IMGTOOL_RUN/esp-backend"
  say "esp-backend $backend"
  if [ -n "$missing" ]; then
    log "ESP backend: $backend (no kernel ESP for$missing)"
  else
    log "ESP backend: $backend (IMGTOOL_ESP=${IMGTOOL_ESP:-auto})"
  fi
  # Host-to-host tunnels carry the peer's own address: charon routes it into
  # the tunnel in table 220, and charon's own IKE and ESP-in-UDP packets
  # (UDP, protocol 17, from port 500 or 4500) bypass that table by rules on their ports.
  # Marks would do too, but qemu-user (emulated platforms) cannot set SO_MARK
  # nor policy rules; there imgtool adds the same rules from a native helper.
  if [ "${IMGTOOL_ROUTING:-main}" = policy ]; then
    table=220 peer_ts=yes
    for family in -4 -6; do
      for port in 500 4500; do
        ip "$family" rule add pref 210 ipproto 17 sport "$port" lookup main 2>/dev/null ||
          log "cannot add routing rules here (emulated platform?): imgtool adds them from outside"
      done
    done
  else
    table=254 peer_ts=no
  fi
  # Only the plugins the testbed uses: faster start, less memory, and the
  # ESP backend chosen above (listed first so it takes precedence).
  [ "$libipsec" = yes ] && first=kernel-libipsec || first=''
  # Course mode: also stroke, for the legacy ipsec.conf format (run_starter).
  # starter runs charon there, with its own stderr: charon's log goes to the
  # container's log by name instead (PID 1's stderr), where the checks read it.
  if course_mode; then
    stroke=stroke log=/proc/1/fd/2
  else
    stroke='' log=stderr
  fi
  cat >/etc/strongswan.conf <<CONF
# Written by the imgtool image at start-up.
charon {
  load_modular = no
  load = $first random nonce openssl x509 pubkey pkcs1 pkcs8 pem constraints aes sha2 hmac kdf gcm kernel-netlink socket-default vici $stroke
  routing_table = $table
  install_virtual_ip = no
  # A peer that is still starting drops the first IKE_SA_INIT: retransmit
  # after 0.5 s rather than charon's default 4 s.
  retransmit_timeout = 0.5
  retransmit_base = 1.4
  retransmit_tries = 8
  # A peer that comes back (unpaused, restarted) is reached within 2 s of
  # the next retransmission, never after a long back-off. Dead-peer
  # detection thus gives up on a silent peer within about 13.5 s.
  retransmit_limit = 2
  # No cookies, no per-address limit on half-open SAs. A gateway unpaused
  # after a long pause reads every IKE_SA_INIT its peer queued meanwhile at
  # once: three from one address turned cookies on, the peer's next IKE_AUTH
  # was signed over another IKE_SA_INIT than the one kept here, and the
  # AUTHENTICATION_FAILED that followed is final, so the tunnel never came
  # back. The testbed's networks are internal: no one else sends IKE here.
  dos_protection = no
  filelog {
    $log { default = 1 ike = 1 knl = 0 time_format = %T }
  }
  syslog { daemon { default = -1 } }
  plugins {
    kernel-libipsec { allow_peer_ts = $peer_ts }
  }
}
# starter would warn that charon's plugin list is set by hand.
starter { load_warning = no }
# swanctl would try its built-in list, which names plugins this image leaves
# out (images/strongswan/Dockerfile), one warning each.
swanctl {
  load = random openssl pem pkcs1 pkcs8 x509 pubkey constraints
}
CONF
}

# Course mode (imgtool up --lab/--bare): imgtool's NAT is there, and the
# student's files, if any, in place of imgtool's configuration.
course_mode() { [ -f "$IMGTOOL_CONF/nat.nft" ]; }

# The student wrote the legacy format (ipsec.conf, run by starter).
legacy_format() { course_mode && [ -f "$IMGTOOL_CONF/ipsec.conf" ]; }

# charon in the background of this shell (which forwards TERM), swanctl once
# its VICI socket answers.
run_charon() {
  # Its VICI socket, tested by the shell: under qemu-user each swanctl
  # started to ask takes most of a second. Requests sent before charon's
  # threads run wait in the socket's backlog.
  rm -f /var/run/charon.vici
  /usr/lib/ipsec/charon &
  charon=$!
  trap 'kill -TERM "$charon" 2>/dev/null; wait "$charon"; exit 0' TERM INT
  i=0
  until [ -S /var/run/charon.vici ]; do
    kill -0 "$charon" 2>/dev/null || die "charon exited during start-up"
    i=$((i + 1)); [ $i -lt 600 ] || die "charon's VICI socket did not appear in 30 s"
    sleep 0.05
  done
  if course_mode; then
    # The student's configuration; its errors are theirs to read (imgtool
    # reports load.log), and the gate opens either way.
    : >"$IMGTOOL_RUN/load.log"
    if [ -f /etc/swanctl/swanctl.conf ]; then
      # swanctl reports a syntax error and exits 0: the whole output goes
      # to imgtool, which picks the errors out.
      swanctl --load-all --noprompt >"$IMGTOOL_RUN/load.log" 2>&1 || true
    fi
    cat "$IMGTOOL_RUN/load.log" >>"$IMGTOOL_RUN/lab.log"
    nft delete table inet imgtool_gate 2>/dev/null || true
  elif [ -f /etc/swanctl/swanctl.conf ]; then
    swanctl --load-all --noprompt >&2 || die "swanctl --load-all failed"
  fi
  echo charon >"$IMGTOOL_RUN/ike-daemon"
}

# The certificates and key imgtool made, where ipsec.conf and ipsec.secrets
# find them by file name; a student's own file of the same name wins.
link_legacy_credentials() {
  for pair in x509ca:cacerts x509:certs pkcs8:private; do
    for f in /etc/swanctl/"${pair%%:*}"/*; do
      [ -f "$f" ] || continue
      dest=/etc/ipsec.d/${pair#*:}/${f##*/}
      [ -e "$dest" ] || ln -s "$f" "$dest"
    done
  done
}

# Course mode, legacy format: starter runs charon and gives it ipsec.conf
# and ipsec.secrets through the stroke plugin, as `ipsec start` does, so
# `ipsec reload`, `ipsec update` and `ipsec statusall` work in the gateway.
# What starter says goes to load.log for imgtool. starter loads
# connections only into a charon it started itself, hence starter owns it.
# A configuration starter rejects leaves charon running alone with none:
# the gateway stays up, and the next `imgtool lab reload` tries again.
run_starter() {
  link_legacy_credentials
  # A charon that is still stopping (a reload) would make starter skip
  # starting its own, and so never load the connections.
  i=0
  while [ -f /var/run/charon.pid ] && kill -0 "$(cat /var/run/charon.pid)" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || die "the previous charon did not stop in 5 s"
    sleep 0.05
  done
  : >"$IMGTOOL_RUN/load.log"
  /usr/lib/ipsec/starter --nofork >>"$IMGTOOL_RUN/load.log" 2>&1 &
  charon=$!
  trap 'kill -TERM "$charon" 2>/dev/null; wait "$charon"; exit 0' TERM INT
  i=0
  until grep -q ' started after ' "$IMGTOOL_RUN/load.log"; do
    if ! kill -0 "$charon" 2>/dev/null; then
      wait "$charon" || true
      cat "$IMGTOOL_RUN/load.log" >>"$IMGTOOL_RUN/lab.log"
      log "starter refused ipsec.conf: charon runs with no connection"
      saved=$(cat "$IMGTOOL_RUN/load.log")
      run_charon
      printf '%s\n' "$saved" >"$IMGTOOL_RUN/load.log"
      return
    fi
    i=$((i + 1)); [ $i -lt 600 ] || die "starter did not start charon in 30 s"
    sleep 0.05
  done
  # starter adds the connections right after charon answers, one stroke
  # message each; the gate opens after that (a peer's early IKE would be
  # retransmitted anyway, 0.5 s later).
  sleep 0.3
  cat "$IMGTOOL_RUN/load.log" >>"$IMGTOOL_RUN/lab.log"
  nft delete table inet imgtool_gate 2>/dev/null || true
  echo starter >"$IMGTOOL_RUN/ike-daemon"
}

# Initiates each child SA named in a file ($1: /etc/imgtool/initiate, those
# this gateway initiates; /etc/imgtool/children, all of its tunnels) until
# it is up. A peer that is still starting answers NO_PROPOSAL_CHOSEN or
# nothing, and charon does not retry that by itself; this loop does, so
# start-up order never matters.
initiate_children() {
  [ -f "$1" ] || { say_ready; return 0; }
  # At a testbed's first start no SA exists yet, so the first try initiates
  # at once (under qemu-user each swanctl takes most of a second); after a
  # restart a peer may have made the SA again already, so it looks first.
  look=yes
  [ "$1" != "$IMGTOOL_CONF/initiate" ] || look=no
  # Ready once every child is up: a responder installs its CHILD_SA before
  # it answers IKE_AUTH, so both ends have it by then.
  (
    while read -r child; do
      [ -n "$child" ] || continue
      (
        tries=0
        while :; do
          if [ "$look" = yes ] && swanctl --list-sas --raw --ike "$child" 2>/dev/null | grep -q "name=$child [^}]*state=INSTALLED"; then
            break
          fi
          look=yes
          swanctl --initiate --child "$child" --timeout 5 >/dev/null 2>&1 && break
          tries=$((tries + 1))
          if [ $tries -lt 50 ]; then sleep 0.1; else sleep 2; fi
        done
      ) &
    done <"$1"
    wait
    say_ready
  ) &
}

# Which tunnels to initiate. At a testbed's first start, those this gateway
# initiates. At any later start of charon (the container restarted, or
# charon killed) its peers still hold SAs that this charon has lost, and
# would notice only by dead-peer detection: it initiates all of its tunnels
# then, and the INITIAL_CONTACT it sends makes each peer drop the stale ones.
# The marker lives in the container's own file system, which a restart keeps.
tunnels_to_initiate() {
  if [ -e /var/lib/imgtool/charon-started ]; then
    echo "$IMGTOOL_CONF/children"
  else
    mkdir -p /var/lib/imgtool
    touch /var/lib/imgtool/charon-started
    echo "$IMGTOOL_CONF/initiate"
  fi
}

# Starts charon, initiates (then says ready), and keeps charon running: a
# charon that dies (kill -9, a crash) is started again at once, without
# restarting the container. `docker stop` still ends it (the TERM trap).
run_and_supervise_charon() {
  generation=0
  while :; do
    if legacy_format; then run_starter; else run_charon; fi
    echo "$charon" >"$IMGTOOL_RUN/ike.pid"
    : >"$IMGTOOL_RUN/ready"
    initiate_children "$(tunnels_to_initiate)"
    # lab-load waits for the next generation after it stopped this one.
    generation=$((generation + 1))
    echo "$generation" >"$IMGTOOL_RUN/ike.generation"
    status=0
    wait "$charon" || status=$?
    rm -f "$IMGTOOL_RUN/ready"
    log "charon exited (status $status): starting it again"
  done
}

