// node --experimental-websocket reload.mjs URL TEXT
// Opens URL, marks the window, prints "ready", then waits until the page
// reloaded by itself (the mark is gone) and shows TEXT. Exit 0 on success.
import { launch, openPreview, waitFor } from "./cdp.mjs";

const [url, text] = process.argv.slice(2);
const browser = await launch();
let ok = false;
try {
  await openPreview(browser, url);
  await browser.evaluate("window.__genMark = 1");
  console.log("ready");
  ok = await waitFor(browser, `window.__genMark === undefined && document.body.innerText.includes(${JSON.stringify(text)})`);
  if (!ok) console.error("page text:", await browser.evaluate("document.body.innerText"));
} finally {
  browser.close();
}
process.exit(ok ? 0 : 1);
