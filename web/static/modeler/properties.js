// Properties panel entries for Jiuzhu's dialect (DESIGN.md "Process authoring dialect"):
// user tasks: role (candidateGroups), agency, formKey, dueInWorkingDays, remindBeforeWorkingDays, escalateTo,
// signMode and signers (会签/或签/依次签批) — all
// `spiffworkflow:properties`; lanes: the lane name is the role; sequence flows out of gateways: a Python
// condition and the default flag; timer events: a helper that writes quoted ISO 8601 with +08:00.
import {
  CheckboxEntry,
  SelectEntry,
  TextAreaEntry,
  TextFieldEntry,
  isCheckboxEntryEdited,
  isSelectEntryEdited,
  isTextAreaEntryEdited,
  isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { jsx } from "@bpmn-io/properties-panel/preact/jsx-runtime";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

const PROPS_TYPE = "spiffworkflow:Properties";

// -- reading and writing spiffworkflow:property ------------------------------------------------------------------

export function getProperty(element, name) {
  const bo = getBusinessObject(element);
  const ext = bo.get("extensionElements");
  const props = ext && (ext.get("values") || []).find((v) => is(v, PROPS_TYPE));
  const prop = props && (props.get("properties") || []).find((p) => p.get("name") === name);
  return prop ? prop.get("value") : undefined;
}

export function setProperty(element, name, value, { bpmnFactory, commandStack }) {
  const bo = getBusinessObject(element);
  const commands = [];
  let ext = bo.get("extensionElements");
  if (!ext) {
    ext = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    ext.$parent = bo;
    commands.push({ cmd: "element.updateModdleProperties",
      context: { element, moddleElement: bo, properties: { extensionElements: ext } } });
  }
  let props = (ext.get("values") || []).find((v) => is(v, PROPS_TYPE));
  const empty = value === undefined || value === null || String(value).trim() === "";
  if (!props) {
    if (empty) {
      if (commands.length === 0) return;
    } else {
      props = bpmnFactory.create(PROPS_TYPE, { properties: [] });
      props.$parent = ext;
      commands.push({ cmd: "element.updateModdleProperties",
        context: { element, moddleElement: ext, properties: { values: [...(ext.get("values") || []), props] } } });
    }
  }
  if (props) {
    const existing = (props.get("properties") || []).find((p) => p.get("name") === name);
    if (empty) {
      if (existing) {
        commands.push({ cmd: "element.updateModdleProperties", context: { element, moddleElement: props,
          properties: { properties: props.get("properties").filter((p) => p !== existing) } } });
      }
    } else if (existing) {
      commands.push({ cmd: "element.updateModdleProperties",
        context: { element, moddleElement: existing, properties: { value: String(value).trim() } } });
    } else {
      const prop = bpmnFactory.create("spiffworkflow:Property", { name, value: String(value).trim() });
      prop.$parent = props;
      commands.push({ cmd: "element.updateModdleProperties", context: { element, moddleElement: props,
        properties: { properties: [...(props.get("properties") || []), prop] } } });
    }
  }
  if (commands.length) {
    commandStack.execute("properties-panel.multi-command-executor", commands);
  }
}

function services() {
  return {
    bpmnFactory: useService("bpmnFactory"),
    commandStack: useService("commandStack"),
    translate: useService("translate"),
    debounce: useService("debounceInput"),
    catalog: useService("jiuzhuCatalog"),
  };
}

function roleLabel(catalog, key) {
  const role = catalog.roles.find((r) => r.key === key);
  return role ? `${role.name}（${role.key}）` : key;
}

// -- user task entries ------------------------------------------------------------------------------------------

function PropertySelect({ element, id, name, label, description, options }) {
  const s = services();
  return jsx(SelectEntry, {
    element, id, label, description,
    getValue: () => getProperty(element, name) || "",
    setValue: (value) => setProperty(element, name, value, s),
    getOptions: () => options(s.catalog),
  });
}

function PropertyNumber({ element, id, name, label, description }) {
  const s = services();
  return jsx(TextFieldEntry, {
    element, id, label, description, debounce: s.debounce,
    getValue: () => getProperty(element, name) || "",
    setValue: (value) => setProperty(element, name, value, s),
    validate: (value) => (value && !/^\d+$/.test(String(value).trim()) ? "请填写整数（工作日数）" : null),
  });
}

const roleOptions = (blank) => (catalog) => [
  { value: "", label: blank },
  ...catalog.roles.map((r) => ({ value: r.key, label: `${r.name}（${r.key}）` })),
];

// One stable component per entry: a component made anew on each render would lose the input's focus.
function RoleEntry({ element, id }) {
  return PropertySelect({ element, id, name: "candidateGroups", label: "办理角色",
    description: "不选则按所在泳道的角色", options: roleOptions("（按泳道）") });
}

// A member agency's task names its agency: one of the catalog's, or `${variable}` read from the case data when the
// task opens (`${lead_agency}`: the program's lead agency, for steps several programs share). A value the catalog
// does not know stays selectable so opening a diagram never loses it; deploying reports it.
export function agencyOptions(catalog, current) {
  const options = [
    { value: "", label: "（不属于成员单位）" },
    { value: "${lead_agency}", label: "项目牵头单位（${lead_agency}）" },
    ...(catalog.agencies || []).map((a) => ({ value: a.name, label: a.name })),
  ];
  if (current && !options.some((o) => o.value === current)) {
    const variable = /^\$\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}$/.test(current);
    options.push({ value: current, label: variable ? `流程变量（${current}）` : `${current}（不是已登记的单位）` });
  }
  return options;
}

function AgencyEntry({ element, id }) {
  const s = services();
  return jsx(SelectEntry, {
    element, id, label: "办理单位",
    description: "成员单位经办人/负责人的任务须指明单位：只有该单位的人员能看到和办理",
    getValue: () => getProperty(element, "agency") || "",
    setValue: (value) => setProperty(element, "agency", value, s),
    getOptions: () => agencyOptions(s.catalog, getProperty(element, "agency")),
  });
}

function FormEntry({ element, id }) {
  return PropertySelect({ element, id, name: "formKey", label: "表单",
    description: "进入角色待办的任务须选择已登记的表单",
    options: (catalog) => [{ value: "", label: "（未选择）" },
      ...catalog.forms.map((f) => ({ value: f.key, label: `${f.title}（${f.key}）` }))] });
}

function DueEntry({ element, id }) {
  return PropertyNumber({ element, id, name: "dueInWorkingDays", label: "办理时限（工作日）",
    description: "不含当天，到第 N 个工作日 24:00 截止" });
}

function RemindEntry({ element, id }) {
  return PropertyNumber({ element, id, name: "remindBeforeWorkingDays", label: "提前提醒（工作日）",
    description: "须小于办理时限" });
}

function EscalateEntry({ element, id }) {
  return PropertySelect({ element, id, name: "escalateTo", label: "超期升级至", description: "超过期限时通知的角色",
    options: roleOptions("（不升级）") });
}

// 会签 / 或签 / 依次签批 (workflows.tasks.signers): how the named signers decide, and who they are.
const SIGN_MODES = [
  { value: "", label: "（不会签）" },
  { value: "all", label: "会签：全部同意才通过，任一不同意即不通过" },
  { value: "any", label: "或签：任一人签批即决定" },
  { value: "sequence", label: "依次签批：按顺序，全部同意才通过" },
];

function SignModeEntry({ element, id }) {
  return PropertySelect({ element, id, name: "signMode", label: "会签方式",
    description: "签批结果写入 sign_result（agreed / rejected），网关可据此分支", options: () => SIGN_MODES });
}

function SignersEntry({ element, id }) {
  const s = services();
  return jsx(TextFieldEntry, {
    element, id, label: "签批人", debounce: s.debounce,
    description: "用户名，多人用逗号分隔（依次签批按此顺序）；或 ${变量名}：任务数据中的用户名列表",
    getValue: () => getProperty(element, "signers") || "",
    setValue: (value) => setProperty(element, "signers", value, s),
    validate: (value) => {
      const text = String(value || "").trim();
      if (!text || /^\$\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}$/.test(text)) return null;
      const names = text.split(/[,，]/).map((n) => n.trim());
      if (names.some((n) => !/^[A-Za-z0-9_.@-]{1,100}$/.test(n))) return "请填写用户名（逗号分隔）或 ${变量名}";
      return names.length > 10 ? "最多 10 位签批人" : null;
    },
  });
}

function userTaskEntries(element) {
  return [
    { id: "jz-role", element, component: RoleEntry, isEdited: isSelectEntryEdited },
    { id: "jz-agency", element, component: AgencyEntry, isEdited: isSelectEntryEdited },
    { id: "jz-form", element, component: FormEntry, isEdited: isSelectEntryEdited },
    { id: "jz-due", element, component: DueEntry, isEdited: isTextFieldEntryEdited },
    { id: "jz-remind", element, component: RemindEntry, isEdited: isTextFieldEntryEdited },
    { id: "jz-escalate", element, component: EscalateEntry, isEdited: isSelectEntryEdited },
    { id: "jz-sign-mode", element, component: SignModeEntry, isEdited: isSelectEntryEdited },
    { id: "jz-signers", element, component: SignersEntry, isEdited: isTextFieldEntryEdited },
  ];
}

// -- lanes ---------------------------------------------------------------------------------------------------------

function LaneRole({ element, id }) {
  const s = services();
  const modeling = useService("modeling");
  return jsx(SelectEntry, {
    element, id, label: "泳道角色",
    description: "泳道名即角色：泳道中的用户任务进入该角色的待办",
    getValue: () => getBusinessObject(element).get("name") || "",
    setValue: (value) => modeling.updateProperties(element, { name: value || undefined }),
    getOptions: () => {
      const current = getBusinessObject(element).get("name");
      const options = [{ value: "", label: "（未选择）" },
        ...s.catalog.roles.map((r) => ({ value: r.key, label: `${r.name}（${r.key}）` }))];
      if (current && !s.catalog.roles.some((r) => r.key === current)) {
        options.push({ value: current, label: `${current}（不是已知角色）` });
      }
      return options;
    },
  });
}

// -- sequence flows ------------------------------------------------------------------------------------------------

function isConditionalSource(element) {
  const source = element.source;
  return source && (is(source, "bpmn:ExclusiveGateway") || is(source, "bpmn:InclusiveGateway"));
}

function Condition({ element, id }) {
  const s = services();
  const modeling = useService("modeling");
  const bo = getBusinessObject(element);
  return jsx(TextAreaEntry, {
    element, id, label: "条件（Python 表达式）", debounce: s.debounce, rows: 2,
    description: "例如 decision == 'reject'；默认连线不需要条件",
    getValue: () => (bo.get("conditionExpression") && bo.get("conditionExpression").get("body")) || "",
    setValue: (value) => {
      const text = (value || "").trim();
      const expression = text
        ? s.bpmnFactory.create("bpmn:FormalExpression", { body: text })
        : undefined;
      modeling.updateProperties(element, { conditionExpression: expression });
    },
  });
}

function DefaultFlow({ element, id }) {
  const modeling = useService("modeling");
  const source = element.source;
  return jsx(CheckboxEntry, {
    element, id, label: "默认连线（条件都不满足时走这条）",
    getValue: () => getBusinessObject(source).get("default") === getBusinessObject(element),
    setValue: (value) => {
      const updates = { default: value ? getBusinessObject(element) : undefined };
      if (value) {
        modeling.updateProperties(element, { conditionExpression: undefined });
      }
      modeling.updateProperties(source, updates);
    },
  });
}

// -- timers --------------------------------------------------------------------------------------------------------

function timerDefinition(element) {
  const bo = getBusinessObject(element);
  return (bo.get("eventDefinitions") || []).find((d) => is(d, "bpmn:TimerEventDefinition"));
}

function timerKind(definition) {
  for (const kind of ["timeDate", "timeDuration", "timeCycle"]) {
    if (definition.get(kind)) return kind;
  }
  return "timeDuration";
}

function timerText(definition) {
  const expression = definition.get(timerKind(definition));
  return (expression && expression.get("body")) || "";
}

function writeTimer(element, kind, text, { bpmnFactory, commandStack }) {
  const definition = timerDefinition(element);
  const properties = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
  properties[kind] = bpmnFactory.create("bpmn:FormalExpression", { body: text });
  commandStack.execute("element.updateModdleProperties", { element, moddleElement: definition, properties });
}

const UNITS = [["D", "天"], ["W", "周"], ["M", "月"], ["H", "小时"], ["MIN", "分钟"]];

export function durationExpression(amount, unit) {
  const n = parseInt(amount, 10);
  if (!Number.isFinite(n) || n <= 0) return null;
  if (unit === "H") return `"PT${n}H"`;
  if (unit === "MIN") return `"PT${n}M"`;
  return `"P${n}${unit}"`;
}

export function parseDuration(text) {
  const found = /^"P(?:(\d+)([DWM])|T(\d+)([HM]))"$/.exec((text || "").trim());
  if (!found) return null;
  if (found[1]) return { amount: found[1], unit: found[2] };
  return { amount: found[3], unit: found[4] === "H" ? "H" : "MIN" };
}

export function dateExpression(local) {
  // "2026-03-01 09:00" or "2026-03-01T09:00" (Beijing time) → "2026-03-01T09:00:00+08:00"
  const found = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec((local || "").trim());
  if (!found) return null;
  return `"${found[1]}T${found[2]}:${found[3]}:${found[4] || "00"}+08:00"`;
}

export function timerProblem(kind, text) {
  const value = (text || "").trim();
  if (!value) return "定时器表达式为空";
  if (!/^["']/.test(value) && /^(R\d*\/)?(P|\d{4}-)/i.test(value)) return '须加引号，如 "P7D"';
  if (kind === "timeDate" && /^["']\d{4}-/.test(value) && !/(Z|[+-]\d{2}:?\d{2})["']$/.test(value)) {
    return "日期须带时区，如 +08:00";
  }
  return null;
}

function TimerKind({ element, id }) {
  const s = services();
  return jsx(SelectEntry, {
    element, id, label: "定时器类型",
    getValue: () => timerKind(timerDefinition(element)),
    setValue: (kind) => writeTimer(element, kind, { timeDuration: '"P7D"', timeDate: '"2026-01-01T09:00:00+08:00"',
      timeCycle: '"R3/P30D"' }[kind], s),
    getOptions: () => [
      { value: "timeDuration", label: "时长（如公示 7 天）" },
      { value: "timeDate", label: "固定时间" },
      { value: "timeCycle", label: "周期（重复）" },
    ],
  });
}

function TimerExpression({ element, id }) {
  const s = services();
  return jsx(TextFieldEntry, {
    element, id, label: "表达式（写入 BPMN）", debounce: s.debounce,
    description: "带引号的 ISO 8601 字符串，或取自流程数据的变量名",
    getValue: () => timerText(timerDefinition(element)),
    setValue: (value) => writeTimer(element, timerKind(timerDefinition(element)), (value || "").trim(), s),
    validate: (value) => timerProblem(timerKind(timerDefinition(element)), value),
  });
}

function DurationAmount({ element, id }) {
  const s = services();
  const current = () => parseDuration(timerText(timerDefinition(element))) || { amount: "", unit: "D" };
  return jsx(TextFieldEntry, {
    element, id, label: "时长", debounce: s.debounce,
    getValue: () => current().amount,
    setValue: (value) => {
      const text = durationExpression(value, current().unit);
      if (text) writeTimer(element, "timeDuration", text, s);
    },
    validate: (value) => (value && !/^\d+$/.test(String(value).trim()) ? "请填写正整数" : null),
  });
}

function DurationUnit({ element, id }) {
  const s = services();
  const current = () => parseDuration(timerText(timerDefinition(element))) || { amount: "7", unit: "D" };
  return jsx(SelectEntry, {
    element, id, label: "单位",
    getValue: () => current().unit,
    setValue: (unit) => {
      const text = durationExpression(current().amount || "1", unit);
      if (text) writeTimer(element, "timeDuration", text, s);
    },
    getOptions: () => UNITS.map(([value, label]) => ({ value, label })),
  });
}

function DateHelper({ element, id }) {
  const s = services();
  return jsx(TextFieldEntry, {
    element, id, label: "日期时间（北京时间）", debounce: s.debounce,
    description: "如 2026-03-01 09:00，写入时自动加引号和 +08:00",
    getValue: () => {
      const found = /^"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(timerText(timerDefinition(element)));
      return found ? `${found[1]} ${found[2]}` : "";
    },
    setValue: (value) => {
      const text = dateExpression(value);
      if (text) writeTimer(element, "timeDate", text, s);
    },
    validate: (value) => (value && !dateExpression(value) ? "格式：2026-03-01 09:00" : null),
  });
}

function timerEntries(element) {
  const definition = timerDefinition(element);
  const kind = timerKind(definition);
  const entries = [
    { id: "jz-timer-kind", component: TimerKind, isEdited: isSelectEntryEdited },
  ];
  if (kind === "timeDuration") {
    entries.push({ id: "jz-timer-amount", component: DurationAmount, isEdited: isTextFieldEntryEdited });
    entries.push({ id: "jz-timer-unit", component: DurationUnit, isEdited: isSelectEntryEdited });
  } else if (kind === "timeDate") {
    entries.push({ id: "jz-timer-date", component: DateHelper, isEdited: isTextFieldEntryEdited });
  }
  entries.push({ id: "jz-timer-expression", component: TimerExpression, isEdited: isTextFieldEntryEdited });
  return entries.map((entry) => ({ ...entry, element }));
}

// -- the provider ----------------------------------------------------------------------------------------------------

export default function JiuzhuPropertiesProvider(propertiesPanel) {
  propertiesPanel.registerProvider(400, this);
}
JiuzhuPropertiesProvider.$inject = ["propertiesPanel"];

JiuzhuPropertiesProvider.prototype.getGroups = function (element) {
  return (groups) => {
    if (is(element, "bpmn:UserTask")) {
      groups.splice(1, 0, { id: "jiuzhu-task", label: "办理设置", entries: userTaskEntries(element) });
    }
    if (is(element, "bpmn:Lane")) {
      groups.splice(1, 0, { id: "jiuzhu-lane", label: "泳道角色",
        entries: [{ id: "jz-lane-role", element, component: LaneRole, isEdited: isSelectEntryEdited }] });
    }
    if (is(element, "bpmn:SequenceFlow") && isConditionalSource(element)) {
      groups.splice(1, 0, { id: "jiuzhu-condition", label: "条件", entries: [
        { id: "jz-condition", element, component: Condition, isEdited: isTextAreaEntryEdited },
        { id: "jz-default", element, component: DefaultFlow, isEdited: isCheckboxEntryEdited },
      ] });
    }
    if (timerDefinition(element)) {
      const index = groups.findIndex((g) => g.id === "timer");
      const group = { id: "jiuzhu-timer", label: "定时器", entries: timerEntries(element) };
      if (index >= 0) groups.splice(index, 1, group);
      else groups.splice(1, 0, group);
    }
    return groups;
  };
};

export function roleName(catalog, key) {
  return roleLabel(catalog, key);
}
