"""zh/en text for every page. A page asks ``t("key")``; the language comes from ``?lang=``, a
cookie, or the browser's Accept-Language, in that order (Chinese first for a Chinese browser)."""

from __future__ import annotations

from flask import g, request

LANGS = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    "app.title": {"en": "Hospital Operations", "zh": "医院运营中心"},
    "nav.dashboard": {"en": "Operations", "zh": "运营看板"},
    "nav.dispatch": {"en": "Request delivery", "zh": "物流呼叫"},
    "nav.handover": {"en": "Hand-over", "zh": "交接"},
    "nav.kiosk": {"en": "Kiosk", "zh": "自助机"},
    "nav.logout": {"en": "Sign out", "zh": "退出"},
    "nav.login": {"en": "Sign in", "zh": "登录"},
    "nav.skip": {"en": "Skip to content", "zh": "跳到正文"},
    "lang.switch": {"en": "中文", "zh": "English"},
    "login.title": {"en": "Sign in", "zh": "登录"},
    "login.username": {"en": "User name", "zh": "用户名"},
    "login.password": {"en": "Password", "zh": "密码"},
    "login.submit": {"en": "Sign in", "zh": "登录"},
    "login.failed": {"en": "Wrong user name or password.", "zh": "用户名或密码错误。"},
    "login.rate": {"en": "Too many attempts; wait a minute.", "zh": "尝试次数过多，请稍候再试。"},
    "dash.open_tasks": {"en": "Open deliveries", "zh": "待完成配送"},
    "dash.stat_on_time": {"en": "STAT on time today", "zh": "今日急件准时率"},
    "dash.robots": {"en": "Robots", "zh": "机器人"},
    "dash.lift_queue": {"en": "Lift queue", "zh": "电梯排队"},
    "dash.kiosk_wait": {"en": "Kiosk wait", "zh": "自助机等候"},
    "dash.ed_queue": {"en": "ED queue by level", "zh": "急诊分级候诊"},
    "dash.alerts": {"en": "Alerts", "zh": "告警"},
    "dash.map": {"en": "Floor map", "zh": "楼层地图"},
    "dash.building": {"en": "Building", "zh": "楼宇"},
    "dash.floor": {"en": "Floor", "zh": "楼层"},
    "dash.charts": {"en": "Today", "zh": "今日趋势"},
    "dash.replay": {"en": "Twin replay", "zh": "数字孪生回放"},
    "dash.fresh": {"en": "Updated", "zh": "更新于"},
    "dash.no_alerts": {"en": "No open alerts.", "zh": "没有未处理的告警。"},
    "dash.ack": {"en": "Acknowledge", "zh": "确认"},
    "robot.idle": {"en": "idle", "zh": "空闲"},
    "robot.busy": {"en": "busy", "zh": "配送中"},
    "robot.charging": {"en": "charging", "zh": "充电中"},
    "robot.fault": {"en": "fault", "zh": "故障"},
    "robot.lost": {"en": "lost", "zh": "失联"},
    "prio.stat": {"en": "STAT", "zh": "急"},
    "prio.urgent": {"en": "Urgent", "zh": "紧急"},
    "prio.routine": {"en": "Routine", "zh": "常规"},
    "kind.medication": {"en": "Medication", "zh": "药品"},
    "kind.specimen": {"en": "Specimen", "zh": "标本"},
    "kind.supply": {"en": "Supplies", "zh": "物资"},
    "dispatch.title": {"en": "Request a delivery", "zh": "呼叫配送"},
    "dispatch.ward": {"en": "Ward", "zh": "病区"},
    "dispatch.what": {"en": "What", "zh": "内容"},
    "dispatch.priority": {"en": "How urgent", "zh": "紧急程度"},
    "dispatch.specimen_pickup": {"en": "Specimen to the laboratory", "zh": "标本送检验科"},
    "dispatch.medication_request": {"en": "Medication from the pharmacy", "zh": "从药房取药"},
    "dispatch.send": {"en": "Send robot", "zh": "派送机器人"},
    "dispatch.eta": {"en": "Promised arrival", "zh": "预计送达"},
    "dispatch.pin": {"en": "PIN for the receiver", "zh": "收件人取件码"},
    "dispatch.pin_note": {
        "en": "Give this PIN only to the person who receives the items. It is shown once.",
        "zh": "取件码只告诉收件人，仅显示一次。",
    },
    "dispatch.history": {"en": "This ward's deliveries", "zh": "本病区配送记录"},
    "dispatch.cancel": {"en": "Cancel", "zh": "取消"},
    "dispatch.status": {"en": "Status", "zh": "状态"},
    "dispatch.created": {"en": "Requested", "zh": "已提交"},
    "handover.title": {"en": "Hand-over", "zh": "交接"},
    "handover.ready": {"en": "Mark ready", "zh": "备好"},
    "handover.pin": {"en": "PIN or badge", "zh": "取件码或工牌"},
    "handover.confirm": {"en": "Confirm hand-over", "zh": "确认交接"},
    "handover.as_me": {
        "en": "Hand over as me (order from the HIS, no PIN)",
        "zh": "以本人身份交接（HIS医嘱，无取件码）",
    },
    "status.requested": {"en": "requested", "zh": "已提交"},
    "status.planned": {"en": "planned", "zh": "已安排"},
    "status.picked_up": {"en": "on its way", "zh": "运送中"},
    "status.delivered": {"en": "delivered", "zh": "已送达"},
    "status.failed": {"en": "failed", "zh": "失败"},
    "status.cancelled": {"en": "cancelled", "zh": "已取消"},
    "error.field": {"en": "Please check", "zh": "请检查"},
    "dash.tasks": {"en": "Deliveries", "zh": "配送任务"},
    "dash.lifts": {"en": "lifts", "zh": "电梯厅"},
    "dash.attention": {"en": "Needs attention", "zh": "需要处理"},
    "dash.waiting": {"en": "waiting", "zh": "人等候"},
    "dash.longest": {"en": "longest", "zh": "最长"},
    "dash.robots_waiting": {"en": "robots waiting", "zh": "台机器人等候"},
    "dash.no_attention": {"en": "Nothing late, no faults, no red flags.", "zh": "没有延误、故障或危重患者。"},
    "dash.requested_per_hour": {"en": "Requests per hour by priority", "zh": "每小时请求（按紧急程度）"},
    "dash.delivered": {"en": "delivered", "zh": "已送达"},
    "dash.on_time": {"en": "on time", "zh": "准时"},
    "dash.hour": {"en": "Hour", "zh": "时段"},
    "dash.robot": {"en": "Robot", "zh": "机器人"},
    "dash.route": {"en": "Route", "zh": "路线"},
    "dash.live": {"en": "live", "zh": "实时"},
    "dash.offline": {"en": "reconnecting…", "zh": "正在重连…"},
    "dash.min": {"en": "min", "zh": "分钟"},
    "dash.late": {"en": "late", "zh": "延误"},
    "dash.task.late": {"en": "Late delivery", "zh": "配送延误"},
    "dash.robot.fault": {"en": "Robot fault", "zh": "机器人故障"},
    "dash.robot.lost": {"en": "Robot lost", "zh": "机器人失联"},
    "dash.patient.red_flag": {"en": "Red-flag patient", "zh": "危重患者"},
    "replay.file": {
        "en": "Twin run (replay.json or results.json)",
        "zh": "孪生运行文件（replay.json 或 results.json）",
    },
    "replay.play": {"en": "Play", "zh": "播放"},
    "replay.pause": {"en": "Pause", "zh": "暂停"},
    "replay.hour": {"en": "Hour of the run", "zh": "运行时段"},
    "replay.no_series": {
        "en": "This file has KPIs only; export a time series with: python -m sim.replay_export",
        "zh": "该文件只有指标汇总；请用 python -m sim.replay_export 导出时间序列",
    },
    "replay.bad": {"en": "Not a twin run file", "zh": "不是孪生运行文件"},
    "replay.hint": {
        "en": "Load a file written by python -m sim.replay_export (or a results.json of hospital-ops sim run).",
        "zh": "加载 python -m sim.replay_export 生成的文件（或 hospital-ops sim run 的 results.json）。",
    },
    "handover.ready_done": {"en": "Ready for pickup", "zh": "已备好待取"},
    "handover.incoming": {"en": "Arriving here", "zh": "送达本处"},
    "handover.outgoing": {"en": "Leaving from here", "zh": "从本处发出"},
    "handover.none": {"en": "No open deliveries here.", "zh": "本处没有待处理配送。"},
    "dispatch.promised": {"en": "Promised by", "zh": "承诺送达"},
    "dispatch.robot_eta": {"en": "Robot arrives", "zh": "机器人预计到达"},
    "dispatch.planning": {"en": "a robot is being assigned…", "zh": "正在安排机器人…"},
    "dispatch.cancelled": {"en": "Cancelled", "zh": "已取消"},
}


def pick_language() -> str:
    """The page language for this request."""
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked in LANGS:
        return asked
    best = request.accept_languages.best_match(["en", "zh", "zh-CN", "zh-TW"], default="en")
    return "zh" if best and best.startswith("zh") else "en"


def t(key: str, lang: str | None = None) -> str:
    """The text for ``key`` in the request's language (the key itself if it has no text)."""
    chosen: str = lang if lang else getattr(g, "lang", "en")
    entry = TEXT.get(key)
    if entry is None:
        return key
    return entry.get(chosen) or entry["en"]
