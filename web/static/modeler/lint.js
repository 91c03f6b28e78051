// The bpmnlint rules Jiuzhu applies, shared by the browser modeler (bpmn-js-bpmnlint) and the server
// (lint-node.js, run by engine/lint.py on validate and deploy), so both always show the same findings.
//
// "error" refuses a deploy; "warn" is shown but does not stop one. Errors are the rules whose finding means
// SpiffWorkflow would misbehave or a designer certainly made a mistake; layout and naming rules only warn,
// because diagrams from other modelers (and diagrams without a drawing) must still deploy.
import StaticResolver from "bpmnlint/lib/resolver/static-resolver";

import adHocSubProcess from "bpmnlint/rules/ad-hoc-sub-process";
import conditionalEvent from "bpmnlint/rules/conditional-event";
import conditionalFlows from "bpmnlint/rules/conditional-flows";
import endEventRequired from "bpmnlint/rules/end-event-required";
import eventBasedGateway from "bpmnlint/rules/event-based-gateway";
import eventSubProcessTypedStartEvent from "bpmnlint/rules/event-sub-process-typed-start-event";
import fakeJoin from "bpmnlint/rules/fake-join";
import labelRequired from "bpmnlint/rules/label-required";
import linkEvent from "bpmnlint/rules/link-event";
import noBpmndi from "bpmnlint/rules/no-bpmndi";
import noComplexGateway from "bpmnlint/rules/no-complex-gateway";
import noDisconnected from "bpmnlint/rules/no-disconnected";
import noDuplicateSequenceFlows from "bpmnlint/rules/no-duplicate-sequence-flows";
import noGatewayJoinFork from "bpmnlint/rules/no-gateway-join-fork";
import noImplicitEnd from "bpmnlint/rules/no-implicit-end";
import noImplicitSplit from "bpmnlint/rules/no-implicit-split";
import noImplicitStart from "bpmnlint/rules/no-implicit-start";
import noOverlappingElements from "bpmnlint/rules/no-overlapping-elements";
import singleBlankStartEvent from "bpmnlint/rules/single-blank-start-event";
import singleEventDefinition from "bpmnlint/rules/single-event-definition";
import startEventRequired from "bpmnlint/rules/start-event-required";
import subProcessBlankStartEvent from "bpmnlint/rules/sub-process-blank-start-event";
import superfluousGateway from "bpmnlint/rules/superfluous-gateway";
import superfluousTermination from "bpmnlint/rules/superfluous-termination";

const FACTORIES = {
  "ad-hoc-sub-process": adHocSubProcess,
  "conditional-event": conditionalEvent,
  "conditional-flows": conditionalFlows,
  "end-event-required": endEventRequired,
  "event-based-gateway": eventBasedGateway,
  "event-sub-process-typed-start-event": eventSubProcessTypedStartEvent,
  "fake-join": fakeJoin,
  "label-required": labelRequired,
  "link-event": linkEvent,
  "no-bpmndi": noBpmndi,
  "no-complex-gateway": noComplexGateway,
  "no-disconnected": noDisconnected,
  "no-duplicate-sequence-flows": noDuplicateSequenceFlows,
  "no-gateway-join-fork": noGatewayJoinFork,
  "no-implicit-end": noImplicitEnd,
  "no-implicit-split": noImplicitSplit,
  "no-implicit-start": noImplicitStart,
  "no-overlapping-elements": noOverlappingElements,
  "single-blank-start-event": singleBlankStartEvent,
  "single-event-definition": singleEventDefinition,
  "start-event-required": startEventRequired,
  "sub-process-blank-start-event": subProcessBlankStartEvent,
  "superfluous-gateway": superfluousGateway,
  "superfluous-termination": superfluousTermination,
};

export const RULES = {
  "ad-hoc-sub-process": "error",
  "conditional-event": "error",
  "conditional-flows": "error",
  "end-event-required": "error",
  "event-based-gateway": "error",
  "event-sub-process-typed-start-event": "error",
  "link-event": "error",
  "no-complex-gateway": "error",
  "no-disconnected": "error",
  "no-duplicate-sequence-flows": "error",
  "no-implicit-split": "error",
  "no-implicit-start": "error",
  "single-blank-start-event": "error",
  "single-event-definition": "error",
  "start-event-required": "error",
  "sub-process-blank-start-event": "error",
  "fake-join": "warn",
  "label-required": "warn",
  "no-bpmndi": "warn",
  "no-gateway-join-fork": "warn",
  "no-implicit-end": "warn",
  "no-overlapping-elements": "warn",
  "superfluous-gateway": "warn",
  "superfluous-termination": "warn",
};

// bpmnlint speaks English; our designers read Chinese. Unknown messages pass through unchanged.
const MESSAGES = [
  [/^Element is missing bpmndi$/, () => "元素没有图形信息（bpmndi），在设计器中无法显示"],
  [/^Element is outside of parent boundary$/, () => "元素超出了所在容器的边界"],
  [/^Element overlaps with other element$/, () => "元素与其他元素重叠"],
  [/^Duplicate link catch event with link name <(.*)> in scope$/, (m) => `链接捕获事件名称 ${m[1]} 重复`],
  [/^Link (catch|throw) event with link name <(.*)> missing in scope$/,
    (m) => `缺少名称为 ${m[2]} 的链接${m[1] === "catch" ? "捕获" : "抛出"}事件`],
  [/^Link catch event with link name <(.*)> missing in scope$/, (m) => `缺少名称为 ${m[1]} 的链接捕获事件`],
  [/^A <Sequence Flow> outgoing from an <Event-based Gateway> must not be conditional$/,
    () => "事件网关的出口连线不能带条件"],
  [/^Sequence flow is missing condition$/, () => "连线缺少条件（网关的非默认出口须有条件）"],
  [/^A <Start Event> is not allowed in <Ad Hoc Sub Process>$/, () => "自由子流程中不能有开始事件"],
  [/^An <End Event> is not allowed in <Ad Hoc Sub Process>$/, () => "自由子流程中不能有结束事件"],
  [/^Start event is missing event definition$/, () => "事件子流程的开始事件须有事件类型（消息、定时器等）"],
  [/^Start event must be blank$/, () => "子流程的开始事件须为空白开始事件"],
  [/^Link event is missing link name$/, () => "链接事件缺少链接名称"],
  [/^An <Event-based Gateway> must have at least 2 outgoing <Sequence Flows>$/, () => "事件网关至少要有两条出口连线"],
  [/^Conditional event is missing a condition$/, () => "条件事件缺少条件"],
  [/^Element is an implicit end$/, () => "元素没有出口连线（隐式结束），请连到结束事件"],
  [/^Element is an implicit start$/, () => "元素没有入口连线（隐式开始），流程永远不会到达它"],
  [/^Element is missing label\/name$/, () => "元素缺少名称"],
  [/^Element is not connected$/, () => "元素没有任何连线"],
  [/^Element type <(.*)> is discouraged$/, (m) => `不支持的元素类型 ${m[1].replace(/^bpmn:/, "")}`],
  [/^Event has multiple event definitions$/, () => "事件有多个事件定义，引擎无法确定触发条件"],
  [/^Flow splits implicitly$/, () => "元素有多条出口连线（隐式分支），请改用网关"],
  [/^Gateway forks and joins$/, () => "同一网关既汇合又分支，建议拆成两个网关"],
  [/^Gateway is superfluous\. It only has one source and target\.$/, () => "网关多余：只有一条入口和一条出口"],
  [/^Incoming flows do not join$/, () => "多条入口连线直接进入任务（不会汇合），请先用网关汇合"],
  [/^SequenceFlow is a duplicate$/, () => "重复的连线"],
  [/^Termination is superfluous\.$/, () => "终止结束事件多余"],
  [/^(.*) has multiple blank start events$/, () => "有多个空白开始事件"],
  [/^(.*) is missing end event$/, () => "缺少结束事件"],
  [/^(.*) is missing start event$/, () => "缺少开始事件"],
  [/^Duplicate outgoing sequence flows$/, () => "有重复的出口连线"],
  [/^Duplicate incoming sequence flows$/, () => "有重复的入口连线"],
];

export function translate(message) {
  for (const [pattern, render] of MESSAGES) {
    const found = pattern.exec(message);
    if (found) {
      return render(found);
    }
  }
  return message;
}

function translated(factory) {
  return function (config) {
    const rule = factory(config);
    const wrap = (reporter) => ({
      ...reporter,
      report: (id, message, ...rest) => reporter.report(id, translate(message), ...rest),
    });
    const check = rule.check;
    if (typeof check === "function") {
      return { ...rule, check: (node, reporter) => check(node, wrap(reporter)) };
    }
    return {
      ...rule,
      check: {
        enter: check.enter && ((node, reporter) => check.enter(node, wrap(reporter))),
        leave: check.leave && ((node, reporter) => check.leave(node, wrap(reporter))),
      },
    };
  };
}

const cache = {};
for (const [name, factory] of Object.entries(FACTORIES)) {
  cache[`rule:bpmnlint/${name}`] = translated(factory);
}

export const config = { rules: { ...RULES } };
export const resolver = new StaticResolver(cache);

// `bpmn:incoming`/`bpmn:outgoing` are optional in BPMN (a flow's sourceRef/targetRef is what counts) and many
// files leave them out, but bpmnlint's rules read only them. Fill them in from the flows before linting.
export function normalizeFlows(definitions) {
  const visit = (element) => {
    for (const child of element.flowElements || []) {
      if (child.$type === "bpmn:SequenceFlow") {
        const { sourceRef: source, targetRef: target } = child;
        if (source) {
          source.outgoing = source.outgoing || [];
          if (!source.outgoing.includes(child)) source.outgoing.push(child);
        }
        if (target) {
          target.incoming = target.incoming || [];
          if (!target.incoming.includes(child)) target.incoming.push(child);
        }
      }
      if (child.flowElements) visit(child);
    }
  };
  for (const root of (definitions && definitions.rootElements) || []) {
    if (root.flowElements) visit(root);
  }
  return definitions;
}

// What bpmn-js-bpmnlint expects as `linting.bpmnlint`.
export default { config, resolver };
