// node --experimental-websocket axe.mjs AXE_JS URL...
// Opens each URL in headless Chromium, in light and in dark mode, at a
// desktop width and as a 414 px phone, runs axe-core (AXE_JS: its
// axe.min.js) and prints every violation as JSON lines: {url, scheme,
// width, id, impact, nodes: [selectors…], summary}. Exit 0.
import { readFileSync } from "node:fs";
import { launch, waitFor } from "./cdp.mjs";

const [axePath, ...urls] = process.argv.slice(2);
const axe = readFileSync(axePath, "utf8");
const browser = await launch();
try {
  await browser.send("Page.enable");
  for (const [width, mobile] of [[1280, false], [414, true]]) {
  await browser.send("Emulation.setDeviceMetricsOverride", { width, height: 896, deviceScaleFactor: mobile ? 2 : 1, mobile });
  for (const url of urls) {
    for (const scheme of ["light", "dark"]) {
      await browser.send("Emulation.setEmulatedMedia", { features: [{ name: "prefers-color-scheme", value: scheme }] });
      await browser.send("Page.navigate", { url });
      if (!(await waitFor(browser, "document.readyState === 'complete' && !!document.querySelector('main')"))) throw new Error(`page did not load: ${url}`);
      await browser.evaluate(axe);
      const out = await browser.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) => JSON.stringify(r.violations.map((v) => ({
        id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")), summary: (v.nodes[0] || {}).failureSummary || v.help }))))`);
      for (const v of JSON.parse(out || "[]")) console.log(JSON.stringify({ url, scheme, width, ...v }));
    }
  }
  }
} finally {
  browser.close();
}
