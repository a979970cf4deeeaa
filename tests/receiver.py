#!/usr/bin/env python3
"""receiver.py - a tiny HTTP receiver for tests (python3 stdlib only).

Binds 127.0.0.1 on a free port, writes the port number to PORT_FILE
(atomically, once listening) and appends one JSON line per request to
LOG_FILE:
  {"method": "POST", "path": "/x?y", "version": "HTTP/1.1",
   "headers": {"content-type": "...", ...},   (names lower-cased)
   "body": "..."}                             (UTF-8, bad bytes replaced)
"path" is the request target exactly as sent: an absolute URI
("http://host:port/x") when the client treats us as a proxy.

usage: receiver.py PORT_FILE LOG_FILE [options]
  --status N        answer with status N (default 200)
  --body TEXT       answer with this body (default "ok")
  --content-type T  Content-Type of the answer (default text/plain)
  --chunked         send the body with Transfer-Encoding: chunked
  --fail-first N    answer 500 to the first N requests, then as above
  --hang            read and log the request, then never answer
  --close           close each connection at once, reading nothing
                    (logged as {"method": null, "closed": true})
  --lifetime S      exit by itself after S seconds (default 60), so a
                    failed test never leaves it running
  --delay S         wait S seconds (a fraction) before each answer: a slow
                    receiver
  --body-max N      log at most N characters of each body, and its
                    length as "body_len" (big bodies, small logs)
"""
import argparse
import http.server
import json
import os
import socket
import sys
import threading
import time

lock = threading.Lock()
count = 0


def log(args, entry):
    with lock:
        with open(args.log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def next_number():
    global count
    with lock:
        count += 1
        return count


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    args = None

    def handle(self):
        if self.args.close:
            next_number()
            log(self.args, {"method": None, "closed": True})
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.connection.close()
            return
        self.close_connection = True
        self.handle_one_request()

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def answer(self):
        body = self.read_body()
        n = next_number()
        entry = {
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        if self.args.body_max is not None:
            entry["body_len"] = len(body)
            entry["body"] = entry["body"][:self.args.body_max]
        log(self.args, entry)
        if self.args.delay:
            time.sleep(self.args.delay)
        if self.args.hang:
            time.sleep(self.args.lifetime + 10)
            return
        status = 500 if n <= self.args.fail_first else self.args.status
        out = (self.args.body if status != 500 or n > self.args.fail_first
               else "failing on purpose").encode()
        self.send_response(status)
        self.send_header("Content-Type", self.args.content_type)
        self.send_header("Connection", "close")
        if self.args.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(out), 7):
                piece = out[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer

    def log_message(self, fmt, *a):
        pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port_file")
    p.add_argument("log_file")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--body", default="ok")
    p.add_argument("--content-type", default="text/plain")
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--hang", action="store_true")
    p.add_argument("--close", action="store_true")
    p.add_argument("--lifetime", type=float, default=60)
    p.add_argument("--delay", type=float, default=0)
    p.add_argument("--body-max", type=int, default=None)
    args = p.parse_args()
    Handler.args = args

    # a hard stop, whatever the threads are doing
    t = threading.Timer(args.lifetime, lambda: os._exit(0))
    t.daemon = True
    t.start()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    open(args.log_file, "a").close()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
