// envqa chat page. Vanilla JS, no build step, nothing fetched from outside this server.
// Document and answer text is always inserted as text nodes (never as HTML): policy texts
// contain markup such as <sub>2</sub> that must show literally and never run.
"use strict";

(() => {
  const LANG_KEY = "envqa.lang";
  const API_KEY = "envqa.apiKey"; // a server with ENVQA_API_KEYS asks for one; remembered in this browser
  const ADMIN_KEY = "envqa.adminKey"; // for uploads and removals (ENVQA_API_ADMIN_KEYS), asked for separately
  const TIMEOUT_MS = 60000;
  const UPLOAD_TIMEOUT_MS = 600000; // large files over a slow link
  const JOB_POLL_MS = 500;
  const JOB_BACKOFF_MS = 5000; // after a 429 or a dropped connection while following a job

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
      fromOcr: "OCR 识别，请对照原件核实",
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
      errInterrupted: "回答在传输中断开了",
      errInterruptedDetail: "请重新发送。",
      newConversation: "新对话",
      understoodAs: "理解为：",
      // documents: upload, progress, delete
      askAdminKey: "上传和删除文件需要管理员密钥（ENVQA_API_ADMIN_KEYS 中的一个），请输入：",
      askAdminKeyAgain: "服务器不接受这个管理员密钥，请重新输入：",
      uploadTitle: "添加文件",
      dropHint: "把文件拖放到这里，或",
      pickFiles: "选择文件…",
      uploadFormats: "支持 .txt、.md、.pdf、.docx、.xlsx、.csv、.html，可一次选多个；扫描版 PDF 会自动识别文字（OCR）。上传和删除需要管理员密钥。",
      jobsLabel: "上传和删除的进度",
      jobUpload: (n) => `上传 ${n} 个文件`,
      jobRemove: (title) => `删除《${title}》`,
      fileSending: "正在上传……",
      fileAdded: "已添加",
      fileReplaced: "已替换同名文件",
      fileDuplicate: (title) => `与《${title}》内容相同，未重复添加`,
      fileIndexed: "已加入索引",
      fileRejected: (why) => `未收录：${why}`,
      fileUnreadable: (why) => `无法读取，已移出：${why}`,
      fileNotSent: (why) => `未上传：${why}`,
      jobSending: "正在上传……",
      jobDeleting: "正在提交删除……",
      jobNothing: "没有需要索引的新内容。",
      jobNoneTaken: "没有文件被收录。",
      jobDone: (message) => (message ? `完成：${message}` : "完成"),
      jobFailed: (message) => (message ? `失败：${message}` : "失败"),
      jobRequestFailed: (why) => `未能提交：${why}`,
      jobLost: "找不到这个任务（服务器可能已重启）。",
      jobFiles: (p) => `文件 ${p.done} / ${p.total}`,
      jobChunks: (p) => `语义向量 ${p.done.toLocaleString("zh-CN")} / ${p.total.toLocaleString("zh-CN")} 段`,
      jobProgress: "索引进度",
      dismissJob: "关闭这条进度",
      stage_waiting: "排队等候", stage_starting: "正在开始", "stage_reading files": "正在读取文件",
      stage_embedding: "正在生成语义向量", stage_publishing: "正在发布新索引", stage_finished: "已结束",
      adminKeyMissing: "没有输入管理员密钥",
      writesDisabled: "服务器没有启用文件管理（未设置 ENVQA_API_ADMIN_KEYS）",
      errUploadTooLarge: "文件太大，超过了上传上限",
      err401: "需要密钥", err403: "密钥没有权限", err415: "文件类型不支持",
      colKind: "类别",
      colFormat: "格式",
      colDates: "日期",
      colActions: "操作",
      ocrPages: (pages) => `第 ${pages} 页经 OCR 识别`,
      datePublished: (date) => `发布 ${date}`,
      dateModified: (date) => `文件修改 ${date}`,
      deleteButton: "删除",
      deleteLabel: (title) => `删除《${title}》`,
      deleting: "正在删除…",
      confirmDelete: (title) => `确定从文件库删除《${title}》吗？\n文件会移到语料目录的 .deleted 文件夹，索引随后重建。`,
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
      fromOcr: "read by OCR: check against the scan",
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
      errInterrupted: "The answer was cut off while it arrived",
      errInterruptedDetail: "Please send again.",
      newConversation: "New conversation",
      understoodAs: "Understood as: ",
      // documents: upload, progress, delete
      askAdminKey: "Adding and removing documents needs an admin key (one of ENVQA_API_ADMIN_KEYS). Enter it:",
      askAdminKeyAgain: "The server did not accept that admin key. Enter it again:",
      uploadTitle: "Add documents",
      dropHint: "Drop files here, or",
      pickFiles: "Choose files…",
      uploadFormats: "Accepts .txt, .md, .pdf, .docx, .xlsx, .csv and .html, several at a time; scanned PDF pages are read by OCR. Adding and removing needs an admin key.",
      jobsLabel: "Uploads and removals in progress",
      jobUpload: (n) => (n === 1 ? "Upload: 1 file" : `Upload: ${n} files`),
      jobRemove: (title) => `Removal: “${title}”`,
      fileSending: "Uploading…",
      fileAdded: "Added",
      fileReplaced: "Replaced the file of the same name",
      fileDuplicate: (title) => `Same content as “${title}”: not added again`,
      fileIndexed: "Indexed",
      fileRejected: (why) => `Not taken: ${why}`,
      fileUnreadable: (why) => `Could not be read, set aside: ${why}`,
      fileNotSent: (why) => `Not uploaded: ${why}`,
      jobSending: "Uploading…",
      jobDeleting: "Asking the server to remove it…",
      jobNothing: "Nothing new to index.",
      jobNoneTaken: "No file was taken.",
      jobDone: (message) => (message ? `Done: ${message}` : "Done"),
      jobFailed: (message) => (message ? `Failed: ${message}` : "Failed"),
      jobRequestFailed: (why) => `Not sent: ${why}`,
      jobLost: "The server no longer knows this job (it may have restarted).",
      jobFiles: (p) => `files ${p.done} / ${p.total}`,
      jobChunks: (p) => `passages embedded ${p.done.toLocaleString("en")} / ${p.total.toLocaleString("en")}`,
      jobProgress: "Indexing progress",
      dismissJob: "Dismiss this progress report",
      stage_waiting: "Waiting", stage_starting: "Starting", "stage_reading files": "Reading files",
      stage_embedding: "Embedding passages", stage_publishing: "Publishing the new index", stage_finished: "Finished",
      adminKeyMissing: "No admin key was entered",
      writesDisabled: "The server does not manage documents (ENVQA_API_ADMIN_KEYS is not set)",
      errUploadTooLarge: "Too large: over the upload limit",
      err401: "A key is needed", err403: "The key is not allowed to do this", err415: "Unsupported file type",
      colKind: "Kind",
      colFormat: "Format",
      colDates: "Dates",
      colActions: "Actions",
      ocrPages: (pages) => `Read by OCR: page ${pages}`,
      datePublished: (date) => `published ${date}`,
      dateModified: (date) => `file changed ${date}`,
      deleteButton: "Remove",
      deleteLabel: (title) => `Remove “${title}”`,
      deleting: "Removing…",
      confirmDelete: (title) => `Remove “${title}” from the library?\nIts file is moved to the corpus's .deleted folder and the index is rebuilt.`,
      "kind_法律": "Law", "kind_行政法规": "Administrative regulation", "kind_地方性法规": "Local regulation",
      "kind_部门规章": "Departmental rule", "kind_司法解释": "Judicial interpretation", "kind_标准": "Standard",
      "kind_政策文件": "Policy document", "kind_报告": "Report",
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
    newConversation: $("new-conversation"),
    error: $("error"), errorTitle: $("error-title"), errorDetail: $("error-detail"),
    chatView: $("chat-view"), documentsView: $("documents-view"), documentsTitle: $("documents-title"),
    documentsStatus: $("documents-status"), documentsTable: $("documents-table"),
    documentsBody: $("documents-body"), tabChat: $("tab-chat"), tabDocuments: $("tab-documents"),
    langSwitch: $("lang-switch"), panel: $("panel"), panelTitle: $("panel-title"),
    panelMeta: $("panel-meta"), panelStatus: $("panel-status"), panelText: $("panel-text"),
    panelClose: $("panel-close"),
    dropZone: $("drop-zone"), pickFiles: $("pick-files"), fileInput: $("file-input"), jobs: $("jobs"),
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
    conversationId: null, // from the last answer, sent with the next question so a follow-up resolves
    jobs: [], // uploads and removals shown in the documents view, newest first
    deleting: new Map(), // doc_id -> its removal job, while it runs
  };

  class ApiError extends Error {
    constructor(kind, status = 0, message = "", hint = "", rejected = null) {
      super(message || kind);
      this.kind = kind; // "network" | "timeout" | "http" | "bad_response" | "interrupted" | "no_key"
      this.status = status;
      this.serverMessage = message;
      this.hint = hint;
      this.rejected = rejected; // a 415's files, each with why it was not taken
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
    for (const job of state.jobs) renderJob(job);
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

  // A 401 means the server wants an API key: ask once, remember it, and make the attempt again
  // with it (a second 401 is the answer).
  async function askingForKey(attempt) {
    try {
      return await attempt({});
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      const key = window.prompt(t("askApiKey"), "");
      if (!key) throw err;
      try { window.localStorage.setItem(API_KEY, key.trim()); } catch (_) { /* used for this request only */ }
      return attempt({ apiKey: key.trim() });
    }
  }

  function requestJSON(url, options = {}) {
    return askingForKey((key) => requestOnce(url, { ...options, ...key }));
  }

  async function requestOnce(url, options) {
    const key = options.apiKey || storedKey();
    const auth = key ? { Authorization: `Bearer ${key}` } : {};
    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), options.timeoutMs || TIMEOUT_MS);
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
        throw new ApiError("http", response.status, error.message || "", error.hint || "",
          Array.isArray(error.rejected) ? error.rejected : null);
      }
      if (payload === null) throw new ApiError("bad_response", response.status);
      return payload;
    } finally {
      window.clearTimeout(timer);
    }
  }

  // ---- an answer as it is written -------------------------------------------------------

  // POST /api/chat/stream answers in server-sent events: "citations", "delta" ({text}) as the answer
  // is written, then "done" (the final Answer, which may have dropped a sentence the deltas held).
  // An EventSource cannot POST, so fetch() reads the stream. Before any event has arrived, a network
  // failure, a 404/405 (an older server) or a reply that is not an event stream fall back to
  // POST /api/chat; a stream cut off after that is an error. A 401 asks for the key as requestJSON does.
  const STREAM_URL = "/api/chat/stream";

  class StreamUnavailable extends Error {}

  async function askForAnswer(body, onDelta) {
    const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    try {
      return await streamAnswer(init, onDelta);
    } catch (err) {
      if (!(err instanceof StreamUnavailable)) throw err;
    }
    return requestJSON("/api/chat", init);
  }

  function streamAnswer(init, onDelta) {
    return askingForKey((key) => streamOnce({ ...init, ...key }, onDelta));
  }

  async function streamOnce(init, onDelta) {
    const { apiKey, ...request } = init;
    const key = apiKey || storedKey();
    const auth = key ? { Authorization: `Bearer ${key}` } : {};
    const controller = new AbortController();
    let timer = 0;
    // a stream that stays silent this long has stalled (the server pings every 15 s)
    const arm = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => controller.abort(), TIMEOUT_MS);
    };
    let received = 0; // events, not counting pings
    let answer = null;
    const failed = () => {
      if (controller.signal.aborted) return new ApiError("timeout");
      return received ? new ApiError("interrupted") : new StreamUnavailable();
    };
    arm();
    try {
      let response;
      try {
        response = await fetch(STREAM_URL, {
          ...request, signal: controller.signal,
          headers: { Accept: "text/event-stream", ...auth, ...(request.headers || {}) },
        });
      } catch (_) {
        throw failed();
      }
      if (response.status === 404 || response.status === 405) throw new StreamUnavailable();
      if (!response.ok) {
        let payload = null;
        try { payload = JSON.parse(await response.text()); } catch (_) { payload = null; }
        const error = payload && payload.error ? payload.error : {};
        throw new ApiError("http", response.status, error.message || "", error.hint || "");
      }
      const type = response.headers.get("Content-Type") || "";
      if (!type.startsWith("text/event-stream") || !response.body) throw new StreamUnavailable();

      const parser = sseParser((name, data) => {
        let value;
        try { value = JSON.parse(data); } catch (_) { throw new ApiError("bad_response", response.status); }
        received += 1;
        if (name === "delta" && value && typeof value.text === "string") onDelta(value.text);
        else if (name === "done") answer = value;
        // "citations" come first; the final render takes them from "done"
      });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      while (!answer) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (_) {
          throw failed();
        }
        if (chunk.done) break;
        arm();
        parser(decoder.decode(chunk.value, { stream: true }));
      }
      if (!answer) throw failed();
      drain(reader); // the server ends the stream after "done"; read that end rather than cut it off
      if (typeof answer !== "object" || typeof answer.answer !== "string") throw new ApiError("bad_response", response.status);
      return answer;
    } finally {
      window.clearTimeout(timer);
    }
  }

  async function drain(reader) {
    try {
      while (!(await reader.read()).done) { /* nothing after "done" is used */ }
    } catch (_) { /* the answer is already shown */ }
  }

  /** Feeds text in; calls onEvent(name, data) for each event a blank line ends. Lines end in CRLF,
   * LF or CR (a CRLF may be split between chunks). Comments (": ping")
   * and fields other than event and data are skipped. */
  function sseParser(onEvent) {
    let pending = "";
    let name = "";
    let data = [];
    const line = (text) => {
      if (text === "") {
        if (data.length) onEvent(name || "message", data.join("\n"));
        name = "";
        data = [];
        return;
      }
      if (text.startsWith(":")) return;
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    };
    let afterCR = false; // a chunk ended in CR: an LF starting the next one belongs to it
    return (chunk) => {
      if (!chunk) return; // a decoder still holding part of a character
      const text = afterCR && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
      afterCR = text.endsWith("\r");
      const lines = (pending + text).split(/\r\n|\n|\r/);
      pending = lines.pop();
      for (const each of lines) line(each);
    };
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
    if (err.kind === "interrupted") return t("errInterrupted");
    if (err.kind === "bad_response") return t("errBadResponse") + t("httpStatus", err.status);
    const key = err.status >= 500 ? "err5xx"
      : ({ 401: "err401", 403: "err403", 404: "err404", 413: "err413", 415: "err415", 422: "err422", 429: "err429" })[err.status]
        || "errOther";
    return t(key) + t("httpStatus", err.status);
  }

  function errorDetail(err) {
    if (err.kind === "network") return t("errNetworkDetail");
    if (err.kind === "timeout") return t("errTimeoutDetail");
    if (err.kind === "interrupted") return t("errInterruptedDetail");
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
    ui.newConversation.disabled = busy;
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
    if (state.conversationId) body.conversation_id = state.conversationId;
    let answer = null;
    try {
      answer = await askForAnswer(body, (delta) => showDelta(pending, delta));
    } catch (err) {
      turn.remove();
      ui.intro.hidden = ui.log.querySelector(".turn") !== null;
      showError(err);
    }
    setBusy(false);
    ui.input.focus();
    if (!answer) return; // the question stays in the box, to send again
    state.conversationId = answer.conversation_id || null;
    const resolved = answer.resolved_question;
    if (resolved && resolved !== (answer.question || question)) {
      turn.querySelector(".msg-question").after(renderResolved(resolved, answer.language));
    }
    // The final answer replaces the text shown as it arrived: the live region announces this once.
    pending.replaceWith(answer.status === "answered" ? renderAnswer(answer) : renderNoEvidence(answer));
    ui.input.value = "";
    turn.scrollIntoView({ block: "start" });
  }

  /** The answer text so far, shown in the pending bubble. Hidden from screen readers: the log is a
   * live region, and they hear the answer once, whole, when it is done. */
  function showDelta(pending, delta) {
    let shown = pending.querySelector(".stream-text");
    if (!shown) {
      pending.classList.add("msg-streaming");
      for (const child of pending.children) child.classList.add("visually-hidden"); // "looking for evidence…" stays for them
      shown = el("div", "stream-text");
      shown.setAttribute("aria-hidden", "true");
      pending.append(shown);
      pending.scrollIntoView({ block: "nearest" });
    }
    shown.append(delta);
  }

  function newConversation() {
    if (state.busy) return;
    state.conversationId = null;
    for (const turn of ui.log.querySelectorAll(".turn")) turn.remove();
    ui.intro.hidden = false;
    showError(null);
    closePanel();
    ui.input.focus();
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

  /** What a follow-up was taken to ask (what was searched), under the question. */
  function renderResolved(resolved, language) {
    const note = el("p", "resolved-question");
    const text = el("span", "resolved-text", resolved);
    text.lang = langTag(language);
    note.append(translated("span", "resolved-label", "understoodAs"), text);
    return note;
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
    if (citation.ocr) where.append(translated("span", "source-ocr", "fromOcr"));
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
    if (citation.ocr) parts.push(t("fromOcr"));
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

  function kindName(kind) {
    return state.lang === "zh" ? kind : TEXT.en[`kind_${kind}`] || kind;
  }

  /** [1, 2, 3, 7] → "1–3, 7": a scanned PDF may have hundreds of OCR pages. */
  function pageRanges(pages) {
    const sorted = [...new Set(pages)].sort((a, b) => a - b);
    const ranges = [];
    for (const page of sorted) {
      const last = ranges[ranges.length - 1];
      if (last && page === last[1] + 1) last[1] = page;
      else ranges.push([page, page]);
    }
    return ranges.map(([first, end]) => (first === end ? `${first}` : `${first}–${end}`)).join(", ");
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

    const kind = el("td", "doc-kind", doc.kind ? kindName(doc.kind) : "—");
    const format = el("td", "doc-format");
    format.append(el("span", "doc-type", String(doc.file_type || "").toUpperCase() || "—"));
    const ocrPages = doc.ocr_pages || [];
    if (ocrPages.length) {
      const ocr = el("span", "tag doc-ocr", "OCR");
      const described = t("ocrPages", pageRanges(ocrPages));
      ocr.title = described;
      format.append(" ", ocr, el("span", "visually-hidden", ` (${described})`));
    }
    const dates = el("td", "doc-dates");
    if (doc.published) dates.append(el("span", "doc-date doc-published", t("datePublished", doc.published)));
    if (doc.modified) dates.append(el("span", "doc-date doc-modified", t("dateModified", String(doc.modified).slice(0, 10))));
    if (!dates.childNodes.length) dates.textContent = "—";

    const industries = el("td", "doc-industries");
    if (doc.industries.length) {
      for (const name of doc.industries) industries.append(el("span", "chip", name), " ");
    } else {
      industries.textContent = "—";
    }

    const actions = el("td", "doc-actions");
    const removing = state.deleting.has(doc.doc_id);
    const remove = el("button", "doc-delete", t(removing ? "deleting" : "deleteButton"));
    remove.type = "button";
    remove.disabled = removing;
    // the visible word first, then which document: each row's button is told apart by its name
    remove.setAttribute("aria-label", removing ? `${t("deleting")} ${doc.title}` : t("deleteLabel", doc.title));
    remove.addEventListener("click", () => removeDocument(doc));
    actions.append(remove);
    row.append(title, kind, format, dates, industries, el("td", "num doc-chunks", doc.chunk_count), actions);
    return row;
  }

  // ---- adding and removing documents ----------------------------------------------------

  const sleep = (ms) => new Promise((resolve) => { window.setTimeout(resolve, ms); });

  function storedAdminKey() {
    try { return window.localStorage.getItem(ADMIN_KEY) || ""; } catch (_) { return ""; }
  }

  function rememberAdminKey(key) {
    try {
      if (key) window.localStorage.setItem(ADMIN_KEY, key);
      else window.localStorage.removeItem(ADMIN_KEY);
    } catch (_) { /* asked for again next time */ }
  }

  function askAdminKey(textKey) {
    const key = (window.prompt(t(textKey), "") || "").trim();
    if (!key) throw new ApiError("no_key");
    return key;
  }

  // A 403 saying writes are disabled: the server has no ENVQA_API_ADMIN_KEYS, so no key would do.
  const writesDisabled = (err) => err instanceof ApiError && err.status === 403 && /disabled/i.test(err.serverMessage);

  /** A write with the admin key (asked for, apart from the reader's API key, when none is stored).
   * A 401 or 403 asks once more: a mistyped, changed or reader-only key. A key the server let
   * through is remembered; resolves to {payload, key}. */
  async function adminRequest(url, options) {
    let key = storedAdminKey() || askAdminKey("askAdminKey");
    for (let attempt = 0; ; attempt += 1) {
      try {
        const payload = await requestOnce(url, { ...options, apiKey: key });
        rememberAdminKey(key);
        return { payload, key };
      } catch (err) {
        if (!(err instanceof ApiError) || ![401, 403].includes(err.status)) {
          // refusals the route itself gives (nothing taken, no such document) come after the key check
          if (err instanceof ApiError && [404, 415].includes(err.status)) rememberAdminKey(key);
          throw err;
        }
        rememberAdminKey("");
        if (attempt > 0 || writesDisabled(err)) throw err;
        key = askAdminKey("askAdminKeyAgain");
      }
    }
  }

  function errorText(err) {
    if (!(err instanceof ApiError)) return t("errOther");
    if (err.kind === "no_key") return t("adminKeyMissing");
    if (writesDisabled(err)) return t("writesDisabled");
    const title = err.kind === "http" && err.status === 413 ? t("errUploadTooLarge") + t("httpStatus", 413) : errorTitle(err);
    return [title, errorDetail(err)].filter(Boolean).join(" — ");
  }

  // A 415 means no file was taken; its body lists each file with its reason.
  function rejectionsOf(err, files) {
    if (err.rejected && err.rejected.length) {
      return err.rejected.map(({ source, error }) => ({ source, reason: error }));
    }
    const whole = errorText(err);
    return files.map((file) => ({ source: file.name, reason: whole }));
  }

  // A job's card: its files and what became of each, then the job's stage and progress. Only the
  // stage line is a live region (role=status), so a screen reader hears each stage and the outcome,
  // not every count; the counts, percentage and bar are there to look at.
  function newJob(kind, title) {
    const job = { kind, title, files: [], phase: "sending", record: null, error: null, lost: false };
    const card = el("li", "job");
    const head = el("div", "job-head");
    const heading = el("h3", "job-title");
    heading.tabIndex = -1;
    const dismiss = el("button", "job-dismiss", "×");
    dismiss.type = "button";
    dismiss.addEventListener("click", () => dismissJob(job));
    head.append(heading, dismiss);
    const files = el("ul", "job-files");
    const status = el("p", "job-status");
    status.setAttribute("role", "status");
    const bar = el("progress", "job-bar");
    bar.max = 100;
    const detail = el("p", "job-detail");
    card.append(head, files, status, bar, detail);
    job.nodes = { card, heading, dismiss, files, status, bar, detail };
    state.jobs.unshift(job);
    ui.jobs.prepend(card);
    renderJob(job);
    return job;
  }

  function dismissJob(job) {
    job.nodes.card.remove();
    state.jobs = state.jobs.filter((shown) => shown !== job);
    ui.pickFiles.focus();
  }

  function jobState(job) {
    if (job.phase === "sending") return "sending";
    if (job.phase === "refused" || job.phase === "rejected" || job.lost) return "failed";
    if (job.phase === "nothing") return "done";
    return job.record ? job.record.state : "queued";
  }

  function percentOf(record) {
    if (!record) return null;
    if (record.state === "done") return 100;
    if (record.chunks_total > 0) return Math.min(100, Math.floor((100 * record.chunks_embedded) / record.chunks_total));
    return null;
  }

  function stageName(stage) {
    const key = `stage_${stage}`;
    return TEXT[state.lang][key] || TEXT.en[key] || stage;
  }

  function titleOf(docId) {
    const found = (state.documentList || []).find((doc) => doc.doc_id === docId);
    return found ? found.title : docId;
  }

  /** [outcome, text] of one file of an upload. */
  function fileOutcome(job, file) {
    if (file.status === "sending") {
      return job.phase === "refused" ? ["not_sent", t("fileNotSent", errorText(job.error))] : ["sending", t("fileSending")];
    }
    if (file.status === "rejected") return ["rejected", t("fileRejected", file.reason)];
    if (file.status === "duplicate") return ["duplicate", t("fileDuplicate", titleOf(file.duplicateOf))];
    const record = job.record;
    const unreadable = record && record.errors ? record.errors[file.source] : "";
    if (unreadable) return ["unreadable", t("fileUnreadable", unreadable)];
    const text = t(file.status === "replaced" ? "fileReplaced" : "fileAdded");
    return [file.status, record && record.state === "done" ? `${text} · ${t("fileIndexed")}` : text];
  }

  function jobFileItem(name, outcome, text) {
    const item = el("li", "job-file");
    item.dataset.outcome = outcome;
    item.append(el("span", "job-file-name", name), " ", el("span", "job-file-outcome", text));
    return item;
  }

  function renderJob(job) {
    const { card, heading, dismiss, files, status, bar, detail } = job.nodes;
    const record = job.record;
    const current = jobState(job);
    card.dataset.state = current;
    card.setAttribute("aria-busy", String(current === "sending" || current === "queued" || current === "running"));
    heading.textContent = job.kind === "remove" ? t("jobRemove", job.title) : t("jobUpload", job.files.length);
    dismiss.hidden = !["done", "failed"].includes(current);
    dismiss.setAttribute("aria-label", t("dismissJob"));

    const items = job.files.map((file) => jobFileItem(file.source, ...fileOutcome(job, file)));
    const known = new Set(job.files.map((file) => file.source));
    for (const [name, why] of Object.entries((record && record.errors) || {})) {
      if (!known.has(name)) items.push(jobFileItem(name, "unreadable", t("fileUnreadable", why)));
    }
    files.replaceChildren(...items);
    files.hidden = !items.length;

    let line;
    if (job.phase === "sending") line = t(job.kind === "remove" ? "jobDeleting" : "jobSending");
    else if (job.phase === "refused") line = t("jobRequestFailed", errorText(job.error));
    else if (job.phase === "rejected") line = t("jobNoneTaken");
    else if (job.phase === "nothing") line = t("jobNothing");
    else if (job.lost) line = job.error ? errorText(job.error) : t("jobLost");
    else if (!record || record.state === "queued") line = stageName("waiting");
    else if (record.state === "done") line = t("jobDone", record.message);
    else if (record.state === "failed") line = t("jobFailed", record.message);
    else line = stageName(record.stage);
    if (status.textContent !== line) status.textContent = line; // unchanged text is not announced again

    const following = job.phase === "following" || job.phase === "finished";
    const percent = percentOf(record);
    bar.hidden = !(job.phase === "sending" || following) || current === "failed";
    bar.setAttribute("aria-label", t("jobProgress"));
    if (percent === null) bar.removeAttribute("value"); // indeterminate: nothing to count yet
    else bar.value = percent;
    const parts = [];
    if (following && record) {
      if (record.files_total > 0) parts.push(t("jobFiles", { done: record.files_done, total: record.files_total }));
      if (record.chunks_total > 0) parts.push(t("jobChunks", { done: record.chunks_embedded, total: record.chunks_total }));
      if (percent !== null) parts.push(`${percent}%`);
    }
    detail.textContent = parts.join(" · ");
    detail.hidden = !parts.length;
  }

  function showRecord(job, record) {
    job.record = record;
    renderJob(job);
  }

  const finishedRecord = (record) => record.state === "done" || record.state === "failed";

  // Following a job. Its progress streams as server-sent events, but an EventSource cannot send an
  // Authorization header, so on a server with ENVQA_API_KEYS the stream answers 401. The page
  // listens to the stream only while it reads without a key (none stored: this server's reads are
  // open), and otherwise, or as soon as the stream fails, polls GET /api/jobs/{id} every JOB_POLL_MS
  // with the admin key (an admin key also reads). Polling is counted by the per-client rate limit:
  // after a 429 or a dropped connection it waits JOB_BACKOFF_MS and goes on.
  async function followJob(job, jobId, key) {
    if (!storedKey() && typeof window.EventSource === "function") {
      const record = await streamJob(job, jobId);
      if (record) return record;
    }
    return pollJob(job, jobId, key);
  }

  function streamJob(job, jobId) {
    return new Promise((resolve) => {
      const source = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`);
      const take = (event) => {
        let record;
        try { record = JSON.parse(event.data); } catch (_) { return; }
        showRecord(job, record);
        if (finishedRecord(record)) {
          source.close(); // before the server closes the stream, which the browser would reopen
          resolve(record);
        }
      };
      for (const name of ["progress", "done", "failed"]) source.addEventListener(name, take);
      source.addEventListener("error", () => {
        source.close();
        resolve(null); // polling picks up from where the job is now
      });
    });
  }

  async function pollJob(job, jobId, key) {
    let failures = 0;
    for (;;) {
      let record;
      try {
        record = await requestOnce(`/api/jobs/${encodeURIComponent(jobId)}`, { apiKey: key });
      } catch (err) {
        const lost = err instanceof ApiError && (err.status === 404 || err.status === 401 || err.status === 403);
        if (!(err instanceof ApiError && err.status === 429)) failures += 1;
        if (lost || failures > 12) {
          job.lost = true;
          job.error = err.status === 404 ? null : err;
          renderJob(job);
          return null;
        }
        await sleep(JOB_BACKOFF_MS);
        continue;
      }
      failures = 0;
      showRecord(job, record);
      if (finishedRecord(record)) return record;
      await sleep(JOB_POLL_MS);
    }
  }

  // The worker that ran the job serves its index at once, the others within ENVQA_INDEX_RELOAD_S:
  // reload the list until it shows the job's outcome, a few times at most.
  async function refreshDocuments(shows) {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      state.documents = null;
      state.texts.clear();
      let documents;
      try {
        documents = await loadDocuments();
      } catch (err) {
        ui.documentsStatus.textContent = `${errorTitle(err)} ${errorDetail(err)}`.trim();
        return;
      }
      renderDocuments(documents);
      if (shows(documents)) return;
      await sleep(500);
    }
  }

  async function uploadFiles(chosen) {
    const files = Array.from(chosen || []);
    if (!files.length) return;
    const job = newJob("add", "");
    job.files = files.map((file) => ({ source: file.name, status: "sending" }));
    renderJob(job);
    const body = new FormData();
    for (const file of files) body.append("files", file, file.name);
    let accepted;
    let key;
    try {
      ({ payload: accepted, key } = await adminRequest("/api/documents", {
        method: "POST", body, timeoutMs: UPLOAD_TIMEOUT_MS,
      }));
    } catch (err) {
      if (err instanceof ApiError && err.kind === "http" && err.status === 415) {
        job.files = rejectionsOf(err, files).map(({ source, reason }) => ({ source, status: "rejected", reason }));
        job.phase = "rejected";
      } else {
        job.error = err;
        job.phase = "refused";
      }
      renderJob(job);
      return;
    }
    // The names the server keeps (sanitised), each with what became of it.
    job.files = [
      ...(accepted.documents || []).map((doc) => ({
        source: doc.source, status: doc.status, docId: doc.doc_id, duplicateOf: doc.duplicate_of,
      })),
      ...(accepted.rejected || []).map((file) => ({ source: file.source, status: "rejected", reason: file.error })),
    ];
    if (!accepted.job_id) {
      job.phase = "nothing";
      renderJob(job);
      return;
    }
    job.phase = "following";
    renderJob(job);
    const record = await followJob(job, accepted.job_id, key);
    job.phase = "finished";
    renderJob(job);
    if (!record) return;
    const errors = record.errors || {};
    const expected = job.files.filter((file) => ["added", "replaced"].includes(file.status) && !errors[file.source]);
    await refreshDocuments((documents) => record.state !== "done"
      || expected.every((file) => documents.some((doc) => doc.doc_id === file.docId)));
  }

  async function removeDocument(doc) {
    if (state.deleting.has(doc.doc_id)) return;
    if (!window.confirm(t("confirmDelete", doc.title))) return;
    const job = newJob("remove", doc.title);
    state.deleting.set(doc.doc_id, job);
    if (state.documentList) renderDocuments(state.documentList);
    job.nodes.heading.focus(); // the row's button is disabled now; the card tells what happens
    try {
      const { payload, key } = await adminRequest(`/api/documents/${encodeURIComponent(doc.doc_id)}`, { method: "DELETE" });
      job.phase = "following";
      renderJob(job);
      const record = await followJob(job, payload.job_id, key);
      job.phase = "finished";
      renderJob(job);
      if (record) {
        await refreshDocuments((documents) => record.state !== "done" || !documents.some((d) => d.doc_id === doc.doc_id));
      }
    } catch (err) {
      job.error = err;
      job.phase = "refused";
      renderJob(job);
    } finally {
      state.deleting.delete(doc.doc_id);
      if (state.documentList) renderDocuments(state.documentList);
    }
  }

  function hasFiles(event) {
    return Boolean(event.dataTransfer) && Array.from(event.dataTransfer.types || []).includes("Files");
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
  ui.newConversation.addEventListener("click", newConversation);
  ui.langSwitch.addEventListener("click", switchLanguage);
  ui.panelClose.addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !ui.panel.hidden) closePanel();
  });
  window.addEventListener("hashchange", () => route(true));

  ui.pickFiles.addEventListener("click", () => ui.fileInput.click());
  ui.fileInput.addEventListener("change", () => {
    const files = Array.from(ui.fileInput.files || []);
    ui.fileInput.value = ""; // the same file can be chosen again
    uploadFiles(files);
  });
  for (const name of ["dragenter", "dragover"]) {
    ui.dropZone.addEventListener(name, (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      ui.dropZone.classList.add("dragging");
    });
  }
  ui.dropZone.addEventListener("dragleave", (event) => {
    if (!ui.dropZone.contains(event.relatedTarget)) ui.dropZone.classList.remove("dragging");
  });
  ui.dropZone.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    ui.dropZone.classList.remove("dragging");
    uploadFiles(event.dataTransfer.files);
  });
  // A file dropped beside the zone would make the browser leave the page to show it.
  window.addEventListener("dragover", (event) => {
    if (!hasFiles(event) || ui.dropZone.contains(event.target)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "none";
  });
  window.addEventListener("drop", (event) => {
    if (hasFiles(event) && !ui.dropZone.contains(event.target)) event.preventDefault();
  });

  applyLanguage();
  route(false);
  loadDocuments().catch(() => { /* the documents view reports it when opened */ });
  watchIndex();
  if (window.matchMedia("(min-width: 50rem)").matches && !ui.chatView.hidden) ui.input.focus();
})();
