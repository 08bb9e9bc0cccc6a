// Junction's Connect page: small progressive enhancements. Every step works without
// this file (the outcome page then forwards with a <noscript> refresh).
//
// - A loading state on the form while the provider is asked.
// - Framed on the client's site, an OAuth provider's consent page opens in a popup
//   (providers refuse to be framed); its outcome comes back to this frame, which
//   reloads to show the provider connected.
// - The outcome page posts {type: "junction:connect", outcome, integration_id,
//   provider, connect_session, error} to the window that opened or framed the
//   Connect page, at the return URL's origin only (never "*"), then: a popup
//   closes, a frame stays (its Continue link takes the whole page on), a full
//   page goes on to the return URL.
(function () {
  "use strict";
  var framed = window.parent !== window;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (framed && form.getAttribute("data-oauth") === "true") {
      var popup = window.open("", "junction-connect-oauth", "popup,width=600,height=720");
      if (popup) { form.target = "junction-connect-oauth"; }
    }
    var text = form.getAttribute("data-loading");
    if (!text) { return; }
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (button) {
      // Disabled after the submission has its data (a disabled button sends none).
      setTimeout(function () {
        button.disabled = true;
        button.textContent = text;
      }, 0);
    }
    form.setAttribute("aria-busy", "true");
  });

  // The outcome of a flow this frame started in a popup: show it.
  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin) { return; }
    if (!event.data || event.data.type !== "junction:connect") { return; }
    window.location.reload();
  });

  var outcome = document.getElementById("outcome");
  if (!outcome) { return; }
  var data = outcome.dataset;
  var message = {
    type: "junction:connect",
    outcome: data.outcome,
    integration_id: data.integrationId || null,
    provider: data.provider || null,
    connect_session: data.connectSession,
    error: data.error || null
  };
  var targets = [];
  if (window.opener && window.opener !== window) { targets.push(window.opener); }
  if (framed) { targets.push(window.parent); }
  targets.forEach(function (target) {
    // The browser delivers it only to a window at the return URL's origin.
    target.postMessage(message, data.returnOrigin);
    try {
      // A popup opened by the Connect page in a frame: tell that frame too.
      if (target.location.origin === window.location.origin) {
        target.postMessage(message, window.location.origin);
        if (target.parent !== target) { target.parent.postMessage(message, data.returnOrigin); }
      }
    } catch (e) {
      // Another origin's window: its location cannot be read, which is expected.
    }
  });
  if (framed) {
    // Continue leaves the frame: the client's page itself goes to the return URL.
    var link = document.getElementById("continue");
    if (link) { link.target = "_top"; }
  } else if (window.opener) {
    window.close();
  } else {
    window.location.replace(data.returnUrl);
  }
})();
