// The Socket.IO Admin UI (npm @socket.io/admin-ui, served by `sockeye serve --admin-ui` at
// /admin/) in Debian's Chromium, driven by playwright-core, against demo clients made with the
// npm socket.io-client (from web/node_modules):
//
//   node admin.mjs --url http://127.0.0.1:PORT --user admin --password PASSWORD [--artifacts DIR]
//
// It is refused with a wrong password, logs in with the server's URL, sees the demo clients and their rooms (dashboard, sockets,
// rooms, a socket's page, live events), disconnects one from the UI, and checks that the client
// was told `io server disconnect`. Prints `RESULT <json>` and exits 0 on success; prints the
// reason and exits 1 on failure. crates/cli/tests/admin_ui.rs starts the server and runs it.

import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const TIMEOUT = 15000;

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
if (!args.url || !args.user || !args.password) {
  console.error("usage: node admin.mjs --url URL --user USER --password PASSWORD [--artifacts DIR]");
  process.exit(2);
}
const base = args.url.replace(/\/$/, "");
const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { io } = require("socket.io-client");
const consoleLines = [];
const pageErrors = [];

function step(text) {
  console.log("- " + text);
}

async function screenshot(page, name) {
  if (!args.artifacts) return;
  fs.mkdirSync(args.artifacts, { recursive: true });
  const file = path.join(args.artifacts, `admin-${name}.png`);
  // A view fades in: the picture is taken once it has (a fixed wait, for the pictures only).
  await page.waitForTimeout(700);
  await page.screenshot({ path: file, animations: "disabled" });
  step("screenshot " + file);
}

/** A demo client of the npm socket.io-client, connected to `nsp`. */
async function client(nsp) {
  const socket = io(base + nsp, { reconnection: false });
  socket.reasons = [];
  socket.on("disconnect", (reason) => socket.reasons.push(reason));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

/** Joins a room of the chat demo and checks its answer. */
async function joinChat(socket, room) {
  const answer = await socket.timeout(TIMEOUT).emitWithAck("join", room);
  assert.deepEqual(answer, { ok: true, room });
}

async function until(what, check) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > TIMEOUT) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The UI's namespace selector (a Vuetify select) set to `nsp`. */
async function selectNamespace(page, nsp) {
  const select = page.locator(".v-select:visible").filter({ hasText: "Select namespace" });
  // Views that were left stay in the page, hidden (the UI keeps them alive).
  await until("one namespace selector", async () => (await select.count()) === 1);
  if ((await select.locator(".v-select__selection").textContent())?.trim() === nsp) return;
  await select.click();
  await page.locator(".v-menu__content .v-list-item").filter({ hasText: new RegExp(`^\\s*${nsp}\\s*$`) }).click();
  await page.waitForFunction(
    (nsp) => [...document.querySelectorAll(".v-select__selection")].some((e) => e.textContent.trim() === nsp),
    nsp,
  );
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);

  // The demo clients: two in the chat's rooms, one on / in the seed's room.
  const alice = await client("/chat");
  await joinChat(alice, "lobby");
  await joinChat(alice, "rust");
  const bob = await client("/chat");
  await joinChat(bob, "lobby");
  const carol = await client("/");
  assert.equal(await carol.timeout(TIMEOUT).emitWithAck("join_room"), "exampleRoom");
  step(`demo clients: alice ${alice.id} (lobby, rust), bob ${bob.id} (lobby) on /chat; carol ${carol.id} on /`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // The UI's page links a web font and an icon font on CDNs, and the test machine is
    // offline: the icons come from the npm @mdi/font of tests/browser, the font is left out.
    const mdi = path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules/@mdi/font");
    await context.route(
      (url) => !url.href.startsWith(base),
      (route) => {
        const file = /\/@mdi\/font@[^/]+\/((?:css|fonts)\/[^/?#]+)/.exec(route.request().url());
        if (file && fs.existsSync(path.join(mdi, file[1]))) return route.fulfill({ path: path.join(mdi, file[1]) });
        return route.abort();
      },
    );
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on("console", (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
    page.on("pageerror", (err) => pageErrors.push(err.message));

    await page.goto(base + "/admin/");
    // Without transitions a view that is left is hidden at once (Vue ends a transition of no
    // duration on the next frame), so that the locators of visible rows see the new view's.
    await page.addStyleTag({ content: "*, *::before, *::after { transition: none !important; animation: none !important; }" });
    await page.getByLabel("Server URL").fill(base);
    await page.getByLabel("Username").fill(args.user);
    await page.getByLabel("Password").fill(args.password + "-wrong");
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByText("Invalid credentials").waitFor();
    step("a wrong password is refused: Invalid credentials");
    await page.getByLabel("Password").fill(args.password);
    await screenshot(page, "login");
    await page.getByRole("button", { name: "Connect" }).click();
    await page.locator(".v-chip", { hasText: /^\s*connected\s*$/i }).first().waitFor();
    step("logged in with the server URL, user and password");

    // The dashboard: namespaces with their socket counts, from server_stats.
    const namespaces = page.locator(".v-card", { hasText: "Namespaces" });
    // A row's text is its cells' run together: "/chat2".
    await namespaces.locator("tr", { hasText: /^\s*\/chat\s*2\s*$/ }).waitFor();
    await namespaces.locator("tr", { hasText: /^\s*\/admin\s*1\s*$/ }).waitFor();
    // Two reports, so the charts have the aggregated counts.
    await page.waitForTimeout(4200);
    await screenshot(page, "dashboard");
    step("dashboard: /chat has 2 sockets, /admin 1");

    // The sockets of /chat, live (socket_connected / all_sockets).
    await page.goto(base + "/admin/#/sockets");
    await selectNamespace(page, "/chat");
    for (const socket of [alice, bob]) await page.locator("tr:visible", { hasText: socket.id }).waitFor();
    assert.equal(await page.locator("tbody tr:visible", { hasText: carol.id }).count(), 0, "carol is not on /chat");
    await screenshot(page, "sockets");
    step("sockets of /chat: alice and bob");

    // The rooms of /chat, with their members.
    await page.goto(base + "/admin/#/rooms");
    await selectNamespace(page, "/chat");
    await page.locator("tr:visible", { hasText: "lobby" }).first().waitFor();
    await page.locator("tr:visible", { hasText: "rust" }).first().waitFor();
    await screenshot(page, "rooms");
    await page.locator("tr:visible", { hasText: "lobby" }).first().click();
    for (const socket of [alice, bob]) await page.locator("tr:visible", { hasText: socket.id }).waitFor();
    step("rooms of /chat: lobby (alice, bob) and rust");

    // Alice's page: her rooms; a room she joins now appears live (room_joined).
    await page.goto(base + "/admin/#/sockets");
    await selectNamespace(page, "/chat");
    await page.locator("tr:visible", { hasText: alice.id }).click();
    await page.locator(".v-breadcrumbs:visible", { hasText: "Socket details" }).waitFor();
    await joinChat(alice, "sockeye");
    for (const room of ["lobby", "rust", "sockeye"]) await page.locator(":visible", { hasText: new RegExp(`^\\s*${room}\\s*$`) }).first().waitFor();
    await screenshot(page, "socket");
    step("alice's page shows her rooms, with one joined after the page opened");

    // Events, live: what alice says and what the server sends.
    const said = await alice.timeout(TIMEOUT).emitWithAck("say", { id: "m1", room: "lobby", text: "hello from alice" });
    assert.equal(said.ok, true, JSON.stringify(said));
    await page.goto(base + "/admin/#/events");
    await selectNamespace(page, "/chat");
    await page.locator("tr:visible", { hasText: "say" }).filter({ hasText: alice.id }).first().waitFor();
    await screenshot(page, "events");
    step("events of /chat: alice's say, received live");

    // Bob disconnected from the UI: the button of his row.
    await page.goto(base + "/admin/#/sockets");
    await selectNamespace(page, "/chat");
    // The client forgets its id once disconnected.
    const bobId = bob.id;
    const bobRow = page.locator("tr:visible", { hasText: bobId });
    await bobRow.locator("button").click();
    await until("bob's disconnection", () => bob.reasons.length > 0);
    assert.deepEqual(bob.reasons, ["io server disconnect"]);
    step("bob disconnected from the UI saw: " + bob.reasons[0]);
    await page.goto(base + "/admin/#/sockets");
    await selectNamespace(page, "/chat");
    await page.locator("tr:visible", { hasText: alice.id }).waitFor();
    await page.locator("tr:visible", { hasText: bobId }).waitFor({ state: "detached" });
    await screenshot(page, "disconnected");
    step("the UI lists alice alone (socket_disconnected)");
    assert.ok(alice.connected && carol.connected, "the others stay connected");

    assert.deepEqual(pageErrors, [], "errors in the UI's page");
    await context.close();
    return { alice: alice.id, bob: bobId, carol: carol.id, bobReasons: bob.reasons };
  } catch (err) {
    for (const context of browser.contexts()) {
      for (const page of context.pages()) await screenshot(page, "failure").catch(() => {});
    }
    throw err;
  } finally {
    await browser.close();
    for (const socket of [alice, bob, carol]) socket.close();
  }
}

const watchdog = setTimeout(() => {
  console.error("FAILED: the scenario took more than 2 minutes");
  process.exit(1);
}, 120000);

main().then(
  (result) => {
    clearTimeout(watchdog);
    console.log("RESULT " + JSON.stringify(result));
    process.exit(0);
  },
  (err) => {
    console.error("FAILED: " + (err && err.stack ? err.stack : err));
    if (pageErrors.length) console.error("page errors:\n" + pageErrors.join("\n"));
    console.error("page console (last 80 lines):\n" + consoleLines.slice(-80).join("\n"));
    process.exit(1);
  },
);
