// node --experimental-websocket css.mjs URL COLOR
// Opens URL, marks the window, prints "ready", then waits until the body's
// outline colour is COLOR (the test edits the theme's stylesheet) while the
// mark is still there: the stylesheet was swapped without a reload.
import { launch, openPreview, waitFor } from "./cdp.mjs";

const [url, color] = process.argv.slice(2);
const browser = await launch();
let ok = false;
try {
  await openPreview(browser, url);
  await browser.evaluate("window.__genMark = 1");
  console.log("ready");
  const outline = "getComputedStyle(document.body).outlineColor";
  ok = await waitFor(browser, `${outline} === ${JSON.stringify(color)}`);
  const marked = await browser.evaluate("window.__genMark === 1");
  if (!ok) console.error("outline is", await browser.evaluate(outline));
  if (!marked) console.error("the page reloaded instead of swapping the stylesheet");
  ok = ok && marked;
} finally {
  browser.close();
}
process.exit(ok ? 0 : 1);
