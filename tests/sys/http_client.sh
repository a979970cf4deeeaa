# tests/sys/http_client.sh - http_mini.c against real servers on 127.0.0.1:
# tests/receiver.py as webhook server and as http_proxy, stunnel as the TLS
# server (for curl) and as the TLS proxy, and a fake curl that records what
# it is given. Everything started here is stopped by the trap.
. "$top/tests/sys/lib.sh"

pids=
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT
trap 'cleanup; exit 1' INT TERM

ms() { python3 -c 'import time; print(int(time.monotonic() * 1000))'; }

# start NAME [receiver options]: run a receiver; its port lands in $port.
start() {
	_n=$1; shift
	python3 "$top/tests/receiver.py" "$_n.port" "$_n.log" --lifetime 90 "$@" &
	pids="$pids $!"
	port=
	wait_file "$_n.port" && port=$(cat "$_n.port")
	[ -n "$port" ] || echo "FAIL $_n: receiver did not start"
}

# wait_port PORT: poll until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
	python3 - "$1" <<'PY'
import socket, sys, time
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.01)
sys.exit(1)
PY
}

# field LOG N KEY: KEY of request N (from 1) in a receiver log; KEY is
# method, path, body or headers.NAME (lower case).
field() {
	python3 - "$@" <<'PY'
import json, sys
rows = open(sys.argv[1]).read().splitlines()
r = json.loads(rows[int(sys.argv[2]) - 1])
k = sys.argv[3]
v = r.get("headers", {}).get(k[8:]) if k.startswith("headers.") else r.get(k)
print("" if v is None else v)
PY
}

count() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }

# d COMMAND...: run the driver (through env when it needs variables, so
# that nothing leaks into later tests); stdout in out.txt, stderr in
# err.txt, status in $rc, wall time in $took (ms).
d() {
	_t0=$(ms)
	"$@" >out.txt 2>err.txt </dev/null
	rc=$?
	took=$(( $(ms) - _t0 ))
}

# c NAME EXPR: ok when the shell expression EXPR, eval'd here, is true
# (unlike t, it can join several tests with && and !).
c() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1: $2"; fi; }

# eq NAME GOT WANT
eq() {
	if [ "$2" = "$3" ]; then echo "ok $1"; else echo "FAIL $1: got '$2' want '$3'"; fi
}

unset http_proxy HTTP_PROXY no_proxy NO_PROXY WALTER_TLS_PROXY CURL_CA_BUNDLE
if ! ${TCC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -I"$top/include" \
	-o http_drv "$top/tests/http_drv.c" "$top/http_mini.c" 2>cc.txt; then
	echo "FAIL http_drv: does not compile"; sed 's/^/    /' cc.txt
	exit 1
fi

# ---- plain http ---------------------------------------------------------
start web
d ./http_drv -t application/json -H 'X-Token: s3cret-header' POST "http://127.0.0.1:$port/hook/path?q=1" '{"text":"hi"}'
eq post-status "$(head -1 out.txt)" "status 200"
eq post-body "$(tail -n +2 out.txt)" "ok"
eq post-one-request "$(count web.log)" 1
eq post-method "$(field web.log 1 method)" POST
eq post-path "$(field web.log 1 path)" "/hook/path?q=1"
eq post-host "$(field web.log 1 headers.host)" "127.0.0.1:$port"
eq post-content-type "$(field web.log 1 headers.content-type)" application/json
eq post-content-length "$(field web.log 1 headers.content-length)" 13
eq post-extra-header "$(field web.log 1 headers.x-token)" s3cret-header
eq post-user-agent "$(field web.log 1 headers.user-agent)" walter
eq post-connection "$(field web.log 1 headers.connection)" close
eq post-request-body "$(field web.log 1 body)" '{"text":"hi"}'

d ./http_drv GET "http://127.0.0.1:$port/get"
eq get-status "$(head -1 out.txt)" "status 200"
eq get-method "$(field web.log 2 method)" GET

start chunk --chunked --status 404 --body "a chunked body, sent seven bytes at a time"
d ./http_drv POST "http://127.0.0.1:$port/" x
eq chunked-status "$(head -1 out.txt)" "status 404"
eq chunked-body "$(tail -n +2 out.txt)" "a chunked body, sent seven bytes at a time"

d ./http_drv -H 'Bad header' POST "http://127.0.0.1:$port/" x
c bad-header-refused '[ $rc -eq 1 ] && has err.txt "malformed"'
d ./http_drv -H "$(printf 'X-A: 1\r\nX-Injected: 1')" POST "http://127.0.0.1:$port/" x
c header-injection-refused '[ $rc -eq 1 ]'
eq header-injection-sent-nothing "$(count chunk.log)" 1

# ---- http_proxy and no_proxy --------------------------------------------
start proxy --body proxied
pport=$port
d env http_proxy=http://127.0.0.1:$pport ./http_drv POST "http://walter-test.invalid:1234/p?q=1" via-proxy
eq proxy-status "$(tail -n +2 out.txt)" proxied
eq proxy-absolute-uri "$(field proxy.log 1 path)" "http://walter-test.invalid:1234/p?q=1"
eq proxy-host-header "$(field proxy.log 1 headers.host)" "walter-test.invalid:1234"
eq proxy-body "$(field proxy.log 1 body)" via-proxy
d env HTTP_PROXY=127.0.0.1:$pport ./http_drv POST "http://walter-test.invalid/upper" x
eq proxy-uppercase-env "$(field proxy.log 2 path)" "http://walter-test.invalid/upper"
d env http_proxy=http://127.0.0.1:$pport ./http_drv POST "http://127.0.0.1:$(cat web.port)/direct" x
eq proxy-skips-loopback "$(count proxy.log)/$(field web.log 3 path)" "2//direct"
d env http_proxy=http://127.0.0.1:$pport no_proxy="example.org, .invalid" ./http_drv -T 3000 POST "http://walter-test.invalid:1234/np" x
c no-proxy-bypasses '[ $rc -eq 1 ] && [ "$(count proxy.log)" = 2 ] && has err.txt "walter-test.invalid:1234"'
d env http_proxy=http://127.0.0.1:$pport no_proxy='*' ./http_drv -T 3000 POST "http://walter-test.invalid:1234/np" x
c no-proxy-star '[ $rc -eq 1 ] && [ "$(count proxy.log)" = 2 ]'
d env http_proxy=http://u:pw@127.0.0.1:$pport ./http_drv POST "http://walter-test.invalid/" x
c proxy-userinfo-refused '[ $rc -eq 1 ] && has err.txt http_proxy && ! has err.txt pw@'

# ---- failures --------------------------------------------------------------
cport=$(free_port)
d ./http_drv POST "http://127.0.0.1:$cport/secret-path?token=s3cret" x
c closed-port-fails '[ $rc -eq 1 ]'
c closed-port-names-host 'has err.txt "127.0.0.1:$cport"'
c closed-port-hides-url '! grep -q -e secret-path -e s3cret err.txt'
c closed-port-fast '[ "$took" -lt 3000 ]'

start flaky --fail-first 1 --body recovered
d ./http_drv POST "http://127.0.0.1:$port/" x
eq retry-after-500 "$(tail -n +2 out.txt)" recovered
eq retry-exactly-two "$(count flaky.log)" 2

start broken --fail-first 99
d ./http_drv POST "http://127.0.0.1:$port/" x
eq final-500-reported "$rc/$(head -1 out.txt)" "0/status 500"
eq final-500-two-tries "$(count broken.log)" 2

start slam --close
d ./http_drv POST "http://127.0.0.1:$port/x?token=s3cret" x
c closed-connection-fails '[ $rc -eq 1 ] && has err.txt "127.0.0.1:$port"'
eq closed-connection-retried "$(count slam.log)" 2
c closed-connection-hides-url '! grep -q s3cret err.txt'

start hang --hang
d ./http_drv -T 1000 POST "http://127.0.0.1:$port/" x
c hang-fails '[ $rc -eq 1 ] && has err.txt "no response within 1000 ms"'
c hang-bounded '[ "$took" -ge 900 ] && [ "$took" -lt 5000 ]'
eq hang-one-request "$(count hang.log)" 1

d ./http_drv POST "ftp://127.0.0.1/x" x
c bad-scheme '[ $rc -eq 1 ] && has err.txt "http:// or https://"'

# ---- https: curl (real and fake), TLS proxy ------------------------------
mkdir emptybin fakebin
need_ok=1
for tool in openssl stunnel4 curl; do
	command -v "$tool" >/dev/null 2>&1 || { echo "FAIL https-$tool: $tool not installed (apt-get install -y curl stunnel4 openssl)"; need_ok=0; }
done

# A fake curl: records argv and stdin, answers 201 (or exits 7, or hangs).
cat > fakebin/curl <<'SH'
#!/bin/sh
printf '%s\n' "$@" > "$FAKE_DIR/argv.txt"
cat > "$FAKE_DIR/stdin.txt"
echo run >> "$FAKE_DIR/runs.txt"
case $FAKE_MODE in
refuse) echo "curl: (7) Failed to connect to hooks.example.com port 443" >&2; exit 7 ;;
hang) exec sleep 60 ;;
esac
printf 'fake body\n201'
SH
chmod +x fakebin/curl
export FAKE_DIR=$PWD
d env PATH="$PWD/fakebin:$PATH" ./http_drv -P '' -t application/json -H 'Authorization: Bearer T0K3N-HDR' POST \
	"https://hooks.example.com/services/T0K3N-URL" '{"text":"T0K3N-BODY"}'
eq fake-curl-status "$(head -1 out.txt)/$(tail -n +2 out.txt)" "status 201/fake body"
eq fake-curl-argv "$(tr '\n' ' ' < argv.txt)" "-q --config - "
c fake-curl-secrets-not-in-argv '! grep -q T0K3N argv.txt'
t fake-curl-url-on-stdin has stdin.txt 'url = "https://hooks.example.com:443/services/T0K3N-URL"'
t fake-curl-header-on-stdin has stdin.txt 'header = "Authorization: Bearer T0K3N-HDR"'
t fake-curl-body-on-stdin has stdin.txt 'data-raw = "{\"text\":\"T0K3N-BODY\"}"'
rm -f runs.txt
d env FAKE_MODE=refuse PATH="$PWD/fakebin:$PATH" ./http_drv -P '' POST "https://hooks.example.com/services/T0K3N-URL" x
c fake-curl-refused-fails '[ $rc -eq 1 ] && has err.txt "hooks.example.com:443" && has err.txt "Failed to connect"'
eq fake-curl-refused-retried "$(count runs.txt)" 2
d env FAKE_MODE=hang PATH="$PWD/fakebin:$PATH" ./http_drv -P '' -T 1000 POST "https://hooks.example.com/x" x
c fake-curl-hang-killed '[ $rc -eq 1 ] && has err.txt "no response within 1000 ms" && [ "$took" -lt 5000 ]'

d env PATH="$PWD/emptybin" ./http_drv -P '' POST "https://hooks.example.com/services/T0K3N-URL" x
c https-without-ways '[ $rc -eq 1 ] && has err.txt "needs a TLS proxy (tls_proxy or WALTER_TLS_PROXY) or curl on PATH"'
c https-without-ways-hides-url '! grep -q T0K3N err.txt'

if [ $need_ok = 1 ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >openssl.txt 2>&1 ||
		echo "FAIL https-cert: openssl req failed"
	start tlsweb --body "over tls"
	sport=$(free_port)
	cat > server.conf <<CONF
foreground = yes
pid =
[tls]
accept = 127.0.0.1:$sport
connect = 127.0.0.1:$port
cert = $PWD/cert.pem
key = $PWD/key.pem
CONF
	stunnel4 server.conf >server.txt 2>&1 &
	pids="$pids $!"
	wait_port "$sport" || echo "FAIL https-stunnel-server: not listening"

	d env CURL_CA_BUNDLE="$PWD/cert.pem" ./http_drv -P '' -t application/json POST "https://127.0.0.1:$sport/services/T0K3N?x=1" '{"a":1}'
	eq https-curl-status "$(head -1 out.txt)/$(tail -n +2 out.txt)" "status 200/over tls"
	eq https-curl-path "$(field tlsweb.log 1 path)" "/services/T0K3N?x=1"
	eq https-curl-body "$(field tlsweb.log 1 body)" '{"a":1}'
	eq https-curl-content-type "$(field tlsweb.log 1 headers.content-type)" application/json
	d ./http_drv -P '' POST "https://127.0.0.1:$sport/services/T0K3N" x
	c https-untrusted-cert-fails '[ $rc -eq 1 ] && has err.txt "127.0.0.1:$sport" && ! has err.txt T0K3N'

	tport=$(free_port)
	cat > client.conf <<CONF
foreground = yes
pid =
[tlsproxy]
client = yes
accept = 127.0.0.1:$tport
connect = 127.0.0.1:$sport
CAfile = $PWD/cert.pem
verifyChain = yes
checkIP = 127.0.0.1
CONF
	stunnel4 client.conf >client.txt 2>&1 &
	pids="$pids $!"
	wait_port "$tport" || echo "FAIL https-stunnel-client: not listening"
	d env WALTER_TLS_PROXY=127.0.0.1:$tport PATH="$PWD/emptybin" ./http_drv POST "https://127.0.0.1:$sport/tls/T0K3N" via-tls-proxy
	eq tls-proxy-status "$(head -1 out.txt)/$(tail -n +2 out.txt)" "status 200/over tls"
	eq tls-proxy-absolute-uri "$(field tlsweb.log 2 path)" "https://127.0.0.1:$sport/tls/T0K3N"
	eq tls-proxy-host "$(field tlsweb.log 2 headers.host)" "127.0.0.1:$sport"
	eq tls-proxy-body "$(field tlsweb.log 2 body)" via-tls-proxy
	d env PATH="$PWD/emptybin" ./http_drv -P "127.0.0.1:$tport" POST "https://127.0.0.1:$sport/field" x
	eq tls-proxy-field "$(field tlsweb.log 3 path)" "https://127.0.0.1:$sport/field"
	cport=$(free_port)
	d env WALTER_TLS_PROXY=127.0.0.1:$cport PATH="$PWD/emptybin" ./http_drv POST "https://127.0.0.1:$sport/tls/T0K3N" x
	c tls-proxy-down-fails '[ $rc -eq 1 ] && has err.txt "via TLS proxy 127.0.0.1:$cport" && ! has err.txt T0K3N'
fi
