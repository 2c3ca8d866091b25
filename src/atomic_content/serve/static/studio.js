// atomic studio: live reload and auto-submitting pickers. Loaded from /static (the page CSP
// allows scripts from the studio only); rendered messages never run script.
(function () {
  "use strict";
  var body = document.body;
  var generation = body.getAttribute("data-generation") || "";
  if (window.EventSource) {
    var events = new EventSource("/events?since=" + encodeURIComponent(generation));
    events.addEventListener("change", function () {
      events.close();
      window.location.reload();
    });
  }
  var pickers = document.querySelectorAll("form[data-autosubmit] select, form[data-autosubmit] input");
  Array.prototype.forEach.call(pickers, function (element) {
    element.addEventListener("change", function () {
      element.form.submit();
    });
  });
})();
