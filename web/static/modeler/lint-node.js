// Server-side bpmnlint: reads BPMN XML on stdin, prints the findings as JSON on stdout.
// Bundled by scripts/build-assets.mjs into web/static/build/bpmnlint-node.cjs and run by engine/lint.py.
import { BpmnModdle } from "bpmn-moddle";
import { Linter } from "bpmnlint";

import lintConfig, { normalizeFlows } from "./lint.js";
import spiffworkflow from "./spiffworkflow.json";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  const xml = await readStdin();
  const moddle = new BpmnModdle({ spiffworkflow });
  let root;
  try {
    ({ rootElement: root } = await moddle.fromXML(xml, "bpmn:Definitions"));
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && error.message || error) }));
    return;
  }
  normalizeFlows(root);
  const linter = new Linter(lintConfig);
  const results = await linter.lint(root);
  const findings = [];
  for (const [rule, reports] of Object.entries(results)) {
    for (const report of reports) {
      findings.push({ rule, element_id: report.id || null, message: report.message, category: report.category });
    }
  }
  process.stdout.write(JSON.stringify({ findings }));
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ error: String(error && error.stack || error) }));
  process.exitCode = 2;
});
