// Drag and drop in the plan tree (templates/plans/plan.html), over the "move under" form: a row
// the user may move is draggable; dropping it on another row (or on "the top of the plan") posts
// that form's fields (CSRF token, version, the new parent's number) to the same endpoint,
// /tasks/<id>/move, with HTMX. The server's answer shows above the tree: its refusal as it says
// it, or, on success, the tree reloads around the task's new place. A drop onto the task itself
// or a task under it is refused here already. Without JavaScript, and from the keyboard, the
// task page's "Move" form does the same.
(function () {
  var dragged = null;

  function tree() { return document.querySelector('[data-tree-dnd]'); }
  function dropTargetOf(node) {
    var el = node && node.nodeType === 1 ? node : node && node.parentElement;
    var target = el && el.closest ? el.closest('.tree-row[data-path], .tree-drop-top') : null;
    var box = tree();
    return target && box && box.contains(target) ? target : null;
  }
  function refused(target) {
    if (target.classList.contains('tree-drop-top')) return !target.classList.contains('active');
    // the task itself, or a task under it: its path starts with the dragged task's path
    return target.getAttribute('data-path').indexOf(dragged.getAttribute('data-path')) === 0;
  }
  function unmark() {
    document.querySelectorAll('.drop-target, .drop-refused').forEach(function (el) {
      el.classList.remove('drop-target', 'drop-refused');
    });
  }
  // The hint above the tree becomes the drop zone for "the top of the plan" while dragging
  // (the same box, so nothing below it moves under the pointer).
  function topZone(show) {
    var zone = document.querySelector('[data-tree-dnd] .tree-drop-top');
    if (!zone) return;
    if (show && !zone.hasAttribute('data-hint')) zone.setAttribute('data-hint', zone.textContent);
    zone.textContent = show ? zone.getAttribute('data-drop-text') : zone.getAttribute('data-hint') || zone.textContent;
    zone.classList.toggle('active', show);
  }

  document.addEventListener('dragstart', function (event) {
    var el = event.target && event.target.nodeType === 1 ? event.target : null;
    var row = el && el.closest('.tree-row[draggable="true"]');
    var box = tree();
    if (!row || !box || !box.contains(row)) return;
    dragged = row;
    row.classList.add('dragging');
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData('text/plain', row.getAttribute('data-ref'));
    topZone(true);
  });

  document.addEventListener('dragover', function (event) {
    if (!dragged) return;
    var target = dropTargetOf(event.target);
    unmark();
    if (!target) return;
    if (refused(target)) {
      target.classList.add('drop-refused');
      event.dataTransfer.dropEffect = 'none';
      return;
    }
    event.preventDefault(); // a drop is allowed here
    event.dataTransfer.dropEffect = 'move';
    target.classList.add('drop-target');
  });

  document.addEventListener('drop', function (event) {
    if (!dragged) return;
    var target = dropTargetOf(event.target);
    if (!target || refused(target)) return;
    event.preventDefault();
    move(dragged, target.getAttribute('data-ref') || '');
  });

  document.addEventListener('dragend', function () {
    if (dragged) dragged.classList.remove('dragging');
    dragged = null;
    unmark();
    topZone(false);
  });

  function move(row, parentRef) {
    var box = tree();
    if (!box || !window.htmx) return;
    window.htmx.ajax('POST', row.getAttribute('data-move-url'), {
      source: row,
      target: '#tree-status',
      swap: 'innerHTML',
      values: { csrf_token: box.getAttribute('data-csrf'), version: row.getAttribute('data-version'), parent: parentRef }
    });
  }

  // The answer to a successful move (HX-Trigger): the tree again, opened down to the task.
  function expand(ids) {
    return ids.reduce(function (chain, id) {
      return chain.then(function () {
        var holder = document.getElementById('children-' + id);
        var link = document.querySelector('#row-' + id + ' a.expand');
        if (!holder || !link || holder.children.length) return null;
        return window.htmx.ajax('GET', link.getAttribute('href'), { target: holder, swap: 'innerHTML' });
      });
    }, Promise.resolve());
  }

  document.addEventListener('task-moved', function (event) {
    var detail = event.detail || {};
    var box = tree();
    if (!box || !window.htmx) return;
    var ids = String(detail.path || '').split('/').filter(Boolean);
    window.htmx.ajax('GET', box.getAttribute('data-tree-url'), { target: '#results', swap: 'innerHTML' })
      .then(function () { return expand(ids.slice(0, -1)); })
      .then(function () {
        var moved = document.getElementById('row-' + detail.id);
        if (!moved) return;
        moved.classList.add('just-moved');
        moved.scrollIntoView({ block: 'nearest' });
      });
  });
})();
