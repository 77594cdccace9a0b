// A minimal Chrome DevTools Protocol driver for the browser tests: starts
// headless Chromium, opens a page, evaluates expressions in it. No npm
// packages: Node's WebSocket (node --experimental-websocket on Node 20).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function launch() {
  const bin = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find(existsSync);
  if (!bin) throw new Error("chromium is not installed (.ci/run installs it)");
  const profile = mkdtempSync(join(tmpdir(), "gen-chromium-"));
  const proc = spawn(bin, [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
    "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
  ], { stdio: "ignore", detached: true }); // its own process group: close() ends all of Chromium
  const portFile = join(profile, "DevToolsActivePort");
  // Chromium creates the file before it writes the port: wait for a number.
  const portIn = () => (existsSync(portFile) ? readFileSync(portFile, "utf8").split("\n")[0] : "");
  for (let i = 0; i < 400 && !/^\d+$/.test(portIn()); i++) await sleep(50);
  const port = portIn();
  if (!/^\d+$/.test(port)) throw new Error("chromium did not report its DevTools port");
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const page = targets.find((t) => t.type === "page");
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((ok, err) => { ws.onopen = ok; ws.onerror = err; });
  let id = 0;
  const pending = new Map();
  const listeners = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    } else if (msg.method && listeners.has(msg.method)) {
      for (const f of listeners.get(msg.method)) f(msg.params);
    }
  };
  // Protocol events (`Network.loadingFinished`, …).
  const on = (method, f) => listeners.set(method, [...(listeners.get(method) || []), f]);
  const send = (method, params = {}) => new Promise((ok) => {
    id += 1;
    pending.set(id, ok);
    ws.send(JSON.stringify({ id, method, params }));
  });
  const evaluate = async (expression) => {
    const r = await send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    return r.result?.result?.value;
  };
  const close = () => {
    ws.close();
    // Chromium's zygote and renderers outlive a killed main process: kill the group.
    try { process.kill(-proc.pid, "SIGKILL"); } catch { proc.kill("SIGKILL"); }
    try { rmSync(profile, { recursive: true, force: true }); } catch {}
  };
  return { send, evaluate, close, on };
}

/// Polls `expression` until it is truthy; false after `ms`.
export async function waitFor(browser, expression, ms = 15000) {
  const start = Date.now();
  while (Date.now() - start < ms) {
    try { if (await browser.evaluate(expression)) return true; } catch {}
    await sleep(100);
  }
  return false;
}

/// Opens a page of `gen serve` and waits until it has loaded and its
/// live-reload event stream is open (so an edit made next is seen).
export async function openPreview(browser, url) {
  await browser.send("Page.enable");
  await browser.send("Page.navigate", { url });
  if (!(await waitFor(browser, "document.readyState === 'complete' && !!document.querySelector('h1')"))) throw new Error(`page did not load: ${url}`);
  if (!(await waitFor(browser, "window.__genLive && window.__genLive.readyState === 1"))) throw new Error("no event stream");
}

/// Counts the bytes every response of the page transfers (headers and
/// body, as Chromium's network panel does) and the requests still running.
export async function countBytes(browser) {
  const net = { bytes: 0, requests: 0, running: new Set(), urls: [] };
  // The preview's own script and event stream (`/__gen/`) are not the site's.
  const ignored = new Set();
  browser.on("Network.requestWillBeSent", (p) => {
    if (p.request.url.includes("/__gen/")) return ignored.add(p.requestId);
    net.running.add(p.requestId); net.requests++; net.urls.push(p.request.url);
  });
  browser.on("Network.loadingFinished", (p) => { net.running.delete(p.requestId); if (!ignored.has(p.requestId)) net.bytes += p.encodedDataLength; });
  browser.on("Network.loadingFailed", (p) => { net.running.delete(p.requestId); });
  await browser.send("Network.enable");
  await browser.send("Network.setCacheDisabled", { cacheDisabled: true });
  net.reset = () => { net.bytes = 0; net.requests = 0; net.urls = []; };
  // Resolves once no request has run for `quiet` ms.
  net.idle = async (quiet = 300, ms = 15000) => {
    const start = Date.now();
    let since = Date.now();
    while (Date.now() - start < ms) {
      if (net.running.size) since = Date.now();
      else if (Date.now() - since >= quiet) return true;
      await sleep(25);
    }
    return false;
  };
  return net;
}
