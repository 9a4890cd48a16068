/* cstracker's own script: live countdowns, local times, queue selection that survives
   the 15-second refresh, and keyboard shortcuts. Everything works without it. */
(function () {
  "use strict";

  // --- texts in the page's language: templates from <body data-i18n-*> (base.html) ----------
  function t(key, values) {
    var text = document.body.dataset[key] || "";
    return text.replace(/\{(\w+)\}/g, function (all, name) { return values[name]; });
  }
  window.cstrackerText = t;

  // --- countdowns ([data-due]); the same format as views.duration() ---------------------
  function duration(seconds) {
    seconds = Math.floor(seconds);
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    if (days) return days + "d " + hours + "h";
    if (hours) return hours + "h " + minutes + "m";
    return minutes ? minutes + "m" : "<1m";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      var text = left >= 0 ? t("i18nLeft", { time: duration(left) }) : t("i18nOverdue", { time: duration(-left) });
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("is-overdue", left < 0);
    });
  }

  // --- the agent's own time zone next to the account's (<time data-local>) ----------------
  function localTimes(root) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      if (el.dataset.localDone || zone === el.dataset.tz || zone === "UTC" || zone === "Etc/UTC") return;
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var text = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
        weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
      }).format(when);
      var span = document.createElement("span");
      span.className = "local-time";
      span.textContent = t("i18nYourTime", { time: text });
      el.insertAdjacentElement("afterend", span);
      el.dataset.localDone = "1";
    });
  }

  // --- queue rows: selection and the current row survive htmx swaps ------------------------
  var selected = new Set();
  var currentId = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#rows tr[data-id]"));
  }

  function currentRow() {
    return currentId && document.querySelector('#rows tr[data-id="' + currentId + '"]');
  }

  function updateSelection() {
    var boxes = document.querySelectorAll('#rows input[name="ids"]');
    var checked = 0;
    boxes.forEach(function (box) { if (box.checked) checked += 1; });
    var count = document.getElementById("selected-count");
    if (count) count.textContent = t("i18nSelected", { count: checked });
    var all = document.getElementById("select-all");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
  }

  function restoreRows(refocus) {
    document.querySelectorAll('#rows input[name="ids"]').forEach(function (box) {
      box.checked = selected.has(box.value);
    });
    var row = currentRow();
    if (row) {
      row.classList.add("is-current");
      if (refocus) row.querySelector(".row-link").focus({ preventScroll: true });
    }
    updateSelection();
  }

  function setCurrent(row, focus) {
    rows().forEach(function (r) { r.classList.remove("is-current"); });
    if (!row) return;
    currentId = row.dataset.id;
    row.classList.add("is-current");
    if (focus) {
      row.querySelector(".row-link").focus();
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(currentRow());
    var next = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    setCurrent(all[next], true);
  }

  function claim(row) {
    var form = document.getElementById("claim-form");
    if (!form) return;
    if (row && row.dataset.claimUrl) form.action = row.dataset.claimUrl;
    if (form.getAttribute("action")) form.submit();
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches('#rows input[name="ids"]')) {
      if (target.checked) selected.add(target.value); else selected.delete(target.value);
      updateSelection();
    } else if (target.id === "select-all") {
      document.querySelectorAll('#rows input[name="ids"]').forEach(function (box) {
        box.checked = target.checked;
        if (box.checked) selected.add(box.value); else selected.delete(box.value);
      });
      updateSelection();
    }
  });

  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("#rows tr[data-id]");
    if (row) setCurrent(row, false);
  });

  var focusWasInRows = false;
  document.addEventListener("htmx:beforeSwap", function (event) {
    // An expired session answers a poll with the login page: reload instead of showing it in place.
    var xhr = event.detail.xhr;
    var login = document.body.dataset.loginUrl;
    if (login && xhr && xhr.responseURL && new URL(xhr.responseURL).pathname === login) {
      event.detail.shouldSwap = false;
      window.location.reload();
      return;
    }
    var rowsBody = document.getElementById("rows");
    focusWasInRows = !!(rowsBody && rowsBody.contains(document.activeElement));
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "rows") {
      restoreRows(focusWasInRows);
      tick();
    }
  });

  // --- keyboard shortcuts -------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    var onQueue = !!document.getElementById("rows");
    var row = currentRow();
    switch (event.key) {
      case "j":
        if (onQueue) { move(1); event.preventDefault(); }
        break;
      case "k":
        if (onQueue) { move(-1); event.preventDefault(); }
        break;
      case "Enter":
        // On a focused link Enter already follows it; elsewhere it opens the current row.
        if (onQueue && row && !target.closest("a, button")) { window.location.href = row.dataset.href; }
        break;
      case "x":
        if (onQueue && row) {
          var box = row.querySelector('input[name="ids"]');
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change", { bubbles: true }));
          event.preventDefault();
        }
        break;
      case "a":
        if (onQueue ? row : document.getElementById("claim-form")) { claim(onQueue ? row : null); event.preventDefault(); }
        break;
      case "r":
        var reply = document.getElementById("id_body_text");
        if (reply) { reply.focus(); event.preventDefault(); }
        break;
      case "m":
        var macros = document.getElementById("macro-search");
        if (macros) { macros.focus(); event.preventDefault(); }
        break;
      case "/":
        var search = document.getElementById("id_q");
        if (search) { search.focus(); search.select(); event.preventDefault(); }
        break;
    }
  });

  // --- the bell's menu: its 30-second refresh never closes it under the reader ------------
  document.addEventListener("htmx:beforeSwap", function (event) {
    var slot = event.detail.target;
    if (!slot || !slot.classList || !slot.classList.contains("bell-slot")) return;
    var menu = slot.querySelector("details.bell-menu[open]");
    // A refresh (GET) waits while the menu is open; a mark-as-read answer (POST) replaces it.
    if (menu && event.detail.requestConfig && event.detail.requestConfig.verb === "get") {
      event.detail.shouldSwap = false;
    }
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.bell-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.bell-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
    localTimes(document);
    updateSelection();
  });
})();
