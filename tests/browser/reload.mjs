// node --experimental-websocket reload.mjs URL TEXT
// Opens URL, marks the window, prints "ready", then waits until the page
// reloaded by itself (the mark is gone) and shows TEXT. Exit 0 on success.
import { launch, waitFor } from "./cdp.mjs";

const [url, text] = process.argv.slice(2);
const browser = await launch();
let ok = false;
try {
  await browser.send("Page.enable");
  await browser.send("Page.navigate", { url });
  if (!(await waitFor(browser, "document.readyState === 'complete' && !!document.querySelector('h1')"))) throw new Error(`page did not load: ${url}`);
  // The event stream must be open before the edit.
  if (!(await waitFor(browser, "window.__genLive && window.__genLive.readyState === 1"))) throw new Error("no event stream");
  await browser.evaluate("window.__genMark = 1");
  console.log("ready");
  ok = await waitFor(browser, `window.__genMark === undefined && document.body.innerText.includes(${JSON.stringify(text)})`);
  if (!ok) console.error("page text:", await browser.evaluate("document.body.innerText"));
} finally {
  browser.close();
}
process.exit(ok ? 0 : 1);
