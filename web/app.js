/* The gslbd status page: reads /status, /what-if and /explain of the admin
 * listener that serves it; drains and undrains through /override only when
 * the operator gives the admin token (kept in sessionStorage, sent as a
 * bearer token with X-Gslb-Admin: 1). No inline script, no library. */
"use strict";

const POLL_MS = 1000;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
	"#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939"];
const NOREGION = "#000000";

const state = {
	status: null, regions: [], whatif: null, after: null, shapes: null,
	prev: new Map(), events: [], explainSeq: 0, drawn: "", polls: 0, controlError: "",
};

const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem("gslb-token") || ""; }

function headers(control) {
	const h = {};
	const t = token();
	if (t) h.Authorization = "Bearer " + t;
	if (control) h["X-Gslb-Admin"] = "1";
	return h;
}

async function getJSON(url) {
	const r = await fetch(url, { headers: headers(false), cache: "no-store" });
	const j = await r.json().catch(() => ({ error: "HTTP " + r.status }));
	if (!r.ok) throw new Error(j.error || "HTTP " + r.status);
	return j;
}

function showError(msg) {
	const e = $("error");
	e.textContent = msg || "";
	e.hidden = !msg;
}

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === "class") e.className = v;
		else if (k === "on") e.addEventListener("click", v);
		else e.setAttribute(k, v);
	}
	for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k ?? ""));
	return e;
}

function ago(t) {
	if (!t) return "";
	const s = Math.max(0, Math.round(Date.now() / 1000 - t));
	return s < 120 ? s + " s ago" : s < 7200 ? Math.round(s / 60) + " min ago" :
		Math.round(s / 3600) + " h ago";
}

function when(t) { return t ? new Date(t * 1000).toISOString().replace(".000", "") : ""; }

function regionColor(name) {
	const i = state.regions.indexOf(name);
	return i < 0 ? NOREGION : COLORS[i % COLORS.length];
}

/* ------------------------------------------------------------ controls */

async function control(action, target) {
	if (!confirm(action + " " + target + "?\nThis changes what gslbd answers.")) return;
	const url = "/override?action=" + encodeURIComponent(action) +
		"&target=" + encodeURIComponent(target);
	try {
		const r = await fetch(url, { method: "POST", headers: headers(true) });
		const j = await r.json().catch(() => ({}));
		if (!r.ok) throw new Error(j.error || "HTTP " + r.status);
		state.controlError = "";
		showError("");
		poll();
	} catch (e) {
		/* kept until the next control action: the polls do not clear it */
		state.controlError = action + " " + target + ": " + e.message;
		showError(state.controlError);
	}
}

function buttons(target) {
	if (!token()) return [];
	return ["drain", "undrain"].map((a) => el("button",
		{ class: "control", "data-action": a, "data-target": target, type: "button",
			on: () => control(a, target) }, a));
}

/* ------------------------------------------------------------ tables */

function stateCell(s, admin) {
	const text = admin && admin !== "none" ? s + " (" + admin + ")" : s;
	return el("td", { class: "state-" + (admin && admin !== "none" ? admin : s) }, text);
}

function renderRegions(st) {
	const t = $("regions");
	t.replaceChildren(el("tr", {}, el("th", {}, "region"), el("th", {}, "lat, lon"),
		el("th", {}, "admin"), el("th", {}, "")));
	for (const r of st.regions) {
		t.append(el("tr", { "data-region": r.name },
			el("td", {}, el("span", { class: "swatch", "data-color": regionColor(r.name) }), r.name),
			el("td", {}, r.lat + ", " + r.lon), el("td", {}, r.admin),
			el("td", {}, ...buttons("region:" + r.name))));
	}
	for (const s of t.querySelectorAll(".swatch")) s.style.background = s.dataset.color;
}

function renderServices(st) {
	const box = $("services");
	box.replaceChildren();
	for (const svc of st.services) {
		const t = el("table", { "data-service": svc.name });
		t.append(el("tr", {}, ...["pool / member", "state", "since", "reason", "latency", "admin", "weight", ""]
			.map((h) => el("th", {}, h))));
		for (const p of svc.pools) {
			const ptarget = "pool:" + svc.name + "/" + p.region;
			t.append(el("tr", { class: "pool", "data-pool": p.region },
				el("td", {}, el("b", {}, p.region)), stateCell(p.state || "-", p.admin),
				el("td", { title: when(p.since) }, ago(p.since)), el("td", {}, p.reason || ""),
				el("td", {}, ""), el("td", {}, p.admin || ""), el("td", {}, ""), el("td", {}, ...buttons(ptarget))));
			for (const m of p.members) {
				const addr = m.address || m.member;
				t.append(el("tr", { class: "member", "data-member": addr },
					el("td", {}, "\u00a0\u00a0" + (m.member || addr)),
					stateCell(m.state, m.admin), el("td", { title: when(m.since) }, ago(m.since)),
					el("td", {}, m.reason || ""),
					el("td", { class: "latency" }, m.latency == null ? "" : Math.round(m.latency * 1000) + " ms"),
					el("td", {}, m.admin || ""),
					el("td", {}, String(m.weight)),
					el("td", {}, ...buttons("member:" + svc.name + "/" + p.region + "/" + addr))));
			}
		}
		box.append(el("h3", {}, svc.name + " (ttl " + svc.ttl + ", when all down: " +
			svc.when_all_down + ")"), t);
	}
}

function renderOverrides(st) {
	const t = $("overrides");
	t.replaceChildren(el("tr", {}, ...["target", "state", "kind", "since", "start", "end", "active"]
		.map((h) => el("th", {}, h))));
	for (const o of st.overrides || [])
		t.append(el("tr", {}, el("td", {}, o.target), el("td", {}, o.state), el("td", {}, o.kind),
			el("td", {}, when(o.since)), el("td", {}, when(o.start)), el("td", {}, when(o.end)),
			el("td", {}, o.active ? "yes" : "no")));
}

/* The page's own timeline: what changed between two polls (with the
 * server's list of recent transitions when it has one). */
function noteTransitions(st) {
	const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
	const seen = new Map();
	for (const svc of st.services)
		for (const p of svc.pools) {
			seen.set("pool:" + svc.name + "/" + p.region, [p.state, p.reason]);
			for (const m of p.members)
				seen.set("member:" + svc.name + "/" + p.region + "/" + (m.address || m.member),
					[m.state, m.reason]);
		}
	for (const [k, [s, why]] of seen) {
		const old = state.prev.get(k);
		if (old && old[0] !== s)
			state.events.unshift(now + " " + k + " " + old[0] + " -> " + s + (why ? " (" + why + ")" : ""));
	}
	state.prev = seen;
	state.events = state.events.slice(0, 50);
	const list = st.events ? st.events.slice().reverse().map((e) =>
		e.when + " " + e.name + " " + e.from + " -> " + e.to + (e.why ? " (" + e.why + ")" : "")) :
		state.events;
	$("timeline").replaceChildren(...list.map((e) => el("li", {}, e)));
}

/* With a cluster: its nodes, and each member's verdict with the nodes
 * that probe it and those that see it down. */
function renderCluster(st) {
	const c = st.cluster;
	$("cluster-section").hidden = !c;
	if (!c) return;
	$("cluster-summary").textContent = "cluster " + c.name + ", this node " + c.node +
		", quorum " + c.quorum + (c.degraded ? ", DEGRADED since " + when(c.degraded_since) : "");
	const row = (cells) => el("tr", {}, ...cells.map((x) => el("td", {}, String(x ?? ""))));
	$("cluster-nodes").replaceChildren(el("tr", {}, ...["node", "self", "live", "lease ttl"]
		.map((h) => el("th", {}, h))), ...(c.nodes || []).map((n) =>
		row([n.name, n.self ? "yes" : "", n.live ? "live" : "gone", n.ttl + " s"])));
	$("cluster-members").replaceChildren(el("tr", {}, ...["member", "verdict", "down by",
		"probed by"].map((h) => el("th", {}, h))), ...(c.members || []).map((m) =>
		row([m.member, m.verdict, m.down_by, m.probed_by])));
}

function fillSelects(st) {
	const sel = $("service");
	const names = st.services.map((s) => s.name);
	if ([...sel.options].map((o) => o.value).join() !== names.join()) {
		const keep = sel.value;
		sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
		if (names.includes(keep)) sel.value = keep;
	}
	const wi = $("whatif");
	const opts = [""];
	for (const r of st.regions) opts.push("region:" + r.name);
	for (const s of st.services) for (const p of s.pools) opts.push("pool:" + s.name + "/" + p.region);
	if ([...wi.options].map((o) => o.value).join() !== opts.join()) {
		const keep = wi.value;
		wi.replaceChildren(...opts.map((o) => el("option", { value: o }, o || "nothing (live)")));
		if (opts.includes(keep)) wi.value = keep;
	}
}

async function poll() {
	try {
		const st = await getJSON("/status");
		const first = !state.status;
		/* The map is computed again when what decides it changes (pools
		 * up or down, overrides), not at each probe's published view. */
		const mapKey = JSON.stringify([st.generation, st.regions.map((r) => r.admin),
			st.services.map((s) => s.pools.map((p) => [p.state, p.admin]))]);
		const changed = !first && mapKey !== state.mapKey;
		state.mapKey = mapKey;
		state.status = st;
		state.regions = st.regions.map((r) => r.name);
		$("version").textContent = st.version;
		$("updated").textContent = "updated " + new Date().toLocaleTimeString() +
			" (health version " + st.health_version + ")";
		document.body.dataset.healthVersion = st.health_version;
		fillSelects(st);
		/* Redrawn when something changed (or every 10 s for the ages),
		 * so that a button does not move under the pointer every second. */
		const key = JSON.stringify(st) + token();
		if (key !== state.drawn || ++state.polls % 10 === 0) {
			state.drawn = key;
			renderRegions(st);
			renderServices(st);
			renderOverrides(st);
			renderCluster(st);
		}
		noteTransitions(st);
		showError(state.controlError || "");
		if (first || changed) loadCoverage();
	} catch (e) {
		showError("status: " + e.message);
	}
}

/* ------------------------------------------------------------ the map */

/* country -> {region, share} for one service's picture: the region with
 * the largest share of the country's address space (IPv4, then IPv6). */
function countryRegions(picture, key) {
	const out = new Map();
	for (const row of picture.regions) {
		const part = row[key];
		if (!part) continue;
		for (const c of part.countries) {
			const w = c.share4 * 1e6 + c.share6;
			const cur = out.get(c.country);
			if (!cur || w > cur.w) out.set(c.country, { region: row.region, w, client: c.client });
		}
	}
	return out;
}

function picture(j) {
	const name = $("service").value;
	return j && j.services.find((s) => s.service === name);
}

function drawMap() {
	const svg = $("map");
	if (!state.shapes || !state.whatif) return;
	const pic = picture(state.whatif);
	if (!pic) return;
	const before = countryRegions(pic, "before");
	const afterPic = picture(state.after);
	const after = afterPic ? countryRegions(afterPic, "after") : null;
	for (const p of svg.querySelectorAll("path")) {
		const cc = p.dataset.cc;
		const b = before.get(cc), a = after ? after.get(cc) : null;
		const show = after ? a : b;
		p.classList.toggle("covered", !!show);
		p.classList.toggle("moved", !!(after && b && a && a.region !== b.region));
		p.dataset.region = show ? (show.region ?? "") : "";
		p.style.fill = show ? regionColor(show.region) : "";
	}
	const legend = $("legend");
	legend.replaceChildren(el("div", {}, el("b", {}, after ? "after the what-if" : "live")));
	for (const row of (afterPic || pic).regions) {
		const part = row[after ? "after" : "before"];
		if (!part) continue;
		const sw = el("span", { class: "swatch" });
		sw.style.background = regionColor(row.region);
		legend.append(el("div", { "data-legend": row.region ?? "" }, sw,
			(row.region ?? "no region (" + row.outcome + ")") + ": IPv4 " +
			(100 * part.share4).toFixed(1) + "%, IPv6 " + (100 * part.share6).toFixed(1) + "%, " +
			part.countries.length + " countries"));
	}
	if (afterPic) {
		const moves = afterPic.moves || [];
		$("whatif-note").textContent = moves.length ? moves.map((m) =>
			(m.from ?? "none") + " -> " + (m.to ?? "none") + ": " +
			m.countries.map((c) => c.country).join(" ")).join("; ") : "nothing moves";
	} else {
		$("whatif-note").textContent = "";
	}
}

async function loadCoverage() {
	if (state.status && !state.status.geoip) {
		$("whatif-note").textContent = "no GeoIP database (geoip.database): no map";
		document.body.dataset.mapReady = String(Date.now());
		return;
	}
	try {
		state.whatif = await getJSON("/what-if");
		const change = $("whatif").value;
		state.after = change ? await getJSON("/what-if?change=" + encodeURIComponent("drain " + change)) : null;
		document.body.dataset.whatif = change;
		drawMap();
		document.body.dataset.mapReady = String(Date.now());
	} catch (e) {
		$("whatif-note").textContent = "map: " + e.message;
	}
}

async function loadShapes() {
	const r = await fetch("/countries.json");
	const j = await r.json();
	state.shapes = j.countries;
	const svg = $("map");
	svg.setAttribute("viewBox", "0 0 " + j.width + " " + j.height);
	for (const [cc, d] of Object.entries(j.countries)) {
		const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
		p.setAttribute("d", d);
		p.dataset.cc = cc;
		p.id = "cc-" + cc;
		p.addEventListener("mouseenter", () => hover(cc));
		svg.append(p);
	}
	drawMap();
}

/* ------------------------------------------------------------ explain */

function explainText(j) {
	const lines = ["client " + j.client + "  name " + j.name];
	if (!j.service) return lines.concat(j.note || "").join("\n");
	const loc = j.location || {};
	lines.push("location: " + [loc.country, loc.subdivision, loc.network].filter(Boolean).join(", ") +
		(loc.latitude != null ? " (" + loc.latitude + ", " + loc.longitude + ")" : ""));
	lines.push("rule: " + j.rule.kind + (j.rule.match ? " " + j.rule.match : ""));
	for (const r of j.regions)
		lines.push("  " + r.region + (r.distance_km != null ? " " + r.distance_km + " km" : "") +
			" " + r.state + (r.pool ? " (pool " + r.pool + (r.pool_reason ? ": " + r.pool_reason : "") + ")" : ""));
	lines.push("chosen: " + (j.chosen ?? "none"));
	if (j.answer) lines.push("answer: " + JSON.stringify(j.answer));
	return lines.join("\n");
}

async function explain(address, out) {
	const name = $("service").value;
	const seq = ++state.explainSeq;
	try {
		const j = await getJSON("/explain?address=" + encodeURIComponent(address) +
			"&name=" + encodeURIComponent(name));
		if (seq === state.explainSeq || out.id === "explain-out") out.textContent = explainText(j);
	} catch (e) {
		out.textContent = e.message;
	}
}

function hover(cc) {
	const pic = picture(state.whatif);
	const c = pic ? countryRegions(pic, "before").get(cc) : null;
	const out = $("hover");
	if (!c) {
		out.textContent = cc + ": not in the GeoIP database";
		return;
	}
	out.textContent = cc + ": " + (c.region ?? "no region") + " (client " + c.client + ")…";
	explain(c.client, out).then(() => { out.textContent = cc + "\n" + out.textContent; });
}

/* ------------------------------------------------------------ start */

function start() {
	$("token-set").addEventListener("click", () => {
		const v = $("token").value.trim();
		if (v) sessionStorage.setItem("gslb-token", v);
		$("token").value = "";
		poll();
	});
	$("token-clear").addEventListener("click", () => {
		sessionStorage.removeItem("gslb-token");
		poll();
	});
	$("service").addEventListener("change", drawMap);
	$("whatif").addEventListener("change", loadCoverage);
	$("explain-go").addEventListener("click", () => explain($("explain-address").value.trim(), $("explain-out")));
	loadShapes().catch((e) => showError("map: " + e.message));
	poll();
	setInterval(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
