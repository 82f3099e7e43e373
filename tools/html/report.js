/*
 * report.js: the interactive parts of refsan's HTML report, embedded by
 * render_html.c: the table of error groups (sort by any column, filter by
 * kind and text, unfold a row to its stacks) and the flame graph of the
 * handles live at exit by creation stack (an icicle: outermost frame at
 * the top; hover for counts, click to zoom).
 *
 * Its input is the JSON block <script id="data">: strings, frames and
 * stacks by index, one object per group (render_html.c lists the fields).
 * Every string in it comes from the program under test and may be
 * hostile, so the page is built with textContent and setAttribute only,
 * never innerHTML, and class names come from fixed lists.
 *
 * The flame graph aggregates the groups into a tree of frames (one node
 * per distinct path, whatever the number of handles) and draws only the
 * nodes at least half a pixel wide, so that 100,000 handles from 10,000
 * sites draw as a few thousand rectangles.
 */
(function () {
	"use strict";

	var data = JSON.parse(document.getElementById("data").textContent);
	var S = data.s;
	var SVGNS = "http://www.w3.org/2000/svg";
	var KINDS = ["double_release", "use_after_release", "invalid_release",
		"family_mismatch", "leak"];
	var ROW_LIMIT = 1000;

	function str(i) {
		return i === undefined || i === null ? null : S[i];
	}

	function h(tag, cls, text) {
		var e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function sv(tag, attrs) {
		var e = document.createElementNS(SVGNS, tag);
		for (var k in attrs)
			e.setAttribute(k, String(attrs[k]));
		return e;
	}

	var numFormat = new Intl.NumberFormat("en-US");

	function num(n) {
		return n === null || n === undefined ? "" :
			numFormat.format(n);
	}

	function plural(n, one, many) {
		return num(n) + " " + (n === 1 ? one : many);
	}

	function kindLabel(k) {
		return k ? k.replace(/_/g, " ") : "??";
	}

	function kindClass(k) {
		return KINDS.indexOf(k) >= 0 ? "kind k-" + k : "kind";
	}

	/* ---- frames and stacks ---- */

	var frames = data.f.map(function (a) {
		return { py: a[0] === 1, fn: str(a[1]), file: str(a[2]),
			line: a[3], mod: str(a[4]), off: a[5], text: null };
	});
	var stacks = data.k;

	function fname(f) {
		if (f.fn)
			return f.fn;
		if (f.mod)
			return f.mod + (f.off ? "+" + f.off : "");
		return "??";
	}

	function floc(f) {
		if (!f.file)
			return "";
		return f.file + (f.line ? ":" + f.line : "");
	}

	function fmod(f) {
		if (f.py || !f.mod)
			return "";
		return "(" + f.mod + (f.off ? "+" + f.off : "") + ")";
	}

	function ftext(f) {
		if (f.text === null)
			f.text = (fname(f) + "\n" + floc(f) + "\n" +
				(f.mod || "")).toLowerCase();
		return f.text;
	}

	function stackOf(id) {
		return id === undefined || id === null || !stacks[id] ? null :
			stacks[id];
	}

	/* ---- groups ---- */

	var groups = data.g.map(function (r, i) {
		/* The line to look at (model_site_frame), else, when no frame
		 * has a source file, the innermost frame. */
		var site = r.at !== undefined ? frames[r.at] : null;
		if (!site && stackOf(r.st) && stackOf(r.st).length)
			site = frames[stackOf(r.st)[0]];
		var g = {
			i: i, r: r, kind: str(r.k), family: str(r.fa),
			fn: str(r.fn), count: r.n,
			rc: r.rc === undefined ? null : r.rc,
			procs: r.np, site: site,
			where: site ? fname(site) + " " + (floc(site) ||
				fmod(site)) : "",
			status: r.sup ? "suppressed" : r.known ? "known" : ""
		};
		var parts = [g.kind, kindLabel(g.kind), g.family, g.fn,
			str(r.ef), str(r.sb), r.site];
		var ids = [r.st, r.lr, r.cr].concat(r.aq || []);
		ids.forEach(function (id) {
			var st = stackOf(id);
			if (st)
				st.forEach(function (fi) {
					parts.push(ftext(frames[fi]));
				});
		});
		g.text = parts.filter(function (p) {
			return p;
		}).join("\n").toLowerCase();
		return g;
	});

	function title(g) {
		var r = g.r, fam = g.family, t;
		switch (g.kind) {
		case "leak":
			t = (r.ind ? "indirect leak of " : "leak of ") +
				plural(g.count, "handle", "handles") +
				(fam ? " of family " + fam : "") +
				" (reference count " + r.rc + ")";
			break;
		case "double_release":
			t = "double release";
			break;
		case "use_after_release":
			t = "use after release";
			break;
		case "invalid_release":
			t = "invalid release (handle never created)";
			break;
		case "family_mismatch":
			t = "family mismatch: a " + (fam || "family-less") +
				" handle passed to a function that accepts " +
				(str(r.ef) || "another family");
			break;
		default:
			t = kindLabel(g.kind);
		}
		if (g.kind !== "leak" && g.kind !== "family_mismatch" && fam)
			t += " of a " + fam + " handle";
		if (g.kind !== "leak" && g.count > 1)
			t += " (" + num(g.count) + " times)";
		return t;
	}

	/* The stacks of group G, with what each is. */
	function stacksOf(g) {
		var r = g.r, out = [], t = r.t || [0, 0, 0];
		var fn = g.fn ? " (" + g.fn + ")" : "";
		var main = {
			leak: "Created" + fn,
			double_release: "Bad release" + fn,
			use_after_release: "Use after release" + fn,
			invalid_release: "Release of a handle never created" + fn,
			family_mismatch: "Call with a handle of the wrong family" + fn
		}[g.kind] || "Stack" + fn;
		out.push([main, r.st, t[0]]);
		if (r.lr !== undefined || g.kind === "double_release" ||
		    g.kind === "use_after_release")
			out.push(["Last release (reference count 1 \u2192 0)",
				r.lr, t[1]]);
		if (r.cr !== undefined || g.kind === "double_release" ||
		    g.kind === "use_after_release" ||
		    g.kind === "family_mismatch")
			out.push(["Created", r.cr, t[2]]);
		(r.aq || []).forEach(function (id, j) {
			out.push(["Acquired, no release matched (" + (j + 1) +
				" of " + r.aq.length + ")", id, 0]);
		});
		return out;
	}

	function langBadge(f) {
		var b = h("span", f.py ? "lang py" : "lang c", f.py ? "py" : "C");
		b.setAttribute("title", f.py ? "Python frame" : "native frame");
		return b;
	}

	function stackList(id, at) {
		var st = stackOf(id);
		if (!st || !st.length)
			return h("p", "muted", "(no stack recorded)");
		var ol = h("ol", "stack");
		st.forEach(function (fi, j) {
			var f = frames[fi];
			var li = h("li", fi === at ? "site" : "");
			if (fi === at)
				li.setAttribute("title", "the line to look at");
			li.appendChild(h("span", "idx", "#" + j));
			li.appendChild(langBadge(f));
			li.appendChild(h("span", "fn", fname(f)));
			if (floc(f)) {
				li.appendChild(document.createTextNode(" "));
				li.appendChild(h("span", "loc", floc(f)));
			}
			if (fmod(f)) {
				li.appendChild(document.createTextNode(" "));
				li.appendChild(h("span", "mod", fmod(f)));
			}
			ol.appendChild(li);
		});
		return ol;
	}

	function detailRow(g, ncols) {
		var r = g.r;
		var tr = h("tr", "detail");
		var td = h("td");
		td.colSpan = ncols;
		var box = h("div", "detail");
		box.appendChild(h("div", "title", title(g)));
		var dl = h("dl");
		function meta(k, v) {
			dl.appendChild(h("dt", "", k));
			dl.appendChild(h("dd", "", v));
		}
		meta("site", r.site);
		meta(r.np === 1 ? "process" : "processes",
			r.p.join(", ") + (r.np > r.p.length ?
				" and " + num(r.np - r.p.length) + " more" : ""));
		if (r.h.length)
			meta(g.kind === "leak" ? "handles" : "handle",
				r.h.join(", ") + (g.kind === "leak" &&
					g.count > r.h.length ? ", ..." : ""));
		if (r.ef !== undefined)
			meta("accepts", str(r.ef));
		if (r.sup)
			meta("suppressed by", str(r.sb) || "a suppression");
		if (r.known)
			meta("known", "its site is in the baseline");
		box.appendChild(dl);
		stacksOf(g).forEach(function (s) {
			var label = s[0];
			if (s[2] && s[2] !== r.p[0])
				label += ", in thread " + s[2];
			box.appendChild(h("h3", "", label));
			box.appendChild(stackList(s[1], s[1] === r.st ? r.at :
				undefined));
		});
		td.appendChild(box);
		tr.appendChild(td);
		return tr;
	}

	/* ---- the table ---- */

	var COLS = [
		{ id: "kind", label: "Kind", v: function (g) {
			return g.kind;
		} },
		{ id: "family", label: "Family", v: function (g) {
			return g.family;
		} },
		{ id: "function", label: "Function", v: function (g) {
			return g.fn;
		} },
		{ id: "count", label: "Count", num: true, v: function (g) {
			return g.count;
		} },
		{ id: "rc", label: "Ref count", num: true, v: function (g) {
			return g.rc;
		} },
		{ id: "where", label: "Top frame", v: function (g) {
			return g.where;
		} },
		{ id: "procs", label: "Processes", num: true, v: function (g) {
			return g.procs;
		} }
	];
	var state = {
		sort: null, dir: 1, text: "", kinds: {}, status: {},
		open: {}, limit: ROW_LIMIT
	};
	var filtersBox = document.getElementById("filters");
	var groupsBox = document.getElementById("groups");
	var table, tbody, shownLabel, ths = [];

	function visible(g) {
		if (!state.kinds[g.kind])
			return false;
		if (g.status && !state.status[g.status])
			return false;
		return !state.text || g.text.indexOf(state.text) >= 0;
	}

	function compare(col, dir) {
		return function (a, b) {
			var x = col.v(a), y = col.v(b);
			var xn = x === null || x === undefined || x === "";
			var yn = y === null || y === undefined || y === "";
			if (xn || yn) {
				if (xn && yn)
					return a.i - b.i;
				return xn ? 1 : -1;
			}
			if (x < y)
				return -dir;
			if (x > y)
				return dir;
			return a.i - b.i;
		};
	}

	/* A group's row, built once: sorting and filtering move rows. */
	function rowOf(g) {
		if (g.tr)
			return g.tr;
		var tr = h("tr", "row" + (g.status ? " dim" : "") +
			(state.open[g.i] ? " open" : ""));
		tr.tabIndex = 0;
		tr.setAttribute("aria-expanded", state.open[g.i] ? "true" :
			"false");
		tr.refsanGroup = g;
		var td = h("td");
		td.appendChild(h("span", "caret", state.open[g.i] ? "\u25be" :
			"\u25b8"));
		td.appendChild(h("span", kindClass(g.kind), kindLabel(g.kind)));
		if (g.status)
			td.appendChild(h("span", "tag", g.status));
		else if (g.r.ind)
			td.appendChild(h("span", "tag", "indirect"));
		tr.appendChild(td);
		tr.appendChild(h("td", "", g.family || ""));
		tr.appendChild(h("td", "fn", g.fn || ""));
		tr.appendChild(h("td", "num", num(g.count)));
		tr.appendChild(h("td", "num", g.rc === null ? "" : num(g.rc)));
		td = h("td", "where");
		if (g.site) {
			td.appendChild(langBadge(g.site));
			td.appendChild(h("span", "fn", fname(g.site)));
			td.appendChild(document.createTextNode(" "));
			td.appendChild(h("span", "loc", floc(g.site) ||
				fmod(g.site)));
			td.setAttribute("title", g.where);
		}
		tr.appendChild(td);
		tr.appendChild(h("td", "num", num(g.procs)));
		g.tr = tr;
		return tr;
	}

	function detailOf(g) {
		if (!g.dtr)
			g.dtr = detailRow(g, COLS.length);
		return g.dtr;
	}

	function toggle(tr) {
		var g = tr.refsanGroup;
		var open = !state.open[g.i];
		state.open[g.i] = open;
		tr.classList.toggle("open", open);
		tr.setAttribute("aria-expanded", open ? "true" : "false");
		tr.firstChild.firstChild.textContent = open ? "\u25be" :
			"\u25b8";
		if (open) {
			tr.parentNode.insertBefore(detailOf(g), tr.nextSibling);
		} else if (tr.nextSibling &&
			   tr.nextSibling.className === "detail") {
			tr.parentNode.removeChild(tr.nextSibling);
		}
	}

	function renderRows() {
		var list = groups.filter(visible);
		if (state.sort !== null)
			list.sort(compare(COLS[state.sort], state.dir));
		var n = Math.min(list.length, state.limit);
		var frag = document.createDocumentFragment();
		for (var i = 0; i < n; i++) {
			var g = list[i];
			frag.appendChild(rowOf(g));
			if (state.open[g.i])
				frag.appendChild(detailOf(g));
		}
		tbody.textContent = "";
		tbody.appendChild(frag);
		shownLabel.textContent = "showing " + num(n) + " of " +
			plural(groups.length, "group", "groups");
		var more = document.getElementById("more");
		if (more)
			more.parentNode.removeChild(more);
		if (n < list.length) {
			/* Rows go in a thousand at a time: 10,000 rows at once
			 * take seconds to lay out. */
			var b = h("button", "more", "Show " + num(Math.min(
				ROW_LIMIT, list.length - n)) + " more (" +
				num(list.length - n) + " not shown)");
			b.id = "more";
			b.addEventListener("click", function () {
				state.limit += ROW_LIMIT;
				renderRows();
			});
			groupsBox.appendChild(b);
		}
		ths.forEach(function (th, j) {
			var on = state.sort === j;
			th.setAttribute("aria-sort", !on ? "none" :
				state.dir > 0 ? "ascending" : "descending");
			th.lastChild.textContent = !on ? "" :
				state.dir > 0 ? "\u25b2" : "\u25bc";
		});
	}

	function buildTable() {
		if (!groups.length) {
			groupsBox.appendChild(h("p", "empty",
				"No errors: every handle was released."));
			return;
		}
		var counts = {}, order = [], status = {};
		groups.forEach(function (g) {
			if (!(g.kind in counts)) {
				counts[g.kind] = 0;
				order.push(g.kind);
			}
			counts[g.kind]++;
			if (g.status)
				status[g.status] = (status[g.status] || 0) + 1;
		});
		order.sort(function (a, b) {
			var x = KINDS.indexOf(a), y = KINDS.indexOf(b);
			x = x < 0 ? 99 : x;
			y = y < 0 ? 99 : y;
			return x - y || (a < b ? -1 : a > b ? 1 : 0);
		});
		filtersBox.appendChild(h("span", "muted", "Show:"));
		order.forEach(function (k) {
			state.kinds[k] = true;
			var l = h("label");
			var c = h("input");
			c.type = "checkbox";
			c.checked = true;
			c.setAttribute("data-kind", k);
			c.addEventListener("change", function () {
				state.kinds[k] = c.checked;
				renderRows();
			});
			l.appendChild(c);
			l.appendChild(document.createTextNode(" "));
			l.appendChild(h("span", kindClass(k), kindLabel(k)));
			l.appendChild(h("span", "muted", " " + counts[k]));
			filtersBox.appendChild(l);
		});
		["known", "suppressed"].forEach(function (s) {
			state.status[s] = s === "known";
			if (!status[s])
				return;
			var l = h("label");
			var c = h("input");
			c.type = "checkbox";
			c.checked = state.status[s];
			c.setAttribute("data-status", s);
			c.addEventListener("change", function () {
				state.status[s] = c.checked;
				renderRows();
			});
			l.appendChild(c);
			l.appendChild(document.createTextNode(" " + s + " "));
			l.appendChild(h("span", "muted", String(status[s])));
			filtersBox.appendChild(l);
		});
		var input = h("input");
		input.type = "search";
		input.id = "filter-text";
		input.placeholder = "Filter: function, file:line, family, site";
		input.setAttribute("aria-label", "filter the groups by text");
		var timer = null;
		input.addEventListener("input", function () {
			clearTimeout(timer);
			timer = setTimeout(function () {
				state.text = input.value.trim().toLowerCase();
				renderRows();
				flame.highlight(state.text);
			}, groups.length > 2000 ? 150 : 0);
		});
		filtersBox.appendChild(input);
		shownLabel = h("span", "shown");
		filtersBox.appendChild(shownLabel);

		table = h("table", "groups");
		table.id = "groups-table";
		var cg = h("colgroup");
		var thead = h("thead");
		var hr = h("tr");
		COLS.forEach(function (c, j) {
			cg.appendChild(h("col", "c-" + c.id));
			var th = h("th", c.num ? "num" : "", c.label);
			th.setAttribute("data-col", c.id);
			th.setAttribute("scope", "col");
			th.tabIndex = 0;
			th.appendChild(h("span", "arrow"));
			function sortBy() {
				if (state.sort === j) {
					state.dir = -state.dir;
				} else {
					state.sort = j;
					state.dir = c.num ? -1 : 1;
				}
				renderRows();
			}
			th.addEventListener("click", sortBy);
			th.addEventListener("keydown", function (e) {
				if (e.key === "Enter" || e.key === " ") {
					e.preventDefault();
					sortBy();
				}
			});
			ths.push(th);
			hr.appendChild(th);
		});
		thead.appendChild(hr);
		table.appendChild(cg);
		table.appendChild(thead);
		tbody = h("tbody");
		table.appendChild(tbody);
		tbody.addEventListener("click", function (e) {
			var tr = e.target.closest("tr.row");
			if (tr)
				toggle(tr);
		});
		tbody.addEventListener("keydown", function (e) {
			var tr = e.target.closest("tr.row");
			if (tr && (e.key === "Enter" || e.key === " ")) {
				e.preventDefault();
				toggle(tr);
			}
		});
		groupsBox.appendChild(table);
		/* report.html#open=all or #open=0,3 unfolds those groups (by
		 * their place in the report), for links and screenshots. */
		var m = /^#open=(all|[0-9]+(,[0-9]+)*)$/.exec(location.hash);
		if (m) {
			var want = m[1].split(",");
			groups.forEach(function (g) {
				if (m[1] === "all" || want.indexOf(String(g.i)) >= 0)
					state.open[g.i] = true;
			});
		}
		renderRows();
	}

	/* ---- the flame graph ---- */

	var flame = (function () {
		var ROW = 20, MIN_WIDTH = 0.5;
		var HUES = [28, 212, 140, 280, 350, 48, 176, 8, 250, 95];
		var box = document.getElementById("flame");
		var bar = document.getElementById("flame-bar");
		var tip = h("div");
		tip.id = "tip";
		tip.hidden = true;
		document.body.appendChild(tip);
		var root = { f: -1, v: 0, sites: 0, fam: {}, kids: null,
			kmap: new Map(), parent: null, depth: 0 };
		var families = [], famIndex = {};
		var zoom = root, drawn = [], svg = null, charW = 0;
		var crumbs, text = "";

		function child(node, fi) {
			var c = node.kmap.get(fi);
			if (!c) {
				c = { f: fi, v: 0, sites: 0, fam: {}, kids: null,
					kmap: new Map(), parent: node,
					depth: node.depth + 1 };
				node.kmap.set(fi, c);
			}
			return c;
		}

		function add(node, n, fam) {
			node.v += n;
			node.sites++;
			node.fam[fam] = (node.fam[fam] || 0) + n;
		}

		groups.forEach(function (g) {
			if (g.kind !== "leak" || g.r.sup)
				return;
			var fam = g.family === null ? "(no family)" : g.family;
			var st = stackOf(g.r.st) || [];
			var node = root;
			add(node, g.count, fam);
			if (!st.length) {
				node = child(node, -2);
				add(node, g.count, fam);
			}
			for (var j = st.length - 1; j >= 0; j--) {
				node = child(node, st[j]);
				add(node, g.count, fam);
			}
		});
		(function finish() {
			var todo = [root];
			while (todo.length) {
				var n = todo.pop();
				n.kids = Array.from(n.kmap.values());
				n.kmap = null;
				n.kids.sort(function (a, b) {
					return b.v - a.v;
				});
				for (var i = 0; i < n.kids.length; i++)
					todo.push(n.kids[i]);
			}
			var tot = {};
			for (var f in root.fam)
				tot[f] = root.fam[f];
			families = Object.keys(tot).sort(function (a, b) {
				return tot[b] - tot[a] || (a < b ? -1 : 1);
			});
			families.forEach(function (f, i) {
				famIndex[f] = i;
			});
		})();

		/* The children of N from the Ith on, too narrow to draw one by
		 * one, as one node: drawn as "+K more", zoomed into like any. */
		function rest(n, i) {
			n.restCache = n.restCache || {};
			if (n.restCache[i])
				return n.restCache[i];
			var r = { f: -3, v: 0, sites: 0, fam: {},
				kids: n.kids.slice(i), parent: n,
				depth: n.depth + 1 };
			r.kids.forEach(function (c) {
				r.v += c.v;
				r.sites += c.sites;
				for (var f in c.fam)
					r.fam[f] = (r.fam[f] || 0) + c.fam[f];
			});
			n.restCache[i] = r;
			return r;
		}

		function label(n) {
			if (n.f === -3)
				return "+" + num(n.kids.length) + " more";
			if (n === root)
				return "all: " + plural(n.v, "live handle",
					"live handles");
			if (n.f === -2)
				return "(no stack recorded)";
			return fname(frames[n.f]);
		}

		function mainFamily(n) {
			var best = null;
			for (var f in n.fam)
				if (best === null || n.fam[f] > n.fam[best])
					best = f;
			return best;
		}

		function hash(s) {
			var x = 0;
			for (var i = 0; i < s.length; i++)
				x = (x * 31 + s.charCodeAt(i)) | 0;
			return Math.abs(x);
		}

		function famColor(i, py, jitter) {
			var hue = HUES[i % HUES.length];
			var light = (py ? 79 : 63) + (jitter % 7) - 3;
			return "hsl(" + hue + ", " + (i < HUES.length ? 72 : 40) +
				"%, " + light + "%)";
		}

		function mixedColor(py, jitter) {
			return "hsl(38, 14%, " + ((py ? 82 : 70) + (jitter % 5) -
				2) + "%)";
		}

		function color(n) {
			if (n === root)
				return "#c9ced6";
			if (n.f < 0)
				return "#dde1e6";
			var f = frames[n.f], fam = mainFamily(n);
			/* A frame above handles of several families. */
			if (n.fam[fam] !== n.v)
				return mixedColor(f.py, hash(fname(f)));
			return famColor(famIndex[fam] || 0, f.py, hash(fname(f)));
		}

		function matches(n) {
			return text && n.f >= 0 && ftext(frames[n.f]).indexOf(text) >= 0;
		}

		function measure() {
			var t = sv("text", { x: 0, y: 20 });
			t.textContent = "MMMMMMMMMMMMMMMMMMMM";
			svg.appendChild(t);
			charW = t.getComputedTextLength() / 20 || 7;
			svg.removeChild(t);
		}

		function node(n, x, w, depth, anc) {
			var i = drawn.length;
			drawn.push(n);
			var cls = anc ? "anc" : matches(n) ? "match" : "";
			var r = sv("rect", { x: x.toFixed(2), y: depth * ROW,
				width: Math.max(w - 0.5, 0.5).toFixed(2),
				height: ROW - 1, "data-i": i });
			if (cls)
				r.setAttribute("class", cls);
			if (!anc)
				r.setAttribute("fill", color(n));
			svg.appendChild(r);
			var fit = Math.floor((w - 8) / charW);
			if (fit >= 3) {
				var s = label(n);
				if (s.length > fit)
					s = s.slice(0, fit - 2) + "..";
				var t = sv("text", { x: (x + 4).toFixed(2),
					y: depth * ROW + ROW - 6 });
				t.textContent = s;
				svg.appendChild(t);
			}
		}

		function draw() {
			var W = box.clientWidth || 1000;
			if (svg)
				box.removeChild(svg);
			svg = sv("svg", { width: W, height: ROW,
				role: "img", "aria-label": "flame graph" });
			box.appendChild(svg);
			if (!charW)
				measure();
			drawn = [];
			var path = [];
			for (var p = zoom; p; p = p.parent)
				path.unshift(p);
			for (var d = 0; d < path.length - 1; d++)
				node(path[d], 0, W, d, true);
			var base = path.length - 1, maxD = base;
			var scale = W / zoom.v;
			var todo = [[zoom, 0, base]];
			while (todo.length) {
				var it = todo.pop(), n = it[0], x = it[1];
				var w = n.v * scale;
				if (w < MIN_WIDTH)
					continue;
				node(n, x, w, it[2], false);
				if (it[2] > maxD)
					maxD = it[2];
				/* Children come widest first: once one is too
				 * narrow, so are the rest. */
				for (var i = 0; i < n.kids.length; i++) {
					if (n.kids[i].v * scale < MIN_WIDTH)
						break;
					todo.push([n.kids[i], x, it[2] + 1]);
					x += n.kids[i].v * scale;
				}
				if (i < n.kids.length && (i > 0 || n.f !== -3))
					todo.push([rest(n, i), x, it[2] + 1]);
			}
			var H = (maxD + 1) * ROW;
			svg.setAttribute("height", H);
			svg.setAttribute("viewBox", "0 0 " + W + " " + H);
			crumbs.textContent = path.map(label).join(" \u203a ");
		}

		function showTip(e, n) {
			tip.textContent = "";
			var f = n.f >= 0 ? frames[n.f] : null;
			tip.appendChild(h("div", "t-fn", label(n)));
			if (f) {
				var loc = [floc(f), fmod(f)].filter(function (s) {
					return s;
				}).join(" ");
				if (loc)
					tip.appendChild(h("div", "t-loc", loc));
				tip.appendChild(h("div", "", f.py ? "Python frame" :
					"native frame"));
			} else if (n.f === -3) {
				tip.appendChild(h("div", "", plural(n.kids.length,
					"frame", "frames") + " too narrow to draw " +
					"one by one"));
			}
			var pct = root.v ? (100 * n.v / root.v) : 0;
			tip.appendChild(h("div", "", plural(n.v, "live handle",
				"live handles") + " (" + (pct >= 10 ? pct.toFixed(0) :
				pct.toFixed(1)) + "% of all), from " +
				plural(n.sites, "site", "sites")));
			var fams = Object.keys(n.fam).sort(function (a, b) {
				return n.fam[b] - n.fam[a];
			});
			tip.appendChild(h("div", "", "family: " + fams.slice(0, 6)
				.map(function (k) {
					return k + " " + num(n.fam[k]);
				}).join(", ") + (fams.length > 6 ? ", ..." : "")));
			tip.appendChild(h("div", "t-loc", n === zoom && n !== root ?
				"click to zoom out" : n === root ? "click to see all" :
				"click to zoom in"));
			tip.hidden = false;
			var x = e.clientX + 14, y = e.clientY + 16;
			var r = tip.getBoundingClientRect();
			if (x + r.width > window.innerWidth - 4)
				x = Math.max(4, e.clientX - r.width - 10);
			if (y + r.height > window.innerHeight - 4)
				y = Math.max(4, e.clientY - r.height - 12);
			tip.style.left = x + "px";
			tip.style.top = y + "px";
		}

		function target(e) {
			var t = e.target;
			if (!t || t.tagName !== "rect")
				return null;
			return drawn[Number(t.getAttribute("data-i"))] || null;
		}

		function zoomTo(n) {
			zoom = n;
			draw();
		}

		function init() {
			if (!root.v) {
				box.appendChild(h("p", "empty", data.final ?
					"No handle was live at exit." :
					"No handle is live."));
				return;
			}
			var reset = h("button", "", "Reset zoom");
			reset.id = "flame-reset";
			reset.addEventListener("click", function () {
				zoomTo(root);
			});
			crumbs = h("span", "crumbs");
			crumbs.id = "flame-crumbs";
			bar.appendChild(reset);
			bar.appendChild(crumbs);
			families.slice(0, 12).forEach(function (f, i) {
				var l = h("span", "legend");
				var sw = h("span", "swatch");
				sw.style.background = famColor(i, false, 3);
				l.appendChild(sw);
				l.appendChild(document.createTextNode(f));
				bar.appendChild(l);
			});
			if (families.length > 1) {
				var l = h("span", "legend");
				var sw = h("span", "swatch");
				sw.style.background = mixedColor(false, 2);
				l.appendChild(sw);
				l.appendChild(document.createTextNode("several"));
				bar.appendChild(l);
			}
			bar.appendChild(h("span", "", "lighter: Python frames, " +
				"darker: native; width: live handles"));
			box.addEventListener("mousemove", function (e) {
				var n = target(e);
				if (n)
					showTip(e, n);
				else
					tip.hidden = true;
			});
			box.addEventListener("mouseleave", function () {
				tip.hidden = true;
			});
			box.addEventListener("click", function (e) {
				var n = target(e);
				if (!n)
					return;
				zoomTo(n === zoom && n.parent ? n.parent : n);
				showTip(e, n);
			});
			var w = box.clientWidth, timer = null;
			window.addEventListener("resize", function () {
				clearTimeout(timer);
				timer = setTimeout(function () {
					if (box.clientWidth !== w) {
						w = box.clientWidth;
						draw();
					}
				}, 100);
			});
			draw();
		}

		return {
			init: init,
			highlight: function (t) {
				text = t;
				if (svg)
					draw();
			},
			stats: function () {
				return { drawn: drawn.length, total: root.v,
					depth: zoom.depth };
			}
		};
	})();

	flame.init();
	buildTable();
	window.refsanReport = { flame: flame, groups: groups.length };
})();
