// Shared by the Sockeye demo pages: connection options from the query string
// (?transports=websocket|polling|webtransport, comma-separated), the WebTransport endpoint's
// port and certificate hash (from /webtransport.json, when the server has one), the transport indicator, a log, and a banner when the
// Socket.IO client bundle is missing.
(function (global) {
  "use strict";

  const SOCKET_PATH = "__SOCKEYE_PATH__";
  // Whether the server has a WebTransport endpoint (`sockeye serve --webtransport`).
  const WEBTRANSPORT = "__SOCKEYE_WEBTRANSPORT__" === "on";
  const params = new URLSearchParams(location.search);

  /** The transports forced by ?transports=..., or undefined for the default (polling, then upgrade). */
  function forcedTransports() {
    const value = params.get("transports");
    if (!value) return undefined;
    const list = value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s === "websocket" || s === "polling" || s === "webtransport");
    return list.length ? list : undefined;
  }

  /** Options for io(): the server's path and the forced transports. */
  function options(extra) {
    const opts = Object.assign({ path: SOCKET_PATH }, extra || {});
    const transports = forcedTransports();
    if (transports) opts.transports = transports;
    return opts;
  }

  function clientMissing() {
    if (typeof global.io !== "undefined") return false;
    const banner = document.createElement("div");
    banner.className = "banner";
    banner.id = "client-missing";
    banner.innerHTML =
      "<strong>The Socket.IO client did not load</strong> (<code>" + SOCKET_PATH + "socket.io.js</code>). " +
      "The server gets it from the npm package <code>socket.io-client</code>: run " +
      "<code>npm ci --prefix web</code> in the Sockeye workspace (or start it with <code>scripts/run</code>), " +
      "or pass <code>--client-dir</code>.";
    const main = document.querySelector("main") || document.body;
    main.prepend(banner);
    return true;
  }

  /**
   * The options of the WebTransport endpoint: its port, and its certificate's hash for a
   * self-signed certificate (`serverCertificateHashes`); null when there is none or the
   * browser has no WebTransport.
   */
  let webTransportOptions = null;
  function fetchWebTransport() {
    if (!WEBTRANSPORT || typeof global.WebTransport === "undefined") return Promise.resolve(null);
    if (!webTransportOptions) {
      webTransportOptions = fetch("/webtransport.json")
        .then((response) => (response.ok ? response.json() : null))
        .then((info) => {
          if (!info) return null;
          const options = { port: info.port };
          if (info.selfSigned) {
            options.serverCertificateHashes = [{ algorithm: "sha-256", value: new Uint8Array(info.sha256) }];
          }
          return options;
        })
        .catch(() => null);
    }
    return webTransportOptions;
  }

  /**
   * Connects to namespace `nsp` with the page's options, and shows the transport. With a
   * WebTransport endpoint, the connection waits for its options (one small fetch).
   */
  function connect(nsp, extra) {
    if (clientMissing()) throw new Error("socket.io client missing");
    const opts = options(extra);
    if (!WEBTRANSPORT) {
      const socket = global.io(nsp, opts);
      watchTransport(socket);
      return socket;
    }
    const autoConnect = opts.autoConnect !== false;
    opts.autoConnect = false;
    const socket = global.io(nsp, opts);
    watchTransport(socket);
    fetchWebTransport().then((wt) => {
      if (wt) {
        const manager = socket.io;
        manager.opts.transportOptions = Object.assign({}, manager.opts.transportOptions, { webtransport: wt });
      }
      if (autoConnect) socket.connect();
    });
    return socket;
  }

  const h = (tag, attrs, ...children) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v);
    }
    for (const child of children) {
      if (child == null) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  };

  /**
   * The transport indicator: which transport carries the connection now, and whether it was
   * upgraded from polling. Its state is also in window.sockeyeTransport, for tests.
   */
  function watchTransport(socket) {
    const state = { state: "connecting", current: null, upgraded: false, history: [], forced: forcedTransports() || null };
    global.sockeyeTransport = state;
    const box = document.getElementById("transport");
    const render = () => {
      if (!box) return;
      box.dataset.state = state.state;
      box.dataset.transport = state.current || "";
      box.dataset.upgraded = String(state.upgraded);
      let text;
      if (state.state === "connecting") text = "connecting…";
      else if (state.state === "disconnected") text = "disconnected, reconnecting…";
      else if (state.upgraded) text = "polling → " + state.current;
      else text = state.current;
      const parts = [h("span", { class: "dot" }), h("span", { class: "name", text })];
      if (state.upgraded) parts.push(h("span", { class: "upgraded", text: "(upgraded)" }));
      if (state.forced) parts.push(h("span", { class: "forced", text: "only " + state.forced.join("+") }));
      box.replaceChildren(...parts);
      box.title = state.history.join("\n");
    };
    const manager = socket.io;
    manager.on("open", () => {
      const engine = manager.engine;
      state.current = engine.transport.name;
      state.upgraded = false;
      state.history.push("open: " + state.current);
      engine.on("upgrade", (transport) => {
        state.current = transport.name;
        state.upgraded = true;
        state.history.push("upgrade: " + transport.name);
        render();
      });
      render();
    });
    socket.on("connect", () => {
      state.state = "connected";
      state.history.push("connect: " + socket.id);
      render();
    });
    socket.on("disconnect", (reason) => {
      state.state = "disconnected";
      state.history.push("disconnect: " + reason);
      render();
    });
    render();
    renderModes();
  }

  /** Links to reload the page with each transport mode. */
  function renderModes() {
    const box = document.getElementById("modes");
    if (!box) return;
    const current = params.get("transports") || "";
    const link = (label, value) => {
      const url = new URL(location.href);
      if (value) url.searchParams.set("transports", value);
      else url.searchParams.delete("transports");
      return h("a", { href: url.pathname + url.search, class: current === value ? "active" : "", text: label });
    };
    const links = [link("auto (upgrade)", ""), link("websocket", "websocket"), link("polling", "polling")];
    if (WEBTRANSPORT) links.push(link("webtransport", "webtransport"), link("polling → webtransport", "polling,webtransport"));
    box.replaceChildren("transports:", ...links);
  }

  function time() {
    const d = new Date();
    return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  /** Adds a line at the top of a log list. */
  function log(list, text, kind, data) {
    const item = h("li", { class: kind || "" }, h("span", { class: "time", text: time() }), text);
    if (data) Object.assign(item.dataset, data);
    list.prepend(item);
    return item;
  }

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + " MiB";
    return (n / 1024 / 1024 / 1024).toFixed(2) + " GiB";
  }

  global.Sockeye = { SOCKET_PATH, forcedTransports, options, connect, clientMissing, watchTransport, h, log, formatBytes };
})(window);
