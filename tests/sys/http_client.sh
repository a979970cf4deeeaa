# tests/sys/http_client.sh - http_mini.c against real servers on 127.0.0.1:
# tests/receiver.py as webhook server and as http_proxy, tests/fake_api.py
# as GitHub (response headers, pages, Link, body limits), stunnel as the TLS
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
# under make asan the driver (and so http_mini.c) runs sanitized too
san=
[ -n "$WALTER_SANITIZED" ] && san="-g -fsanitize=address,undefined -fno-sanitize-recover=all"
if ! ${TCC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra $san -I"$top/include" \
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

# A fake curl: records argv and stdin, answers 201 as curl's "include"
# prints it (or exits 7, or hangs, or prints no status line).
cat > fakebin/curl <<'SH'
#!/bin/sh
printf '%s\n' "$@" > "$FAKE_DIR/argv.txt"
cat > "$FAKE_DIR/stdin.txt"
echo run >> "$FAKE_DIR/runs.txt"
case $FAKE_MODE in
refuse) echo "curl: (7) Failed to connect to hooks.example.com port 443" >&2; exit 7 ;;
hang) exec sleep 60 ;;
nohead) printf 'fake body\n'; exit 0 ;;
silent) exit 0 ;;
big) printf 'HTTP/1.1 200 OK\r\n\r\n'; exec yes 0123456789abcdef ;;
esac
printf 'HTTP/1.1 201 Created\r\nContent-Length: 10\r\nLink: </p2>; rel="next"\r\n\r\nfake body\n'
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
eq fake-curl-http11-include "$(grep -xc -e http1.1 -e include -e suppress-connect-headers stdin.txt)" 3
c fake-curl-no-write-out '! grep -q write-out stdin.txt'
t fake-curl-user-agent has stdin.txt 'user-agent = "walter"'
d env PATH="$PWD/fakebin:$PATH" ./http_drv -P '' -F link -n -H 'User-Agent: walter/9' GET "https://hooks.example.com/x/T0K3N?page=1"
eq fake-curl-fields "$(sed -n 2,3p out.txt)" 'field link: </p2>; rel="next"
next https://hooks.example.com/p2'
c fake-curl-get-no-data '! grep -q data-raw stdin.txt && has stdin.txt "request = \"GET\""'
c fake-curl-own-user-agent '! grep -q "^user-agent" stdin.txt && has stdin.txt "header = \"User-Agent: walter/9\""'
d env FAKE_MODE=nohead PATH="$PWD/fakebin:$PATH" ./http_drv -P '' POST "https://hooks.example.com/T0K3N" x
c fake-curl-no-status-line '[ $rc -eq 1 ] && has err.txt "hooks.example.com:443: malformed status line" && ! has err.txt T0K3N'
d env FAKE_MODE=silent PATH="$PWD/fakebin:$PATH" ./http_drv -P '' POST "https://hooks.example.com/T0K3N" x
c fake-curl-silent '[ $rc -eq 1 ] && has err.txt "hooks.example.com:443: curl gave no whole response: connection closed without a response"'
d env FAKE_MODE=big PATH="$PWD/fakebin:$PATH" ./http_drv -P '' -m 100000 POST "https://hooks.example.com/T0K3N" x
c fake-curl-endless-body-stopped '[ $rc -eq 1 ] && has err.txt "hooks.example.com:443: response body larger than 100000 bytes" && [ "$took" -lt 5000 ]'
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

# ---- GitHub's API: header fields, pages, Link, limits -----------------------
# The same checks over a plain socket, through curl and through the TLS
# proxy (the last two against a second fake API behind stunnel, whose Link
# URLs say https). 120 open PRs of ~3.3 KB: page 1 is about 330 KB.
. "$top/tests/sys/forge.lib"
trunk=0123456789abcdef0123456789abcdef01234567
apiconf() {
	python3 - "$trunk" "$@" <<'PY'
import json, sys
c = {"github": {"prefix": "/api/v3", "token": "T0K3N",
                "repos": {"o/r": {"id": 7, "pad": 3000, "branches": {"master": sys.argv[1]},
                                  "pulls": [{"number": n, "sha": "%040x" % n} for n in range(1, 121)]},
                          "o/old": {"id": 7, "moved_to": "o/r"}}},
     "faults": [{"match": "^GET .*/repos/o/r/commits/limit$", "status": 429,
                 "headers": {"Retry-After": "7"}},
                {"match": "^GET .*/repos/o/r/pulls\\?evil", "headers": {
                    "Link": "<http://evil.example:1/steal?T0K3N>; rel=\"next\""}}]}
for a in sys.argv[2:]:
    k, v = a.split("=", 1)
    c[k] = json.loads(v)
print(json.dumps(c))
PY
}
# qf LOG N EXPR: EXPR over request N of a fake API log (r, H, F: the
# header lines as [name, value] pairs)
qf() {
	python3 - "$@" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1])
H, F = r["headers"], r["fields"]
v = eval(sys.argv[3])
print(v if isinstance(v, str) else json.dumps(v))
PY
}
# items FILE: how many JSON array items FILE holds, and its first number
items() { python3 -c 'import json,sys; J=json.load(open(sys.argv[1])); print(len(J), J[0]["number"])' "$1"; }

apiconf | api_config api.json
api_start api api.json
plain=$api
gh_hdrs="-H Accept:application/vnd.github+json -H Authorization:Bearer_T0K3N -H User-Agent:walter/test"

# over WAY LOG BASE DRIVER...: the checks over one way; BASE is the URL
# of the API as the client sees it, DRIVER the http_drv command before
# its own options.
over() {
	_w=$1 _log=$2 _b=$3/api/v3; shift 3
	_k=$(count "$_log")
	d "$@" -H 'Accept: application/vnd.github+json' -H 'Authorization: Bearer T0K3N' \
		-H 'User-Agent: walter/test' -F link -F x-ratelimit-remaining -F x-ratelimit-reset \
		-n -o page1.json -m 4194304 GET "$_b/repos/o/r/pulls?state=open&per_page=100"
	eq "$_w-page1" "$(head -1 out.txt)/$(items page1.json)" "status 200/100 1"
	c "$_w-page1-big" '[ "$(wc -c < page1.json)" -gt 327680 ]'
	eq "$_w-link-field" "$(sed -n 2p out.txt)" "field link: <$_b/repositories/7/pulls?state=open&per_page=100&page=2>; rel=\"next\", <$_b/repositories/7/pulls?state=open&per_page=100&page=2>; rel=\"last\""
	c "$_w-ratelimit-fields" 'sed -n 3p out.txt | grep -qE "^field x-ratelimit-remaining: [0-9]+$" && sed -n 4p out.txt | grep -qE "^field x-ratelimit-reset: [0-9]{10}$"'
	eq "$_w-next" "$(sed -n 5p out.txt)" "next $_b/repositories/7/pulls?state=open&per_page=100&page=2"
	_k=$((_k + 1))
	eq "$_w-get-sent" "$(qf "$_log" $_k '[r["method"], r["version"], r["body"], H.get("content-length"), H.get("content-type")]')" '["GET", "HTTP/1.1", "", null, null]'
	eq "$_w-one-user-agent" "$(qf "$_log" $_k '[v for k, v in F if k.lower() == "user-agent"]')" '["walter/test"]'
	eq "$_w-custom-headers" "$(qf "$_log" $_k '[H["accept"], H["authorization"]]')" '["application/vnd.github+json", "Bearer T0K3N"]'

	d "$@" -H 'Authorization: Bearer T0K3N' -n -o page2.json GET "$(sed -n 5p out.txt | cut -c6-)"
	eq "$_w-page2" "$(head -1 out.txt)/$(sed -n 2p out.txt)/$(items page2.json)" "status 200/next none/20 101"

	_k=$(count "$_log")
	d "$@" -H 'Authorization: Bearer T0K3N' -m 65536 GET "$_b/repos/o/r/pulls?state=open&per_page=100&T0K3N"
	c "$_w-over-limit" '[ $rc -eq 1 ] && has err.txt ": response body larger than 65536 bytes" && ! grep -q -e T0K3N -e /repos err.txt'
	eq "$_w-over-limit-not-retried" "$(count "$_log")" $((_k + 1))
	d "$@" -H 'Authorization: Bearer T0K3N' GET "$_b/repos/o/r/pulls?state=open&per_page=100"
	eq "$_w-default-limit" "$rc/$(head -1 out.txt)" "0/status 200"

	d "$@" -H 'Authorization: Bearer T0K3N' -H 'Accept: application/vnd.github.sha' GET "$_b/repos/o/r/commits/master"
	eq "$_w-sha" "$(cat out.txt)" "status 200
$trunk"
	_k=$(count "$_log")
	d "$@" -H 'Authorization: Bearer T0K3N' -F retry-after GET "$_b/repos/o/r/commits/limit"
	eq "$_w-429" "$rc/$(cat out.txt | head -2 | tr '\n' '/')$(count "$_log")" "0/status 429/field retry-after: 7/$((_k + 1))"
	d "$@" -H 'Authorization: Bearer T0K3N' -F location GET "$_b/repos/o/old/pulls"
	eq "$_w-301-location" "$(head -2 out.txt | tr '\n' '/')" "status 301/field location: $_b/repositories/7/pulls/"
	d "$@" -H 'Authorization: Bearer T0K3N' -n GET "$_b/repos/o/r/pulls?evil"
	eq "$_w-foreign-link" "$(sed -n 2p out.txt)" 'next refused: Link rel="next" leads to another server (http://evil.example:1)'
	c "$_w-foreign-link-hides-url" '! grep -q -e steal -e T0K3N out.txt err.txt'
}

over socket api.log "$plain" ./http_drv

if [ $need_ok = 1 ]; then
	# the second API: stunnel in front, Link URLs on https
	asport=$(free_port)
	apiconf "base_url=\"https://127.0.0.1:$asport\"" | api_config tapi.json
	api_start tapi tapi.json
	cat > apiserver.conf <<CONF
foreground = yes
pid =
[api]
accept = 127.0.0.1:$asport
connect = 127.0.0.1:$port
cert = $PWD/cert.pem
key = $PWD/key.pem
CONF
	stunnel4 apiserver.conf >apiserver.txt 2>&1 &
	pids="$pids $!"
	atport=$(free_port)
	cat > apiclient.conf <<CONF
foreground = yes
pid =
[apiproxy]
client = yes
accept = 127.0.0.1:$atport
connect = 127.0.0.1:$asport
CAfile = $PWD/cert.pem
verifyChain = yes
checkIP = 127.0.0.1
CONF
	stunnel4 apiclient.conf >apiclient.txt 2>&1 &
	pids="$pids $!"
	wait_port "$asport" && wait_port "$atport" || echo "FAIL https-api-stunnel: not listening"
	over curl tapi.log "https://127.0.0.1:$asport" env CURL_CA_BUNDLE="$PWD/cert.pem" ./http_drv -P ''
	over tlsproxy tapi.log "https://127.0.0.1:$asport" env PATH="$PWD/emptybin" ./http_drv -P "127.0.0.1:$atport"
	# chunked pages, through curl and the TLS proxy
	apiconf "base_url=\"https://127.0.0.1:$asport\"" 'github={"prefix": "/api/v3", "chunked": true, "repos": {"o/r": {"id": 7, "pad": 3000, "pulls": [{"number": 1, "sha": "aa"}, {"number": 2, "sha": "bb"}]}}}' |
		api_config tapi.json
	d env CURL_CA_BUNDLE="$PWD/cert.pem" ./http_drv -P '' -o c.json GET "https://127.0.0.1:$asport/api/v3/repos/o/r/pulls"
	eq curl-chunked "$(head -1 out.txt)/$(items c.json)" "status 200/2 1"
	d env PATH="$PWD/emptybin" ./http_drv -P "127.0.0.1:$atport" -F transfer-encoding -o t.json GET "https://127.0.0.1:$asport/api/v3/repos/o/r/pulls"
	eq tlsproxy-chunked "$(head -2 out.txt | tr '\n' /)$(items t.json)" "status 200/field transfer-encoding: chunked/2 1"
	d env CURL_CA_BUNDLE="$PWD/cert.pem" ./http_drv -P '' -m 1000 GET "https://127.0.0.1:$asport/api/v3/repos/o/r/pulls"
	c curl-chunked-over-limit '[ $rc -eq 1 ] && has err.txt "127.0.0.1:$asport: response body larger than 1000 bytes"'
fi
