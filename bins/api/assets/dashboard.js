// Junction dashboard: small progressive enhancements. Every page works without
// this file; it only adds copy buttons and a loading state on forms that leave
// for a provider's consent page.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(source.value).then(function () {
      button.textContent = "Copied";
    }, function () {
      source.select();
    });
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var text = form.getAttribute("data-loading");
    if (!text) { return; }
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (button) {
      button.disabled = true;
      button.textContent = text;
    }
    form.setAttribute("aria-busy", "true");
  });
})();
