/* The macro picker of the reply box: a combobox searched by keyboard. Type to filter,
   ArrowDown/ArrowUp to choose, Enter to insert, Escape to close. The macro's text (already
   filled in and escaped by the server) goes into the reply as plain text, and its id into the
   form, so its actions are applied on send. Without this script the reply box works as before. */
(function () {
  "use strict";

  function setup(picker) {
    var input = picker.querySelector('[role="combobox"]');
    var list = picker.querySelector('[role="listbox"]');
    var options = Array.prototype.slice.call(list.querySelectorAll('[role="option"]'));
    var status = picker.querySelector('[role="status"]');
    var form = picker.closest("form");
    var reply = form.querySelector("textarea");
    var macroField = form.querySelector('input[name="macro"]');
    var active = -1;

    function visible() {
      return options.filter(function (option) { return !option.hidden; });
    }

    function open(isOpen) {
      list.hidden = !isOpen;
      input.setAttribute("aria-expanded", isOpen ? "true" : "false");
      if (!isOpen) highlight(-1);
    }

    function highlight(index) {
      var shown = visible();
      options.forEach(function (option) { option.setAttribute("aria-selected", "false"); });
      active = shown.length ? Math.max(-1, Math.min(index, shown.length - 1)) : -1;
      if (active >= 0) {
        shown[active].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", shown[active].id);
        shown[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function filter() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      options.forEach(function (option) {
        var name = option.textContent.toLowerCase();
        option.hidden = !words.every(function (word) { return name.indexOf(word) >= 0; });
      });
      open(true);
      highlight(visible().length ? 0 : -1);
    }

    function choose(option) {
      reply.value = option.dataset.text;
      macroField.value = option.dataset.macroId;
      var actions = option.dataset.actions;
      var t = window.cstrackerText;
      status.textContent = [
        t("i18nInserted", { name: option.firstChild.textContent.trim() }),
        actions ? t("i18nOnSend", { actions: actions }) : "",
        t("i18nGap", {}),
      ].join("");
      input.value = "";
      open(false);
      reply.focus();
      var gap = reply.value.indexOf("[[fill in:");
      if (gap >= 0) reply.setSelectionRange(gap, reply.value.indexOf("]]", gap) + 2);
    }

    input.addEventListener("input", filter);
    input.addEventListener("focus", filter);
    input.addEventListener("blur", function () { window.setTimeout(function () { open(false); }, 150); });
    input.addEventListener("keydown", function (event) {
      var shown = visible();
      if (event.key === "ArrowDown") {
        if (list.hidden) open(true);
        highlight(active + 1);
      } else if (event.key === "ArrowUp") {
        highlight(active - 1);
      } else if (event.key === "Enter") {
        if (active < 0 || !shown[active]) return event.preventDefault();
        choose(shown[active]);
      } else if (event.key === "Escape") {
        if (list.hidden) return;
        open(false);
      } else {
        return;
      }
      event.preventDefault();
    });
    options.forEach(function (option) {
      option.addEventListener("mousedown", function (event) { event.preventDefault(); choose(option); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-macro-picker]").forEach(setup);
  });
})();
