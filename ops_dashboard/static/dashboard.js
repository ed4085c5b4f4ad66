/* Operations dashboard: KPI tiles, floor map, attention list, deliveries, charts, twin replay.
   Live over Socket.IO /ops: "kpis" (every second), "task", "fleet", "alert". No framework. */
(() => {
  'use strict';
  const D = JSON.parse(document.getElementById('dash-data').textContent);
  const T = (k) => D.text[k] || k;
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  const $ = (id) => document.getElementById(id);
  const robots = {};
  for (const r of D.robots) robots[r.id] = r;
  const tasks = {};
  for (const t of D.tasks) tasks[t.id] = t;
  let kp = D.kpis;
  const COLORS = {stat: '#b3261e', urgent: '#8a4b00', routine: '#1f6b3a'};
  const MODE_COLORS = {busy: '#0b5cad', idle: '#1f6b3a', charging: '#8a4b00', fault: '#b3261e', lost: '#b3261e'};
  const TERMINAL = new Set(['delivered', 'failed', 'cancelled']);
  const fmtTime = (s) => s ? new Date(s * 1000).toLocaleTimeString(D.lang === 'zh' ? 'zh-CN' : 'en-GB', {hour: '2-digit', minute: '2-digit'}) : '—';
  const mins = (s) => Math.max(0, Math.floor(s / 60));

  // ---- KPI tiles -------------------------------------------------------------------------------
  function setK(path, v) {
    document.querySelectorAll(`[data-k="${path}"]`).forEach((e) => { e.textContent = (v === null || v === undefined) ? '—' : v; });
  }
  function applyKpis(k) {
    kp = k;
    for (const [a, v] of Object.entries(k)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) for (const [b, w] of Object.entries(v)) { if (typeof w !== 'object') setK(`${a}.${b}`, w); }
      else if (typeof v !== 'object') setK(a, v);
    }
    const ed = Object.values(k.ed_queue_by_level || {}).reduce((x, y) => x + y, 0);
    $('ed-total').textContent = ed;
    $('kiosk-max').textContent = k.kiosk && k.kiosk.max_s != null ? mins(k.kiosk.max_s) : '—';
    const lifts = Object.entries(k.lift_queues || {}).filter(([, q]) => q > 0).sort((a, b) => b[1] - a[1]).slice(0, 3);
    $('lift-detail').textContent = lifts.length ? '(' + lifts.map(([id, q]) => `${id}: ${q}`).join(', ') + ')' : '';
    $('fresh').textContent = new Date().toLocaleTimeString(D.lang === 'zh' ? 'zh-CN' : 'en-GB');
    $('fresh').dateTime = new Date().toISOString();
    drawAttention();
    drawChart();
  }

  // ---- attention (derived) and stored alerts ---------------------------------------------------
  function drawAttention() {
    const box = $('attention');
    const items = kp.attention || [];
    const now = Date.now() / 1000;
    if (!items.length) { box.innerHTML = `<li class="muted">${esc(T('dash.no_attention'))}</li>`; return; }
    box.innerHTML = items.slice(0, 30).map((a) => `<li class="alert-item ${esc(a.severity)}" data-kind="${esc(a.kind)}">
      <b>${esc(T('dash.' + a.kind))}</b> <span class="elapsed">${mins(now - a.since_s)} ${esc(T('dash.min'))}</span><br>
      <span>${esc(a.subject)}</span> — <span>${esc(a.message)}</span></li>`).join('');
  }
  const alerts = {};
  for (const a of D.alerts) alerts[a.id] = a;
  function drawAlerts() {
    const now = Date.now() / 1000;
    const open = Object.values(alerts).filter((a) => !a.acknowledged_at).sort((a, b) => Date.parse(a.raised_at) - Date.parse(b.raised_at));
    $('alerts').innerHTML = open.length ? open.map((a) => `<li class="alert-item ${esc(a.severity)}" data-id="${a.id}">
      <b>${esc(a.kind)}</b> <span class="elapsed">${mins(now - Date.parse(a.raised_at) / 1000)} ${esc(T('dash.min'))}</span><br>
      ${esc(a.subject)} — ${esc(a.message)}
      <button type="button" class="secondary ack" data-id="${a.id}">${esc(T('dash.ack'))}<span class="sr-only"> ${esc(a.kind)} ${esc(a.subject)}</span></button></li>`).join('')
      : `<li class="muted">${esc(T('dash.no_alerts'))}</li>`;
  }
  $('alerts').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button.ack');
    if (!b) return;
    b.disabled = true;
    const r = await fetch(`/api/v1/alerts/${b.dataset.id}/ack`, {method: 'POST', credentials: 'same-origin', headers: {'X-CSRFToken': D.csrf}});
    if (r.ok) { alerts[b.dataset.id] = await r.json(); drawAlerts(); } else b.disabled = false;
  });

  // ---- deliveries ------------------------------------------------------------------------------
  function taskRow(t) {
    const eta = t.eta_s ? fmtTime(t.eta_s) : `≤ ${fmtTime(t.deadline_s)}`;
    const late = t.late || (!TERMINAL.has(t.status) && Date.now() / 1000 > (t.eta_s || t.deadline_s));
    return `<tr id="dt-${esc(t.id)}" data-status="${esc(t.status)}" class="${late ? 'late' : ''}">
      <td>${esc(t.id)}</td><td class="prio-${esc(t.priority)}">${esc(T('prio.' + t.priority))}</td>
      <td>${esc(T('kind.' + t.kind))}</td><td>${esc(t.pickup)} → ${esc(t.dropoff)}</td>
      <td class="status">${esc(T('status.' + t.status))}${late ? ` <b class="prio-stat">(${esc(T('dash.late'))})</b>` : ''}</td>
      <td>${esc(t.robot_id || '—')}</td><td>${esc(eta)}</td></tr>`;
  }
  const RANK = {stat: 0, urgent: 1, routine: 2};
  function drawTasks() {
    const list = Object.values(tasks).sort((a, b) => (TERMINAL.has(a.status) - TERMINAL.has(b.status)) || (RANK[a.priority] - RANK[b.priority]) || (a.deadline_s - b.deadline_s));
    $('tasks').innerHTML = list.slice(0, 200).map(taskRow).join('') || '<tr><td colspan="7" class="muted">—</td></tr>';
  }
  let finishedSeen = [];
  function onTask(t) {
    tasks[t.id] = Object.assign(tasks[t.id] || {}, t);
    if (TERMINAL.has(t.status)) {  // keep finished ones visible for a while, then drop
      finishedSeen.push([Date.now(), t.id]);
      const cut = Date.now() - 10 * 60 * 1000;
      finishedSeen = finishedSeen.filter(([when, id]) => (when >= cut) || (delete tasks[id], false));
    }
    scheduleTasks();
  }
  let tasksQueued = false;
  function scheduleTasks() { if (!tasksQueued) { tasksQueued = true; requestAnimationFrame(() => { tasksQueued = false; drawTasks(); }); } }

  // ---- floor map -------------------------------------------------------------------------------
  const selB = $('map-building'), selF = $('map-floor');
  function fillFloors() {
    const b = D.buildings.find((x) => x.id === selB.value);
    selF.innerHTML = b.floors.map((f) => `<option value="${esc(f)}">${esc(f)}</option>`).join('');
  }
  function bbox(b) {
    const o = D.origins[b];
    let x0 = o[0] - 5, x1 = o[0] + 5, y0 = o[1] - 5, y1 = o[1] + 5;
    for (const l of Object.values(D.locs)) if (l.b === b) { x0 = Math.min(x0, l.x); x1 = Math.max(x1, l.x); y0 = Math.min(y0, l.y); y1 = Math.max(y1, l.y); }
    return [x0 - 8, y0 - 8, Math.max(30, x1 - x0 + 16), Math.max(20, y1 - y0 + 16)];
  }
  function robotPlace(r) {
    if (r.building && r.floor != null && typeof r.x === 'number' && typeof r.y === 'number') return {b: r.building, f: String(r.floor), x: r.x, y: r.y};
    const l = D.locs[r.location];
    return l ? {b: l.b, f: l.f, x: l.x, y: l.y} : null;
  }
  function drawMap() {
    const b = selB.value, f = selF.value, o = D.origins[b], svg = $('map');
    const [vx, vy, vw, vh] = bbox(b);
    svg.setAttribute('viewBox', `${vx} ${vy} ${vw} ${vh}`);
    const fs = Math.max(vw, vh) / 42;
    let html = `<rect x="${vx}" y="${vy}" width="${vw}" height="${vh}" fill="#f0f3f6" stroke="#cfd6de"/>`;
    html += `<rect x="${o[0] - 2.5}" y="${o[1] - 2.5}" width="5" height="5" fill="none" stroke="#0b5cad" stroke-width="0.5"/><text x="${o[0] + 3}" y="${o[1] - 3}" font-size="${fs}" fill="#0b5cad">${esc(T('dash.lifts'))}</text>`;
    const placed = {};
    for (const [id, l] of Object.entries(D.locs)) if (l.b === b && l.f === f) {
      const key = `${l.x},${l.y}`; const n = placed[key] = (placed[key] || 0) + 1;
      html += `<g class="loc"><rect x="${l.x - 1.5}" y="${l.y - 1.5}" width="3" height="3" fill="#4a5560"/><text x="${l.x + 2}" y="${l.y + 1 + (n - 1) * fs}" font-size="${fs}" fill="#14171a">${esc(id)}</text><title>${esc(id)} ${esc(l.n)}</title></g>`;
    }
    let n = 0;
    const here = [];
    for (const r of Object.values(robots)) {
      const p = robotPlace(r);
      if (!p || p.b !== b || p.f !== f) continue;
      n++; here.push(r.id);
      const x = p.x + ((n % 5) - 2) * 1.2, y = p.y + 3 + Math.floor(n / 5) * 1.5;
      const col = MODE_COLORS[r.mode] || '#333';
      html += `<g class="robot" data-id="${esc(r.id)}"><circle cx="${x}" cy="${y}" r="${fs * 0.7}" fill="${col}" stroke="#fff" stroke-width="0.3"/><text x="${x + fs}" y="${y + fs * 0.4}" font-size="${fs}" fill="${col}" font-weight="700">${esc(r.id)}</text><title>${esc(r.id)} ${esc(T('robot.' + r.mode))} ${r.battery_pct ?? ''}%</title></g>`;
    }
    svg.innerHTML = html;
    $('robots').innerHTML = Object.values(robots).sort((a, b) => String(a.id).localeCompare(String(b.id))).map((r) => {
      const p = robotPlace(r);
      return `<tr data-id="${esc(r.id)}"><td>${esc(r.id)}</td><td class="mode-${esc(r.mode)}">${esc(T('robot.' + r.mode))}</td>
        <td>${p ? `${esc(p.b)} ${esc(p.f)}` : '—'} ${esc(r.location || '')}</td><td>${r.battery_pct ?? '—'}</td></tr>`;
    }).join('') || '<tr><td colspan="4" class="muted">—</td></tr>';
    $('map-summary').textContent = `${b} ${f}: ${n} / ${Object.keys(robots).length} ${T('dash.robots')}${here.length ? ' — ' + here.join(', ') : ''}`;
  }
  let mapQueued = false;
  function scheduleMap() { if (!mapQueued) { mapQueued = true; requestAnimationFrame(() => { mapQueued = false; drawMap(); }); } }
  selB.addEventListener('change', () => { fillFloors(); drawMap(); });
  selF.addEventListener('change', drawMap);
  // start on the building and floor where most robots are
  (function pickStart() {
    const count = {};
    for (const r of Object.values(robots)) { const p = robotPlace(r); if (p) count[`${p.b}|${p.f}`] = (count[`${p.b}|${p.f}`] || 0) + 1; }
    const best = Object.entries(count).sort((a, b) => b[1] - a[1])[0];
    if (best) selB.value = best[0].split('|')[0];
    fillFloors();
    if (best) selF.value = best[0].split('|')[1];
  })();

  // ---- charts of the day -----------------------------------------------------------------------
  function canvasCtx(c) {
    const w = c.clientWidth || 600, h = +c.getAttribute('height');
    if (c.width !== w) c.width = w;
    const ctx = c.getContext('2d'); ctx.clearRect(0, 0, c.width, c.height); ctx.font = '12px system-ui, sans-serif';
    return [ctx, w, h];
  }
  function drawChart() {
    const d = kp.today; if (!d) return;
    const [ctx, w, h] = canvasCtx($('chart'));
    const n = d.delivered.length, pad = 28;
    const totals = d.delivered.map((_, i) => d.requested.stat[i] + d.requested.urgent[i] + d.requested.routine[i]);
    const max = Math.max(1, ...totals, ...d.delivered);
    const bw = (w - pad - 6) / 24;
    ctx.fillStyle = '#4a5560'; ctx.fillText(String(max), 2, 12); ctx.fillText('0', 2, h - 18);
    for (let i = 0; i < 24; i += 3) ctx.fillText(String(i).padStart(2, '0'), pad + i * bw, h - 4);
    for (let i = 0; i < n; i++) {
      let y = h - 20;
      for (const p of ['stat', 'urgent', 'routine']) {
        const v = d.requested[p][i], bh = v / max * (h - 36);
        ctx.fillStyle = COLORS[p]; ctx.fillRect(pad + i * bw + 1, y - bh, bw * 0.45, bh); y -= bh;
      }
      const dv = d.delivered[i] / max * (h - 36), ov = d.on_time[i] / max * (h - 36);
      ctx.fillStyle = '#9bb8d6'; ctx.fillRect(pad + i * bw + bw * 0.5, h - 20 - dv, bw * 0.45, dv);
      ctx.fillStyle = '#0b5cad'; ctx.fillRect(pad + i * bw + bw * 0.5, h - 20 - ov, bw * 0.45, ov);
    }
    const rows = d.delivered.map((_, i) => `<tr><th scope="row">${String(i).padStart(2, '0')}:00</th><td>${d.requested.stat[i]}</td><td>${d.requested.urgent[i]}</td><td>${d.requested.routine[i]}</td><td>${d.delivered[i]}</td><td>${d.on_time[i]}</td></tr>`);
    $('chart-table').innerHTML = `<thead><tr><th scope="col">${esc(T('dash.hour'))}</th><th scope="col">${esc(T('prio.stat'))}</th><th scope="col">${esc(T('prio.urgent'))}</th><th scope="col">${esc(T('prio.routine'))}</th><th scope="col">${esc(T('dash.delivered'))}</th><th scope="col">${esc(T('dash.on_time'))}</th></tr></thead><tbody>${rows.join('')}</tbody>`;
  }

  // ---- twin replay -----------------------------------------------------------------------------
  const RP = {data: null, timer: null};
  const SHOWN = [['backlog_tasks', 'dash.open_tasks'], ['robots_busy', 'robot.busy'], ['robots_idle', 'robot.idle'],
    ['robots_charging', 'robot.charging'], ['robots_fault', 'robot.fault'], ['queue_lift', 'dash.lift_queue'],
    ['queue_op_kiosk', 'dash.kiosk_wait'], ['queue_ed_bay', 'dash.ed_queue']];
  function replayAt(i) {
    const d = RP.data, s = d.series;
    const hour = d.start_h + i;
    $('replay-clock').textContent = `${String(Math.floor(hour) % 24).padStart(2, '0')}:00 (+${i} h)`;
    $('replay-tiles').innerHTML = SHOWN.filter(([k]) => s[k]).map(([k, label]) =>
      `<div class="card tile"><h3>${esc(T(label))}</h3><div class="value">${s[k][i] == null ? '—' : s[k][i].toFixed(1)}</div><div class="sub">${esc(k)}</div></div>`).join('');
    const [ctx, w, h] = canvasCtx($('replay-chart'));
    const lines = [['backlog_tasks', '#b3261e'], ['robots_busy', '#0b5cad'], ['queue_lift', '#8a4b00']].filter(([k]) => s[k]);
    const n = Math.max(...lines.map(([k]) => s[k].length)), max = Math.max(1, ...lines.flatMap(([k]) => s[k].filter((v) => v != null)));
    lines.forEach(([k, col], j) => {
      ctx.strokeStyle = col; ctx.lineWidth = 2; ctx.beginPath();
      s[k].forEach((v, t) => { const x = 30 + t / Math.max(1, n - 1) * (w - 40), y = h - 16 - (v || 0) / max * (h - 30); t ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
      ctx.stroke(); ctx.fillStyle = col; ctx.fillText(k, 40 + j * 120, 12);
    });
    const x = 30 + i / Math.max(1, n - 1) * (w - 40);
    ctx.strokeStyle = '#14171a'; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(x, 16); ctx.lineTo(x, h - 16); ctx.stroke();
  }
  function replayStop() { clearInterval(RP.timer); RP.timer = null; $('replay-play').textContent = T('replay.play'); }
  $('replay-play').addEventListener('click', () => {
    if (RP.timer) { replayStop(); return; }
    const r = $('replay-hour');
    if (+r.value >= +r.max) r.value = 0;
    $('replay-play').textContent = T('replay.pause');
    RP.timer = setInterval(() => { if (+r.value >= +r.max) { replayStop(); return; } r.value = +r.value + 1; replayAt(+r.value); }, 700);
  });
  $('replay-hour').addEventListener('input', (e) => replayAt(+e.target.value));
  $('replay-file').addEventListener('change', async (e) => {
    replayStop();
    const f = e.target.files[0]; if (!f) return;
    let d;
    try { d = JSON.parse(await f.text()); } catch { d = null; }
    if (!d || typeof d !== 'object' || !d.kpis) { $('replay-msg').textContent = T('replay.bad'); $('replay-ui').hidden = true; return; }
    if (!d.series || !Object.keys(d.series).length) {
      const k = d.kpis, pick = ['stat_on_time_pct', 'deliveries_per_day', 'robot_utilisation', 'lift_wait_mean_s', 'wait_op_kiosk_mean_s'];
      $('replay-msg').textContent = `${d.scenario || ''}: ` + pick.filter((x) => k[x]).map((x) => `${x} ${k[x].mean == null ? '—' : k[x].mean.toFixed(2)}`).join(' · ') + ' — ' + T('replay.no_series');
      $('replay-ui').hidden = true; return;
    }
    RP.data = Object.assign({start_h: 0}, d);
    const n = Math.max(...Object.values(d.series).map((a) => a.length));
    $('replay-hour').max = n - 1; $('replay-hour').value = 0;
    $('replay-msg').textContent = `${d.scenario || ''} · ${d.replications || 1} × · ${n} h`;
    $('replay-ui').hidden = false;
    replayAt(0);
  });

  // ---- live channel ----------------------------------------------------------------------------
  const sock = io('/ops', {transports: ['websocket']});
  const liveState = $('live-state');
  sock.on('connect', () => { liveState.textContent = T('dash.live'); liveState.className = 'live-state on'; });
  sock.on('disconnect', () => { liveState.textContent = T('dash.offline'); liveState.className = 'live-state off'; });
  sock.on('kpis', applyKpis);
  sock.on('task', onTask);
  sock.on('fleet', (m) => {
    for (const r of m.robots || []) if (r && r.id) robots[r.id] = Object.assign(robots[r.id] || {}, r);
    scheduleMap();
  });
  sock.on('alert', (a) => { alerts[a.id] = a; drawAlerts(); });
  setInterval(() => { drawAlerts(); drawAttention(); }, 15000);
  window.addEventListener('resize', () => { drawChart(); if (RP.data) replayAt(+$('replay-hour').value); });
  applyKpis(kp); drawAlerts(); drawTasks(); drawMap();
})();
