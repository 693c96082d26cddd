// envqa chat page. Vanilla JS, no build step, nothing fetched from outside this server.
// Document and answer text is always inserted as text nodes (never as HTML): policy texts
// contain markup such as <sub>2</sub> that must show literally and never run.
"use strict";

(() => {
  const LANG_KEY = "envqa.lang";
  const API_KEY = "envqa.apiKey"; // a server with ENVQA_API_KEYS asks for one; remembered in this browser
  const TIMEOUT_MS = 60000;

  const TEXT = {
    zh: {
      pageTitle: "envqa · 环保合规问答",
      askApiKey: "此服务需要 API 密钥，请输入：",
      indexPartial: (h) => `索引仍在建立：${h.dense_embedded.toLocaleString()} / ${h.chunk_count.toLocaleString()} 段已完成语义向量，在此之前检索主要依靠关键词。`,
      skipToQuestion: "跳到提问框",
      tagline: "环保合规问答",
      viewsLabel: "视图",
      viewChat: "问答",
      viewDocuments: "文件库",
      switchLanguage: "Switch to English",
      introTitle: "环保合规问答",
      introText: "根据已收录的政策、标准和文件回答环保合规问题，每条回答都引用原文条款。",
      examplesTitle: "可以这样问：",
      industryLabel: "行业",
      industryAll: "全部行业",
      "industry_煤炭": "煤炭", "industry_煤电": "煤电", "industry_焦化": "焦化", "industry_钢铁": "钢铁",
      "industry_建材": "建材", "industry_有色金属": "有色金属", "industry_化工": "化工",
      enterHint: "Enter 发送，Shift+Enter 换行",
      questionLabel: "问题",
      questionPlaceholder: "输入环保合规问题……",
      send: "发送",
      youAsked: "你的问题：",
      filterChip: (name) => `行业：${name}`,
      thinking: "正在查找依据……",
      answerLabel: "回答",
      sourcesTitle: "来源（点击查看原文）",
      citeLabel: (n) => `来源 ${n}，查看原文`,
      pageN: (n) => `第 ${n} 页`,
      noEvidenceBadge: "未找到依据",
      closestTitle: "最接近的文件（点击查看原文）：",
      noEvidenceTip: "可以换个说法、放宽行业筛选，或在文件库中查看原文。",
      documentsTitle: "文件库",
      documentsIntro: "索引中收录的文件。点击标题查看全文。",
      colTitle: "标题",
      colIndustries: "行业",
      colChunks: "分块数",
      chars: (n) => `${Number(n).toLocaleString("zh-CN")} 字`,
      documentsEmpty: "索引中还没有文件。",
      loading: "正在加载……",
      closePanel: "关闭原文",
      documentText: "文件原文",
      documentNotFound: "找不到这份文件。",
      errNetwork: "无法连接服务器",
      errNetworkDetail: "请确认 envqa 服务正在运行（make run），然后重新发送。",
      errTimeout: "服务器长时间没有响应",
      errTimeoutDetail: "请稍后重新发送。",
      errBadResponse: "服务器返回了无法识别的内容",
      err404: "未找到", err413: "问题太长", err422: "请求无效", err429: "请求过于频繁，请稍后再试",
      err5xx: "服务器出错", errOther: "请求失败",
      httpStatus: (s) => `（HTTP ${s}）`,
      questionKept: "问题仍保留在输入框中。",
      emptyQuestion: "请先输入问题。",
    },
    en: {
      pageTitle: "envqa · Environmental compliance Q&A",
      askApiKey: "This service needs an API key. Enter it:",
      indexPartial: (h) => `Index still being built: dense: ${h.dense_embedded.toLocaleString()} / ${h.chunk_count.toLocaleString()} embedded; until then search relies mostly on keywords.`,
      skipToQuestion: "Skip to the question box",
      tagline: "Environmental compliance Q&A",
      viewsLabel: "Views",
      viewChat: "Ask",
      viewDocuments: "Documents",
      switchLanguage: "切换到中文",
      introTitle: "Environmental compliance Q&A",
      introText: "Answers compliance questions from the indexed policies, standards and documents, quoting the clause every answer rests on.",
      examplesTitle: "Try asking:",
      industryLabel: "Industry",
      industryAll: "All industries",
      "industry_煤炭": "Coal mining · 煤炭", "industry_煤电": "Coal power · 煤电", "industry_焦化": "Coking · 焦化",
      "industry_钢铁": "Iron & steel · 钢铁", "industry_建材": "Building materials · 建材",
      "industry_有色金属": "Non-ferrous metals · 有色金属", "industry_化工": "Chemicals · 化工",
      enterHint: "Enter to send, Shift+Enter for a new line",
      questionLabel: "Question",
      questionPlaceholder: "Ask a compliance question…",
      send: "Send",
      youAsked: "You asked:",
      filterChip: (name) => `Industry: ${name}`,
      thinking: "Looking for evidence…",
      answerLabel: "Answer",
      sourcesTitle: "Sources (click to see the document)",
      citeLabel: (n) => `Source ${n}, show in the document`,
      pageN: (n) => `page ${n}`,
      noEvidenceBadge: "No evidence found",
      closestTitle: "Closest documents (click to read):",
      noEvidenceTip: "Try rephrasing, widening the industry filter, or reading the documents view.",
      documentsTitle: "Documents",
      documentsIntro: "What the index holds. Click a title to read the document.",
      colTitle: "Title",
      colIndustries: "Industries",
      colChunks: "Chunks",
      chars: (n) => `${Number(n).toLocaleString("en")} characters`,
      documentsEmpty: "The index holds no documents yet.",
      loading: "Loading…",
      closePanel: "Close the document",
      documentText: "Document text",
      documentNotFound: "That document is not in the index.",
      errNetwork: "Cannot reach the server",
      errNetworkDetail: "Check that envqa is running (make run), then send again.",
      errTimeout: "The server took too long to answer",
      errTimeoutDetail: "Please send again in a moment.",
      errBadResponse: "The server sent a reply the page cannot read",
      err404: "Not found", err413: "The question is too long", err422: "The request was not valid",
      err429: "Too many requests; wait a moment", err5xx: "The server failed", errOther: "The request failed",
      httpStatus: (s) => ` (HTTP ${s})`,
      questionKept: "Your question is still in the box.",
      emptyQuestion: "Type a question first.",
    },
  };

  const EXAMPLES = {
    zh: [
      "钢铁行业水污染物排放执行什么标准？",
      "焦化企业超低排放改造依据哪个文件？",
      "山西省对钢铁行业氢冶金有什么要求？",
      "排污许可管理条例对排污单位有什么要求？",
    ],
    en: [
      "Which standard applies to water pollutant discharge from steel plants?",
      "What does the Shanxi plan say about hydrogen metallurgy?",
      "Which document governs ultra-low emission retrofits at coking plants?",
    ],
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    layout: $("layout"), log: $("log"), intro: $("intro"), examples: $("examples"),
    form: $("ask-form"), input: $("question"), send: $("send"), industry: $("industry"),
    error: $("error"), errorTitle: $("error-title"), errorDetail: $("error-detail"),
    chatView: $("chat-view"), documentsView: $("documents-view"), documentsTitle: $("documents-title"),
    documentsStatus: $("documents-status"), documentsTable: $("documents-table"),
    documentsBody: $("documents-body"), tabChat: $("tab-chat"), tabDocuments: $("tab-documents"),
    langSwitch: $("lang-switch"), panel: $("panel"), panelTitle: $("panel-title"),
    panelMeta: $("panel-meta"), panelStatus: $("panel-status"), panelText: $("panel-text"),
    panelClose: $("panel-close"),
  };

  const state = {
    lang: pickLanguage(),
    busy: false,
    error: null, // the ApiError shown above the ask box, re-rendered on a language switch
    documents: null, // promise of the /api/documents list, shared by every view that needs it
    health: null, // the last /healthz answer: whether the index is still being embedded
    documentList: null,
    texts: new Map(), // doc_id -> promise of the document with its text
    panel: null, // {docId, citation} shown in the side panel
    panelToken: 0,
    opener: null,
    turns: 0,
  };

  class ApiError extends Error {
    constructor(kind, status = 0, message = "", hint = "") {
      super(message || kind);
      this.kind = kind; // "network" | "timeout" | "http" | "bad_response"
      this.status = status;
      this.serverMessage = message;
      this.hint = hint;
    }
  }

  // ---- language -------------------------------------------------------------------------

  function pickLanguage() {
    try {
      const saved = window.localStorage.getItem(LANG_KEY);
      if (saved === "zh" || saved === "en") return saved;
    } catch (_) { /* storage may be unavailable (private mode); the browser language decides */ }
    const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    for (const tag of wanted) {
      const lower = String(tag).toLowerCase();
      if (lower.startsWith("zh")) return "zh";
      if (lower.startsWith("en")) return "en";
    }
    return "en";
  }

  function t(key, arg) {
    const value = TEXT[state.lang][key] ?? TEXT.en[key] ?? key;
    return typeof value === "function" ? value(arg) : value;
  }

  const langTag = (lang) => (lang === "zh" ? "zh-CN" : "en");

  function applyLanguage() {
    document.documentElement.lang = langTag(state.lang);
    document.title = t("pageTitle");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n, node.dataset.i18nArg);
    }
    for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
    for (const node of document.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel, node.dataset.i18nArg));
    }
    const other = state.lang === "zh" ? "en" : "zh";
    ui.langSwitch.textContent = other === "en" ? "English" : "中文";
    ui.langSwitch.lang = langTag(other);
    ui.langSwitch.setAttribute("aria-label", t("switchLanguage"));
    renderExamples();
    renderError();
    renderIndexStatus();
    renderPanelMeta();
    if (state.documentList) renderDocuments(state.documentList);
  }

  function switchLanguage() {
    state.lang = state.lang === "zh" ? "en" : "zh";
    try { window.localStorage.setItem(LANG_KEY, state.lang); } catch (_) { /* not remembered, still switched */ }
    applyLanguage();
  }

  // ---- small DOM helpers ----------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function translated(tag, className, key, arg) {
    const node = el(tag, className, t(key, arg));
    node.dataset.i18n = key;
    if (arg !== undefined) node.dataset.i18nArg = String(arg);
    return node;
  }

  // ---- talking to the API ---------------------------------------------------------------

  function storedKey() {
    try { return window.localStorage.getItem(API_KEY) || ""; } catch (_) { return ""; }
  }

  // A 401 means the server wants an API key: ask once, remember it, and send the request again.
  async function requestJSON(url, options = {}, asked = false) {
    try {
      return await requestOnce(url, options);
    } catch (err) {
      if (asked || !(err instanceof ApiError) || err.status !== 401) throw err;
      const key = window.prompt(t("askApiKey"), "");
      if (!key) throw err;
      try { window.localStorage.setItem(API_KEY, key.trim()); } catch (_) { /* used for this request only */ }
      return requestJSON(url, { ...options, apiKey: key.trim() }, true);
    }
  }

  async function requestOnce(url, options) {
    const key = options.apiKey || storedKey();
    const auth = key ? { Authorization: `Bearer ${key}` } : {};
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      let response;
      let payload = null;
      try {
        response = await fetch(url, {
          ...options, signal: controller.signal,
          headers: { Accept: "application/json", ...auth, ...(options.headers || {}) },
        });
        const body = await response.text();
        try { payload = JSON.parse(body); } catch (_) { payload = null; }
      } catch (err) {
        throw new ApiError(err && err.name === "AbortError" ? "timeout" : "network");
      }
      if (!response.ok) {
        const error = payload && payload.error ? payload.error : {};
        throw new ApiError("http", response.status, error.message || "", error.hint || "");
      }
      if (payload === null) throw new ApiError("bad_response", response.status);
      return payload;
    } finally {
      window.clearTimeout(timer);
    }
  }

  // ---- the index being built ------------------------------------------------------------

  const INDEX_POLL_MS = 10000;

  // While a staged build is still embedding, say so, and check again until it is complete.
  async function watchIndex() {
    try {
      const response = await fetch("/healthz", { headers: { Accept: "application/json" } });
      state.health = response.ok ? await response.json() : null;
    } catch (_) {
      state.health = null; // the chat itself reports an unreachable server
    }
    renderIndexStatus();
    if (state.health && state.health.dense_embedded < state.health.chunk_count) {
      window.setTimeout(watchIndex, INDEX_POLL_MS);
    }
  }

  function renderIndexStatus() {
    const node = document.getElementById("index-status");
    const health = state.health;
    const partial = Boolean(health) && health.dense_embedded < health.chunk_count;
    node.hidden = !partial;
    node.textContent = partial ? t("indexPartial", health) : "";
  }

  function loadDocuments() {
    if (!state.documents) {
      state.documents = requestJSON("/api/documents").then((payload) => {
        state.documentList = payload.documents || [];
        return state.documentList;
      }).catch((err) => {
        state.documents = null; // try again next time
        throw err;
      });
    }
    return state.documents;
  }

  function loadDocumentText(docId) {
    if (!state.texts.has(docId)) {
      const pending = requestJSON(`/api/documents/${encodeURIComponent(docId)}`);
      pending.catch(() => state.texts.delete(docId));
      state.texts.set(docId, pending);
    }
    return state.texts.get(docId);
  }

  function errorTitle(err) {
    if (err.kind === "network") return t("errNetwork");
    if (err.kind === "timeout") return t("errTimeout");
    if (err.kind === "bad_response") return t("errBadResponse") + t("httpStatus", err.status);
    const key = err.status >= 500 ? "err5xx" : ({ 404: "err404", 413: "err413", 422: "err422", 429: "err429" })[err.status] || "errOther";
    return t(key) + t("httpStatus", err.status);
  }

  function errorDetail(err) {
    if (err.kind === "network") return t("errNetworkDetail");
    if (err.kind === "timeout") return t("errTimeoutDetail");
    return [err.serverMessage, err.hint].filter(Boolean).join(" — ");
  }

  // ---- the ask box ----------------------------------------------------------------------

  function showError(err) {
    state.error = err;
    renderError();
  }

  function renderError() {
    const err = state.error;
    ui.error.hidden = !err;
    if (!err) return;
    ui.errorTitle.textContent = err.kind === "empty" ? t("emptyQuestion") : errorTitle(err);
    const detail = err.kind === "empty" ? "" : [errorDetail(err), t("questionKept")].filter(Boolean).join(" ");
    ui.errorDetail.textContent = detail;
  }

  function setBusy(busy) {
    state.busy = busy;
    ui.input.disabled = busy;
    ui.send.disabled = busy;
    ui.industry.disabled = busy;
    ui.form.setAttribute("aria-busy", String(busy));
    for (const button of ui.examples.querySelectorAll("button")) button.disabled = busy;
  }

  async function ask(text) {
    if (state.busy) return;
    const question = text.trim();
    if (!question) {
      showError({ kind: "empty" });
      ui.input.focus();
      return;
    }
    showError(null);
    const industry = ui.industry.value;
    const turn = renderQuestion(question, industry);
    const pending = el("div", "msg msg-pending");
    pending.setAttribute("aria-busy", "true");
    pending.append(translated("span", "", "thinking"));
    turn.append(pending);
    ui.intro.hidden = true;
    ui.log.append(turn);
    turn.scrollIntoView({ block: "nearest" });
    setBusy(true);
    const body = { question };
    if (industry) body.filters = { industry };
    let answer = null;
    try {
      answer = await requestJSON("/api/chat", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    } catch (err) {
      turn.remove();
      ui.intro.hidden = ui.log.querySelector(".turn") !== null;
      showError(err);
    }
    setBusy(false);
    ui.input.focus();
    if (!answer) return; // the question stays in the box, to send again
    pending.replaceWith(answer.status === "answered" ? renderAnswer(answer) : renderNoEvidence(answer));
    ui.input.value = "";
    turn.scrollIntoView({ block: "start" });
  }

  function renderExamples() {
    const buttons = EXAMPLES[state.lang].map((question) => {
      const item = el("li");
      const button = el("button", "example", question);
      button.type = "button";
      button.disabled = state.busy;
      button.addEventListener("click", () => {
        ui.input.value = question;
        ask(question);
      });
      item.append(button);
      return item;
    });
    ui.examples.replaceChildren(...buttons);
  }

  // ---- conversation ---------------------------------------------------------------------

  function renderQuestion(question, industry) {
    state.turns += 1;
    const turn = el("article", "turn");
    turn.id = `turn-${state.turns}`;
    const bubble = el("div", "msg msg-question");
    bubble.append(translated("span", "visually-hidden", "youAsked"), el("p", "question-text", question));
    if (industry) bubble.append(translated("span", "chip", "filterChip", industry));
    turn.append(bubble);
    return turn;
  }

  function renderAnswer(answer) {
    const card = el("div", "msg msg-answer");
    card.dataset.status = "answered";
    const turnId = state.turns;
    const byNumber = new Map((answer.citations || []).map((c) => [c.n, c]));
    card.append(translated("h2", "msg-label", "answerLabel"));
    const text = el("div", "answer-text");
    text.lang = langTag(answer.language);
    for (const line of answer.answer.split("\n")) {
      if (!line.trim()) continue;
      const paragraph = el("p");
      appendWithMarkers(paragraph, line, byNumber, turnId);
      text.append(paragraph);
    }
    card.append(text);
    if (byNumber.size) {
      card.append(translated("h3", "sources-title", "sourcesTitle"));
      const list = el("ol", "sources");
      for (const citation of byNumber.values()) list.append(renderSource(citation, turnId));
      card.append(list);
    }
    return card;
  }

  function appendWithMarkers(paragraph, line, byNumber, turnId) {
    const marker = /\[(\d+)\]/g;
    let last = 0;
    for (let match = marker.exec(line); match; match = marker.exec(line)) {
      const citation = byNumber.get(Number(match[1]));
      if (!citation) continue;
      paragraph.append(line.slice(last, match.index));
      const link = el("a", "marker", `[${citation.n}]`);
      link.href = `#source-${turnId}-${citation.n}`;
      link.dataset.n = String(citation.n);
      link.dataset.i18nAriaLabel = "citeLabel";
      link.dataset.i18nArg = String(citation.n);
      link.setAttribute("aria-label", t("citeLabel", citation.n));
      link.addEventListener("click", (event) => {
        event.preventDefault();
        openCitation(citation, turnId, link);
      });
      paragraph.append(link);
      last = marker.lastIndex;
    }
    paragraph.append(line.slice(last));
  }

  function renderSource(citation, turnId) {
    const item = el("li", "source-item");
    item.id = `source-${turnId}-${citation.n}`;
    item.dataset.n = String(citation.n);
    const button = el("button", "source");
    button.type = "button";
    const body = el("span", "source-body");
    body.append(el("span", "source-title", citation.doc_title));
    if (citation.doc_title_en) {
      const english = el("span", "source-title-en", citation.doc_title_en);
      english.lang = "en";
      body.append(english);
    }
    const where = el("span", "source-section");
    if (citation.section) where.append(el("span", "", citation.section));
    if (citation.page) where.append(translated("span", "source-page", "pageN", citation.page));
    if (where.childNodes.length) body.append(where);
    const quote = el("span", "source-quote", citation.quote);
    quote.lang = "zh-CN";
    body.append(quote);
    button.append(el("span", "source-n", `[${citation.n}]`), body);
    button.addEventListener("click", () => openCitation(citation, turnId, button));
    item.append(button);
    return item;
  }

  function renderNoEvidence(answer) {
    const card = el("div", "msg msg-no-evidence");
    card.dataset.status = "no_evidence";
    card.setAttribute("role", "note");
    card.append(translated("h2", "badge", "noEvidenceBadge"));
    const refusal = el("p", "refusal-text", answer.answer.split("\n")[0]);
    refusal.lang = langTag(answer.language);
    card.append(refusal);
    const closest = answer.closest_documents || [];
    if (closest.length) {
      card.append(translated("p", "closest-title", "closestTitle"));
      const list = el("ul", "closest");
      for (const title of closest) {
        const item = el("li");
        const button = el("button", "closest-doc", title);
        button.type = "button";
        button.addEventListener("click", () => openDocumentByTitle(title, button));
        item.append(button);
        list.append(item);
      }
      card.append(list);
    }
    card.append(translated("p", "refusal-tip", "noEvidenceTip"));
    return card;
  }

  // ---- the document side panel ----------------------------------------------------------

  function openCitation(citation, turnId, opener) {
    for (const item of document.querySelectorAll(".source-item.active")) item.classList.remove("active");
    const item = $(`source-${turnId}-${citation.n}`);
    if (item) item.classList.add("active");
    openDocument(citation.doc_id, citation.doc_title, citation, opener);
  }

  async function openDocumentByTitle(title, opener) {
    let documents = [];
    try { documents = await loadDocuments(); } catch (_) { /* reported by the panel below */ }
    const match = documents.find((d) => d.title === title || d.title_en === title);
    openDocument(match ? match.doc_id : null, title, null, opener);
  }

  async function openDocument(docId, title, citation, opener) {
    const token = ++state.panelToken;
    state.opener = opener || document.activeElement;
    state.panel = { docId, citation };
    ui.panel.hidden = false;
    ui.layout.classList.add("panel-open");
    document.body.classList.add("panel-open");
    ui.panelTitle.textContent = title || docId || "";
    renderPanelMeta();
    ui.panelText.replaceChildren();
    ui.panelStatus.textContent = t("loading");
    ui.panelTitle.focus({ preventScroll: true });
    if (!docId) {
      ui.panelStatus.textContent = t("documentNotFound");
      return;
    }
    let documentText;
    try {
      documentText = await loadDocumentText(docId);
    } catch (err) {
      if (token === state.panelToken) ui.panelStatus.textContent = `${errorTitle(err)} ${errorDetail(err)}`.trim();
      return;
    }
    if (token !== state.panelToken) return; // another source was opened meanwhile
    ui.panelStatus.textContent = "";
    ui.panelTitle.textContent = documentText.title;
    renderDocumentText(documentText.text, citation ? citation.spans : []);
    const first = ui.panelText.querySelector("mark");
    if (first) first.scrollIntoView({ block: "center" });
    else ui.panelText.scrollTop = 0;
  }

  function renderPanelMeta() {
    const shown = state.panel;
    if (!shown || !shown.citation) {
      ui.panelMeta.textContent = "";
      return;
    }
    const { citation } = shown;
    const parts = [`[${citation.n}]`];
    if (citation.section) parts.push(citation.section);
    if (citation.page) parts.push(t("pageN", citation.page));
    ui.panelMeta.textContent = parts.join(" · ");
  }

  /** The whole text as text nodes, each span of the quote wrapped in a <mark>. */
  function renderDocumentText(text, spans) {
    const ordered = spans
      .map(([start, end]) => [Math.max(0, start), Math.min(text.length, end)])
      .filter(([start, end]) => end > start)
      .sort((a, b) => a[0] - b[0]);
    const fragment = document.createDocumentFragment();
    let position = 0;
    for (const [spanStart, end] of ordered) {
      const start = Math.max(spanStart, position);
      if (end <= start) continue;
      fragment.append(text.slice(position, start));
      fragment.append(el("mark", "highlight", text.slice(start, end)));
      position = end;
    }
    fragment.append(text.slice(position));
    ui.panelText.replaceChildren(fragment);
  }

  function closePanel() {
    if (ui.panel.hidden) return;
    state.panelToken += 1;
    state.panel = null;
    ui.panel.hidden = true;
    ui.layout.classList.remove("panel-open");
    document.body.classList.remove("panel-open");
    for (const item of document.querySelectorAll(".source-item.active")) item.classList.remove("active");
    if (state.opener && state.opener.isConnected) state.opener.focus();
  }

  // ---- the documents view ---------------------------------------------------------------

  async function showDocuments() {
    if (!state.documentList) {
      ui.documentsStatus.textContent = t("loading");
    }
    try {
      renderDocuments(await loadDocuments());
    } catch (err) {
      ui.documentsTable.hidden = true;
      ui.documentsStatus.textContent = `${errorTitle(err)} ${errorDetail(err)}`.trim();
    }
  }

  function renderDocuments(documents) {
    ui.documentsStatus.textContent = documents.length ? "" : t("documentsEmpty");
    ui.documentsTable.hidden = !documents.length;
    ui.documentsBody.replaceChildren(...documents.map(renderDocumentRow));
  }

  function renderDocumentRow(doc) {
    const row = el("tr");
    row.dataset.docId = doc.doc_id;
    const title = el("th");
    title.scope = "row";
    const open = el("button", "doc-open", doc.title);
    open.type = "button";
    open.addEventListener("click", () => openDocument(doc.doc_id, doc.title, null, open));
    title.append(open);
    if (doc.title_en) {
      const english = el("span", "doc-title-en", doc.title_en);
      english.lang = "en";
      title.append(english);
    }
    const meta = el("span", "doc-meta");
    meta.append(el("span", "", doc.source), " · ", el("span", "", t("chars", doc.chars)));
    title.append(meta);
    const industries = el("td", "doc-industries");
    if (doc.industries.length) {
      for (const name of doc.industries) industries.append(el("span", "chip", name), " ");
    } else {
      industries.textContent = "—";
    }
    row.append(title, industries, el("td", "num doc-chunks", doc.chunk_count));
    return row;
  }

  // ---- views ----------------------------------------------------------------------------

  function route(moveFocus) {
    const documentsShown = window.location.hash === "#/documents";
    ui.chatView.hidden = documentsShown;
    ui.documentsView.hidden = !documentsShown;
    const [current, other] = documentsShown ? [ui.tabDocuments, ui.tabChat] : [ui.tabChat, ui.tabDocuments];
    current.setAttribute("aria-current", "page");
    other.removeAttribute("aria-current");
    if (documentsShown) {
      showDocuments();
      if (moveFocus) ui.documentsTitle.focus();
    } else if (moveFocus && !ui.input.disabled) {
      ui.input.focus();
    }
  }

  // ---- wiring ---------------------------------------------------------------------------

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(ui.input.value);
  });
  ui.input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate is not a send.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    ask(ui.input.value);
  });
  ui.langSwitch.addEventListener("click", switchLanguage);
  ui.panelClose.addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !ui.panel.hidden) closePanel();
  });
  window.addEventListener("hashchange", () => route(true));

  applyLanguage();
  route(false);
  loadDocuments().catch(() => { /* the documents view reports it when opened */ });
  watchIndex();
  if (window.matchMedia("(min-width: 50rem)").matches && !ui.chatView.hidden) ui.input.focus();
})();
