// The test app's whole client: what docs/browser-apps.md shows a web app doing. Every call goes
// to the API with credentials: "include", so the browser attaches and stores the session
// cookies; the app itself never sees a token. It keeps only the CSRF token, which login and
// refresh hand it in the X-CSRF-Token response header, and sends it back on every POST.

// The API's origin: the page's own (same origin) or the one its URL names (?api=...).
const API = new URLSearchParams(location.search).get("api") || location.origin;

let csrfToken = null;

async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const res = await fetch(API + path, {
    method,
    credentials: "include",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // Login and refresh (cookie delivery) hand out the session's CSRF token.
  const fresh = res.headers.get("X-CSRF-Token");
  if (fresh) csrfToken = fresh;
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (_) {}
  return { status: res.status, body: json, csrfHeader: fresh };
}

// Exposed to the test driver (Selenium), which also reads what the page can see.
window.rampart = {
  call,
  csrf: () => csrfToken,
  setCsrf: (t) => {
    csrfToken = t;
  },
  cookies: () => document.cookie,
};
