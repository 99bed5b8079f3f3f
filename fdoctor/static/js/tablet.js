/*
 * The tablet recording page (录入服务), offline first.
 *
 * Every record is written to IndexedDB before anything else (with a client-generated id), then
 * uploaded to /api/v1/services/batch when the network allows: on page load, on the `online`
 * event, after each save and on a timer with exponential backoff. The server stores a client id
 * once, so a replayed upload is harmless. The residents of the user's scope are kept in
 * IndexedDB too, so search works with no network; the service worker (sw.js) serves the page.
 */
(function () {
  'use strict';

  const root = document.getElementById('tablet');
  if (!root) return;

  const API = root.dataset.api;
  const USER_ID = Number(root.dataset.userId);
  const TEAM_ID = root.dataset.teamId ? Number(root.dataset.teamId) : null;
  const TZ = root.dataset.timezone || 'Asia/Shanghai';
  const BATCH = 200;
  const KEEP_DONE_MS = 7 * 24 * 3600 * 1000;
  const KEEP_RECORD_DAYS = 30;
  const MAX_BACKOFF_S = 300;
  const ACTIVE = new Set(['pending', 'retry', 'syncing']);
  const STATE_LABELS = {
    pending: '待上传', syncing: '上传中…', retry: '上传失败，稍后重试', done: '已上传',
    invalid: '未通过校验，请修改', conflict: '与他人修改冲突，待审核',
  };
  const TAG_LABELS = {
    elderly65: '老年人', child0_6: '儿童', maternal: '孕产妇', hypertension: '高血压', diabetes: '糖尿病',
    mental_severe: '精神障碍', tuberculosis: '肺结核', disabled: '残疾', poverty: '脱贫', special_family: '计生特殊',
  };
  const MESSAGES = {
    resident_id: '请选择居民', service_date: '请填写服务日期', future: '服务日期晚于今天，不能记录未来的服务',
    systolic_bp: '请填写收缩压', diastolic_bp: '请填写舒张压', fasting_glucose: '请填写空腹血糖',
    attendance: '请填写参加人数', topic: '请填写健康教育主题',
    other_institution: '请选择转诊接收机构，或填写系统外医院的名称',
  };

  const $ = (id) => document.getElementById(id);
  let csrf = document.querySelector('meta[name="csrf-token"]').content;

  const TYPES = {};
  $('service-types').content.querySelectorAll('span').forEach((el) => {
    TYPES[el.dataset.type] = {
      label: el.textContent,
      fields: el.dataset.fields ? el.dataset.fields.split(' ') : [],
    };
  });

  const state = {
    residents: [],
    residentsById: new Map(),
    ops: [],
    records: new Map(),
    resident: null,
    eventMode: false,
    type: null,
    editing: null,
    pendingPayload: null,
    syncing: false,
    again: false,
    timer: null,
    deviceId: null,
    loginExpired: false,
    hasRoster: false,
    wanted: null,
    // Evidence at capture (docs/api.md): when the form opened, the last position (only with the
    // user's consent), the resident's signature strokes.
    formOpenedAt: null,
    geoConsent: false,
    geoWatch: null,
    position: null,
    strokes: [],
  };

  // --- time and ids ----------------------------------------------------------------------

  function localParts(moment) {
    const fmt = new Intl.DateTimeFormat('en-CA', {
      timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    const parts = {};
    fmt.formatToParts(moment).forEach((p) => { parts[p.type] = p.value; });
    return parts;
  }
  function today() {
    const p = localParts(new Date());
    return `${p.year}-${p.month}-${p.day}`;
  }
  function nowLocal() {
    const p = localParts(new Date());
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
  }
  function daysAgo(n) {
    const p = localParts(new Date(Date.now() - n * 86400000));
    return `${p.year}-${p.month}-${p.day}`;
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // --- IndexedDB ---------------------------------------------------------------------------

  let dbPromise = null;
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const req = indexedDB.open('fdoctor-tablet', 1);
        req.onupgradeneeded = () => {
          const db = req.result;
          db.createObjectStore('ops', { keyPath: 'op_id' });
          db.createObjectStore('residents', { keyPath: 'id' });
          db.createObjectStore('records', { keyPath: 'client_uuid' });
          db.createObjectStore('meta', { keyPath: 'key' });
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return dbPromise;
  }
  function done(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  async function getAll(store) {
    const db = await openDb();
    return done(db.transaction(store).objectStore(store).getAll());
  }
  // Resolves once the transaction is committed: "saved" means it survives a reload or a crash.
  async function write(store, values, { clear = false, remove = [] } = {}) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const t = db.transaction(store, 'readwrite', { durability: 'strict' });
      const s = t.objectStore(store);
      if (clear) s.clear();
      remove.forEach((key) => s.delete(key));
      values.forEach((v) => s.put(v));
      t.oncomplete = () => resolve();
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }
  async function metaGet(key) {
    const db = await openDb();
    const row = await done(db.transaction('meta').objectStore('meta').get(key));
    return row ? row.value : undefined;
  }
  function metaSet(key, value) {
    return write('meta', [{ key, value }]);
  }
  function saveOps(ops) {
    return write('ops', ops);
  }

  // --- the API -----------------------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, body) {
      super((body && body.error) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }
  class OfflineError extends Error {}

  async function api(method, path, body, csrfRetry = true) {
    const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.headers['X-CSRFToken'] = csrf;
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, options);
    } catch (err) {
      throw new OfflineError('网络不可用');
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.status === 401) {
      setLoginExpired(true);
      throw new HttpError(401, data);
    }
    setLoginExpired(false);
    // An expired CSRF token (e.g. the page came from the cache): fetch a fresh one, retry once.
    if (response.status === 400 && body !== undefined && csrfRetry && data && /令牌/.test(data.error || '')) {
      const me = await api('GET', '/me');
      csrf = me.csrf_token;
      return api(method, path, body, false);
    }
    if (!response.ok) throw new HttpError(response.status, data);
    return data;
  }

  // --- residents snapshot and search ---------------------------------------------------------

  function setResidents(list) {
    state.residents = list;
    state.residentsById = new Map(list.map((r) => [r.id, r]));
  }

  async function refreshResidents() {
    let after = 0;
    let all = [];
    for (;;) {
      const query = `/residents?after_id=${after}${TEAM_ID ? `&team=${TEAM_ID}` : ''}`;
      const data = await api('GET', query);
      all = all.concat(data.residents);
      if (!data.next_after_id) break;
      after = data.next_after_id;
    }
    await write('residents', all, { clear: true });
    const at = nowLocal();
    await metaSet('residents_at', at);
    await metaSet('owner', USER_ID);
    setResidents(all);
    showSnapshot(at);
    renderResults();
  }

  function showSnapshot(at) {
    state.hasRoster = !!at;
    $('snapshot-state').textContent = at
      ? `居民名单 ${state.residents.length} 人（更新于 ${at.replace('T', ' ').slice(0, 16)}）`
      : (navigator.onLine ? '居民名单尚未下载' : '居民名单尚未下载，请联网后打开本页');
    showNetwork();
  }

  function search(raw) {
    const q = raw.trim();
    if (!q) return [];
    const upper = q.toUpperCase();
    const idLike = /^[0-9X]{2,18}$/.test(upper);
    const out = [];
    for (const r of state.residents) {
      const hit = idLike
        ? (r.id_tail || '').endsWith(upper) || (r.citizen_id || '').toUpperCase().endsWith(upper)
          || (r.household_code || '').toUpperCase().includes(upper)
        : r.name.includes(q) || (r.address || '').includes(q)
          || (r.household_code || '').toUpperCase().includes(upper);
      if (hit) {
        out.push(r);
        if (out.length >= 30) break;
      }
    }
    return out;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function residentMeta(r) {
    const bits = [];
    if (r.sex) bits.push(r.sex === 'M' ? '男' : '女');
    if (r.age !== undefined && r.age !== null) bits.push(`${r.age}岁`);
    if (r.citizen_id) bits.push(r.citizen_id);
    return bits.join(' · ');
  }

  function renderResults() {
    const box = $('resident-results');
    box.replaceChildren();
    const q = $('resident-search').value;
    if (!q.trim()) {
      box.append(el('p', 'text-muted small p-2 mb-0', '输入姓名或身份证后几位即可查找本团队居民。'));
      return;
    }
    const found = search(q);
    if (!found.length) {
      box.append(el('p', 'text-muted p-2 mb-0', state.residents.length
        ? '没有找到匹配的居民' : '本机还没有居民名单，请联网后打开本页'));
      return;
    }
    found.forEach((r) => {
      const b = el('button', 'list-group-item list-group-item-action resident-btn');
      b.type = 'button';
      b.dataset.residentId = r.id;
      if (state.resident && state.resident.id === r.id) b.classList.add('active');
      const line = el('div', 'd-flex justify-content-between align-items-center');
      line.append(el('span', 'resident-name', r.name));
      const sign = r.contract
        ? el('span', 'badge text-bg-success', `签约至 ${r.contract.end}`)
        : el('span', 'badge text-bg-danger', '未签约');
      line.append(sign);
      b.append(line);
      b.append(el('div', 'resident-meta', residentMeta(r)));
      const where = el('div', 'resident-meta', `${r.household_code || ''} ${r.address || ''}`);
      (r.tags || []).forEach((t) => where.append(el('span', 'badge text-bg-secondary resident-tag ms-1', TAG_LABELS[t] || t)));
      b.append(where);
      b.addEventListener('click', () => selectResident(r));
      box.append(b);
    });
  }

  // --- the form ------------------------------------------------------------------------------

  function selectResident(r) {
    if (state.editing) return;
    state.resident = r;
    state.eventMode = false;
    renderSelected();
    renderResults();
    renderTypes();
    hideToast();
  }

  function renderSelected() {
    const card = $('selected-resident');
    card.replaceChildren();
    card.classList.toggle('empty', !state.resident && !state.eventMode);
    if (state.eventMode) {
      card.append(el('div', 'fw-bold', '健康教育活动'));
      card.append(el('div', 'resident-meta', '面向多人的讲座、义诊等，不选择居民，填写参加人数和主题'));
    } else if (state.resident) {
      const r = state.resident;
      card.append(el('div', 'fw-bold', r.name));
      card.append(el('div', 'resident-meta', residentMeta(r)));
      if (r.address) card.append(el('div', 'resident-meta', r.address));
    } else {
      card.textContent = '尚未选择居民';
    }
    $('event-mode').classList.toggle('active', state.eventMode);
  }

  function renderTypes() {
    document.querySelectorAll('.type-btn').forEach((b) => {
      const t = b.dataset.type;
      b.classList.toggle('active', t === state.type);
      b.classList.toggle('btn-primary', t === state.type);
      b.classList.toggle('btn-outline-primary', t !== state.type);
      b.disabled = (state.eventMode && t !== 'health_education') || (!!state.editing && t !== state.type);
    });
    // Once a type is chosen the grid folds away, so the whole form fits on a 1280×800 screen.
    $('type-buttons').classList.toggle('d-none', !!state.type);
    $('type-chosen').classList.toggle('d-none', !state.type);
    $('type-chosen-label').textContent = state.type ? TYPES[state.type].label : '';
    $('change-type').classList.toggle('d-none', !!state.editing || state.eventMode);
    const form = $('record-form');
    const ready = state.type && (state.resident || state.eventMode);
    form.classList.toggle('d-none', !ready);
    if (!ready) return;
    if (!state.formOpenedAt) state.formOpenedAt = { at: nowLocal(), ms: Date.now() };
    const fields = TYPES[state.type].fields;
    form.querySelectorAll('.field-group').forEach((g) => {
      const names = g.dataset.fields.split(' ');
      let show = names.some((n) => fields.includes(n));
      if (names.includes('team_id')) show = state.eventMode;
      g.classList.toggle('d-none', !show);
    });
    const date = $('service_date');
    date.max = today();
    if (!date.value) date.value = today();
    if (fields.includes('attendance') && !$('attendance').value && !state.eventMode) $('attendance').value = '1';
    toggleExternal();
  }

  function toggleExternal() {
    const external = $('other_institution_id').value === 'external';
    document.querySelectorAll('.external-only').forEach((n) => n.classList.toggle('d-none', !external));
  }

  function selectType(type) {
    if (!state.resident && !state.eventMode) {
      showFormErrors({ resident_id: MESSAGES.resident_id });
      $('resident-search').focus();
      return;
    }
    state.type = type;
    clearErrors();
    renderTypes();
  }

  function intValue(id) {
    const v = $(id).value.trim();
    return v === '' ? null : Number(v);
  }

  function collect() {
    const payload = { type: state.type, service_date: $('service_date').value || null };
    const notes = $('notes').value.trim();
    payload.notes = notes || null;
    if (state.resident) payload.resident_id = state.resident.id;
    if (state.eventMode && $('team_id')) payload.team_id = Number($('team_id').value);
    const fields = TYPES[state.type].fields;
    if (fields.includes('systolic_bp')) {
      payload.systolic_bp = intValue('systolic_bp');
      payload.diastolic_bp = intValue('diastolic_bp');
    }
    if (fields.includes('fasting_glucose')) {
      const g = $('fasting_glucose').value.trim();
      payload.fasting_glucose = g === '' ? null : Number(g);
    }
    if (fields.includes('attendance')) {
      payload.attendance = intValue('attendance');
      payload.topic = $('topic').value.trim() || null;
    }
    if (fields.includes('other_institution')) {
      const choice = $('other_institution_id').value;
      if (choice === 'external') {
        payload.other_institution_name = $('other_institution_name').value.trim() || null;
        payload.referral_receipt_on = $('referral_receipt_on').value || null;
      } else if (choice) {
        payload.other_institution_id = Number(choice);
      }
    }
    return payload;
  }

  function range(id) {
    return [$(id).min, $(id).max];
  }

  // The same rules as the server (fdoctor/records/drafts.py), for an answer with no network.
  function checkLocally(p) {
    const e = {};
    if (!p.service_date) e.service_date = MESSAGES.service_date;
    else if (p.service_date > today()) e.service_date = MESSAGES.future;
    if (!p.resident_id && p.type !== 'health_education') e.resident_id = MESSAGES.resident_id;
    const bounded = (name, label, unit) => {
      const v = p[name];
      if (v === null || v === undefined || Number.isNaN(v)) { e[name] = MESSAGES[name]; return; }
      const [lo, hi] = range(name);  // shown as written in the page (e.g. "1.0")
      if (v < Number(lo) || v > Number(hi)) e[name] = `${label}应在 ${lo}–${hi} ${unit}之间`;
    };
    const fields = TYPES[p.type].fields;
    if (fields.includes('systolic_bp')) {
      bounded('systolic_bp', '收缩压', 'mmHg ');
      bounded('diastolic_bp', '舒张压', 'mmHg ');
      if (!e.systolic_bp && !e.diastolic_bp && p.diastolic_bp >= p.systolic_bp) e.diastolic_bp = '舒张压应低于收缩压';
    }
    if (fields.includes('fasting_glucose')) bounded('fasting_glucose', '空腹血糖', 'mmol/L ');
    if (fields.includes('attendance')) {
      bounded('attendance', '参加人数', '人');
      if (!p.topic) e.topic = MESSAGES.topic;
    }
    if (fields.includes('other_institution') && !p.other_institution_id && !p.other_institution_name) {
      e.other_institution = MESSAGES.other_institution;
    }
    if (p.referral_receipt_on && p.referral_receipt_on < p.service_date) e.referral_receipt_on = '回执日期不能早于服务日期';
    if (p.referral_receipt_on && p.referral_receipt_on > today()) e.referral_receipt_on = '回执日期不能晚于今天';
    return e;
  }

  function clearErrors() {
    document.querySelectorAll('#record-form .is-invalid').forEach((n) => n.classList.remove('is-invalid'));
    document.querySelectorAll('#record-form [data-error-for]').forEach((n) => { n.textContent = ''; });
    $('form-errors').classList.add('d-none');
    $('dup-confirm').classList.add('d-none');
  }

  function showFormErrors(errors) {
    const loose = [];
    Object.entries(errors).forEach(([name, message]) => {
      const slot = document.querySelector(`#record-form [data-error-for="${name}"]`);
      const input = $(name === 'other_institution' ? 'other_institution_id' : name);
      if (slot && input && !slot.closest('.d-none')) {
        slot.textContent = message;
        input.classList.add('is-invalid');
      } else {
        loose.push(message);
      }
    });
    const box = $('form-errors');
    box.textContent = loose.join('；');
    box.classList.toggle('d-none', !loose.length);
  }

  function findDuplicate(p) {
    if (!p.resident_id) return null;
    const target = state.editing ? state.editing.client_uuid : null;
    const same = (r) => r.client_uuid !== target && r.resident_id === p.resident_id
      && r.type === p.type && r.service_date === p.service_date;
    for (const r of state.records.values()) if (same(r)) return r;
    for (const op of state.ops) {
      if (op.kind === 'create' && op.state !== 'invalid' && same(op.payload)) return op.payload;
    }
    return null;
  }

  // --- evidence at capture -------------------------------------------------------------------

  const SIGN_W = 400;
  const SIGN_H = 160;
  const POSITION_MAX_AGE_MS = 5 * 60 * 1000;

  function signaturePath() {
    const points = state.strokes.reduce((n, s) => n + s.length, 0);
    if (points < 5) return null;
    return state.strokes.map((s) => s.map(([x, y], i) => `${i ? 'L' : 'M'}${x} ${y}`).join('')).join('');
  }

  // A page shell cached before the evidence fields existed has no pad: the record goes without.
  const HAS_EVIDENCE = () => !!$('sign-pad') && !!$('geo-consent');

  function drawSignature() {
    if (!HAS_EVIDENCE()) return;
    const ctx = $('sign-pad').getContext('2d');
    ctx.clearRect(0, 0, SIGN_W, SIGN_H);
    ctx.lineWidth = 2.5;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#111';
    state.strokes.forEach((stroke) => {
      ctx.beginPath();
      stroke.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    });
    const signed = signaturePath() !== null;
    $('sign-state').textContent = signed ? '居民已签名' : '未签名';
    $('sign-state').classList.toggle('text-success', signed);
  }

  function clearSignature() {
    state.strokes = [];
    drawSignature();
  }

  function bindSignature() {
    if (!HAS_EVIDENCE()) return;
    const pad = $('sign-pad');
    let drawing = false;
    const point = (event) => {
      const box = pad.getBoundingClientRect();
      const x = Math.round(((event.clientX - box.left) / box.width) * SIGN_W);
      const y = Math.round(((event.clientY - box.top) / box.height) * SIGN_H);
      return [Math.min(SIGN_W, Math.max(0, x)), Math.min(SIGN_H, Math.max(0, y))];
    };
    pad.addEventListener('pointerdown', (event) => {
      drawing = true;
      pad.setPointerCapture(event.pointerId);
      state.strokes.push([point(event)]);
      event.preventDefault();
    });
    pad.addEventListener('pointermove', (event) => {
      if (!drawing) return;
      const stroke = state.strokes[state.strokes.length - 1];
      const [x, y] = point(event);
      const [px, py] = stroke[stroke.length - 1];
      if (Math.abs(x - px) + Math.abs(y - py) >= 2 && signaturePathLength() < 1100) stroke.push([x, y]);
      drawSignature();
    });
    const stop = () => { drawing = false; drawSignature(); };
    pad.addEventListener('pointerup', stop);
    pad.addEventListener('pointercancel', stop);
    $('sign-clear').addEventListener('click', clearSignature);
    $('sign-toggle').addEventListener('click', () => {
      const box = $('sign-box');
      const open = box.classList.toggle('d-none') === false;
      $('sign-toggle').setAttribute('aria-expanded', String(open));
    });
  }
  function signaturePathLength() {
    return state.strokes.reduce((n, s) => n + s.length, 0);
  }

  // Location only with the user's consent, remembered on this tablet; a position is watched in the
  // background so saving never waits for it (no fix, no signal, refused: the record has none).
  function watchPosition() {
    if (state.geoWatch !== null || !state.geoConsent || !navigator.geolocation) return;
    state.geoWatch = navigator.geolocation.watchPosition(
      (pos) => {
        state.position = {
          latitude: Number(pos.coords.latitude.toFixed(6)),
          longitude: Number(pos.coords.longitude.toFixed(6)),
          accuracy_m: Math.min(100000, Math.round(pos.coords.accuracy || 0)),
          at: Date.now(),
        };
      },
      () => { state.position = null; },
      { enableHighAccuracy: false, maximumAge: 60000, timeout: 20000 },
    );
  }
  function stopPosition() {
    if (state.geoWatch !== null && navigator.geolocation) navigator.geolocation.clearWatch(state.geoWatch);
    state.geoWatch = null;
    state.position = null;
  }
  async function setGeoConsent(value) {
    if (!HAS_EVIDENCE()) return;
    state.geoConsent = value;
    $('geo-consent').checked = value;
    await metaSet('geo_consent', value);
    if (value) watchPosition(); else stopPosition();
  }
  function currentLocation() {
    const p = state.position;
    if (!state.geoConsent || !p || Date.now() - p.at > POSITION_MAX_AGE_MS) return null;
    return { latitude: p.latitude, longitude: p.longitude, accuracy_m: p.accuracy_m };
  }

  // What a new record carries besides its fields; kept with it in the queue until uploaded.
  function evidence() {
    const out = {};
    // A form left open more than a day is no sitting (the server refuses such a span): no time then.
    if (state.formOpenedAt && Date.now() - state.formOpenedAt.ms < 23 * 3600 * 1000) {
      out.form_opened_at = state.formOpenedAt.at;
    }
    const location = currentLocation();
    if (location) out.location = location;
    const signature = signaturePath();
    if (signature) out.resident_signature = signature;
    return out;
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors();
    const payload = collect();
    const errors = checkLocally(payload);
    if (Object.keys(errors).length) {
      showFormErrors(errors);
      return;
    }
    if (findDuplicate(payload)) {
      state.pendingPayload = payload;
      const who = state.resident ? state.resident.name : '';
      $('dup-message').textContent = `${who} 在 ${payload.service_date} 已有一条“${TYPES[payload.type].label}”记录，`
        + '同一天同类服务通常只记一次。确认不是重复录入吗？';
      $('dup-confirm').classList.remove('d-none');
      return;
    }
    await store(payload);
  }

  function summary(p) {
    if (p.systolic_bp) return `血压 ${p.systolic_bp}/${p.diastolic_bp} mmHg`;
    if (p.fasting_glucose) return `空腹血糖 ${p.fasting_glucose} mmol/L`;
    if (p.topic) return `${p.topic}（${p.attendance || 0} 人）`;
    if (p.other_institution_name || p.other_institution_id) {
      const option = document.querySelector(`#other_institution_id option[value="${p.other_institution_id}"]`);
      return `转至 ${p.other_institution_name || (option ? option.textContent : '')}`;
    }
    return '';
  }

  function label(payload, residentName) {
    const who = residentName || (payload.resident_id ? `居民 ${payload.resident_id}` : '健康教育活动');
    return `${who} · ${TYPES[payload.type].label}`;
  }

  async function store(payload) {
    const name = state.resident ? state.resident.name : null;
    while (state.syncing) await new Promise((resolve) => { setTimeout(resolve, 100); });
    const editing = state.editing;
    if (editing && editing.op && (editing.op.state === 'done' || editing.op.state === 'conflict')) {
      // Uploaded while the form was open: this becomes an edit of the stored record.
      const stored = state.records.get(editing.op.client_uuid);
      editing.version = stored ? stored.version : 1;
      editing.op = null;
    }
    let op;
    if (editing && editing.op) {
      // Not uploaded yet: change the queued record itself.
      op = editing.op;
      const keep = { op: op.payload.op, client_uuid: op.payload.client_uuid, entered_at: op.payload.entered_at };
      if (op.kind === 'create') {
        // The evidence of when and where it was first saved stays; a signature drawn now replaces it.
        ['form_opened_at', 'location', 'resident_signature'].forEach((name) => {
          if (op.payload[name] !== undefined) keep[name] = op.payload[name];
        });
        const signature = signaturePath();
        if (signature) keep.resident_signature = signature;
      }
      if (op.kind === 'edit') Object.assign(keep, { edit_uuid: op.payload.edit_uuid, base_version: op.payload.base_version });
      op.payload = Object.assign({}, payload, keep);
      Object.assign(op, { state: 'pending', errors: null, warnings: null, attempts: 0, next_try: 0 });
    } else if (editing) {
      const editUuid = uuid();
      op = {
        op_id: editUuid, kind: 'edit', user_id: USER_ID, client_uuid: editing.client_uuid,
        payload: Object.assign({}, payload, {
          op: 'update', client_uuid: editing.client_uuid, edit_uuid: editUuid,
          base_version: editing.version, entered_at: nowLocal(),
        }),
        state: 'pending', attempts: 0, next_try: 0, created: Date.now(), title: label(payload, name),
      };
      state.ops.push(op);
    } else {
      const clientUuid = uuid();
      op = {
        op_id: clientUuid, kind: 'create', user_id: USER_ID, client_uuid: clientUuid,
        payload: Object.assign({}, payload, evidence(), { op: 'create', client_uuid: clientUuid, entered_at: nowLocal() }),
        state: 'pending', attempts: 0, next_try: 0, created: Date.now(), title: label(payload, name),
      };
      state.ops.push(op);
    }
    op.title = label(payload, name);
    await saveOps([op]);
    resetForm();
    showToast(navigator.onLine ? '已保存到本机，正在上传…' : '已保存到本机，联网后自动上传');
    renderQueue();
    sync();
  }

  function resetForm() {
    $('record-form').reset();
    $('service_date').value = '';
    state.type = null;
    state.resident = null;
    state.eventMode = false;
    state.editing = null;
    state.pendingPayload = null;
    state.formOpenedAt = null;
    state.strokes = [];
    drawSignature();
    if (HAS_EVIDENCE()) {
      $('sign-box').classList.add('d-none');
      $('sign-toggle').setAttribute('aria-expanded', 'false');
    }
    $('edit-banner').classList.add('d-none');
    $('resident-search').value = '';
    clearErrors();
    renderSelected();
    renderResults();
    renderTypes();
  }

  function showToast(text, tone = 'success') {
    const t = $('saved-toast');
    t.textContent = text;
    ['success', 'danger', 'warning'].forEach((name) => t.classList.toggle(`alert-${name}`, name === tone));
    t.setAttribute('role', tone === 'danger' ? 'alert' : 'status');
    t.classList.remove('d-none');
  }
  function hideToast() {
    $('saved-toast').classList.add('d-none');
  }

  function startEdit(source) {
    // source: {op} for a queued record, or {record} for an uploaded one.
    resetForm();
    const p = source.op ? source.op.payload : source.record;
    const residentId = p.resident_id;
    state.resident = residentId
      ? (state.residentsById.get(residentId) || { id: residentId, name: p.resident_name || `居民 ${residentId}` })
      : null;
    state.eventMode = !residentId;
    state.type = p.type;
    state.editing = source.op
      ? { op: source.op, client_uuid: source.op.client_uuid }
      : { client_uuid: p.client_uuid, version: p.version };
    $('service_date').value = p.service_date || '';
    ['systolic_bp', 'diastolic_bp', 'fasting_glucose', 'attendance', 'topic', 'notes'].forEach((name) => {
      $(name).value = p[name] === null || p[name] === undefined ? '' : p[name];
    });
    if (p.team_id && $('team_id')) $('team_id').value = p.team_id;
    if (p.other_institution_id) {
      $('other_institution_id').value = String(p.other_institution_id);
    } else if (p.other_institution_name) {
      $('other_institution_id').value = 'external';
      $('other_institution_name').value = p.other_institution_name;
      const receipt = p.referral_receipt_on || (p.referral_received_at || '').slice(0, 10);
      $('referral_receipt_on').value = receipt || '';
    }
    $('edit-banner').classList.remove('d-none');
    renderSelected();
    renderTypes();
    if (source.op && source.op.errors) showFormErrors(source.op.errors);
  }

  // --- the queue -----------------------------------------------------------------------------

  function counts() {
    const active = state.ops.filter((o) => ACTIVE.has(o.state)).length;
    const invalid = state.ops.filter((o) => o.state === 'invalid').length;
    return { active, invalid };
  }

  function renderQueue() {
    const { active, invalid } = counts();
    $('queue-count').textContent = `待上传 ${active} 条`;
    $('queue-count').classList.toggle('text-bg-warning', active > 0);
    $('queue-count').classList.toggle('text-bg-success', active === 0);
    $('invalid-count').textContent = `需修改 ${invalid} 条`;
    $('invalid-count').classList.toggle('d-none', invalid === 0);
    const list = $('queue-list');
    list.replaceChildren();
    const shown = state.ops.slice().sort((a, b) => b.created - a.created).slice(0, 50);
    if (!shown.length) {
      list.append(el('li', 'list-group-item text-muted small queue-empty', '本机没有待上传的记录'));
      return;
    }
    shown.forEach((op) => {
      const li = el('li', 'list-group-item queue-item');
      li.dataset.state = op.state;
      li.dataset.clientUuid = op.client_uuid;
      li.append(el('div', 'queue-title', `${op.kind === 'edit' ? '【修改】' : ''}${op.title || ''}`));
      const stateText = STATE_LABELS[op.state] || op.state;
      const facts = [op.payload.service_date || '', summary(op.payload), stateText].filter(Boolean);
      li.append(el('div', 'small text-muted queue-state', facts.join(' · ')));
      if (op.last_error && op.state === 'retry') li.append(el('div', 'small text-danger queue-errors', op.last_error));
      const messages = Object.values(op.errors || {}).concat(op.warnings || []);
      if (messages.length) {
        const cls = op.state === 'invalid' ? 'text-danger' : 'text-warning-emphasis';
        li.append(el('div', `queue-errors ${cls}`, messages.join('；')));
      }
      if (op.state === 'invalid' || op.state === 'pending' || op.state === 'retry') {
        const bar = el('div', 'd-flex gap-2 mt-1');
        const fix = el('button', 'btn btn-sm btn-outline-primary', '修改');
        fix.type = 'button';
        fix.addEventListener('click', () => startEdit({ op }));
        bar.append(fix);
        if (op.state === 'invalid') {
          const drop = el('button', 'btn btn-sm btn-outline-danger', '删除');
          drop.type = 'button';
          drop.addEventListener('click', () => dropOp(op));
          bar.append(drop);
        }
        li.append(bar);
      }
      list.append(li);
    });
  }

  async function dropOp(op) {
    state.ops = state.ops.filter((o) => o !== op);
    await write('ops', [], { remove: [op.op_id] });
    renderQueue();
  }

  function backoff(op, err) {
    op.attempts = (op.attempts || 0) + 1;
    const seconds = Math.min(MAX_BACKOFF_S, 5 * 2 ** (op.attempts - 1)) * (0.8 + Math.random() * 0.4);
    op.next_try = Date.now() + seconds * 1000;
    op.state = 'retry';
    if (err instanceof OfflineError) op.last_error = '网络不可用，联网后自动上传';
    else if (err.status === 401) op.last_error = '登录已过期，请重新登录后自动上传';
    else op.last_error = `服务器暂时无法处理（${err.message}），稍后自动重试`;
  }

  function rememberRecord(op, result) {
    const existing = state.records.get(op.client_uuid) || {};
    const record = Object.assign({}, existing, op.payload, {
      client_uuid: op.client_uuid,
      id: result.id,
      version: result.version,
      resident_name: existing.resident_name || (state.resident && state.resident.id === op.payload.resident_id
        ? state.resident.name : (state.residentsById.get(op.payload.resident_id) || {}).name),
      verification: existing.verification || 'unverified',
    });
    delete record.op;
    delete record.edit_uuid;
    delete record.base_version;
    state.records.set(op.client_uuid, record);
    return record;
  }

  async function applyResults(batch, results) {
    const touched = [];
    batch.forEach((op, i) => {
      const r = results[i] || { status: 'invalid', errors: { record: '服务器没有返回结果' } };
      op.errors = r.errors && Object.keys(r.errors).length ? r.errors : null;
      op.warnings = r.warnings && r.warnings.length ? r.warnings : null;
      op.last_error = null;
      if (r.status === 'created' || r.status === 'updated' || r.status === 'duplicate') {
        op.state = 'done';
        op.server_id = r.id;
        op.done_at = Date.now();
        touched.push(rememberRecord(op, r));
      } else if (r.status === 'conflict') {
        op.state = 'conflict';
        op.done_at = Date.now();
      } else {
        op.state = 'invalid';
      }
    });
    if (touched.length) await write('records', touched);
  }

  function setMessage(text, link, tone) {
    const box = $('sync-message');
    box.classList.toggle('text-danger', tone === 'danger');
    box.classList.toggle('fw-semibold', tone === 'danger');
    box.classList.toggle('text-muted', tone !== 'danger');
    box.replaceChildren(document.createTextNode(text));
    if (link) {
      const a = el('a', 'ms-1', link.text);
      a.href = link.href;
      box.append(a);
    }
  }

  function setLoginExpired(expired) {
    if (expired === state.loginExpired) return;
    state.loginExpired = expired;
    if (expired) setMessage('登录已过期，记录仍保存在本机。', { text: '重新登录', href: root.dataset.login });
    else setMessage('');
  }

  function scheduleNext() {
    clearTimeout(state.timer);
    const waiting = state.ops.filter((o) => o.state === 'retry' || o.state === 'pending');
    if (!waiting.length) return;
    const next = Math.min(...waiting.map((o) => o.next_try || 0));
    state.timer = setTimeout(sync, Math.max(1000, next - Date.now()));
  }

  async function sync() {
    if (state.syncing) {
      state.again = true;
      return;
    }
    renderQueue();
    if (!navigator.onLine) {
      scheduleNext();
      return;
    }
    const now = Date.now();
    const due = state.ops
      .filter((o) => (o.state === 'pending' || o.state === 'retry') && (o.next_try || 0) <= now)
      .sort((a, b) => a.created - b.created)
      .slice(0, BATCH);
    if (!due.length) {
      scheduleNext();
      return;
    }
    state.syncing = true;
    due.forEach((o) => { o.state = 'syncing'; });
    renderQueue();
    try {
      const data = await api('POST', '/services/batch', {
        device_id: state.deviceId,
        device_time: nowLocal(),
        records: due.map((o) => o.payload),
      });
      await applyResults(due, data.results);
      const ok = due.filter((o) => o.state === 'done').length;
      const bad = due.filter((o) => o.state === 'invalid').length;
      const conflicts = due.filter((o) => o.state === 'conflict').length;
      let text = `已上传 ${ok} 条`;
      if (bad) text += `，${bad} 条未通过服务器校验`;
      if (conflicts) text += `，${conflicts} 条修改冲突待审核`;
      const reasons = due.filter((o) => o.state === 'invalid')
        .map((o) => `${o.title || ''}：${Object.values(o.errors || {}).join('；')}`);
      const tone = bad ? 'danger' : (conflicts ? 'warning' : 'success');
      if (!state.loginExpired) setMessage(text, null, bad ? 'danger' : null);
      if (!$('saved-toast').classList.contains('d-none') || bad) {
        showToast(bad ? `未能保存到服务器：${reasons.join('。')}。请在待上传列表中修改。` : `已保存，${text}`, tone);
      }
    } catch (err) {
      due.forEach((o) => backoff(o, err));
      if (err instanceof OfflineError) setMessage('网络不可用，记录保存在本机');
      else if (err.status !== 401) setMessage(`上传失败：${err.message}`, null, 'danger');
    } finally {
      await saveOps(due);
      state.syncing = false;
      renderQueue();
      renderRecent();
    }
    // No records download after an upload: the batch's results already say what was stored (the
    // records list is kept from them); other changes come with the next incremental refresh.
    const more = state.ops.some((o) => o.state === 'pending' && (o.next_try || 0) <= Date.now());
    if (state.again || more) {
      state.again = false;
      setTimeout(sync, 0);
    } else {
      scheduleNext();
    }
  }

  function wakeQueue() {
    state.ops.forEach((o) => { if (o.state === 'retry') o.next_try = 0; });
    sync();
  }

  // --- recent records (refresh from the server, for edits and duplicate checks) -------------------

  async function refreshRecords() {
    let since = await metaGet('records_since');
    if (!since) since = `${daysAgo(KEEP_RECORD_DAYS)}T00:00:00`;
    let cursor = null;
    let newest = since;
    const fresh = [];
    for (let page = 0; page < 20; page += 1) {
      const query = cursor ? `cursor=${encodeURIComponent(cursor)}` : `since=${encodeURIComponent(since)}`;
      const data = await api('GET', `/services?${query}`);
      data.records.forEach((r) => {
        fresh.push(r);
        if (r.updated_at && r.updated_at > newest) newest = r.updated_at;
      });
      if (!data.next_cursor) break;
      cursor = data.next_cursor;
    }
    const oldest = daysAgo(KEEP_RECORD_DAYS);
    const stale = [];
    fresh.forEach((r) => state.records.set(r.client_uuid, r));
    state.records.forEach((r, key) => {
      if (r.service_date < oldest) {
        stale.push(key);
        state.records.delete(key);
      }
    });
    await write('records', fresh, { remove: stale });
    await metaSet('records_since', newest);
    renderRecent();
  }

  function renderRecent() {
    const list = $('recent-list');
    list.replaceChildren();
    const records = Array.from(state.records.values())
      .sort((a, b) => (b.service_date + (b.entered_at || '')).localeCompare(a.service_date + (a.entered_at || '')))
      .slice(0, 30);
    if (!records.length) {
      list.append(el('li', 'list-group-item text-muted small', '暂无近期记录'));
      return;
    }
    const editingTargets = new Set(state.ops.filter((o) => ACTIVE.has(o.state)).map((o) => o.client_uuid));
    records.forEach((r) => {
      const li = el('li', 'list-group-item recent-item d-flex justify-content-between align-items-center gap-2');
      li.dataset.clientUuid = r.client_uuid;
      const text = el('div');
      text.append(el('div', 'fw-semibold', label(r, r.resident_name)));
      text.append(el('div', 'small text-muted', `${r.service_date} · 第 ${r.version} 版`));
      li.append(text);
      if (TYPES[r.type] && r.verification === 'unverified' && !editingTargets.has(r.client_uuid)) {
        const b = el('button', 'btn btn-sm btn-outline-primary', '修改');
        b.type = 'button';
        b.addEventListener('click', () => startEdit({ record: r }));
        li.append(b);
      }
      list.append(li);
    });
  }

  // --- network, service worker, start ----------------------------------------------------------

  function showNetwork() {
    // "在线" only once the roster is here: online without it, the page cannot record yet.
    const badge = $('net-state');
    const online = navigator.onLine;
    const ready = online && state.hasRoster;
    badge.textContent = !online ? '离线：记录保存在本机' : (ready ? '在线' : '已联网，居民名单未下载');
    badge.classList.toggle('text-bg-success', ready);
    badge.classList.toggle('text-bg-warning', online && !ready);
    badge.classList.toggle('text-bg-secondary', !online);
    const download = $('download-roster');
    if (download) download.classList.toggle('d-none', !online || state.hasRoster);
  }

  function registerServiceWorker() {
    if (!('serviceWorker' in navigator)) {
      root.dataset.swState = 'unsupported';
      return;
    }
    const mark = () => {
      if (navigator.serviceWorker.controller) root.dataset.swState = 'ready';
    };
    navigator.serviceWorker.addEventListener('controllerchange', mark);
    navigator.serviceWorker
      .register(root.dataset.sw, { scope: root.dataset.scope })
      .then(mark)
      .catch((err) => {
        root.dataset.swState = 'failed';
        console.warn('service worker not registered:', err);
      });
  }

  async function loadLocal() {
    let deviceId = await metaGet('device_id');
    if (!deviceId) {
      deviceId = `tablet-${uuid()}`;
      await metaSet('device_id', deviceId);
    }
    state.deviceId = deviceId;
    state.geoConsent = HAS_EVIDENCE() && (await metaGet('geo_consent')) === true;
    if (HAS_EVIDENCE()) {
      $('geo-consent').checked = state.geoConsent;
      $('geo-consent').disabled = !navigator.geolocation;
    }
    watchPosition();
    const [residents, ops, records, owner, at] = await Promise.all([
      getAll('residents'), getAll('ops'), getAll('records'), metaGet('owner'), metaGet('residents_at'),
    ]);
    const mine = owner === USER_ID;
    setResidents(mine ? residents : []);
    if (mine) records.forEach((r) => state.records.set(r.client_uuid, r));
    const cutoff = Date.now() - KEEP_DONE_MS;
    const finished = new Set(['done', 'conflict']);
    const old = ops.filter((o) => o.user_id === USER_ID && finished.has(o.state) && (o.done_at || 0) < cutoff);
    if (old.length) await write('ops', [], { remove: old.map((o) => o.op_id) });
    state.ops = ops.filter((o) => o.user_id === USER_ID && !old.includes(o));
    // An upload cut off by a reload is simply sent again (the server stores a client id once).
    state.ops.forEach((o) => { if (o.state === 'syncing') o.state = 'pending'; });
    const others = ops.filter((o) => o.user_id !== USER_ID && ACTIVE.has(o.state)).length;
    if (others) setMessage(`本机还有其他用户的 ${others} 条记录，待其登录后上传`);
    showSnapshot(mine ? at : null);
  }

  // A link such as the work list's "记录服务" names the resident and the service type.
  function readWanted() {
    const params = new URLSearchParams(window.location.search);
    const resident = Number(params.get('resident'));
    const type = params.get('type');
    state.wanted = {
      resident: Number.isInteger(resident) && resident > 0 ? resident : null,
      type: type && TYPES[type] ? type : null,
    };
  }

  function applyWanted() {
    const wanted = state.wanted;
    if (!wanted || state.editing || (!wanted.resident && !wanted.type)) return;
    if (wanted.resident) {
      const r = state.residentsById.get(wanted.resident);
      if (!r) return; // not in the roster yet: tried again after the download
      selectResident(r);
    }
    if (wanted.type && (state.resident || state.eventMode)) selectType(wanted.type);
    state.wanted = null;
  }

  async function refreshFromServer() {
    if (!navigator.onLine) return;
    try {
      await refreshResidents();
    } catch (err) {
      if (!(err instanceof OfflineError) && err.status !== 401) setMessage(`居民名单更新失败：${err.message}`);
    }
    applyWanted();
    await sync();
    refreshRecords().catch(() => {});
  }

  function bind() {
    $('resident-search').addEventListener('input', renderResults);
    $('event-mode').addEventListener('click', () => {
      if (state.editing) return;
      state.eventMode = true;
      state.resident = null;
      state.type = 'health_education';
      renderSelected();
      renderResults();
      renderTypes();
    });
    document.querySelectorAll('.type-btn').forEach((b) => b.addEventListener('click', () => selectType(b.dataset.type)));
    $('other_institution_id').addEventListener('change', toggleExternal);
    $('change-type').addEventListener('click', () => {
      state.type = null;
      clearErrors();
      renderTypes();
    });
    $('record-form').addEventListener('submit', onSubmit);
    $('dup-save').addEventListener('click', () => {
      const payload = state.pendingPayload;
      $('dup-confirm').classList.add('d-none');
      if (payload) store(payload);
    });
    $('dup-cancel').addEventListener('click', () => {
      state.pendingPayload = null;
      $('dup-confirm').classList.add('d-none');
    });
    $('cancel-edit').addEventListener('click', resetForm);
    bindSignature();
    if (HAS_EVIDENCE()) {
      $('geo-consent').addEventListener('change', (event) => {
        setGeoConsent(event.target.checked).catch(() => {});
      });
    }
    if ($('download-roster')) {
      $('download-roster').addEventListener('click', () => {
        refreshResidents().catch((err) => setMessage(`居民名单下载失败：${err.message}`, null, 'danger'));
      });
    }
    $('sync-now').addEventListener('click', () => {
      wakeQueue();
      refreshFromServer();
    });
    window.addEventListener('online', () => {
      showNetwork();
      wakeQueue();
      refreshFromServer();
    });
    window.addEventListener('offline', showNetwork);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) sync();
    });
  }

  async function start() {
    bind();
    showNetwork();
    registerServiceWorker();
    await loadLocal();
    renderQueue();
    renderRecent();
    renderResults();
    readWanted();
    applyWanted();
    root.dataset.ready = 'true';
    await refreshFromServer();
    setInterval(() => { if (navigator.onLine) sync(); }, 30000);
  }

  start().catch((err) => {
    setMessage(`本机存储不可用：${err.message}`);
    console.error(err);
  });
})();
