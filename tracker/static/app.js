// The app's own behaviours, attached by event listeners on the document: the Content Security
// Policy (script-src 'self') runs no inline handler, hx-on attributes included.
(function () {
  // <form data-reset-on-success>: emptied after its HTMX request succeeded (2xx), so the next
  // item can be typed; a refused one (400 with its message) keeps what was typed.
  document.addEventListener('htmx:afterRequest', function (event) {
    var form = event.detail && event.detail.elt;
    if (!form || form.tagName !== 'FORM' || !form.hasAttribute('data-reset-on-success')) return;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (event.detail.successful && status >= 200 && status < 300) form.reset();
  });
})();

// Unit picker (templates/_pickers.html): the visible input searches /units/search and shows the
// chosen unit's full name; a hidden input made here carries the code under the field's name, or
// what was typed (the server takes a code or a full name, and says so when it names no unit).
(function () {
  var OPTION = '.unit-option';

  function setup(picker) {
    if (picker.hasAttribute('data-ready')) return;
    picker.setAttribute('data-ready', '');
    var input = picker.querySelector('.unit-picker-input');
    var list = picker.querySelector('.unit-picker-options');
    if (!input || !list || !input.name) return;
    var hidden = document.createElement('input');
    hidden.type = 'hidden';
    hidden.name = input.name;
    hidden.value = input.getAttribute('data-code') || input.value;
    input.removeAttribute('name');
    picker.appendChild(hidden);
    var timer = null;
    var active = -1;
    var asked = 0;

    function options() { return Array.prototype.slice.call(list.querySelectorAll(OPTION)); }
    function open(yes) {
      list.hidden = !yes;
      input.setAttribute('aria-expanded', yes ? 'true' : 'false');
      if (!yes) { active = -1; input.removeAttribute('aria-activedescendant'); }
    }
    function mark(index) {
      var all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach(function (o, i) {
        o.classList.toggle('active', i === active);
        o.setAttribute('aria-selected', i === active ? 'true' : 'false');
      });
      input.setAttribute('aria-activedescendant', all[active].id);
      all[active].scrollIntoView({ block: 'nearest' });
    }
    var chosen = picker.querySelector('.unit-picker-chosen');
    function choose(option) {
      input.value = option.getAttribute('data-name');
      hidden.value = option.getAttribute('data-code');
      if (chosen) chosen.textContent = option.getAttribute('data-code'); // the code of what is chosen now
      input.classList.remove('is-invalid');
      open(false);
      hidden.dispatchEvent(new Event('change', { bubbles: true }));
    }
    function search() {
      var ticket = ++asked;
      var url = picker.getAttribute('data-search-url') + '?q=' + encodeURIComponent(input.value.trim()) +
        '&field=' + encodeURIComponent(input.id);
      fetch(url, { headers: { 'HX-Request': 'true' }, credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.text() : ''; })
        .then(function (html) {
          if (ticket !== asked) return; // an older answer arriving late
          list.innerHTML = html;
          open(document.activeElement === input && list.children.length > 0);
        })
        .catch(function () { open(false); });
    }

    input.addEventListener('input', function () {
      hidden.value = input.value.trim();
      if (chosen) chosen.textContent = '';
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
    input.addEventListener('blur', function () { setTimeout(function () { open(false); }, 150); });
    input.addEventListener('focus', function () { if (!list.children.length) search(); });
    input.addEventListener('keydown', function (event) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        if (list.hidden) { open(true); if (!list.children.length) search(); }
        mark(active + (event.key === 'ArrowDown' ? 1 : -1));
      } else if (event.key === 'Enter' && !list.hidden && active >= 0) {
        event.preventDefault();
        choose(options()[active]);
      } else if (event.key === 'Escape' && !list.hidden) {
        event.preventDefault();
        open(false);
      }
    });
    // pointerdown, not click: the choice is made before the input's blur closes the list
    list.addEventListener('pointerdown', function (event) {
      var option = event.target.closest(OPTION);
      if (option) { event.preventDefault(); choose(option); }
    });
    list.addEventListener('click', function (event) {
      var option = event.target.closest(OPTION);
      if (option && hidden.value !== option.getAttribute('data-code')) choose(option);
    });
  }

  // Frequency picker: only the day fields that fit the chosen frequency.
  var PARTS = {
    '': [], weekly: ['weekday'], monthly: ['day'], quarterly: ['day'], half_yearly: ['day'],
    yearly: ['month', 'day'], custom: ['rule']
  };
  function setupFrequency(box) {
    if (box.hasAttribute('data-ready')) return;
    box.setAttribute('data-ready', '');
    var select = box.querySelector('[data-freq-part="freq"] select');
    if (!select) return;
    function show() {
      var wanted = PARTS[select.value] || [];
      box.querySelectorAll('[data-freq-part]').forEach(function (part) {
        var name = part.getAttribute('data-freq-part');
        part.hidden = name !== 'freq' && wanted.indexOf(name) < 0;
      });
    }
    select.addEventListener('change', show);
    show();
  }

  function setupAll(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll('[data-unit-picker]').forEach(setup);
    root.querySelectorAll('[data-frequency-picker]').forEach(setupFrequency);
  }
  document.addEventListener('DOMContentLoaded', function () { setupAll(document); });
  document.addEventListener('htmx:load', function (event) { setupAll(event.target.parentNode || event.target); });
})();

// Bulk selection (templates/plans/_bulk_bar.html): the rows' checkboxes belong to the action bar's
// form through form="…"; the bar shows when something is ticked, with how many; "select all on
// this page" ticks every row. After a bulk action (the `bulk-done` event the answer sends) the
// list it acted on reloads in place, at the current address.
(function () {
  function rows(form) {
    return Array.prototype.slice.call(document.querySelectorAll('input[data-select-row][form="' + form.id + '"]'));
  }
  function update(form) {
    var all = rows(form);
    var ticked = all.filter(function (box) { return box.checked; }).length;
    var bar = form.classList.contains('bulk-bar') ? form : form.querySelector('.bulk-bar');
    if (bar && !bar.querySelector('.is-invalid, .bulk-error')) bar.classList.toggle('is-empty', ticked === 0);
    else if (bar && ticked > 0) bar.classList.remove('is-empty');
    var count = form.querySelector('[data-bulk-count]');
    if (count) count.textContent = String(ticked);
    document.querySelectorAll('input[data-select-all][form="' + form.id + '"]').forEach(function (box) {
      box.checked = all.length > 0 && ticked === all.length;
      box.indeterminate = ticked > 0 && ticked < all.length;
    });
  }
  function updateAll() { document.querySelectorAll('form[data-bulk]').forEach(update); }

  document.addEventListener('change', function (event) {
    var box = event.target;
    if (!box.matches || !box.matches('input[data-select-row], input[data-select-all]')) return;
    var form = document.getElementById(box.getAttribute('form'));
    if (!form) return;
    if (box.hasAttribute('data-select-all')) {
      rows(form).forEach(function (row) { row.checked = box.checked; });
    }
    update(form);
  });
  document.addEventListener('DOMContentLoaded', updateAll);
  document.addEventListener('htmx:afterSettle', updateAll);
  document.addEventListener('bulk-done', function (event) {
    var target = event.detail && event.detail.refresh;
    if (!target || !document.querySelector(target) || !window.htmx) return;
    window.htmx.ajax('GET', window.location.pathname + window.location.search, { target: target, swap: 'innerHTML' });
  });
})();

// A filter that depends on another (the overdue list's phase on its plan): the select with
// data-clears="NAME" empties that field of its form when it changes, before the form's own
// change handler (HTMX) reads the form: hence the capture phase.
document.addEventListener('change', function (event) {
  var el = event.target;
  if (!el.matches || !el.matches('[data-clears]') || !el.form) return;
  var other = el.form.elements[el.getAttribute('data-clears')];
  if (other) other.value = '';
}, true);
