#!/usr/bin/env python3
"""Edit-to-reload latency of `gen serve --watch`.

    python3 benches/serve_latency.py [--sites 15] [--articles 2000] [--edits 20]

Generates a corpus (benches/corpus.py), starts the preview server, opens the
live-reload event stream of site00 like a browser tab does, then appends a
line to one article N times and measures, for each edit, the time from the
file write until the `reload` event arrives. Prints every sample and the
median.
"""
import argparse, os, socket, statistics, subprocess, sys, tempfile, time

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--sites", type=int, default=15)
ap.add_argument("--articles", type=int, default=2000)
ap.add_argument("--edits", type=int, default=20)
a = ap.parse_args()

subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=os.path.join(here, ".."), check=True)
gen = os.path.join(here, "..", "target", "release", "gen")
work = tempfile.mkdtemp(prefix="gen-latency-")
subprocess.run([sys.executable, os.path.join(here, "corpus.py"), work, "--sites", str(a.sites), "--articles", str(a.articles)], check=True)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([gen, "serve", "--watch", "--port", str(port)], cwd=work, stdout=open(os.environ.get("GEN_SERVE_LOG", os.devnull), "w"), stderr=subprocess.DEVNULL)
try:
    started = time.time()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() - started > 600:
                sys.exit("server did not start")
            time.sleep(0.2)
    # The server accepts connections at once but answers after its first build.
    events = socket.create_connection(("127.0.0.1", port))
    events.sendall(f"GET /__gen/events HTTP/1.1\r\nHost: site00.localhost:{port}\r\n\r\n".encode())
    stream = events.makefile("rb")
    while stream.readline().strip():  # response headers
        pass
    print(f"== {a.sites} sites x {a.articles} articles: first build + start {time.time() - started:.1f} s")
    article = os.path.join(work, "content", "site00", "news", "a00000", "index.md")
    samples = []
    for i in range(a.edits):
        time.sleep(0.3)  # let the previous build settle, as between keystrokes and saves
        t0 = time.perf_counter()
        with open(article, "a") as f:
            f.write(f"\nEdit {i}.\n")
        while True:
            line = stream.readline()
            if not line:
                sys.exit("event stream closed")
            if line.strip() == b"event: reload":
                samples.append((time.perf_counter() - t0) * 1000)
                break
    for i, ms in enumerate(samples):
        print(f"edit {i:2d}: {ms:7.1f} ms")
    print(f"median edit-to-reload: {statistics.median(samples):.1f} ms (min {min(samples):.1f}, max {max(samples):.1f})")
finally:
    server.kill()
    subprocess.run(["rm", "-rf", work])
