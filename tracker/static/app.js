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
