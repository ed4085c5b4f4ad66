"""The kiosk screens' words, English and Chinese (kept here, not in the dashboard's i18n table).

``kt("key")`` gives the text in the request's language (``g.lang``, set by the app from
``?lang=``, the ``lang`` cookie or the browser); ``both("key")`` gives ``(en, zh)``.
"""

from __future__ import annotations

from flask import g, has_request_context

TEXT: dict[str, tuple[str, str]] = {
    "title": ("Self check-in and triage", "自助签到与预检分诊"),
    "lang.switch": ("中文", "English"),
    "lang.label": ("Language", "语言"),
    "skip": ("Skip to content", "跳到正文"),
    "step": ("Step", "步骤"),
    "steps.consent": ("Consent", "知情同意"),
    "steps.identify": ("Check in", "签到"),
    "steps.complaint": ("Complaint", "主诉"),
    "steps.questions": ("Questions", "问题"),
    "steps.vitals": ("Vital signs", "生命体征"),
    "steps.result": ("Result", "结果"),
    "next": ("Continue", "继续"),
    "back": ("Back", "返回"),
    "cancel": ("Start over", "重新开始"),
    "errors.title": ("Please correct the following:", "请更正以下内容："),
    "help.staff": ("Need help? Press the call button or ask at the desk.", "需要帮助？请按呼叫按钮或到服务台咨询。"),
    # activation
    "activate.title": ("Activate this kiosk", "激活本自助机"),
    "activate.intro": (
        "Staff: enter the kiosk's device token (from “hospital-ops users token …”).",
        "工作人员：请输入本机的设备令牌（由 “hospital-ops users token …” 生成）。",
    ),
    "activate.token": ("Device token", "设备令牌"),
    "activate.submit": ("Activate", "激活"),
    "activate.bad": ("token: not a valid kiosk device token", "设备令牌：无效的自助机令牌"),
    "activate.rate": ("Too many attempts; wait a minute.", "尝试次数过多，请稍候再试。"),
    # start
    "start.title": ("Welcome", "欢迎"),
    "start.intro": (
        "Check in and tell us how you feel. A nurse reviews every answer.",
        "请签到并告诉我们您的不适。每一项回答都会由护士复核。",
    ),
    "start.emergency": (
        "If you have severe chest pain, cannot breathe, or are bleeding heavily, tell staff now.",
        "如有剧烈胸痛、呼吸困难或大量出血，请立即告诉工作人员。",
    ),
    "start.begin": ("Start", "开始"),
    # consent
    "consent.title": ("How would you like to check in?", "您希望如何签到？"),
    "consent.text": (
        "With your consent the kiosk uses the camera to compare your face with the face template "
        "you agreed to store at an earlier visit. The pictures are used for this check only and "
        "are not kept. You can use your ID card or the hospital app's QR code instead.",
        "经您同意，本机将使用摄像头把您的面部与您此前同意保存的面部模板进行比对。照片仅用于本次核验，"
        "不会保存。您也可以改用身份证或医院App二维码签到。",
    ),
    "consent.face": ("Use the camera (face check-in)", "使用摄像头（刷脸签到）"),
    "consent.no_face": ("Use my ID card or QR code instead", "改用身份证或二维码"),
    "consent.legend": ("Check-in method", "签到方式"),
    "consent.required": ("consent: choose how you want to check in", "签到方式：请选择签到方式"),
    # camera
    "camera.title": ("Face check-in", "刷脸签到"),
    "camera.look": ("Look at the camera. Then:", "请正对摄像头，然后："),
    "camera.start": ("I am ready", "我准备好了"),
    "camera.working": ("Checking…", "正在核验…"),
    "camera.no_camera": (
        "The camera is not available. Please use your ID card or QR code.",
        "摄像头不可用，请使用身份证或二维码。",
    ),
    "camera.unavailable": (
        "Face check-in is not set up on this kiosk. Please use your ID card or QR code.",
        "本机未启用刷脸签到，请使用身份证或二维码。",
    ),
    "camera.fallback": ("Use ID card or QR code", "改用身份证或二维码"),
    "camera.video": ("Camera preview", "摄像头预览"),
    "camera.too_many": (
        "Face check-in did not work. Please use your ID card or QR code.",
        "刷脸签到未成功，请使用身份证或二维码。",
    ),
    # fallback
    "fallback.title": ("Check in with ID card or QR code", "使用身份证或二维码签到"),
    "fallback.id_number": ("Resident ID number (18 characters)", "居民身份证号码（18位）"),
    "fallback.qr_token": ("Or scan the QR code from the hospital app", "或扫描医院App中的二维码"),
    "fallback.one": ("id_number: enter your ID number or scan a QR code", "身份证号码：请输入身份证号码或扫描二维码"),
    "fallback.both": (
        "id_number: enter either an ID number or a QR code, not both",
        "身份证号码：身份证号码与二维码只需填写一项",
    ),
    "fallback.unavailable": (
        "qr_token: QR check-in is not set up on this kiosk",
        "二维码：本机未启用二维码签到",
    ),
    "fallback.id_unavailable": (
        "id_number: ID-number check-in is not set up on this kiosk",
        "身份证号码：本机未启用身份证签到",
    ),
    "fallback.qr_unknown": (
        "qr_token: this code belongs to no registered patient; ask at the desk",
        "二维码：该二维码没有对应的已登记患者，请到服务台咨询",
    ),
    # register
    "register.title": ("New patient registration", "新患者登记"),
    "register.unknown_face": (
        "We could not find you. If this is your first visit, please register.",
        "未找到您的记录。如果这是您第一次就诊，请登记。",
    ),
    "register.unknown_id": (
        "This ID number is not registered yet. Please register.",
        "该身份证号码尚未登记，请登记。",
    ),
    "register.name": ("Full name", "姓名"),
    "register.birth_year": ("Year of birth", "出生年份"),
    "register.sex": ("Sex", "性别"),
    "register.phone": ("Mobile phone (optional)", "手机号码（选填）"),
    "register.id_number": ("Resident ID number (optional)", "居民身份证号码（选填）"),
    "register.enrol_legend": ("Face check-in next time", "下次刷脸签到"),
    "register.enrol": (
        "I agree that the hospital keeps an encrypted template of my face for check-in. "
        "I can ask for it to be deleted at any time.",
        "我同意医院保存我面部的加密模板用于签到。我可以随时要求删除。",
    ),
    "register.confirm": ("I confirm these details are mine.", "我确认以上信息属实。"),
    "register.submit": ("Register and continue", "登记并继续"),
    "register.enrol_failed": (
        "Your face could not be saved for next time ({reason}); you are registered.",
        "未能保存您的面部模板（{reason}）；您已完成登记。",
    ),
    "register.enrolled": ("Your face template is saved for next time.", "您的面部模板已保存，下次可刷脸签到。"),
    # complaint
    "complaint.title": ("What brings you here today?", "您今天哪里不舒服？"),
    "complaint.pick": ("Choose everything that applies", "请选择所有符合的项目"),
    "complaint.text": ("Or describe it in your own words", "或用您自己的话描述"),
    "complaint.required": (
        "complaints: choose at least one complaint or describe it in words",
        "主诉：请至少选择一项或用文字描述",
    ),
    "complaint.too_long": ("complaint_text: at most 500 characters", "主诉描述：最多500个字符"),
    "complaint.unknown": ("complaints: unknown complaint code {code}", "主诉：未知的主诉代码 {code}"),
    # questions
    "questions.title": ("A few questions", "几个问题"),
    "q.age": ("Age in years", "年龄（岁）"),
    "q.onset": ("When did it start?", "什么时候开始的？"),
    "q.onset.0.5": ("Less than an hour ago", "不到1小时"),
    "q.onset.3": ("1–6 hours ago", "1–6小时前"),
    "q.onset.12": ("6–24 hours ago", "6–24小时前"),
    "q.onset.72": ("1–7 days ago", "1–7天前"),
    "q.onset.336": ("More than a week ago", "一周以前"),
    "q.onset.unknown": ("I don't know", "不清楚"),
    "q.pain": ("How bad is the pain? (0 = none, 10 = worst imaginable)", "疼痛有多严重？（0=不痛，10=无法忍受）"),
    "q.pain.unknown": ("Can't say", "说不清"),
    "q.pregnant": ("Could you be pregnant?", "您是否可能怀孕？"),
    "q.injury": ("Is it because of an injury (fall, accident, blow)?", "是否由外伤引起（跌倒、事故、撞击）？"),
    "q.arrival": ("How did you arrive?", "您是怎么来的？"),
    "q.arrival.walk_in": ("On my own / with family", "自行来院/家属陪同"),
    "q.arrival.ambulance": ("By ambulance", "救护车送来"),
    "q.arrival.transfer": ("Sent by another hospital or clinic", "其他医院或诊所转诊"),
    "q.mental": ("How is the patient responding?", "患者的反应如何？"),
    "q.mental.alert": ("Awake and talking normally", "清醒，说话正常"),
    "q.mental.voice": ("Only responds when spoken to", "只有呼唤时才有反应"),
    "q.mental.pain": ("Only responds to touch or pain", "只对触碰或疼痛有反应"),
    "q.mental.unresponsive": ("Does not respond", "没有反应"),
    "q.modifiers": ("Do any of these apply right now? (tick all that apply)", "目前是否有以下情况？（可多选）"),
    "yes": ("Yes", "是"),
    "no": ("No", "否"),
    "unsure": ("Not sure", "不确定"),
    "q.required": ("{field}: please answer this question", "{field}：请回答此问题"),
    "q.bad_choice": ("{field}: not one of the choices", "{field}：不是可选的答案"),
    "q.bad_age": ("age: enter a number of years from 0 to 130", "年龄：请输入0到130之间的数字"),
    "q.pregnant_male": ("pregnant: cannot be yes for a male patient", "是否怀孕：男性患者不能选“是”"),
    "q.bad_modifier": ("modifiers: unknown question code {code}", "问题：未知的问题代码 {code}"),
    # vitals
    "vitals.title": ("Vital signs", "生命体征"),
    "vitals.intro": (
        "To be filled in by staff or a measuring device. Leave a field empty if it was not measured: "
        "it will be flagged for staff, never assumed normal.",
        "由工作人员或测量设备填写。未测量的项目请留空：系统会提示工作人员补测，绝不按正常值处理。",
    ),
    "vitals.source": ("Entered by", "录入方式"),
    "vitals.source.staff": ("Staff", "工作人员"),
    "vitals.source.device": ("Device", "测量设备"),
    "vitals.submit": ("Get my result", "查看结果"),
    "vitals.number": ("{field}: must be a number", "{field}：必须是数字"),
    "vitals.range": (
        "{field}: {value} is outside the possible range {low}–{high}",
        "{field}：{value} 超出可能范围 {low}–{high}",
    ),
    "vitals.bp": (
        "diastolic_bp: must be lower than the systolic pressure",
        "舒张压：必须低于收缩压",
    ),
    "v.heart_rate": ("Heart rate (/min)", "心率（次/分）"),
    "v.resp_rate": ("Breathing rate (/min)", "呼吸频率（次/分）"),
    "v.systolic_bp": ("Blood pressure, systolic (mmHg)", "收缩压（mmHg）"),
    "v.diastolic_bp": ("Blood pressure, diastolic (mmHg)", "舒张压（mmHg）"),
    "v.temperature_c": ("Temperature (°C)", "体温（°C）"),
    "v.spo2": ("Oxygen saturation SpO2 (%)", "血氧饱和度 SpO2（%）"),
    # result
    "result.title": ("Your triage result", "您的分诊结果"),
    "result.level": ("Level", "级别"),
    "result.level.1": ("Resuscitation — immediate", "复苏——立即处理"),
    "result.level.2": ("Emergent — very urgent", "危重——非常紧急"),
    "result.level.3": ("Urgent", "紧急"),
    "result.level.4": ("Less urgent", "次紧急"),
    "result.level.5": ("Non-urgent", "非紧急"),
    "result.destination": ("Please go to", "请前往"),
    "result.queue": ("Your queue number", "您的排队号"),
    "result.reasons": ("Why", "原因"),
    "result.missing": ("Staff will still measure or ask", "工作人员还将测量或询问"),
    "result.nurse": ("A nurse is coming to you now. Please stay here.", "护士马上就来，请留在原地。"),
    "result.review": (
        "This is a first assessment. A nurse reviews it and decides.",
        "这是初步评估，最终由护士复核决定。",
    ),
    "result.done": ("Finish", "完成"),
    "result.patient": ("Patient", "患者"),
    # appointment (a booked outpatient checked in when identified)
    "steps.appointment": ("Appointment", "预约"),
    "appointment.title": ("Your appointment", "您的预约"),
    "appointment.checked_in": ("You are checked in for your appointment", "您已完成预约签到"),
    "appointment.already": (
        "You were already checked in for this appointment.",
        "您已签到过本次预约，无需重复签到。",
    ),
    "appointment.department": ("Department", "科室"),
    "appointment.where": ("Please go to", "请前往"),
    "appointment.no_department": ("your clinic", "您的就诊科室"),
    "appointment.ask_desk": ("Please ask at the desk where to go.", "请到服务台询问就诊地点。"),
    "appointment.pay_later_yes": ("Pay later: approved", "先诊疗后付费：已开通"),
    "appointment.pay_later_no": (
        "Pay later: not enrolled — please pay at the desk after your visit",
        "先诊疗后付费：未开通——请在就诊后到收费处缴费",
    ),
    "appointment.pay_later_unknown": (
        "Pay later: status not known — please ask at the desk",
        "先诊疗后付费：状态未知，请到服务台咨询",
    ),
    "appointment.no_payment": ("No payment is taken at this kiosk.", "本机不收取任何费用。"),
    "appointment.ask": (
        "Before you go: since you booked, do you feel worse, or does any of this apply to you now?",
        "前往科室前：预约以来您是否感觉加重，或目前有以下任何情况？",
    ),
    "appointment.as_booked": ("No — go to my appointment", "没有——前往就诊"),
    "appointment.worse": ("I feel worse — I need to be seen now", "我感觉加重——需要尽快就诊"),
    "appointment.go": ("You can go to your appointment now.", "您现在可以前往就诊。"),
    "appointment.changed_mind": ("I feel unwell after all", "我仍感觉不适"),
    "appointment.nurse_first": (
        "Your appointment is kept. A nurse will see you first; staff will tell you when to go.",
        "您的预约已保留。护士会先为您评估，工作人员会告诉您何时前往就诊。",
    ),
    "appointment.after_triage": (
        "Your appointment is kept. Show this result at the clinic.",
        "您的预约已保留。请在就诊科室出示此结果。",
    ),
    "appointment.feeling_required": (
        "feeling: choose “go to my appointment” or “I feel worse”",
        "感觉：请选择“前往就诊”或“我感觉加重”",
    ),
    "appointment.feeling_bad": (
        "feeling: not one of the choices (go to my appointment, or I feel worse)",
        "感觉：不是可选的答案（前往就诊，或我感觉加重）",
    ),
    "appointment.failed": (
        "We could not check you in for your appointment here; please ask at the desk. You can still continue.",
        "未能在本机为您办理预约签到，请到服务台咨询。您仍可继续。",
    ),
    # errors on JSON endpoints
    "api.frames": ("frames: {reason}", "frames：{reason}"),
    "session.expired": (
        "Your session has ended. Please start again.",
        "本次操作已超时，请重新开始。",
    ),
}

GROUPS: dict[str, tuple[str, str]] = {
    "cardiovascular": ("Heart and circulation", "心血管"),
    "respiratory": ("Breathing", "呼吸"),
    "neurology": ("Head and nerves", "神经"),
    "gastrointestinal": ("Stomach and bowel", "消化"),
    "trauma": ("Injuries", "外伤"),
    "general": ("General", "全身症状"),
    "genitourinary": ("Urinary and genital", "泌尿生殖"),
    "mental_health": ("Mental health", "心理健康"),
    "metabolic": ("Metabolic", "代谢"),
    "musculoskeletal": ("Muscles and joints", "肌肉关节"),
    "obstetrics_gynaecology": ("Pregnancy and gynaecology", "妇产"),
    "skin": ("Skin", "皮肤"),
    "ent": ("Ear, nose and throat", "耳鼻喉"),
    "eye": ("Eyes", "眼"),
    "dental": ("Teeth", "口腔"),
    "toxicology": ("Poisoning", "中毒"),
    "device": ("Medical devices", "医疗器械"),
    "administrative": ("Other", "其他"),
    "": ("Other", "其他"),
}


def lang() -> str:
    return str(getattr(g, "lang", "en")) if has_request_context() else "en"


#: Chinese names of the form fields, used in Chinese messages as "名称（field）".
FIELD_ZH: dict[str, str] = {
    "onset": "发病时间",
    "pain": "疼痛评分",
    "pregnant": "是否怀孕",
    "injury": "是否外伤",
    "arrival": "到达方式",
    "mental": "意识状态",
    "heart_rate": "心率",
    "resp_rate": "呼吸频率",
    "systolic_bp": "收缩压",
    "diastolic_bp": "舒张压",
    "temperature_c": "体温",
    "spo2": "血氧饱和度",
}


def both(key: str, **fmt: object) -> tuple[str, str]:
    """``(en, zh)`` of ``key``; a ``field`` argument is the field's code in English and its Chinese
    name with the code in Chinese."""
    en, zh = TEXT.get(key, (key, key))
    if fmt:
        zh_fmt = dict(fmt)
        name = fmt.get("field")
        if isinstance(name, str) and name in FIELD_ZH:
            zh_fmt["field"] = f"{FIELD_ZH[name]}（{name}）"
        en, zh = en.format(**fmt), zh.format(**zh_fmt)
    return en, zh


def kt(key: str, **fmt: object) -> str:
    """The kiosk text for ``key`` in the request's language."""
    en, zh = both(key, **fmt)
    return zh if lang() == "zh" else en


def pick(pair: tuple[str, str]) -> str:
    """The element of an ``(en, zh)`` pair for the request's language."""
    return pair[1] if lang() == "zh" else pair[0]
