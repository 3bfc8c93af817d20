#!/bin/sh
# fake_qmgr_live.sh - live test of bin/smtp-out against real peers:
# Postfix's smtp-sink (several behaviours) and dnsmasq on 127.0.0.1:5353,
# with tests/tools/fake_qmgr playing qmgr.  Loopback only; every process
# started here is killed by pid at the end.
#   usage: tests/tools/fake_qmgr_live.sh      (from the repository root, as root:
#          smtp-sink needs -u and port 25 on 127.0.0.2 is used for MX tests)
# Exit status 0 when every check passed.
set -u
ROOT=$(pwd)
T=$(mktemp -d /tmp/courser-smtpout.XXXXXX)
PIDS=""
FAIL=0
SINK=/usr/sbin/smtp-sink
QMGR=$ROOT/build/tests/fake_qmgr
SO=${SMTP_OUT:-$ROOT/bin/smtp-out}

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    sleep 0.2
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

mkdir -p build/tests
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Ilib -o "$QMGR" \
    tests/tools/fake_qmgr.c build/libcourser.a -luv -lpthread || exit 1

chmod 755 "$T"
mkdir -p "$T/run" "$T/spool" "$T/dump"
chmod 777 "$T/dump"
conf() {    # conf FILE DNSPORT SLOTS
    cat > "$1" <<EOF
spool $T/spool
run-dir $T/run
host-name courser.test
dns-server 127.0.0.1:$2
smtp-out-slots $3
EOF
}
conf "$T/c.conf" 5353 20
conf "$T/deaddns.conf" 5354 20
conf "$T/slots.conf" 5353 2

bg() { "$@" & PIDS="$PIDS $!"; }

bg dnsmasq --no-daemon --port=5353 --listen-address=127.0.0.1 --bind-interfaces \
    --no-resolv --no-hosts --local=/test/ \
    --mx-host=example.test,mx.example.test,10 --host-record=mx.example.test,127.0.0.2 \
    --mx-host=null.test,.,0 --host-record=implicit.test,127.0.0.2 \
    --mx-host=two.test,mxa.two.test,10 --mx-host=two.test,mxb.two.test,20 \
    --host-record=mxa.two.test,127.0.0.3 --host-record=mxb.two.test,127.0.0.2 \
    --mx-host=noaddr.test,nothere.noaddr.test,10 >"$T/dns.log" 2>&1
bg $SINK -c -u nobody 127.0.0.2:25 1000 >"$T/sink25.log" 2>&1
bg $SINK -c -u nobody 127.0.0.2:2526 1000 >"$T/sink.log" 2>&1
bg $SINK -u nobody -d "$T/dump/m." 127.0.0.2:2527 100 >/dev/null 2>&1
bg $SINK -u nobody -f RCPT 127.0.0.2:2528 100 >/dev/null 2>&1
bg $SINK -u nobody -r MAIL 127.0.0.2:2529 100 >/dev/null 2>&1
bg $SINK -u nobody -f EHLO 127.0.0.2:2530 100 >/dev/null 2>&1
bg $SINK -u nobody -f CONNECT 127.0.0.2:2531 100 >/dev/null 2>&1
bg $SINK -u nobody -f . 127.0.0.2:2532 100 >/dev/null 2>&1
bg $SINK -c -u nobody 127.0.0.2:2533 1000 >"$T/sinkmax.log" 2>&1
bg $SINK -u nobody -w 30 127.0.0.2:2534 100 >/dev/null 2>&1
# a server that accepts and never says anything (greeting timeout)
bg python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.2", 2535)); s.listen(10); c=[]
while True: c.append(s.accept())'
# tests/tools/sink.py: per-recipient replies; a drop in the middle of DATA
mkdir -p "$T/py1" "$T/py2"
bg python3 tests/tools/sink.py --listen 127.0.0.2:2550 --dir "$T/py1" \
    --rcpt "bad@x.test=550 5.1.1 no such user" --rcpt "soft@x.test=452 4.2.2 mailbox full" \
    >"$T/py1.log" 2>&1
bg python3 tests/tools/sink.py --listen 127.0.0.2:2551 --dir "$T/py2" --disconnect-in-data 1 \
    >"$T/py2.log" 2>&1
mkdir -p "$T/py3"
bg python3 tests/tools/sink.py --listen 127.0.0.2:2552 --dir "$T/py3" --accept-first 1 \
    --fail-count 1 --fail-reply "421 4.7.0 later" --fail-stage mail >"$T/py3.log" 2>&1
sleep 1

# run NAME CONF fake_qmgr-args...: start fake_qmgr and smtp-out, wait for
# fake_qmgr to finish (max 30 s), stop smtp-out with SIGTERM.
run() {
    name=$1; cfg=$2; shift 2
    rm -f "$T/run/qmgr.sock"
    "$QMGR" -s "$T/run/qmgr.sock" -S "$T/spool" "$@" >"$T/$name.out" 2>&1 &
    qp=$!
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -S "$T/run/qmgr.sock" ] && break; sleep 0.1; done
    "$SO" -c "$cfg" >"$T/$name.log" 2>&1 &
    sp=$!
    for i in $(seq 300); do kill -0 $qp 2>/dev/null || break; sleep 0.1; done
    kill $qp 2>/dev/null
    kill -TERM $sp
    wait $sp
    rc=$?
    [ $rc -eq 0 ] || { echo "FAIL $name: smtp-out exit status $rc"; FAIL=1; }
}
# expect NAME PATTERN [COUNT]: PATTERN (grep -E) on COUNT RESULT lines (default: >= 1)
expect() {
    n=$(grep -cE "$2" "$T/$1.out")
    if [ -n "${3:-}" ] && [ "$n" -ne "$3" ] || [ "$n" -eq 0 ]; then
        echo "FAIL $1: expected ${3:-some} lines matching '$2', got $n"; sed 's/^/    /' "$T/$1.out" | cut -c1-300
        FAIL=1
    else
        echo "ok   $1: $n x '$2'"
    fi
}

# 1. reuse: 10 jobs one at a time on a route -> 10 x 250, fewer sessions
run reuse "$T/c.conf" -d d.test -r 127.0.0.2:2526 -n 10 a@d.test b@d.test
expect reuse 'job=[0-9]+ local=0 esmtp=1 .*code=250 status=2.0.0' 20
sleep 0.3
sess=$(tail -c 200 "$T/sink.log" | grep -o 'sess=[0-9]*' | tail -1 | cut -d= -f2)
msgs=$(tail -c 200 "$T/sink.log" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2)
if [ "${sess:-99}" -lt "${msgs:-0}" ] && [ "${msgs:-0}" -eq 10 ]; then
    echo "ok   reuse: sink saw $msgs messages in $sess session(s)"
else
    echo "FAIL reuse: sink saw ${msgs:-?} messages in ${sess:-?} sessions"; FAIL=1
fi
# 2. parallel jobs (5 outstanding) on the same key
run parallel "$T/c.conf" -d d.test -r 127.0.0.2:2526 -n 30 -p 5 a@d.test
expect parallel 'code=250 status=2.0.0' 30
# 3. max-msg-per-connection 2: 6 messages need >= 3 sessions
run maxmsg "$T/c.conf" -d d.test -r 127.0.0.2:2533 -n 6 -m 2 a@d.test
expect maxmsg 'code=250' 6
sleep 0.3
sess=$(tail -c 200 "$T/sinkmax.log" | grep -o 'sess=[0-9]*' | tail -1 | cut -d= -f2)
if [ "${sess:-0}" -ge 3 ]; then echo "ok   maxmsg: $sess sessions"; else echo "FAIL maxmsg: ${sess:-?} sessions"; FAIL=1; fi
# 4. DNS: MX, implicit MX, fallback to the second MX, null MX, NXDOMAIN, no address
run mx "$T/c.conf" -d example.test -n 2 a@example.test
expect mx 'mx=mx.example.test ip=127.0.0.2 .*code=250' 2
run implicit "$T/c.conf" -d implicit.test a@implicit.test
expect implicit 'mx=implicit.test ip=127.0.0.2 .*code=250'
run fallback "$T/c.conf" -d two.test a@two.test
expect fallback 'mx=mxb.two.test ip=127.0.0.2 .*code=250'
run nullmx "$T/c.conf" -d null.test a@null.test
expect nullmx 'local=1 .*code=556 status=5.1.10'
run nx "$T/c.conf" -d nonexist.test a@nonexist.test
expect nx 'local=1 .*code=550 status=5.1.2'
run noaddr "$T/c.conf" -d noaddr.test a@noaddr.test
expect noaddr 'local=1 .*code=550 status=5.1.2'
run deaddns "$T/deaddns.conf" -d example.test a@example.test
expect deaddns 'local=1 .*code=451 status=4.4.3'
# 5. connection failures: all refused -> 421 4.4.1 naming the last host
run refused "$T/c.conf" -d x.test -r "127.0.0.2:2599,[127.0.0.3]:2598" a@x.test b@x.test
expect refused 'local=1 .*code=421 status=4.4.1 text=4.4.1 connect to 127.0.0.3\[127.0.0.3\]:2598: connection refused' 2
# 5xx greeting -> next host
run greet5xx "$T/c.conf" -d x.test -r "127.0.0.2:2531,127.0.0.2:2526" a@x.test
expect greet5xx 'ip=127.0.0.2 .*code=250'
# silent server -> greeting timeout (2 s) -> 421 4.4.1 with the reason
run greettmo "$T/c.conf" -d x.test -r "127.0.0.2:2535" -T 2 a@x.test
expect greettmo 'local=1 .*code=421 status=4.4.1 .*timed out while receiving the initial server greeting'
# DATA reply delayed 30 s, data timeout 2 s -> 421 4.4.2 local
run datatmo "$T/c.conf" -d x.test -r "127.0.0.2:2534" -T 2 a@x.test
expect datatmo 'local=1 .*code=421 status=4.4.2'
# 6. replies: RCPT rejected, MAIL rejected, EHLO rejected (HELO), final dot rejected
run rcptrej "$T/c.conf" -d x.test -r 127.0.0.2:2528 -n 2 a@x.test b@x.test
expect rcptrej 'local=0 .*code=500 status=5.3.0' 4
run mailrej "$T/c.conf" -d x.test -r 127.0.0.2:2529 a@x.test b@x.test
expect mailrej 'local=0 .*code=450 status=4.3.0' 2
run helo "$T/c.conf" -d x.test -r 127.0.0.2:2530 a@x.test
expect helo 'local=0 esmtp=0 .*ext= .*code=250'
run dotrej "$T/c.conf" -d x.test -r 127.0.0.2:2532 a@x.test b@x.test
expect dotrej 'local=0 .*code=500 status=5.3.0' 2
# per-recipient results in one transaction (pipelined RCPT replies)
run mixed "$T/c.conf" -d x.test -r 127.0.0.2:2550 good@x.test bad@x.test soft@x.test
expect mixed 'idx=0 code=250 status=2.0.0' 1
expect mixed 'local=0 .*idx=1 code=550 status=5.1.1 text=5.1.1 no such user' 1
expect mixed 'local=0 .*idx=2 code=452 status=4.2.2' 1
# connection dropped in the middle of DATA -> 421 4.4.2 local; the next job is delivered
run ddrop "$T/c.conf" -d x.test -r 127.0.0.2:2551 -n 2 -b 400000 a@x.test
expect ddrop 'job=1 local=1 .*code=421 status=4.4.2 .*while (sending message body|waiting for the end of data)' 1
expect ddrop 'job=2 local=0 .*code=250' 1
# 421 to MAIL: the job gets it (remote), the connection is not reused
run mail421 "$T/c.conf" -d x.test -r 127.0.0.2:2552 -n 3 a@x.test
expect mail421 'job=1 local=0 .*code=250' 1
expect mail421 'job=2 local=0 .*code=421 status=4.7.0' 1
expect mail421 'job=3 local=0 .*code=250' 1
# 7. dot-stuffing: the sink's copy (unstuffed by it) equals the spooled message
run dump "$T/c.conf" -d x.test -r 127.0.0.2:2527 -b 300000 -w "$T/body" a@x.test
expect dump 'code=250'
f=$(ls "$T"/dump/m.* 2>/dev/null | head -1)
# both from the first empty line (the sink adds header lines above it)
tr -d '\r' < "$T/body" | awk 'f{print} /^$/ && !f {f=1}' > "$T/body.lf"
# the sink ends each dumped message with one extra empty line
awk 'f{print} /^$/ && !f {f=1}' "$f" > "$T/dump.lf" 2>/dev/null
if [ -n "$f" ] && [ -s "$T/body.lf" ] && [ $(wc -c < "$T/dump.lf") -eq $(( $(wc -c < "$T/body.lf") + 1 )) ] \
    && head -c "$(wc -c < "$T/body.lf")" "$T/dump.lf" | cmp -s - "$T/body.lf"; then
    echo "ok   dump: message body arrived intact ($(wc -c < "$T/body") bytes, $(grep -c '^\.' "$T/body.lf") dot lines)"
else
    echo "FAIL dump: body differs"; FAIL=1
fi
# 8. slots: 2 slots, 6 jobs outstanding at once -> some 451 4.3.2 local
run slots "$T/slots.conf" -d d.test -r 127.0.0.2:2526 -n 6 -p 6 a@d.test
expect slots 'local=1 .*code=451 status=4.3.2'
expect slots 'code=250' 2
# 9. source address: bound to the job's source_ip; an IPv6 route host is
#    skipped for an IPv4 source
run srcip "$T/c.conf" -d d.test -r "[::1]:2526,127.0.0.2:2526" -I 127.0.0.9 a@d.test
expect srcip 'ip=127.0.0.2 src=127.0.0.9 .*code=250'
# 10. SIGTERM with 3 deliveries stuck (DATA answered after 30 s): exit 0 within ~5 s
rm -f "$T/run/qmgr.sock"
"$QMGR" -s "$T/run/qmgr.sock" -S "$T/spool" -d x.test -r 127.0.0.2:2534 -T 60 -n 3 -p 3 a@x.test \
    >"$T/term.out" 2>&1 &
qp=$!
sleep 0.3
"$SO" -c "$T/c.conf" >"$T/term.log" 2>&1 &
sp=$!
sleep 1
t0=$(date +%s)
kill -TERM $sp
wait $sp
rc=$?
t1=$(date +%s)
kill $qp 2>/dev/null
if [ $rc -eq 0 ] && [ $((t1 - t0)) -le 7 ] && grep -q "3 deliveries unfinished" "$T/term.log"; then
    echo "ok   sigterm: exit 0 after $((t1 - t0)) s with 3 deliveries in flight"
else
    echo "FAIL sigterm: rc=$rc after $((t1 - t0)) s"; cat "$T/term.log"; FAIL=1
fi

[ -n "${KEEP:-}" ] && { trap - EXIT; echo "kept $T"; for p in $PIDS; do kill "$p" 2>/dev/null; done; }
[ $FAIL -eq 0 ] && echo "ALL PASSED" || echo "SOME CHECKS FAILED"
exit $FAIL
