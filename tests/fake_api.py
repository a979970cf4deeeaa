#!/usr/bin/env python3
"""fake_api.py - a fake GitHub and GitLab REST API for tests (python3 stdlib).

Binds 127.0.0.1 on a free port, writes the port to PORT_FILE (atomically,
once listening) and appends one JSON line per request to LOG_FILE, before
answering it:
  {"method": "GET", "path": "/repos/o/r/pulls?page=2", "version": "HTTP/1.1",
   "headers": {"accept": "...", ...},          (names lower-cased, last wins)
   "fields": [["Accept", "..."], ...],         (every header line, in order)
   "body": "...", "answer": 200}
What it serves comes from CONFIG (JSON), read again for every request, so
a test changes it (write a temp file, rename it) without a restart:

  {"base_url": "https://127.0.0.1:4443",  # of Link URLs; default http://HOST
   "github": {"prefix": "/api/v3",        # Enterprise path prefix ("" for
                                          #   api.github.com)
              "token": "T",               # Authorization: Bearer T or token T;
                                          #   unset: no check
              "ratelimit_remaining": 0,   # X-RateLimit-Remaining (default
                                          #   5000 minus requests so far)
              "ratelimit_reset": 1700000000,  # X-RateLimit-Reset (default
                                              #   now + 3600)
              "any_sha": false,           # statuses on unknown SHAs too
              "chunked": false,           # bodies Transfer-Encoding: chunked
              "repos": {"o/r": {
                  "id": 7,                # Link URLs use /repositories/7/
                  "default_branch": "master",
                  "branches": {"master": "SHA"},
                  "shas": ["SHA"],         # more commits statuses may name
                  "moved_to": "o/new",     # answer 301 with Location instead
                  "pad": 0,                # bytes of body text per pull
                  "pulls": [{"number": 1, "sha": "SHA", "ref": "feature/a",
                             "fork": false, "state": "open",
                             "title": "...", "head_repo": null}]}}},
                                          # head_repo null: a deleted fork
   "gitlab": {"prefix": "/api/v4", "token": "T",
              "projects": {"42": {"path": "group/proj", "shas": ["SHA"]}}},
   "faults": [{"match": "REGEX",          # re.search on "METHOD PATH?QUERY"
               "status": 429,             # unset: the normal answer, with
               "headers": {"Retry-After": "1"},   # these headers over it
               "body": {...},             # JSON (or a string) to answer
               "times": 1,                # how many requests (default all)
               "hang": 5,                 # sleep first (seconds)
               "close": true}]}           # close without answering

GitHub: GET {prefix}/repos/O/R/commits/REF (Accept:
application/vnd.github.sha gives the bare SHA), GET .../pulls and
{prefix}/repositories/ID/pulls (state, per_page <= 100, default 30, page;
Link with next/last/first/prev like github.com), POST .../statuses/SHA
(checked like github.com: state, description <= 140 characters, a known
SHA; 201 with the status), GET .../commits/REF/statuses.
GitLab: POST {prefix}/projects/ID/statuses/SHA (ID a number or the
URL-encoded path; fields from the query, a form or JSON; PRIVATE-TOKEN;
the same state twice in a row for a SHA and name is a 400 as on gitlab.com).
Every request counts towards "times" of the first fault it matches.

usage: fake_api.py PORT_FILE LOG_FILE CONFIG [--lifetime S]
  --lifetime S  exit by itself after S seconds (default 120), so a failed
                test never leaves it running
"""
import argparse
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
state = {"requests": 0, "fault_hits": {}, "statuses": {}, "gl_last": {}}

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
GH_STATES = ("error", "failure", "pending", "success")
GL_STATES = ("pending", "running", "success", "failed", "canceled", "skipped")


def load_config(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def user(login):
    return {"login": login, "id": sum(login.encode()) + 1000, "type": "User",
            "url": "https://api.github.com/users/" + login,
            "html_url": "https://github.com/" + login, "site_admin": False}


def repo_obj(api, full, rid, fork):
    owner = full.split("/")[0]
    u = api + "/repos/" + full
    o = {"id": rid, "name": full.split("/")[1], "full_name": full,
         "private": False, "owner": user(owner), "fork": fork,
         "html_url": "https://github.com/" + full, "url": u,
         "default_branch": "master"}
    for k in ("forks", "keys", "collaborators", "teams", "hooks", "events",
              "assignees", "branches", "tags", "blobs", "trees", "statuses",
              "languages", "stargazers", "contributors", "subscribers",
              "commits", "comments", "issues", "pulls", "milestones",
              "labels", "releases", "deployments"):
        o[k + "_url"] = u + "/" + k
    return o


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    args = None

    def handle(self):
        self.close_connection = True
        try:
            self.handle_one_request()
        except ConnectionError:
            pass  # a client that stopped reading (a body past its limit)

    def log_message(self, fmt, *a):
        pass

    # ---- plumbing --------------------------------------------------

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

    def log(self, body, status):
        entry = {
            "method": self.command, "path": self.path,
            "version": self.request_version,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "fields": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"), "answer": status,
        }
        with lock:
            with open(self.args.log_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")

    def send(self, status, obj, headers=None, chunked=False):
        if isinstance(obj, (bytes, bytearray)):
            out, ctype = bytes(obj), "text/plain; charset=utf-8"
        elif isinstance(obj, str):
            out, ctype = obj.encode(), "text/plain; charset=utf-8"
        else:
            out = json.dumps(obj).encode()  # ensure_ascii: \ud83d\ude00 pairs
            ctype = "application/json; charset=utf-8"
        self.send_response(status)
        hdrs = {"Content-Type": ctype, "Connection": "close"}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, str(v))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(out), 4096):
                piece = out[i:i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

    def base(self, cfg):
        return cfg.get("base_url") or "http://" + self.headers.get("Host", "")

    # ---- dispatch --------------------------------------------------

    def answer(self):
        body = self.read_body()
        try:
            cfg = load_config(self.args.config)
        except (OSError, ValueError) as e:
            self.log(body, 500)
            return self.send(500, {"message": "fake_api config: %s" % e})
        with lock:
            state["requests"] += 1
            n = state["requests"]
        fault = self.fault(cfg) or {}
        if fault.get("hang"):
            time.sleep(float(fault["hang"]))
        if fault.get("close"):
            self.log(body, None)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if "status" in fault:  # instead of the answer: nothing is recorded
            status, headers, chunked = fault["status"], {}, False
            obj = fault.get("body", {"message": "fault %d" % status})
            gh = cfg.get("github")
            if gh is not None and self.path.startswith(gh.get("prefix", "") + "/"):
                headers = self.ratelimit(gh, n)
        else:
            status, obj, headers, chunked = self.route(cfg, body, n)
        headers.update(fault.get("headers", {}))
        self.log(body, status)
        self.send(status, obj, headers, chunked)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = answer

    def fault(self, cfg):
        line = "%s %s" % (self.command, self.path)
        for i, f in enumerate(cfg.get("faults", [])):
            if not re.search(f["match"], line):
                continue
            key = json.dumps(f, sort_keys=True) + str(i)
            with lock:
                hits = state["fault_hits"].get(key, 0)
                state["fault_hits"][key] = hits + 1
            if "times" not in f or hits < f["times"]:
                return f
            return None
        return None

    def route(self, cfg, body, n):
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        gh, gl = cfg.get("github"), cfg.get("gitlab")
        if gl is not None and path.startswith(gl.get("prefix", "/api/v4") + "/"):
            return self.gitlab(cfg, gl, path[len(gl.get("prefix", "/api/v4")):],
                               query, body)
        if gh is not None and path.startswith(gh.get("prefix", "") + "/"):
            status, obj, headers = self.github(
                cfg, gh, path[len(gh.get("prefix", "")):], query, body)
            headers.update(self.ratelimit(gh, n))
            return status, obj, headers, bool(gh.get("chunked"))
        return 404, {"message": "Not Found"}, {}, False

    # ---- GitHub ----------------------------------------------------

    def ratelimit(self, gh, n):
        rem = gh.get("ratelimit_remaining", max(0, 5000 - n))
        return {"X-RateLimit-Limit": 5000, "X-RateLimit-Remaining": rem,
                "X-RateLimit-Used": 5000 - rem, "X-RateLimit-Resource": "core",
                "X-RateLimit-Reset": gh.get("ratelimit_reset",
                                            int(time.time()) + 3600)}

    def github(self, cfg, gh, path, query, body):
        tok = gh.get("token")
        if tok is not None:
            auth = self.headers.get("Authorization", "")
            if auth not in ("Bearer " + tok, "token " + tok):
                return 401, {"message": "Bad credentials"}, {}
        api = self.base(cfg) + gh.get("prefix", "")
        m = re.match(r"^/repositories/(\d+)(/.*)$", path)
        if m:
            for full, r in gh.get("repos", {}).items():
                if str(r.get("id", 0)) == m.group(1):
                    return self.repo(cfg, api, full, r, m.group(2), query, body)
            return 404, {"message": "Not Found"}, {}
        m = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", path)
        if not m or m.group(1) not in gh.get("repos", {}):
            return 404, {"message": "Not Found"}, {}
        r = gh["repos"][m.group(1)]
        if r.get("moved_to"):
            loc = "%s/repositories/%d%s" % (api, r.get("id", 1), m.group(2) or "")
            return 301, {"message": "Moved Permanently", "url": loc}, {"Location": loc}
        return self.repo(cfg, api, m.group(1), r, m.group(2) or "", query, body)

    def repo(self, cfg, api, full, r, rest, query, body):
        branches = r.get("branches", {})
        pulls = r.get("pulls", [])
        known = set(branches.values()) | set(r.get("shas", []))
        known |= {p.get("sha") for p in pulls}
        m = re.match(r"^/commits/([^/]+)(/statuses)?$", rest)
        if m and self.command == "GET":
            ref = urllib.parse.unquote(m.group(1))
            sha = branches.get(ref, ref if ref in known else None)
            if sha is None:
                return 422, {"message": "No commit found for SHA: " + ref}, {}
            if m.group(2):
                return 200, state["statuses"].get((full, sha), []), {}
            if "application/vnd.github.sha" in self.headers.get("Accept", ""):
                return 200, sha, {}
            return 200, {"sha": sha, "url": api + "/repos/%s/commits/%s" % (full, sha),
                         "commit": {"message": "commit " + sha[:7]}}, {}
        if rest == "/pulls" and self.command == "GET":
            return self.pulls(api, full, r, query)
        m = re.match(r"^/statuses/([^/]+)$", rest)
        if m and self.command == "POST":
            return self.gh_status(cfg, api, full, m.group(1), known, body)
        return 404, {"message": "Not Found"}, {}

    def pulls(self, api, full, r, query):
        want = query.get("state", ["open"])[0]
        try:
            per = min(100, max(1, int(query.get("per_page", ["30"])[0])))
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            return 400, {"message": "Bad per_page or page"}, {}
        sel = [p for p in r.get("pulls", [])
               if want == "all" or p.get("state", "open") == want]
        last = max(1, (len(sel) + per - 1) // per)
        items = [self.pull(api, full, r, p) for p in sel[(page - 1) * per:page * per]]
        link = "%s/repositories/%d/pulls?state=%s&per_page=%d&page=" % (
            api, r.get("id", 1), want, per)
        rels = []
        if page < last:
            rels += ['<%s%d>; rel="next"' % (link, page + 1),
                     '<%s%d>; rel="last"' % (link, last)]
        if page > 1:
            rels += ['<%s%d>; rel="prev"' % (link, page - 1),
                     '<%s1>; rel="first"' % link]
        return 200, items, {"Link": ", ".join(rels)} if rels else {}

    def pull(self, api, full, r, p):
        n = p["number"]
        owner = full.split("/")[0]
        fork = bool(p.get("fork"))
        head_full = p.get("head_repo", ("contributor%d/" % n if fork else owner + "/")
                          + full.split("/")[1])
        head_repo = None if head_full is None else repo_obj(
            api, head_full, 900 + n if fork else r.get("id", 1), fork)
        head_owner = (head_full or "ghost/x").split("/")[0]
        trunk = r.get("default_branch", "master")
        text = "Pull request %d.\n" % n
        text += "x" * max(0, r.get("pad", 0) - len(text))
        return {
            "url": "%s/repos/%s/pulls/%d" % (api, full, n), "id": 5000 + n,
            "number": n, "state": p.get("state", "open"), "locked": False,
            "title": p.get("title", "Change %d \U0001F600" % n),
            "user": user(head_owner), "body": text,
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-02T00:00:00Z",
            "draft": False, "author_association": "CONTRIBUTOR",
            "head": {"label": "%s:%s" % (head_owner, p.get("ref", "pr%d" % n)),
                     "ref": p.get("ref", "pr%d" % n), "sha": p.get("sha"),
                     "user": user(head_owner), "repo": head_repo},
            "base": {"label": "%s:%s" % (owner, trunk), "ref": trunk,
                     "sha": r.get("branches", {}).get(trunk),
                     "user": user(owner), "repo": repo_obj(api, full, r.get("id", 1), False)},
        }

    def gh_status(self, cfg, api, full, sha, known, body):
        try:
            j = json.loads(body.decode("utf-8"))
            assert isinstance(j, dict)
        except (ValueError, AssertionError):
            return 400, {"message": "Problems parsing JSON"}, {}
        errors = []
        if j.get("state") not in GH_STATES:
            errors.append({"resource": "Status", "field": "state", "code": "invalid"})
        if len(j.get("description") or "") > 140:
            errors.append({"resource": "Status", "field": "description",
                           "code": "custom", "message": "description is too long "
                           "(maximum is 140 characters)"})
        if errors:
            return 422, {"message": "Validation Failed", "errors": errors}, {}
        if sha not in known and not (cfg["github"].get("any_sha") and SHA_RE.match(sha)):
            return 422, {"message": "No commit found for SHA: " + sha}, {}
        st = {"url": "%s/repos/%s/statuses/%s" % (api, full, sha),
              "state": j["state"], "description": j.get("description"),
              "target_url": j.get("target_url"),
              "context": j.get("context") or "default"}
        with lock:
            lst = state["statuses"].setdefault((full, sha), [])
            st["id"] = len(lst) + 1
            lst.insert(0, st)
        return 201, st, {"Location": st["url"]}

    # ---- GitLab ----------------------------------------------------

    def gitlab(self, cfg, gl, path, query, body):
        tok = gl.get("token")
        if tok is not None and self.headers.get("PRIVATE-TOKEN") != tok:
            return 401, {"message": "401 Unauthorized"}, {}, False
        # path is raw: a project path comes URL-encoded (group%2Fproj)
        m = re.match(r"^/projects/([^/]+)/statuses/([^/]+)$", path)
        if not m or self.command != "POST":
            return 404, {"message": "404 Not Found"}, {}, False
        pid = urllib.parse.unquote(m.group(1))
        proj = None
        for k, p in gl.get("projects", {}).items():
            if pid in (k, p.get("path")):
                proj = (k, p)
        if proj is None:
            return 404, {"message": "404 Project Not Found"}, {}, False
        sha = m.group(2)
        if sha not in proj[1].get("shas", []):
            return 404, {"message": "404 References for commit Not Found"}, {}, False
        f = {k: v[0] for k, v in query.items()}
        ctype = self.headers.get("Content-Type", "")
        try:
            if "json" in ctype:
                f.update(json.loads(body.decode("utf-8")))
            elif body:
                f.update({k: v[0] for k, v in urllib.parse.parse_qs(
                    body.decode("utf-8"), keep_blank_values=True).items()})
        except ValueError:
            return 400, {"message": "400 Bad request - invalid JSON"}, {}, False
        st = f.get("state")
        if st not in GL_STATES:
            return 400, {"error": "state does not have a valid value"}, {}, False
        name = f.get("name") or f.get("context") or "default"
        key = (proj[0], sha, name)
        with lock:
            prev = state["gl_last"].get(key)
            if prev == st:
                return 400, {"message": "Cannot transition status via :%s from :%s"
                             % (st, prev)}, {}, False
            state["gl_last"][key] = st
        return 201, {"id": 1, "sha": sha, "ref": f.get("ref"), "status": st,
                     "name": name, "target_url": f.get("target_url"),
                     "description": f.get("description")}, {}, False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port_file")
    p.add_argument("log_file")
    p.add_argument("config")
    p.add_argument("--lifetime", type=float, default=120)
    args = p.parse_args()
    Handler.args = args

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
