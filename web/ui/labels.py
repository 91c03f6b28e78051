"""Display names and template filters of the staff pages: case and task statuses, history actions, programs,
roles, local times, deadlines and money, in Chinese."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint

from engine.clock import SHANGHAI
from workflows.programs import PROGRAMS
from workflows.roles import ROLES

CASE_STATUS = {"in_progress": "办理中", "approved": "已批准", "refused": "不予批准", "withdrawn": "已撤回",
               "closed": "已终止"}
TASK_STATUS = {"open": "待办", "completed": "已办结", "cancelled": "已取消"}
OUTCOMES = {"approve": "同意", "reject": "不同意", "accept": "受理", "returned": "已退回", "taken_back": "已拿回",
            "terminated": "已终止", "agreed": "会签通过", "rejected": "会签未通过"}
ACTIONS = {
    "process_started": "提交申请",
    "task_completed": "办结",
    "task_claimed": "认领",
    "task_unclaimed": "取消认领",
    "task_transferred": "转办",
    "task_delegated": "委派",
    "task_returned": "退回",
    "comment": "评论",
    "message_received": "收到消息",
    "timer_fired": "定时到期",
    "process_completed": "流程结束",
    "spot_check_selected": "抽查选取",
    "attachment_uploaded": "上传附件",
    "case_copied": "抄送",
    "household_updated": "更正家庭成员",
    "task_data_updated": "更正办理数据",
    "task_reminded": "到期提醒",
    "task_overdue": "超期",
    "task_escalated": "超期督办",
    "task_urged": "催办",
    "process_overdue": "整体办理时限已过",
    "deadlines_paused": "暂停计时",
    "deadlines_resumed": "恢复计时",
    "time_limit_set": "设定办理时限",
    "time_limit_extended": "延长办理时限",
    "migrated": "迁移到新流程版本",
    "incident_opened": "流程故障（后台处理失败）",
    "incident_resolved": "流程故障已排除",
    "process_terminated": "终止",
    "task_delegation_returned": "委派办理完毕，交还委派人",
    "task_taken_back": "拿回",
    "case_withdrawn": "撤回申请",
    "copy_read": "已阅",
    "task_signers_added": "加签",
    "task_signer_removed": "减签",
    "task_signed": "签批",
    "task_sign_answer_recorded": "提交意见，等待后加签人签批",
    "task_sign_returned": "加签人不同意，退回办理人",
}
# Who did it, for actors that are not people.
ACTORS = {"system": "系统", "public": "公众（公示页面）", "cli": "系统"}
MESSAGES = {"economic_check.completed": "家庭经济状况核对结果", "objection.lodged": "公示异议"}
WORK_CAPACITY = {"full": "有劳动能力", "partial": "部分丧失劳动能力", "none": "无劳动能力"}
RELATIONS = ["本人", "配偶", "子女", "父母", "兄弟姐妹", "祖父母", "孙子女", "其他"]


def program_name(key: str | None) -> str:
    program = PROGRAMS.get(key or "")
    return program.name if program else (key or "")


def role_name(key: str | None) -> str:
    role = ROLES.get(key or "")
    return role.name if role else (key or "")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def due_time(value: datetime | None) -> str:
    """A deadline: "within N working days" ends at 24:00 of the Nth day, shown as such rather than 00:00 next day."""
    if value is None:
        return ""
    local = value.astimezone(SHANGHAI)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{(local - timedelta(days=1)):%Y-%m-%d} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def money(value) -> str:
    if value is None:
        return "—"
    return f"{float(value):,.2f}"


def register_filters(bp: Blueprint) -> None:
    bp.add_app_template_filter(local_time, "local_time")
    bp.add_app_template_filter(lambda v: local_time(v, "%Y-%m-%d"), "local_date")
    bp.add_app_template_filter(money, "money")
    bp.add_app_template_filter(due_time, "due_time")
    bp.add_app_template_filter(program_name, "program_name")
    bp.add_app_template_filter(role_name, "role_name")
    bp.add_app_template_global(CASE_STATUS, "CASE_STATUS")
    bp.add_app_template_global(TASK_STATUS, "TASK_STATUS")
    bp.add_app_template_global(OUTCOMES, "OUTCOMES")
    bp.add_app_template_global(ACTIONS, "ACTIONS")
    bp.add_app_template_global(WORK_CAPACITY, "WORK_CAPACITY")
    bp.add_app_template_global(RELATIONS, "RELATIONS")
