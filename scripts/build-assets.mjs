// Builds the browser assets from our npm packages, so pages never load from a CDN:
// 1. copies the ready-made browser builds (swagger-ui, bpmn-js viewer/modeler) into web/static/vendor;
// 2. bundles our own sources in web/static/modeler with esbuild into web/static/build:
//    modeler.js + modeler.css (bpmn-js modeler, properties panel, bpmnlint) for the 流程设计 pages,
//    form-editor.js + form-editor.css (the form-js editor) for the 表单设计 pages, and
//    bpmnlint-node.cjs, the same lint rules for the server (engine/lint.py runs it with node).
import { cpSync, mkdirSync, existsSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vendor = join(root, "web", "static", "vendor");
const build = join(root, "web", "static", "build");
const sources = join(root, "web", "static", "modeler");

const copies = [
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui/swagger-ui.css"],
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"],
  ["bpmn-js/dist/bpmn-navigated-viewer.production.min.js", "bpmn-js/bpmn-navigated-viewer.production.min.js"],
  ["bpmn-js/dist/bpmn-modeler.production.min.js", "bpmn-js/bpmn-modeler.production.min.js"],
  ["bpmn-js/dist/assets/diagram-js.css", "bpmn-js/diagram-js.css"],
  ["bpmn-js/dist/assets/bpmn-js.css", "bpmn-js/bpmn-js.css"],
  ["bpmn-js/dist/assets/bpmn-font/css/bpmn.css", "bpmn-js/bpmn-font/css/bpmn.css"],
  ["bpmn-js/dist/assets/bpmn-font/font", "bpmn-js/bpmn-font/font"],
];

let count = 0;
for (const [from, to] of copies) {
  const source = join(root, "node_modules", from);
  if (!existsSync(source)) {
    console.error(`missing ${from}: run npm ci first`);
    process.exit(1);
  }
  const target = join(vendor, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(source, target, { recursive: true });
  count += 1;
}
console.log(`assets: ${count} copied into web/static/vendor`);

const esbuild = await import("esbuild");
rmSync(build, { recursive: true, force: true });
mkdirSync(build, { recursive: true });
const common = { bundle: true, logLevel: "warning", legalComments: "none", absWorkingDir: root };
try {
  await esbuild.build({
    ...common,
    entryPoints: { modeler: join(sources, "modeler.js") },
    outdir: build,
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    minify: true,
    sourcemap: false,
    loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
    assetNames: "assets/[name]-[hash]",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  // form-editor.js + .css: the form-js editor of the 表单设计 pages, from the package's browser build (the "umd"
  // export condition: @bpmn-io/form-js/editor), which carries the one preact its parts share.
  await esbuild.build({
    ...common,
    entryPoints: { "form-editor": join(sources, "form-editor.js") },
    outdir: build,
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    minify: true,
    conditions: ["umd"],
    define: { "process.env.NODE_ENV": '"production"' },
  });
  await esbuild.build({
    ...common,
    entryPoints: [join(sources, "lint-node.js")],
    outfile: join(build, "bpmnlint-node.cjs"),
    format: "cjs",
    platform: "node",
    target: ["node18"],
  });
} catch (error) {
  console.error("bundling failed");
  process.exit(1);
}
console.log("assets: modeler.js/.css, form-editor.js/.css and bpmnlint-node.cjs bundled into web/static/build");
